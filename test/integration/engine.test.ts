import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, startTraceback } from '../../engine/index.js';
import { setup, type NatsFixture } from '../harness/nats-server.js';
import { check } from '../harness/check.js';
import { call, collectTrails, originator, quiet, scriptedCarriers, upstream } from './fixtures.js';

describe('engine end to end', () => {
  let t: NatsFixture;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  it('traces a call through three providers to its originator', async () => {
    await using engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '5s' });
    const carriers = await scriptedCarriers(t.ns.url, { T1: upstream('M1'), M1: upstream('O1'), O1: originator });
    const watch = await collectTrails(t.nc);
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'T1', requester: 'test' });
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 10_000, { name: 'trail' });
    expect(trail.outcome).toBe('origin_found');
    expect(trail.hops.map((h) => h.provider)).toEqual(['T1', 'M1', 'O1']);
    expect(trail.origin?.customer.name).toBe('Acme Dialer LLC');
    expect(engine.stats().answersApplied).toBe(3);
    await watch.close();
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('sends reminders before the deadline, then ends noncooperative at the deadline', async () => {
    await using engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '1500ms', reminderFractions: [0.3, 0.6] });
    const seen: { reminder: number; at: number }[] = [];
    // R1 answers only its second reminder; R2 never answers anything.
    const carriers = await scriptedCarriers(t.ns.url, {
      R1: (q) => {
        seen.push({ reminder: q.reminder, at: Date.now() });
        return q.reminder === 2 ? upstream('R2') : undefined;
      },
      R2: () => undefined,
    });
    const watch = await collectTrails(t.nc);
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'R1', requester: 'test' });
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 15_000, { name: 'trail' });
    expect(trail.outcome).toBe('noncooperative');
    expect(trail.hops.map((h) => [h.provider, h.status, h.remindedAt.length, h.deadlineKept])).toEqual([
      ['R1', 'answered', 2, true],
      ['R2', 'missed', 2, false],
    ]);
    const [first, second] = trail.hops;
    // Reminders at 30% and 60% of the deadline, each within the timer service's 1 s promise.
    expect(first!.remindedAt[0]! - first!.askedAt).toBeGreaterThanOrEqual(450);
    expect(first!.remindedAt[0]! - first!.askedAt).toBeLessThan(450 + 1000);
    expect(trail.endedAt - second!.deadline).toBeGreaterThanOrEqual(0);
    expect(trail.endedAt - second!.deadline).toBeLessThan(1000);
    expect(seen.filter((s) => s.reminder === 0).length).toBeGreaterThanOrEqual(1);
    expect(engine.stats().timersFired).toBeGreaterThanOrEqual(5);
    await watch.close();
    await Promise.all(carriers.map((c) => c.stop()));
  });
});

describe('evidence', () => {
  it('signs every trail over the hash chain of its events; a restart replaying outboxes publishes no second trail', async () => {
    await using t = await setup();
    const { fetchPublicKey, verifyTrail } = await import('../../evidence/index.js');
    const { fetchEvents } = await import('../../enforcement/index.js');
    const { Kvm } = await import('@nats-io/kv');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    let engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '5s' });
    const carriers = await scriptedCarriers(t.ns.url, { E1: upstream('E2'), E2: originator });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await startTraceback(t.nc, { call: { ...call, time: call.time + i }, terminatingProvider: 'E1', requester: 'test' })).tracebackId);
    const { storedTrails, countById } = await import('./fixtures.js');
    await check(async () => (await storedTrails(t.nc)).length === 5, 10_000, { name: 'five trails' });
    const key = await fetchPublicKey(t.nc);
    for (const trail of await storedTrails(t.nc)) {
      const events = await fetchEvents(t.nc, trail.tracebackId);
      expect(verifyTrail(trail, [key.key], { events })).toMatchObject({ ok: true });
      const forged = { ...trail, hops: trail.hops.map((h, i) => (i === 1 ? { ...h, provider: 'FORGED' } : h)) };
      expect(verifyTrail(forged, [key.key])).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    }
    await engine.stop();
    // As if the engine had died after publishing but before saving its checkpoint, and stayed down
    // past the stream's duplicate window: every outbox is replayed at the next start.
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info('TB_TRAILS');
    await jsm.streams.update('TB_TRAILS', { ...info.config, duplicate_window: 100_000_000 });
    const meta = await new Kvm(t.nc).open('tb_engine');
    for await (const key of await meta.keys('checkpoint.shard.>')) await meta.put(key, '0');
    const waitedPastWindow = Date.now() + 300;
    await check(() => Date.now() > waitedPastWindow, 2000, { name: 'the duplicate window to pass' });
    engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '5s' });
    await engine.stop();
    const trails = await storedTrails(t.nc);
    expect(trails).toHaveLength(5);
    expect([...countById(trails).values()].every((c) => c === 1)).toBe(true);
    await Promise.all(carriers.map((c) => c.stop()));
  });
});
