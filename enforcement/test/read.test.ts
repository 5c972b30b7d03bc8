import { PassThrough } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Streams, Subjects, encodeMessage } from '../../protocol/index.js';
import { generateEngineKey, verifyTrail } from '../../evidence/index.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { signedSample } from '../../evidence/test/samples.js';
import {
  CSV_COLUMNS,
  EnforcementErrorCode,
  csvField,
  exportTrails,
  fetchEvents,
  fetchTrail,
  followTrails,
  readTrails,
  type TrailDelivery,
} from '../index.js';
import { createTrailStreams, publishEvents, publishTrail } from './helpers.js';

const key = generateEngineKey();
let t: NatsFixture;
const samples = [
  signedSample(key, { outcome: 'origin_found', campaign: 'SSA-CalltheSSA', customerName: '=HYPERLINK("http://x"), "Acme"' }),
  signedSample(key, { outcome: 'foreign_entry', campaign: 'Amazon Impers P2', endProvider: 'gw-1' }),
  signedSample(key, { outcome: 'noncooperative', campaign: '', endProvider: 'silent-7' }),
];

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function capture(write: (out: PassThrough) => Promise<unknown>): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  t = await setup();
  await createTrailStreams(t.nc);
  for (const s of samples) {
    await publishTrail(t.nc, s.trail);
    await publishEvents(t.nc, s.events);
  }
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

describe('reading trails without a durable consumer', () => {
  it('reads what is stored and ends, leaving no consumer behind', async () => {
    const all = await collect(readTrails(t.nc, { keys: key }));
    expect(all.map((d) => d.trail.tracebackId)).toEqual(samples.map((s) => s.trail.tracebackId));
    expect(all.every((d) => d.verification?.ok)).toBe(true);
    expect(await collect(readTrails(t.nc, { filter: { provider: 'gw-1' } }))).toHaveLength(1);
    expect(await collect(readTrails(t.nc, { filter: { outcome: 'loop' } }))).toEqual([]);
    expect(await collect(readTrails(t.nc, { from: new Date(Date.now() + 60_000) }))).toEqual([]);
    const jsm = await jetstreamManager(t.nc);
    await check(async () => (await jsm.streams.info(Streams.trails)).state.consumer_count === 0, 5_000, { name: 'ephemeral consumers deleted' });
  });

  it('follows: stored trails from `from`, then new ones', async () => {
    const got: TrailDelivery[] = [];
    await using follow = await followTrails(t.nc, { from: 'all', filter: '*.SSA-CalltheSSA.>' });
    const loop = (async () => {
      for await (const d of follow) got.push(d);
    })();
    await check(() => got.length === 1, 5_000, { name: 'the stored SSA trail' });
    const late = signedSample(key, { campaign: 'SSA-CalltheSSA' });
    await publishTrail(t.nc, late.trail);
    await check(() => got.length === 2, 5_000, { name: 'the new SSA trail' });
    expect(got[1]!.trail.tracebackId).toBe(late.trail.tracebackId);
    await follow.close();
    await loop;
  });

  it('fetches one trail and its audit events by traceback id', async () => {
    const s = samples[1]!;
    const d = await fetchTrail(t.nc, s.trail.tracebackId, { keys: key });
    expect(d.trail).toEqual(s.trail);
    expect(d.verification).toMatchObject({ ok: true });
    const events = await fetchEvents(t.nc, s.trail.tracebackId);
    expect(events).toEqual(JSON.parse(JSON.stringify(s.events)));
    expect(verifyTrail(d.wire, key, { events })).toMatchObject({ ok: true, chainChecked: true });
    await expect(fetchTrail(t.nc, 'tb-0000000000zzzzzzzzzz')).rejects.toMatchObject({ code: EnforcementErrorCode.TrailNotFound });
    await expect(fetchTrail(t.nc, 'nope')).rejects.toMatchObject({ code: 'INVALID_FIELD' });
    expect(await fetchEvents(t.nc, 'tb-0000000000zzzzzzzzzz')).toEqual([]);
  });
});

describe('exportTrails', () => {
  it('writes JSON Lines that verify line by line', async () => {
    let count = 0;
    const text = await capture(async (out) => ({ count } = await exportTrails(t.nc, { format: 'json', filter: { campaign: 'Amazon Impers P2' } }, out)));
    expect(count).toBe(1);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(verifyTrail(JSON.parse(lines[0]!), key)).toMatchObject({ ok: true, tracebackId: samples[1]!.trail.tracebackId });
  });

  it('writes CSV with a header, RFC 4180 quoting and no spreadsheet formulas', async () => {
    const text = await capture((out) => exportTrails(t.nc, { format: 'csv', since: 'all', filter: 'origin_found.>' }, out));
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    const s = samples[0]!.trail;
    const row = lines.find((l) => l.startsWith(s.tracebackId))!;
    expect(row.startsWith(`${s.tracebackId},origin_found,SSA-CalltheSSA,2026-11-29T15:04:05.000Z,+12155550121,+12025550143,T1,acme-voice,`)).toBe(true);
    // The end provider and the path as the directory stood, flags at the time, STIR/SHAKEN per hop.
    expect(row).toContain(
      ',Acme Voice LLC,0007654321,123A,certified,high_risk_origin,3,T1 < W2 < acme-voice,Big National Wireless Inc < W2 < Acme Voice LLC,acme-voice: high_risk_origin,0,1:A 2:A 3:A,0,',
    );
    expect(row).toContain('This is the Social Security Administration. Press 1 <now>');
    expect(row).toContain(`"'=HYPERLINK(""http://x""), ""Acme"""`);
    expect(row).toContain(s.evidence!.signature);
    expect(lines[lines.length - 1]).toBe('');
    expect(lines.slice(1, -1).every((l) => l.split(',')[1] === 'origin_found')).toBe(true);
  });

  it('guards fields a spreadsheet would run', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('+12155550121')).toBe('+12155550121');
    expect(csvField('-5')).toBe('-5');
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('+cmd|x')).toBe("'+cmd|x");
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
  });
});

describe('fetchEvents', () => {
  it('orders events by seq and drops exact repeats, keeping conflicting ones', async () => {
    const s = signedSample(key);
    const [e1, e2, ...rest] = s.events;
    // Stored out of order, with a repeat.
    await publishEvents(t.nc, [e2!, e1!, ...rest]);
    await jetstream(t.nc).publish(Subjects.events(s.trail.tracebackId), encodeMessage(e2!));
    const events = await fetchEvents(t.nc, s.trail.tracebackId);
    expect(events.map((e) => e['seq'])).toEqual(s.events.map((e) => e.seq));
    expect(verifyTrail(s.trail, key, { events })).toMatchObject({ ok: true, chainChecked: true });
    await jetstream(t.nc).publish(Subjects.events(s.trail.tracebackId), encodeMessage({ ...e2!, at: e2!.at + 1 }));
    const conflicting = await fetchEvents(t.nc, s.trail.tracebackId);
    expect(conflicting).toHaveLength(s.events.length + 1);
    expect(verifyTrail(s.trail, key, { events: conflicting })).toMatchObject({ ok: false, code: 'CHAIN_MISMATCH' });
  });
});
