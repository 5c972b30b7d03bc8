import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignShards } from '../src/shards/assignment.js';
import { ShardLeases, type LeaseCallbacks } from '../src/shards/leases.js';
import { shardOf } from '../src/shards/shard-of.js';
import { OutboxCheckpoint } from '../src/checkpoint.js';
import { check, uniqueName } from '../../test/harness/check.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';

const quiet = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

function counts(owners: string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const o of owners) c.set(o, (c.get(o) ?? 0) + 1);
  return c;
}

describe('shardOf', () => {
  it('is FNV-1a 32 modulo the count (values any client can reproduce)', () => {
    // FNV-1a("a") = 0xe40c292c, FNV-1a("foobar") = 0xbf9cf968 (published test vectors).
    expect(shardOf('a', 0x7fffffff)).toBe(0xe40c292c % 0x7fffffff);
    expect(shardOf('foobar', 1000)).toBe(0xbf9cf968 % 1000);
    expect(shardOf('', 7)).toBe(0x811c9dc5 % 7);
  });

  it('spreads traceback ids evenly over 32 shards', () => {
    const per = new Array<number>(32).fill(0);
    for (let i = 0; i < 32_000; i++) per[shardOf(`tb-2026-${i.toString(36)}-x`, 32)]! += 1;
    expect(Math.min(...per)).toBeGreaterThan(800);
    expect(Math.max(...per)).toBeLessThan(1200);
  });
});

describe('assignShards', () => {
  it('gives every shard an owner and spreads them within one of each other', () => {
    for (const members of [['a'], ['a', 'b'], ['e1', 'e2', 'e3'], ['n1', 'n2', 'n3', 'n4', 'n5']]) {
      const owners = assignShards(members, 32);
      expect(owners).toHaveLength(32);
      const c = counts(owners);
      expect([...c.keys()].sort()).toEqual([...members].sort());
      expect(Math.max(...c.values()) - Math.min(...c.values())).toBeLessThanOrEqual(1);
    }
  });

  it('is the same whatever the order of the member list', () => {
    expect(assignShards(['e3', 'e1', 'e2'], 32)).toEqual(assignShards(['e1', 'e2', 'e3'], 32));
  });

  it('moves little more than the newcomer\'s share when an engine joins', () => {
    const before = assignShards(['e1', 'e2', 'e3'], 60);
    const after = assignShards(['e1', 'e2', 'e3', 'e4'], 60);
    const moved = before.filter((owner, shard) => after[shard] !== owner).length;
    expect(counts(after).get('e4')).toBe(15);
    // Plain modulo placement would move about 45 of 60; rendezvous hashing moves ~15 plus rebalancing.
    expect(moved).toBeLessThanOrEqual(25);
  });

  it('has no owners without members', () => {
    expect(assignShards([], 8)).toEqual([]);
  });
});

describe('OutboxCheckpoint per shard', () => {
  it('holds a shard back at its oldest pending write while other shards move on', () => {
    const c = new OutboxCheckpoint(10);
    const a = c.begin(1);
    c.written(a, 11);
    const b = c.begin(2);
    c.written(b, 12);
    expect(c.current(1)).toBe(10);
    expect(c.current(2)).toBe(11);
    expect(c.current(3)).toBe(12);
    c.done(a);
    expect(c.current(1)).toBe(12);
    c.forget(2);
    expect(c.current(2)).toBe(12);
    expect(c.pending()).toBe(0);
  });
});

describe('ShardLeases against nats-server', { timeout: 60_000 }, () => {
  let t: NatsFixture;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  async function bucket() {
    return new Kvm(t.nc).create(uniqueName('shards'), { history: 1, storage: StorageType.Memory });
  }

  function engine(kv: Awaited<ReturnType<typeof bucket>>, id: string, events: string[], leaseMs = 1000, shardCount = 12) {
    const callbacks: LeaseCallbacks = {
      acquired: async (list) => {
        events.push(`${id} +${list.map((l) => l.shard).join(',')}`);
      },
      releasing: async (list) => {
        events.push(`${id} -${list.join(',')}`);
      },
      lost: (list) => {
        events.push(`${id} lost ${list.join(',')}`);
      },
    };
    return new ShardLeases({ kv, engineId: id, shardCount, leaseMs, monotonic: () => performance.now(), logger: quiet, callbacks });
  }

  it('a single engine takes every shard; a second one gets half, handed over gracefully', async () => {
    const kv = await bucket();
    const events: string[] = [];
    const e1 = engine(kv, 'e1', events);
    await e1.start(() => undefined);
    expect(e1.heldShards()).toHaveLength(12);
    expect(e1.writable(0)).toBeGreaterThan(0);
    const e2 = engine(kv, 'e2', events);
    await e2.start(() => undefined);
    await check(() => e1.heldShards().length === 6 && e2.heldShards().length === 6, 10_000, { name: 'six shards each' });
    expect(new Set([...e1.heldShards(), ...e2.heldShards()]).size).toBe(12);
    // Nothing was lost: e1 released what e2 acquired.
    expect(events.some((e) => e.startsWith('e1 -'))).toBe(true);
    expect(events.some((e) => e.includes('lost'))).toBe(false);
    const moved = e2.heldShards()[0]!;
    const epochBefore = e2.writable(moved) ?? Infinity;
    await e2.stop();
    await check(() => e1.heldShards().length === 12, 5_000, { name: 'e1 takes every shard back' });
    // A new acquisition is a new epoch, above any earlier one of that shard.
    await check(() => (e1.writable(moved) ?? 0) > epochBefore, 5_000, { name: 'new epoch' });
    await e1.stop();
  });

  it('a dead engine loses its shards one lease period after its last renewal, not sooner', async () => {
    const kv = await bucket();
    const events: string[] = [];
    const e1 = engine(kv, 'd1', events, 1500);
    const e2 = engine(kv, 'd2', events, 1500);
    await e1.start(() => undefined);
    await e2.start(() => undefined);
    await check(() => e1.heldShards().length === 6 && e2.heldShards().length === 6, 10_000, { name: 'split' });
    const theirs = e2.heldShards();
    e2.halt(); // as if the process froze: no renewals, no hand-over
    const killedAt = performance.now();
    await check(() => e1.heldShards().length === 12, 10_000, { name: 'takeover' });
    const took = performance.now() - killedAt;
    expect(took).toBeGreaterThanOrEqual(1500 * 0.9);
    // The frozen engine stops considering itself writable before anyone can take over.
    for (const shard of theirs) expect(e2.writable(shard)).toBeUndefined();
    await e1.stop();
  });

  it('refuses to join a store split into another number of shards', async () => {
    const kv = await bucket();
    const e1 = engine(kv, 'c1', [], 1000, 12);
    await e1.start(() => undefined);
    const e2 = engine(kv, 'c2', [], 1000, 16);
    await expect(e2.start(() => undefined)).rejects.toThrow(/split into 12 shards; start the engine with --shards 12/);
    e2.halt();
    await e1.stop();
  });

  it('an engine restarted under the same id takes its shards back at once', async () => {
    const kv = await bucket();
    const first = engine(kv, 'same', [], 3000);
    await first.start(() => undefined);
    first.halt(); // killed: leases still held under its id
    const started = performance.now();
    const second = engine(kv, 'same', [], 3000);
    await second.start(() => undefined);
    expect(second.heldShards()).toHaveLength(12);
    expect(performance.now() - started).toBeLessThan(3000);
    await second.stop();
  });

  it('a second running engine with the same id is told to stop', async () => {
    const kv = await bucket();
    const older = engine(kv, 'dup', [], 1000);
    await older.start(() => undefined);
    let fatal: Error | undefined;
    const younger = engine(kv, 'dup', [], 1000);
    await younger.start((err) => (fatal = err));
    await check(() => fatal, 5_000, { name: 'duplicate id detected' });
    expect(fatal?.message).toMatch(/another engine is running with id dup/);
    younger.halt();
    await older.stop();
  });
});
