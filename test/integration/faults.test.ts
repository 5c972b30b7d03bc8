import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { startTraceback } from '../../engine/index.js';
import { check } from '../harness/check.js';
import { spawnEngine } from '../harness/engine-process.js';
import { reconnected, setup } from '../harness/nats-server.js';
import { call, countById, delayed, originator, scriptedCarriers, startAll, storedTrails, upstream, type Script } from './fixtures.js';

/** A five-provider chain whose carriers answer after a short, varying delay. */
const chain: Script = {
  T1: (q) => (q.hop === 1 ? upstream('M1') : undefined),
  M1: upstream('M2'),
  M2: upstream('M3'),
  M3: upstream('O1'),
  O1: originator,
};
function slowly(script: Script, ms: number): Script {
  return Object.fromEntries(
    Object.entries(script).map(([p, a]) => [p, async (q: Parameters<Extract<Script[string], (...args: never[]) => unknown>>[0]) => {
      await delayed(Math.floor(Math.random() * ms), null);
      return typeof a === 'function' ? a(q) : a;
    }]),
  ) as unknown as Script;
}


describe('faults', { timeout: 180_000 }, () => {
  it('kill -9 of the engine with tracebacks in flight: every traceback ends, none twice', async () => {
    await using t = await setup();
    let engine = await spawnEngine(t.ns.url, ['--deadline', '20s']);
    const carriers = await scriptedCarriers(t.ns.url, slowly(chain, 40));
    const starting = startAll(t.nc, 300, { prefix: 'kill', terminatingProvider: 'T1', requester: 'fault-test' });
    // Kill once the run is well under way, so writes, commands and acks are in flight.
    await check(async () => (await storedTrails(t.nc)).length >= 20, 30_000, { name: '20 trails before the kill' });
    await engine.kill();
    engine = await spawnEngine(t.ns.url, ['--deadline', '20s']);
    const ids = await starting;
    expect(ids.size).toBe(300);
    const trails = await check(
      async () => {
        const all = await storedTrails(t.nc);
        return countById(all).size >= 300 ? all : undefined;
      },
      120_000,
      { name: '300 trails after restart' },
    ).catch(async (err: unknown) => {
      const { getProvider } = await import('../../engine/index.js');
      const { Kvm } = await import('@nats-io/kv');
      const done = new Set((await storedTrails(t.nc)).map((x) => x.tracebackId));
      const stuck = [...(await starting)].filter((id) => !done.has(id as never));
      const kv = await new Kvm(t.nc).open('tb_actors');
      const { decode } = await import('msgpackr');
      for (const id of stuck.slice(0, 3)) {
        const e = await kv.get(`traceback.${id}`);
        const rec = e ? (decode(e.value) as { snapshot: { value: unknown; context: { hops: { provider: string; hopId: string; status: string }[] } }; outbox: unknown[] }) : undefined;
        const hop = rec?.snapshot.context.hops.at(-1);
        console.log('STUCK', id, JSON.stringify(rec?.snapshot.value), JSON.stringify(hop), 'outbox', JSON.stringify(rec?.outbox));
        if (hop) {
          const p = await getProvider(t.nc, hop.provider);
          console.log('  provider', hop.provider, 'open', Boolean(p?.open[hop.hopId]), 'queued', p?.queue.some((q) => q.hopId === hop.hopId), 'recent', p?.recent[hop.hopId]);
        }
      }
      console.log('STUCK count', stuck.length, engine.log.filter((l) => l.includes('"level":40') || l.includes('"level":50')).slice(0, 5).join('\n'));
      throw err;
    });
    const counts = countById(trails);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(trails.filter((tr) => tr.outcome !== 'origin_found' || tr.hops.length !== 5).map((tr) => tr.reason)).toEqual([]);
    await engine.stop();
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('nats-server restart mid-run: every traceback ends, none twice', async () => {
    await using t = await setup();
    await using engine = await spawnEngine(t.ns.url, ['--deadline', '20s']);
    const carriers = await scriptedCarriers(t.ns.url, slowly(chain, 40));
    const starting = startAll(t.nc, 200, { prefix: 'nats', terminatingProvider: 'T1', requester: 'fault-test' });
    await check(async () => (await storedTrails(t.nc)).length >= 20, 30_000, { name: '20 trails before the restart' });
    const back = reconnected(t.nc);
    await t.ns.kill();
    await t.ns.restart();
    await back;
    const trails = await check(
      async () => {
        const all = await storedTrails(t.nc);
        return countById(all).size >= 200 ? all : undefined;
      },
      90_000,
      { name: '200 trails after the NATS restart' },
    ).catch(async (err: unknown) => {
      const all = await storedTrails(t.nc);
      console.log('DEBUG trails', countById(all).size, 'ids', (await starting.catch(() => new Set())).size);
      console.log(engine.log.slice(-40).join('\n'));
      const jsm = await jetstreamManager(t.nc);
      for (const st of ['TB_HOP_ANSWERS', 'TB_HOP_QUERIES', 'KV_tb_timers', 'KV_tb_actors']) console.log(st, JSON.stringify((await jsm.streams.info(st)).state));
      const ci = await jsm.consumers.info('TB_HOP_ANSWERS', 'engine');
      console.log('engine consumer', ci.num_pending, ci.num_ack_pending, ci.num_redelivered, JSON.stringify(ci.delivered), JSON.stringify(ci.ack_floor), ci.num_waiting);
      console.log(carriers.map((c) => `${c.provider} ${JSON.stringify(c.stats)}`).join('\n'));
      throw err;
    });
    const ids = await starting;
    const counts = countById(trails);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(engine.log.some((l) => l.includes('"level":50'))).toBe(false);
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('crash between publishing a trail and recording it: the restarted engine replays the outbox and publishes no second trail', async () => {
    await using t = await setup();
    const { Kvm } = await import('@nats-io/kv');
    const { decode } = await import('msgpackr');
    const { fetchPublicKey, verifyTrail } = await import('../../evidence/index.js');
    const { fetchEvents } = await import('../../enforcement/index.js');
    let carriers: Awaited<ReturnType<typeof scriptedCarriers>> | undefined;
    // The engine saves its outbox checkpoint once a second; a kill within moments of the trail
    // reaching the stream lands before that almost always. The precondition is checked, not
    // assumed: if a checkpoint did cover the trail, the attempt proves nothing and is repeated.
    for (let attempt = 1; ; attempt++) {
      const engine = await spawnEngine(t.ns.url, ['--deadline', '20s']);
      // Carriers wait for the streams the engine creates, so they connect after its first start.
      carriers ??= await scriptedCarriers(t.ns.url, { C1: upstream('C2'), C2: originator });
      let killed: Promise<void> | undefined;
      // A core subscription sees the trail the moment the stream stores it; SIGKILL right then.
      const sub = t.nc.subscribe('tb.trail.>', { callback: () => void (killed ??= engine.kill()) });
      const { tracebackId } = await startTraceback(t.nc, { call: { ...call, time: call.time + attempt }, terminatingProvider: 'C1', requester: 'crash-test' });
      await check(() => killed !== undefined, 15_000, { name: 'the trail to be published (then the engine is killed)' });
      await killed;
      sub.unsubscribe();
      const meta = await new Kvm(t.nc).open('tb_engine');
      const { shardOf } = await import('../../engine/index.js');
      const checkpoint = Number((await meta.get(`checkpoint.shard.${shardOf(tracebackId, 32)}`))?.string() ?? 0);
      const entry = await (await new Kvm(t.nc).open('tb_actors')).get(`traceback.${tracebackId}`);
      const record = decode(entry!.value) as { outbox: { command: { type: string } }[] };
      const unrecorded = checkpoint < entry!.revision && record.outbox.some((e) => e.command.type === 'cmd.publishTrail');
      if (!unrecorded) {
        expect(attempt, 'a checkpoint covered the trail on every attempt').toBeLessThan(3);
        continue;
      }
      expect((await storedTrails(t.nc)).filter((x) => x.tracebackId === tracebackId)).toHaveLength(1);

      // Stay down past the duplicate window, so the stream would store a second copy: only the
      // engine's own check can keep the replayed publish from making one.
      const jsm = await jetstreamManager(t.nc);
      const info = await jsm.streams.info('TB_TRAILS');
      await jsm.streams.update('TB_TRAILS', { ...info.config, duplicate_window: 100_000_000 });
      const pastWindow = Date.now() + 300;
      await check(() => Date.now() > pastWindow, 2000, { name: 'the duplicate window to pass' });

      const restarted = await spawnEngine(t.ns.url, ['--deadline', '20s']);
      const replayed = restarted.log
        .filter((l) => l.includes('"msg":"shards recovered"'))
        .map((l) => (JSON.parse(l) as { replayed?: number }).replayed ?? 0)
        .reduce((a, b) => a + b, 0);
      expect(replayed).toBeGreaterThanOrEqual(1);
      const trails = (await storedTrails(t.nc)).filter((x) => x.tracebackId === tracebackId);
      expect(trails).toHaveLength(1);
      const key = await fetchPublicKey(t.nc);
      expect(verifyTrail(trails[0], [key.key], { events: await fetchEvents(t.nc, tracebackId) })).toMatchObject({ ok: true, chainChecked: true });
      await restarted.stop();
      break;
    }
    await Promise.all((carriers ?? []).map((c) => c.stop()));
  });

  it('a deadline that passes while the engine is down fires at restart', async () => {
    await using t = await setup();
    let engine = await spawnEngine(t.ns.url, ['--deadline', '2s', '--reminders', '0.5']);
    const carriers = await scriptedCarriers(t.ns.url, { T1: () => undefined });
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'T1', requester: 'test' });
    await engine.kill();
    const deadline = Date.now() + 2000;
    await check(() => Date.now() > deadline + 500, 10_000, { name: 'the deadline to pass while the engine is down' });
    expect(await storedTrails(t.nc)).toHaveLength(0);
    const restartedAt = Date.now();
    engine = await spawnEngine(t.ns.url, ['--deadline', '2s', '--reminders', '0.5']);
    const [trail] = await check(async () => {
      const all = await storedTrails(t.nc);
      return all.length > 0 ? all : undefined;
    }, 10_000, { name: 'the noncooperative trail' });
    expect(trail?.tracebackId).toBe(tracebackId);
    expect(trail?.outcome).toBe('noncooperative');
    expect(trail?.hops[0]?.status).toBe('missed');
    expect(trail!.endedAt).toBeGreaterThanOrEqual(restartedAt);
    await engine.stop();
    await Promise.all(carriers.map((c) => c.stop()));
  });
});
