import { Kvm, type KV } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { assign, createActor, emit, setup as machineSetup, type Snapshot } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorHost, type HostedActor, type KindSpec, type ShardGuard } from '../src/actor-host.js';
import { OutboxCheckpoint } from '../src/checkpoint.js';
import { NotOwnerError } from '../src/errors.js';
import { decodeRecord, encodeRecord } from '../src/record.js';
import { SimulatedClock } from '../src/clock.js';
import { uniqueName } from '../../test/harness/check.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';

/** A counter whose every increment emits one command: the smallest actor the host can carry. */
const counter = machineSetup({
  types: { context: {} as { n: number }, events: {} as { type: 'INC' }, emitted: {} as { type: 'cmd.note'; n: number } },
}).createMachine({
  context: { n: 0 },
  on: { INC: { actions: [assign({ n: ({ context }) => context.n + 1 }), emit(({ context }) => ({ type: 'cmd.note' as const, n: context.n }))] } },
});
type Counter = HostedActor<{ type: 'INC' }, { type: 'cmd.note'; n: number }>;

const quiet = pino({ level: 'silent' });

/** Shard ownership under the test's control: one shard, the epoch we hold, or none. */
class TestGuard implements ShardGuard {
  readonly engineId = 'me';
  epoch: number | undefined = 5;
  readonly supersededLog: number[] = [];
  shardOf(): number {
    return 0;
  }
  stamp(): { engine: string; epoch: number } {
    if (this.epoch === undefined) throw new NotOwnerError('shard 0 is not held here');
    return { engine: this.engineId, epoch: this.epoch };
  }
  epochNow(): number | undefined {
    return this.epoch;
  }
  scanned = Number.MAX_SAFE_INTEGER;
  scannedUpTo(): number {
    return this.scanned;
  }
  superseded(shard: number): void {
    this.supersededLog.push(shard);
  }
}

function host(kv: KV, guard: TestGuard, executed: number[], gate?: Promise<void>) {
  const spec: KindSpec<Counter, { type: 'INC' }, { type: 'cmd.note'; n: number }> = {
    kind: 'traceback',
    version: 2,
    restore: (record) => createActor(counter, { snapshot: record.snapshot as Snapshot<unknown> as never }) as unknown as Counter,
    execute: async (_id, _actor, commands) => {
      if (gate) await gate;
      for (const c of commands) executed.push(c.n);
    },
  };
  const deps = {
    actors: kv,
    checkpoint: new OutboxCheckpoint(0),
    shards: guard,
    clock: new SimulatedClock(),
    logger: quiet,
    idleEvictionMs: 60_000,
    maxLiveActors: 100,
  };
  return new ActorHost(spec, deps);
}

const create = () => createActor(counter) as unknown as Counter;
const inc = () => ({ event: { type: 'INC' as const } });

describe('actor host fencing by shard epoch', () => {
  let t: NatsFixture;
  let kv: KV;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  async function freshBucket(): Promise<KV> {
    kv = await new Kvm(t.nc).create(uniqueName('actors'), { history: 1, storage: StorageType.Memory });
    return kv;
  }

  it('stamps every write with the engine and the epoch it holds', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    const h = host(kv, guard, []);
    await (await h.deliver('a', inc, create)).executed;
    const record = decodeRecord((await kv.get('traceback.a'))!.value);
    expect(record.writer).toEqual({ engine: 'me', epoch: 5 });
  });

  it('refuses to load a record written under a newer epoch, and reports the shard as superseded', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    const other = new TestGuard();
    other.epoch = 9;
    await (await host(kv, other, []).deliver('a', inc, create)).executed;
    const executed: number[] = [];
    await expect(host(kv, guard, executed).deliver('a', inc, create)).rejects.toBeInstanceOf(NotOwnerError);
    expect(guard.supersededLog).toEqual([0]);
    expect(executed).toEqual([]);
    expect(decodeRecord((await kv.get('traceback.a'))!.value).writer).toEqual({ engine: 'me', epoch: 9 });
  });

  it('writes nothing when the lease is not fresh', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    const h = host(kv, guard, []);
    await (await h.deliver('a', inc, create)).executed;
    const revision = (await kv.get('traceback.a'))!.revision;
    guard.epoch = undefined;
    await expect(h.deliver('a', inc)).rejects.toBeInstanceOf(NotOwnerError);
    expect((await kv.get('traceback.a'))!.revision).toBe(revision);
  });

  it('re-reads an actor cached under an earlier tenure instead of trusting the copy', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    const executed: number[] = [];
    const h = host(kv, guard, executed);
    await (await h.deliver('a', inc, create)).executed; // n = 1, cached here under epoch 5
    // The shard moved away and back; meanwhile another engine advanced the actor twice.
    const stored = (await kv.get('traceback.a'))!;
    const moved = createActor(counter, { snapshot: decodeRecord(stored.value).snapshot as never });
    moved.start();
    moved.send({ type: 'INC' });
    moved.send({ type: 'INC' });
    const record = { ...decodeRecord(stored.value), snapshot: moved.getPersistedSnapshot(), outbox: [], writer: { engine: 'other', epoch: 6 } };
    await kv.update('traceback.a', encodeRecord(record), stored.revision);
    guard.epoch = 7;
    await (await h.deliver('a', inc)).executed;
    // 4, not 2: the stale copy (n = 1) was not written over the other engine's n = 3.
    expect(executed).toEqual([1, 4]);
    expect(decodeRecord((await kv.get('traceback.a'))!.value).writer).toEqual({ engine: 'me', epoch: 7 });
  });

  it('carries out the commands of a previous owner\'s write that landed after this tenure\'s recovery scan', async () => {
    const kv = await freshBucket();
    const old = new TestGuard();
    old.epoch = 5;
    await (await host(kv, old, []).deliver('a', inc, create)).executed;
    const stored = (await kv.get('traceback.a'))!;
    // The old owner's next write, still pending its commands, lands after the new owner's scan.
    const moved = createActor(counter, { snapshot: decodeRecord(stored.value).snapshot as never });
    moved.start();
    moved.send({ type: 'INC' });
    const pending = { ...decodeRecord(stored.value), snapshot: moved.getPersistedSnapshot(), outbox: [{ id: 2, command: { type: 'cmd.note', n: 2 } }], nextCommandId: 3, writer: { engine: 'old', epoch: 5 } };
    const guard = new TestGuard();
    guard.epoch = 8;
    guard.scanned = stored.revision; // the scan ended before the late write
    await kv.update('traceback.a', encodeRecord(pending), stored.revision);
    const executed: number[] = [];
    await (await host(kv, guard, executed).deliver('a', inc)).executed;
    expect(executed).toEqual([2, 3]);
    // Not when the write was seen by the scan (it was replayed then, or ran before).
    const seen = new TestGuard();
    seen.epoch = 9;
    const again: number[] = [];
    await (await host(kv, seen, again).deliver('a', inc)).executed;
    expect(again).toEqual([4]);
  });

  it('never carries out commands whose write failed, even while the executor is still busy', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const executed: number[] = [];
    const h = host(kv, guard, executed, gate);
    const first = await h.deliver('a', inc, create); // stored; its command waits at the gate
    // Another writer moves the record on, so the next write from this copy loses its compare-and-set.
    const stored = (await kv.get('traceback.a'))!;
    await kv.update('traceback.a', stored.value, stored.revision);
    await expect(h.deliver('a', inc)).rejects.toThrow(/could not store/);
    open();
    await first.executed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(executed).toEqual([1]);
  });

  it('a shard lost while a delivery waits for its actor does not turn the event into "nothing changed"', async () => {
    const kv = await freshBucket();
    const guard = new TestGuard();
    const h = host(kv, guard, []);
    await (await h.deliver('a', inc, create)).executed; // cached
    // The loss is handled in a microtask that runs between the ownership check and the actor.
    const stamp = guard.stamp.bind(guard);
    let armed = true;
    guard.stamp = () => {
      const granted = stamp();
      if (armed) {
        armed = false;
        queueMicrotask(() => {
          guard.epoch = undefined;
          h.dropShard(0);
        });
      }
      return granted;
    };
    await expect(h.deliver('a', inc)).rejects.toBeInstanceOf(NotOwnerError);
  });
});
