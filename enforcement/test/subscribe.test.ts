import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { Streams, type Outcome } from '../../protocol/index.js';
import { generateEngineKey, importPublicKey, exportPublicKeyPem } from '../../evidence/index.js';
import { setup } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { signedSample } from '../../evidence/test/samples.js';
import { EnforcementErrorCode, readTrails, subscribeTrails, type TrailDelivery, type TrailMessage } from '../index.js';
import { createTrailStreams, publishTrail } from './helpers.js';

const key = generateEngineKey();

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function fixture() {
  const t = await setup();
  await createTrailStreams(t.nc);
  return t;
}

function trailOf(options: { outcome?: Outcome; campaign?: string; endProvider?: string } = {}) {
  return signedSample(key, options).trail;
}

const ids = (ds: readonly TrailDelivery[]) => ds.map((d) => d.trail.tracebackId);

describe('subscribeTrails', () => {
  it('delivers trails live, verified, in stream order', async () => {
    await using t = await fixture();
    const got: TrailDelivery[] = [];
    await using sub = await subscribeTrails(t.nc, { agency: 'NC-AGO', from: 'new', keys: importPublicKey(exportPublicKeyPem(key.publicKey)) }, (d) => {
      got.push(d);
    });
    expect(sub.created).toBe(true);
    const sent = [trailOf(), trailOf({ outcome: 'foreign_entry' }), trailOf()];
    for (const trail of sent) await publishTrail(t.nc, trail);
    await check(() => got.length === 3, 5_000, { name: '3 live trails' });
    expect(ids(got)).toEqual(sent.map((s) => s.tracebackId));
    expect(got.every((d) => d.verification?.ok === true && d.deliveryCount === 1)).toBe(true);
    expect(got[0]!.wire).toEqual(JSON.parse(JSON.stringify(sent[0])));
    expect(got[0]!.subject).toBe(`tb.trail.origin_found.SSA-CalltheSSA.acme-voice.${sent[0]!.tracebackId}`);
  });

  it('replays from a time and from a sequence', async () => {
    await using t = await fixture();
    const early = trailOf();
    await publishTrail(t.nc, early);
    const [stored] = await collect(readTrails(t.nc));
    // Let the clock pass the first trail's storage time (polled, not slept).
    await check(() => Date.now() > stored!.storedAt.getTime() + 2, 1_000, { name: 'clock past the first trail' });
    const since = new Date();
    const late = [trailOf(), trailOf()];
    const seqs: number[] = [];
    for (const trail of late) seqs.push(await publishTrail(t.nc, trail));

    const fromTime: TrailDelivery[] = [];
    await using _a = await subscribeTrails(t.nc, { agency: 'by-time', from: since }, (d) => void fromTime.push(d));
    await check(() => fromTime.length === 2, 5_000, { name: 'replay since a time' });
    expect(ids(fromTime)).toEqual(late.map((l) => l.tracebackId));

    const fromSeq: TrailDelivery[] = [];
    await using _b = await subscribeTrails(t.nc, { agency: 'by-seq', from: { sequence: seqs[1]! } }, (d) => void fromSeq.push(d));
    await check(() => fromSeq.length === 1, 5_000, { name: 'replay from a sequence' });
    expect(fromSeq[0]!.trail.tracebackId).toBe(late[1]!.tracebackId);

    const all: TrailDelivery[] = [];
    await using _c = await subscribeTrails(t.nc, { agency: 'everything' }, (d) => void all.push(d));
    await check(() => all.length === 3, 5_000, { name: 'replay of all (the default)' });
  });

  it('filters by outcome, campaign and provider', async () => {
    await using t = await fixture();
    const trails = [
      trailOf({ outcome: 'origin_found', campaign: 'SSA-CalltheSSA', endProvider: 'acme-voice' }),
      trailOf({ outcome: 'foreign_entry', campaign: 'SSA-CalltheSSA', endProvider: 'gw-1' }),
      trailOf({ outcome: 'origin_found', campaign: 'Amazon Impers P2', endProvider: 'gw-1' }),
      trailOf({ outcome: 'noncooperative', campaign: '', endProvider: 'silent-7' }),
    ];
    for (const trail of trails) await publishTrail(t.nc, trail);
    const cases: [string, Parameters<typeof subscribeTrails>[1]['filter'], number[]][] = [
      ['outcome', { outcome: 'origin_found' }, [0, 2]],
      ['campaign', { campaign: 'SSA-CalltheSSA' }, [0, 1]],
      ['campaign with spaces', { campaign: 'Amazon Impers P2' }, [2]],
      ['provider', { provider: 'gw-1' }, [1, 2]],
      ['all three', { outcome: 'origin_found', campaign: 'Amazon Impers P2', provider: 'gw-1' }, [2]],
      ['subject', '*.none.>', [3]],
      ['nothing', { outcome: 'loop' }, []],
    ];
    for (const [name, filter, expected] of cases) {
      const got: TrailDelivery[] = [];
      await using sub = await subscribeTrails(t.nc, { agency: 'filters', filter: filter! }, (d) => void got.push(d));
      const jsm = await jetstreamManager(t.nc);
      await check(
        async () => {
          const info = await jsm.consumers.info(Streams.trails, sub.consumer);
          return info.num_pending === 0 && info.num_ack_pending === 0 && got.length === expected.length;
        },
        5_000,
        { name: `filter ${name} settled` },
      );
      expect(ids(got), name).toEqual(expected.map((i) => trails[i]!.tracebackId));
    }
  });

  it('gives two agencies every trail exactly once, even with two processes each', async () => {
    await using t = await fixture();
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect({ servers: t.ns.url })));
    const received = { A: [] as string[], B: [] as string[] };
    const subs = await Promise.all(
      clients.map((nc, i) => {
        const agency = i < 2 ? 'A' : 'B';
        return subscribeTrails(nc, { agency, batch: 4 }, (d) => void received[agency].push(d.trail.tracebackId));
      }),
    );
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const trail = trailOf({ outcome: i % 2 ? 'origin_found' : 'not_found' });
      sent.push(trail.tracebackId);
      await publishTrail(t.nc, trail);
    }
    const jsm = await jetstreamManager(t.nc);
    await check(
      async () => {
        const infos = await Promise.all([subs[0]!, subs[2]!].map((s) => jsm.consumers.info(Streams.trails, s.consumer)));
        return infos.every((ci) => ci.num_pending === 0 && ci.num_ack_pending === 0) && received.A.length >= 40 && received.B.length >= 40;
      },
      10_000,
      { name: 'both agencies acknowledged everything' },
    );
    for (const agency of ['A', 'B'] as const) {
      expect(received[agency]).toHaveLength(40);
      expect(new Set(received[agency])).toEqual(new Set(sent));
    }
    expect(subs[0]!.consumer).toBe(subs[1]!.consumer);
    expect(subs[0]!.consumer).not.toBe(subs[2]!.consumer);
    for (const s of subs) await s.stop();
    await Promise.all(clients.map((nc) => nc.close()));
  });

  it('redelivers a trail whose handler threw, and resumes after a restart where the agency left off', async () => {
    await using t = await fixture();
    const [first, second, third] = [trailOf(), trailOf(), trailOf()];
    await publishTrail(t.nc, first!);
    await publishTrail(t.nc, second!);
    const seen: TrailDelivery[] = [];
    const errors: string[] = [];
    let failOnce = true;
    const sub = await subscribeTrails(t.nc, { agency: 'flaky', nakDelayMs: 0, onError: (e) => errors.push(e.message) }, (d) => {
      seen.push(d);
      if (d.trail.tracebackId === first!.tracebackId && failOnce) {
        failOnce = false;
        throw new Error('case system down');
      }
    });
    await check(() => seen.length === 3, 5_000, { name: 'the failed trail delivered again' });
    const retried = seen.filter((d) => d.trail.tracebackId === first!.tracebackId);
    expect(retried.map((d) => d.deliveryCount)).toEqual([1, 2]);
    expect(errors).toEqual(['case system down']);
    await sub.stop();

    await publishTrail(t.nc, third!);
    const after: TrailDelivery[] = [];
    await using again = await subscribeTrails(t.nc, { agency: 'flaky', from: 'all' }, (d) => void after.push(d));
    expect(again.created).toBe(false);
    await check(() => after.length === 1, 5_000, { name: 'only the trail published while stopped' });
    expect(after[0]!.trail.tracebackId).toBe(third!.tracebackId);

    const replay: TrailDelivery[] = [];
    await using reset = await subscribeTrails(t.nc, { agency: 'flaky', reset: true }, (d) => void replay.push(d));
    expect(reset.created).toBe(true);
    await check(() => replay.length === 3, 5_000, { name: 'reset replays from the start' });
  });

  it('iterator: acks when the loop continues, hands back on break, and redelivers what is held past ackWait', async () => {
    await using t = await fixture();
    const trails = [trailOf(), trailOf(), trailOf()];
    for (const trail of trails) await publishTrail(t.nc, trail);

    const firstRun: string[] = [];
    {
      await using it = await subscribeTrails(t.nc, { agency: 'iter' });
      for await (const msg of it) {
        firstRun.push(msg.trail.tracebackId);
        if (firstRun.length === 2) break; // the second one is not acknowledged
      }
    }
    expect(firstRun).toEqual(trails.slice(0, 2).map((x) => x.tracebackId));

    const secondRun: TrailMessage[] = [];
    {
      await using it = await subscribeTrails(t.nc, { agency: 'iter' });
      for await (const msg of it) {
        secondRun.push(msg);
        if (secondRun.length === 2) {
          await msg.ack();
          break;
        }
      }
    }
    // Handed back (the one held at `break` and the one pulled ahead) within seconds, not after ackWait (30 s).
    expect(secondRun.map((m) => m.trail.tracebackId).sort()).toEqual(trails.slice(1).map((x) => x.tracebackId).sort());
    expect(secondRun.find((m) => m.trail.tracebackId === trails[1]!.tracebackId)!.deliveryCount).toBeGreaterThanOrEqual(2);

    // Held by a process that dies without a word: after ackWait another process of the agency gets it.
    const held = trailOf();
    await publishTrail(t.nc, held);
    const doomed = await connect({ servers: t.ns.url });
    const holder = await subscribeTrails(doomed, { agency: 'iter', ackWaitMs: 500 });
    const taken = await holder[Symbol.asyncIterator]().next();
    expect(taken.value?.trail.tracebackId).toBe(held.tracebackId);
    await doomed.close();
    const other: TrailDelivery[] = [];
    await using _other = await subscribeTrails(t.nc, { agency: 'iter', ackWaitMs: 500 }, (d) => void other.push(d));
    await check(() => other.length === 1, 5_000, { name: 'the held trail redelivered' });
    expect(other[0]!.trail.tracebackId).toBe(held.tracebackId);
    expect(other[0]!.deliveryCount).toBeGreaterThanOrEqual(2);
  });

  it('stop() lets the trail being handled finish and be acknowledged; the ones pulled ahead go to the next process', async () => {
    await using t = await fixture();
    const trails = [trailOf(), trailOf(), trailOf()];
    for (const trail of trails) await publishTrail(t.nc, trail);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first: string[] = [];
    const sub = await subscribeTrails(t.nc, { agency: 'stopper' }, async (d) => {
      first.push(d.trail.tracebackId);
      await gate;
    });
    await check(() => first.length === 1, 5_000, { name: 'the first trail in the handler' });
    const stopped = sub.stop();
    release();
    await stopped;
    expect(first).toEqual([trails[0]!.tracebackId]);
    const next: TrailDelivery[] = [];
    await using _next = await subscribeTrails(t.nc, { agency: 'stopper' }, (d) => void next.push(d));
    await check(() => next.length === 2, 10_000, { name: 'the two trails handed back' });
    expect(ids(next).sort()).toEqual(trails.slice(1).map((x) => x.tracebackId).sort());
  });

  it('terminates a message on a trail subject that is not a trail, and reports it', async () => {
    await using t = await fixture();
    await jetstream(t.nc).publish('tb.trail.origin_found.none.x.tb-0000000000aaaaaaaaaa', new TextEncoder().encode('junk'));
    const good = trailOf();
    await publishTrail(t.nc, good);
    const got: TrailDelivery[] = [];
    const errors: string[] = [];
    await using sub = await subscribeTrails(t.nc, { agency: 'strict', onError: (e, { seq }) => errors.push(`${seq}: ${e.message}`) }, (d) => void got.push(d));
    await check(() => got.length === 1 && errors.length === 1, 5_000, { name: 'junk reported, trail delivered' });
    expect(errors[0]).toMatch(/^1: /);
    const info = await (await jetstreamManager(t.nc)).consumers.info(Streams.trails, sub.consumer);
    expect(info.num_ack_pending).toBe(0);
  });

  it('explains a missing stream, a bad agency and a consumer with another filter', async () => {
    await using bare = await setup();
    await expect(subscribeTrails(bare.nc, { agency: 'x' }, () => {})).rejects.toMatchObject({ code: EnforcementErrorCode.StreamMissing });
    await expect(collect(readTrails(bare.nc))).rejects.toMatchObject({ code: EnforcementErrorCode.StreamMissing });
    await using t = await fixture();
    await expect(subscribeTrails(t.nc, { agency: 'a.b' }, () => {})).rejects.toMatchObject({ code: EnforcementErrorCode.BadAgency });
    await expect(subscribeTrails(t.nc, { agency: 'x', from: new Date('nope') }, () => {})).rejects.toMatchObject({ code: EnforcementErrorCode.BadFrom });
    await (await subscribeTrails(t.nc, { agency: 'x', durable: 'shared' }, () => {})).stop();
    await expect(subscribeTrails(t.nc, { agency: 'x', durable: 'shared', filter: { outcome: 'loop' } }, () => {})).rejects.toMatchObject({
      code: EnforcementErrorCode.ConsumerMismatch,
    });
  });
});
