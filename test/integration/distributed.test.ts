import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { decodeMap, Streams, type HopQuery } from '../../protocol/index.js';
import { check } from '../harness/check.js';
import { fetchPublicKey, verifyTrail } from '../../evidence/index.js';
import { fetchEvents } from '../../enforcement/index.js';
import { spawnEngine, type EngineProcess } from '../harness/engine-process.js';
import { setupCluster, type ClusterFixture } from '../harness/nats-cluster.js';
import { countById, delayed, originator, scriptedCarriers, startAll, storedTrails, upstream, type Script } from './fixtures.js';

/** A five-provider chain whose carriers answer after a short random delay. */
function slowChain(ms: number): Script {
  const hop = (answer: ReturnType<typeof upstream> | typeof originator) => async () => delayed(Math.floor(Math.random() * ms), answer);
  return {
    D1: async (q: HopQuery) => (q.hop === 1 ? delayed(Math.floor(Math.random() * ms), upstream('D2')) : undefined),
    D2: hop(upstream('D3')),
    D3: hop(upstream('D4')),
    D4: hop(upstream('D5')),
    D5: hop(originator),
  } as unknown as Script;
}


interface Stamped {
  seq: number;
  engine: string;
  epoch: number;
}

/** Every audit event of every traceback with the engine and epoch that published it. */
async function eventHistory(nc: NatsConnection): Promise<Map<string, Stamped[]>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(Streams.events);
  const history = new Map<string, Stamped[]>();
  if (info.state.messages === 0) return history;
  const consumer = await jetstream(nc).consumers.get(Streams.events);
  const messages = await consumer.consume();
  for await (const m of messages) {
    const body = decodeMap(m.data);
    const id = String(body['tracebackId']);
    const list = history.get(id) ?? [];
    list.push({ seq: Number(body['seq']), engine: m.headers?.get('Robotrace-Engine') ?? '?', epoch: Number(m.headers?.get('Robotrace-Epoch') ?? -1) });
    history.set(id, list);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return history;
}

/**
 * No traceback advanced by two engines at once: in event order, the shard epoch never goes
 * back (an engine that lost the shard wrote nothing after the new owner), and one epoch is
 * always one engine. Returns how many tracebacks changed hands mid-way.
 */
function assertSingleWriter(history: Map<string, Stamped[]>): number {
  let handedOver = 0;
  const engineOfEpoch = new Map<number, string>();
  for (const [id, events] of history) {
    events.sort((a, b) => a.seq - b.seq);
    expect(events.map((e) => e.seq), `gap-free events of ${id}`).toEqual(events.map((_, i) => i + 1));
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.epoch, `epoch of ${id} event ${events[i]!.seq}`).toBeGreaterThanOrEqual(events[i - 1]!.epoch);
    }
    for (const e of events) {
      expect(engineOfEpoch.get(e.epoch) ?? e.engine, `engine of epoch ${e.epoch}`).toBe(e.engine);
      engineOfEpoch.set(e.epoch, e.engine);
    }
    if (new Set(events.map((e) => e.engine)).size > 1) handedOver++;
  }
  return handedOver;
}

async function expectEveryTrailOnce(nc: NatsConnection, ids: Set<string>): Promise<void> {
  const trails = await check(
    async () => {
      const all = await storedTrails(nc);
      return countById(all).size >= ids.size ? all : undefined;
    },
    150_000,
    { name: `${ids.size} trails` },
  );
  const counts = countById(trails);
  expect([...counts.keys()].sort()).toEqual([...ids].sort());
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
  const wrong = trails.filter((trail) => trail.outcome !== 'origin_found');
  if (wrong.length > 0 && process.env['DEBUG_STUCK']) await explainWrong(nc, wrong);
  expect(wrong.map((trail) => `${trail.tracebackId}: ${trail.outcome} (${trail.reason})`)).toEqual([]);
}

/** Diagnostics (DEBUG_STUCK=1): the provider's and the traceback's history of a hop that went wrong. */
async function explainWrong(nc: NatsConnection, wrong: Awaited<ReturnType<typeof storedTrails>>): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const trail of wrong.slice(0, 2)) {
    const last = trail.hops.at(-1)!;
    console.log('WRONG', trail.tracebackId, trail.outcome, JSON.stringify(last));
    for (const [stream, subject] of [['TB_PROVIDER_EVENTS', `tb.provider.events.${last.provider}`], ['TB_EVENTS', `tb.events.${trail.tracebackId}`]] as const) {
      const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject });
      const messages = await consumer.consume();
      for await (const m of messages) {
        const body = decodeMap(m.data);
        if (stream === 'TB_EVENTS' || body['hopId'] === last.hopId) console.log('  ', stream, m.headers?.get('Robotrace-Engine'), m.headers?.get('Robotrace-Epoch'), JSON.stringify(body).slice(0, 250));
        if (m.info.pending === 0) break;
      }
      await messages.close();
    }
  }
  const errors = await jsm.streams.info('TB_HOP_ERRORS');
  console.log('hop errors', errors.state.messages);
}

/** Diagnostics for a failed run (DEBUG_STUCK=1): where the unfinished tracebacks stand. */
async function explainStuck(nc: NatsConnection, ids: Set<string>, engines: EngineProcess[]): Promise<void> {
  const { Kvm } = await import('@nats-io/kv');
  const { decode } = await import('msgpackr');
  const done = new Set((await storedTrails(nc)).map((x) => x.tracebackId as string));
  const stuck = [...ids].filter((id) => !done.has(id));
  const kv = await new Kvm(nc).open('tb_actors');
  console.log('STUCK', stuck.length);
  for (const id of stuck.slice(0, 4)) {
    const e = await kv.get(`traceback.${id}`);
    const rec = e ? (decode(e.value) as { writer?: unknown; snapshot: { value: unknown; context: { hops: unknown[] } }; outbox: unknown[] }) : undefined;
    console.log(id, e?.revision, JSON.stringify(rec?.writer), JSON.stringify(rec?.snapshot.value), JSON.stringify(rec?.snapshot.context.hops.at(-1)), 'outbox', JSON.stringify(rec?.outbox).slice(0, 300));
  }
  await explainWrong(nc, (await Promise.all(stuck.slice(0, 2).map(async (id) => {
    const e = await kv.get(`traceback.${id}`);
    const ctx = (decode(e!.value) as { snapshot: { context: { tracebackId: string; hops: { hop: number; hopId: string; provider: string }[] } } }).snapshot.context;
    return { tracebackId: ctx.tracebackId, outcome: 'stuck', hops: ctx.hops } as unknown as Awaited<ReturnType<typeof storedTrails>>[number];
  }))));
  for (const e of engines) console.log(e.pid, e.log.filter((l) => /delivery changed nothing/.test(l)).slice(0, 20).map((l) => l.slice(0, 300)).join('\n'));
  const { getProvider } = await import('../../engine/index.js');
  for (const id of stuck.slice(0, 4)) {
    const e = await kv.get(`traceback.${id}`);
    const rec = e ? (decode(e.value) as { snapshot: { context: { hops: { provider: string; hopId: string }[] } } }) : undefined;
    const hop = rec?.snapshot.context.hops.at(-1);
    if (!hop) continue;
    const p = await getProvider(nc, hop.provider);
    const pe = await kv.get(`provider.${hop.provider}`);
    const prec = pe ? (decode(pe.value) as { writer?: unknown }) : undefined;
    console.log('  provider', hop.provider, 'rev', pe?.revision, JSON.stringify(prec?.writer), 'open', Boolean(p?.open[hop.hopId]), 'queued', p?.queue.some((q) => q.hopId === hop.hopId), 'recent', JSON.stringify(p?.recent[hop.hopId]));
  }
  const jsm = await jetstreamManager(nc);
  for (const stream of ['TB_SHARD_INBOX', 'TB_HOP_QUERIES', 'TB_HOP_ANSWERS']) {
    const info = await jsm.streams.info(stream);
    console.log(stream, 'messages', info.state.messages);
    for await (const c of jsm.consumers.list(stream)) {
      if (c.num_pending + c.num_ack_pending > 0) console.log('  ', c.name, 'pending', c.num_pending, 'ack_pending', c.num_ack_pending, 'redelivered', c.num_redelivered, 'waiting', c.num_waiting);
    }
  }
  const { shardOf } = await import('../../engine/src/shards/shard-of.js');
  console.log('stuck shards', [...new Set(stuck.map((id) => shardOf(id, 16)))].sort((a, b) => a - b).join(','));
  const shards = await new Kvm(nc).open('tb_shards');
  for await (const key of await shards.keys()) console.log(key, (await shards.get(key))?.string(), (await shards.get(key))?.revision);
  const meta = await new Kvm(nc).open('tb_engine');
  for await (const key of await meta.keys()) console.log(key, (await meta.get(key))?.string());
  for (const e of engines) console.log(e.pid, e.log.filter((l) => /"level":(40|50)|shards/.test(l)).slice(0, 60).map((l) => l.slice(0, 400)).join('\n'));
}

const ENGINE_ARGS = ['--deadline', '90s', '--shards', '16', '--replicas', '3'];
const TRACEBACKS = 150;

/**
 * On a local 3-node JetStream cluster (every stream and bucket with 3 replicas), engines
 * `ids` trace TRACEBACKS calls down a five-provider chain; `fault` strikes once 20 trails are in.
 */
async function scenario(
  ids: string[],
  prefix: string,
  lease: string,
  fault: (ctx: { cluster: ClusterFixture; engines: EngineProcess[]; urls: string; args: string[] }) => Promise<void>,
) {
  await using t = await setupCluster();
  const urls = t.cluster.urls.join(',');
  const args = [...ENGINE_ARGS, '--lease', lease];
  const engines: EngineProcess[] = [];
  for (const id of ids) engines.push(await spawnEngine(urls, [...args, '--id', id]));
  const carriers = await scriptedCarriers(urls, slowChain(40));
  try {
    const starting = startAll(t.nc, TRACEBACKS, { prefix, terminatingProvider: 'D1', requester: 'distributed-test' });
    await check(async () => (await storedTrails(t.nc)).length >= 20, 90_000, { name: '20 trails before the fault' });
    await fault({ cluster: t, engines, urls, args });
    const started = await starting;
    expect(started.size).toBe(TRACEBACKS);
    await expectEveryTrailOnce(t.nc, started).catch(async (err: unknown) => {
      if (process.env['DEBUG_STUCK']) await explainStuck(t.nc, started, engines);
      throw err;
    });
    await expectVerifiedTrails(t.nc);
    return { engines, handedOver: assertSingleWriter(await eventHistory(t.nc)) };
  } finally {
    await Promise.all(carriers.map((c) => c.stop()));
    await Promise.all(engines.map((e) => e.stop()));
  }
}

/** Every trail is signed by the engines' key over the hash chain of exactly the events stored for it. */
async function expectVerifiedTrails(nc: NatsConnection): Promise<void> {
  const key = await fetchPublicKey(nc);
  const failures: string[] = [];
  for (const trail of await storedTrails(nc)) {
    const result = verifyTrail(trail, [key.key], { events: await fetchEvents(nc, trail.tracebackId) });
    if (!result.ok || !result.chainChecked) failures.push(`${trail.tracebackId}: ${JSON.stringify(result)}`);
  }
  expect(failures).toEqual([]);
}

const acquiredAny = (e: EngineProcess) => e.log.some((l) => l.includes('"msg":"shards acquired"'));

describe('distributed engine on a 3-node NATS cluster, 3 engines', { timeout: 300_000 }, () => {
  it('kill -9 of one engine mid-run: every traceback ends once, no actor advanced by two engines', async () => {
    let victim: EngineProcess | undefined;
    let logsBefore = 0;
    // A short lease, so the dead engine's shards move within the test's time.
    const { engines, handedOver } = await scenario(['e1', 'e2', 'e3'], 'kill', '2s', async ({ engines }) => {
      victim = engines[1]!;
      logsBefore = engines.map((e) => e.log.length).reduce((a, b) => a + b, 0);
      await victim.kill();
    });
    expect(handedOver, 'tracebacks that changed engine mid-way').toBeGreaterThan(0);
    // The dead engine's shards were taken over by the survivors after the kill.
    expect(logsBefore).toBeGreaterThan(0);
    expect(engines.filter((e) => e !== victim).some(acquiredAny)).toBe(true);
  });

  it('kill -9 of one NATS node mid-run (restarted later): every traceback ends once', async () => {
    // The default lease: engines on the dead node reconnect to another within it.
    await scenario(['n1', 'n2', 'n3'], 'node', '5s', async ({ cluster }) => {
      const node = cluster.cluster.nodes[0]!;
      await node.kill('SIGKILL');
      await delayed(5_000, null);
      await node.restart();
    });
  });

  it('an engine added mid-run takes its share, handed over: every traceback ends once', async () => {
    let joined: EngineProcess | undefined;
    const { engines } = await scenario(['a1', 'a2'], 'join', '5s', async ({ engines, urls, args }) => {
      const newcomer = await spawnEngine(urls, [...args, '--id', 'a3']);
      joined = newcomer;
      engines.push(newcomer);
      // Shards are handed over once their owners have held them a lease period; wait for that.
      await check(() => acquiredAny(newcomer), 60_000, { name: 'the new engine to take its share' });
    });
    expect(acquiredAny(joined!)).toBe(true);
    expect(engines.slice(0, 2).some((e) => e.log.some((l) => l.includes('"msg":"shards handed over"')))).toBe(true);
  });
});
