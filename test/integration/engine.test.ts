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

describe('trails of a simulated network', () => {
  it('carry each provider’s directory entry and flags, STIR/SHAKEN per hop, and the call’s data', async () => {
    await using t = await setup();
    const { generateNetwork, generateCalls, buildCdrs, callDataOf, startSimulatedCarriers } = await import('../../sim/index.js');
    const { upsertProviders } = await import('../../engine/index.js');
    const network = generateNetwork({ seed: 1, providers: 200, deadlineMs: 1500 });
    const calls = generateCalls(network, { count: 40, seed: 1 });
    const cdrs = buildCdrs(network, calls);
    await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '1500ms' });
    // As the demo does: the directory is imported, except for a few providers only named by others.
    const unlisted = new Set(network.providers.filter((_, i) => i % 10 === 3).map((p) => p.id));
    await upsertProviders(
      t.nc,
      network.providers.filter((p) => !unlisted.has(p.id)).map((p) => ({ id: p.id, name: p.name, frn: p.frn, ocn: p.ocn, roles: p.roles, rmdStatus: 'certified' as const })),
      'test',
    );
    await using _sim = await startSimulatedCarriers({ network, cdrs, connection: t.nc, deadlineMs: 1500, logger: quiet });
    const watch = await collectTrails(t.nc);
    const ids = new Set<string>();
    for (const c of calls) ids.add((await startTraceback(t.nc, { call: callDataOf(c), terminatingProvider: c.terminatingProvider, requester: 'test' })).tracebackId);
    const trails = await check(() => (watch.trails.filter((x) => ids.has(x.tracebackId)).length === ids.size ? watch.trails : undefined), 60_000, { name: 'every trail' });
    await watch.close();
    const byId = new Map(network.providers.map((p) => [p.id, p]));
    let shakenHops = 0;
    let passports = 0;
    for (const trail of trails) {
      const call = calls.find((c) => c.calling === trail.call.calling && c.called === trail.call.called && c.time === trail.call.time)!;
      // The call as requested: caller ID, called number, time (UTC ms), campaign and transcript.
      expect(trail.call).toEqual(callDataOf(call));
      for (const hop of trail.hops) {
        if (hop.status === 'cancelled' || hop.status === 'open') continue;
        const p = byId.get(hop.provider)!;
        // Answered and missed hops alike carry the provider's snapshot.
        expect(hop.providerInfo, `${trail.tracebackId} hop ${hop.hop}`).toBeDefined();
        if (unlisted.has(hop.provider)) expect(hop.providerInfo).toMatchObject({ verified: false, rmdStatus: 'unknown' });
        else expect(hop.providerInfo).toMatchObject({ name: p.name, frn: p.frn, ocn: p.ocn, rmdStatus: 'certified', verified: true });
        if (hop.stirShaken) {
          shakenHops++;
          if (hop.stirShaken.passport) passports++;
          // The simulator signs consistently: every check against the call passes.
          expect(hop.stirShaken.findings.filter((f) => !f.ok)).toEqual([]);
        }
      }
      const last = trail.hops.at(-1)!;
      if (trail.outcome === 'origin_found') expect(['A', 'B', undefined]).toContain(last.stirShaken?.attestation);
      if (trail.outcome === 'foreign_entry') expect(['C', undefined]).toContain(last.stirShaken?.attestation);
    }
    expect(trails.some((x) => x.outcome === 'noncooperative' && x.hops.at(-1)?.providerInfo !== undefined)).toBe(true);
    expect(shakenHops).toBeGreaterThan(trails.length);
    expect(passports).toBe(shakenHops);
  });
});
