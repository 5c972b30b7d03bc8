import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { Engine, clearProviderFlag, getProvider, startTraceback, upsertProviders } from '../../engine/index.js';
import { ErrorCode, Streams, decodeProviderFlag, type ProviderFlagMessage } from '../../protocol/index.js';
import { check } from '../harness/check.js';
import { spawnEngine } from '../harness/engine-process.js';
import { setup } from '../harness/nats-server.js';
import { call, collectTrails, delayed, originator, quiet, scriptedCarriers, storedTrails, upstream, countById } from './fixtures.js';

/** Every flag message published so far, read from the flags stream. */
async function flagMessages(nc: Parameters<typeof jetstream>[0]): Promise<ProviderFlagMessage[]> {
  const consumer = await jetstream(nc).consumers.get(Streams.providerFlags, { deliver_policy: DeliverPolicy.All });
  const out: ProviderFlagMessage[] = [];
  const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
  for await (const m of batch) {
    out.push(decodeProviderFlag(m.data));
    if (m.info.pending === 0) break;
  }
  return out;
}

const startOn = (nc: Parameters<typeof startTraceback>[0], provider: string, i: number) =>
  startTraceback(nc, { call: { ...call, time: call.time + i }, terminatingProvider: provider, requester: 'test' });

describe('provider actors', { timeout: 120_000 }, () => {
  it('keeps at most maxInFlight queries open at a carrier and queues the rest', async () => {
    await using t = await setup();
    await using engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '60s' });
    await upsertProviders(t.nc, [{ id: 'Q1', name: 'Queue Test LLC', maxInFlight: 2 }], 'test');
    const open = new Set<string>();
    let maxOpen = 0;
    const release: (() => void)[] = [];
    const carriers = await scriptedCarriers(t.ns.url, {});
    const { connectCarrier } = await import('../../carrier/index.js');
    const q1 = await connectCarrier({
      servers: t.ns.url,
      provider: 'Q1',
      logger: quiet,
      lookup: async (q) => {
        open.add(q.hopId);
        maxOpen = Math.max(maxOpen, open.size);
        await new Promise<void>((resolve) => release.push(resolve));
        open.delete(q.hopId);
        return originator;
      },
    });
    const watch = await collectTrails(t.nc);
    for (let i = 0; i < 5; i++) await startOn(t.nc, 'Q1', i);
    await check(() => open.size === 2, 5000, { name: 'two queries at the carrier' });
    const provider = await getProvider(t.nc, 'Q1');
    expect(Object.keys(provider!.open)).toHaveLength(2);
    expect(provider!.queue).toHaveLength(3);
    // Release one at a time; each answer lets the next queued query out.
    for (let released = 0; released < 5; released++) {
      await check(() => release.length > 0, 5000, { name: `query ${released + 1} at the carrier` });
      release.shift()!();
      await check(() => open.size <= 2, 5000, { name: 'in-flight limit kept' });
    }
    await check(() => watch.trails.length === 5, 5000, { name: 'five trails' });
    expect(maxOpen).toBe(2);
    expect(watch.trails.every((x) => x.outcome === 'origin_found')).toBe(true);
    expect(engine.stats().liveProviders).toBeGreaterThanOrEqual(1);
    await watch.close();
    await q1.stop();
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('raises noncooperative with evidence after K missed deadlines, and an operator clears it', async () => {
    await using t = await setup();
    await using _engine = await Engine.start({
      servers: t.ns.url,
      logger: quiet,
      hopDeadline: '600ms',
      reminderFractions: [0.5],
      flagThresholds: {
        noncooperative: { count: 2, windowMs: 86_400_000 },
        high_risk_origin: { count: 2, windowMs: 86_400_000 },
        high_risk_entry: { count: 2, windowMs: 86_400_000 },
        insufficient_records: { count: 2, windowMs: 86_400_000 },
      },
    });
    // S1 never answers; O1 originates every call that reaches it.
    const carriers = await scriptedCarriers(t.ns.url, { T1: (q) => (q.call.time % 2 === 0 ? upstream('S1') : upstream('O1')), O1: originator });
    const watch = await collectTrails(t.nc);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await startOn(t.nc, 'T1', i)).tracebackId);
    await check(() => watch.trails.length === 4, 15_000, { name: 'four trails' });
    const flags = await check(async () => {
      const all = await flagMessages(t.nc);
      return all.length >= 2 ? all : undefined;
    }, 5000, { name: 'two flags published' });
    const noncoop = flags.find((f) => f.flag === 'noncooperative');
    expect(noncoop).toMatchObject({ provider: 'S1', state: 'raised' });
    const missedIds = watch.trails.filter((x) => x.outcome === 'noncooperative').map((x) => x.tracebackId).sort();
    expect(noncoop!.evidence.map((e) => e.tracebackId).sort()).toEqual(missedIds);
    expect(noncoop!.reason).toMatch(/2 missed traceback deadlines within 1 days/);
    const origin = flags.find((f) => f.flag === 'high_risk_origin');
    expect(origin).toMatchObject({ provider: 'O1', state: 'raised' });

    const t1 = await getProvider(t.nc, 'T1');
    expect(t1!.flags).toEqual({});
    expect(t1!.stats.answered).toBe(4);

    await expect(clearProviderFlag(t.nc, 'S1', 'high_risk_entry', 'x', 'op')).rejects.toMatchObject({ code: ErrorCode.FlagNotSet });
    await expect(clearProviderFlag(t.nc, 'NOPE', 'noncooperative', 'x', 'op')).rejects.toMatchObject({ code: ErrorCode.UnknownProvider });
    await clearProviderFlag(t.nc, 'S1', 'noncooperative', 'outage confirmed by the carrier', 'operator-7');
    const s1 = await getProvider(t.nc, 'S1');
    expect(s1!.flags.noncooperative).toBeUndefined();
    expect(s1!.clearedFlags[0]).toMatchObject({ name: 'noncooperative', clearedBy: 'operator-7', clearReason: 'outage confirmed by the carrier' });
    await check(async () => (await flagMessages(t.nc)).some((f) => f.provider === 'S1' && f.state === 'cleared'), 5000, { name: 'cleared flag published' });
    expect(ids).toHaveLength(4);
    await watch.close();
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('kill -9 keeps strikes, queues and timers', async () => {
    await using t = await setup();
    const args = ['--deadline', '3s', '--reminders', '0.5', '--max-in-flight', '1'];
    let engine = await spawnEngine(t.ns.url, args);
    // K1 never answers: one query open, two queued behind the in-flight limit of 1.
    for (let i = 0; i < 3; i++) await startOn(t.nc, 'K1', i);
    await check(async () => (await getProvider(t.nc, 'K1'))?.queue.length === 2, 5000, { name: 'two queued at K1' });
    await engine.kill();
    const before = await getProvider(t.nc, 'K1');
    expect(Object.keys(before!.open)).toHaveLength(1);
    engine = await spawnEngine(t.ns.url, args);
    // Each query waits its own 3 s after it is sent: about 9 s for all three.
    await check(async () => (await storedTrails(t.nc)).length === 3, 30_000, { name: 'three noncooperative trails' });
    const trails = await storedTrails(t.nc);
    expect(trails.every((x) => x.outcome === 'noncooperative')).toBe(true);
    expect([...countById(trails).values()].every((c) => c === 1)).toBe(true);
    const after = await getProvider(t.nc, 'K1');
    expect(after!.stats.missed).toBe(3);
    expect(after!.strikes.noncooperative).toHaveLength(3);
    expect(after!.flags.noncooperative?.evidence).toHaveLength(3);
    // Sent one after another: each hop's clock started when the previous one was missed.
    const sent = trails.map((x) => x.hops[0]!.askedAt).sort((a, b) => a - b);
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(3000);
    await engine.stop();
  });

  it('a hot provider does not hold up the rest of the network', async () => {
    await using t = await setup();
    await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '60s', maxInFlightPerProvider: 20 });
    // HOT answers each query after 300 ms and has 200 queued; F1→F2 answer at once.
    const carriers = await scriptedCarriers(t.ns.url, {
      HOT: async () => delayed(300, originator),
      F1: upstream('F2'),
      F2: originator,
    } as never);
    const watch = await collectTrails(t.nc);
    const hot = await Promise.all(Array.from({ length: 200 }, (_, i) => startOn(t.nc, 'HOT', i)));
    const fast = (await Promise.all(Array.from({ length: 20 }, (_, i) => startOn(t.nc, 'F1', 1000 + i)))).map((x) => x.tracebackId);
    await check(() => fast.every((id) => watch.trails.some((x) => x.tracebackId === id)), 20_000, { name: 'the fast trails' });
    const hotIds = new Set(hot.map((h) => h.tracebackId));
    // 200 answers × 300 ms at 20 in flight take ≥ 3 s; the rest of the network is not queued behind them.
    expect(watch.trails.filter((x) => hotIds.has(x.tracebackId)).length).toBeLessThan(200);
    const duration = (x: { startedAt: number; endedAt: number }) => x.endedAt - x.startedAt;
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const fastMedian = median(watch.trails.filter((x) => fast.includes(x.tracebackId)).map(duration));
    await check(() => watch.trails.length === 220, 30_000, { name: 'all trails' });
    const hotMedian = median(watch.trails.filter((x) => hotIds.has(x.tracebackId)).map(duration));
    expect(fastMedian * 3).toBeLessThan(hotMedian);
    await watch.close();
    await Promise.all(carriers.map((c) => c.stop()));
  });
});
