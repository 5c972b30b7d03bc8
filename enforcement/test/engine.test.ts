import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { Engine, startTraceback } from '../../engine/index.js';
import { PROTOCOL_VERSION, decodeMap, encodeMessage, type Trail } from '../../protocol/index.js';
import { emptyChain, extendChain, generateEngineKey, signTrail, verifyTrail } from '../../evidence/index.js';
import { setup } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { call, originator, quiet, scriptedCarriers, upstream } from '../../test/integration/fixtures.js';
import { sampleTrail, signedSample } from '../../evidence/test/samples.js';
import { fetchEvents, fetchTrail, renderReport, subscribeTrails, type TrailDelivery } from '../index.js';

const schema = JSON.parse(readFileSync(new URL('../../protocol/trail.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
const schemaErrors = (value: unknown) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));

describe('against a real engine', () => {
  it('the chain over the audit events as the engine publishes them signs and verifies its trail; the schema fits', async () => {
    await using t = await setup();
    await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '5s' });
    const carriers = await scriptedCarriers(t.ns.url, { T1: upstream('M1'), M1: upstream('O1'), O1: originator });
    const got: TrailDelivery[] = [];
    await using _sub = await subscribeTrails(t.nc, { agency: 'NC-AGO', filter: { outcome: 'origin_found', campaign: call.campaign } }, (d) => void got.push(d));
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'T1', requester: 'test' });
    await check(() => got.length === 1, 15_000, { name: 'the trail through the agency subscription' });
    const delivery = got[0]!;
    expect(delivery.trail.tracebackId).toBe(tracebackId);
    expect(schemaErrors(delivery.wire)).toEqual([]);

    // What the engine will do: extend the chain with each audit event as published, sign the trail.
    const events = await check(async () => {
      const es = await fetchEvents(t.nc, tracebackId);
      return es.some((e) => e['type'] === 'ended') && es;
    }, 5_000, { name: 'the ended event' });
    expect(events.map((e) => e['seq'])).toEqual(events.map((_, i) => i + 1));
    const chain = extendChain(emptyChain(), ...events);
    const key = generateEngineKey();
    const signed = signTrail(delivery.trail, key, chain);
    expect(schemaErrors(signed)).toEqual([]);
    expect(verifyTrail(decodeMap(encodeMessage(signed)), key, { events })).toMatchObject({ ok: true, chainChecked: true, eventCount: events.length });
    expect(renderReport(signed, { keys: key, events })).toContain('<strong>VERIFIED</strong>');

    const fetched = await fetchTrail(t.nc, tracebackId);
    expect(fetched.trail).toEqual(delivery.trail);
    await Promise.all(carriers.map((c) => c.stop()));
  });

  it('the JSON Schema accepts sample trails and rejects broken ones', () => {
    const key = generateEngineKey();
    const { trail } = signedSample(key);
    expect(schemaErrors(trail)).toEqual([]);
    expect(schemaErrors(sampleTrail({ outcome: 'noncooperative', campaign: '' }))).toEqual([]);
    const broken: [string, (t: Trail) => unknown][] = [
      ['version', (t) => ({ ...t, v: 2 })],
      ['kind', (t) => ({ ...t, kind: 'hop_query' })],
      ['outcome', (t) => ({ ...t, outcome: 'won' })],
      ['number', (t) => ({ ...t, call: { ...t.call, calling: '2155550121' } })],
      ['float time', (t) => ({ ...t, startedAt: 1.5 })],
      ['hop id', (t) => ({ ...t, hops: [{ ...t.hops[0], hopId: 'h1' }] })],
      ['answer', (t) => ({ ...t, hops: [{ ...t.hops[0], answer: { type: 'upstream' } }] })],
      ['signature', (t) => ({ ...t, evidence: { ...t.evidence, signature: 'short' } })],
      ['alg', (t) => ({ ...t, evidence: { ...t.evidence, alg: 'ES256' } })],
      ['missing reason', (t) => ({ ...t, reason: undefined })],
      ['provider snapshot without verified', (t) => ({ ...t, hops: [{ ...t.hops[0], providerInfo: { flags: [] } }] })],
      ['unknown provider flag', (t) => ({ ...t, hops: [{ ...t.hops[0], providerInfo: { verified: true, flags: [{ name: 'shady', raisedAt: 1, reason: 'r' }] } }] })],
      ['attestation D', (t) => ({ ...t, hops: [{ ...t.hops[0], stirShaken: { ...t.hops[0]!.stirShaken, attestation: 'D' } }] })],
      ['origId not a UUID', (t) => ({ ...t, hops: [{ ...t.hops[0], stirShaken: { ...t.hops[0]!.stirShaken, origId: 'abc' } }] })],
      ['iat as text', (t) => ({ ...t, hops: [{ ...t.hops[0], stirShaken: { ...t.hops[0]!.stirShaken, passport: { ...t.hops[0]!.stirShaken!.passport, iat: '1' } } }] })],
      ['answer attestation D', (t) => ({ ...t, hops: [{ ...t.hops[0], answer: { ...t.hops[0]!.answer, stirShaken: { attestation: 'D', origId: t.hops[0]!.stirShaken!.origId } } }] })],
    ];
    for (const [name, breakIt] of broken) expect(schemaErrors(JSON.parse(JSON.stringify(breakIt(trail)))), name).not.toEqual([]);
    expect(PROTOCOL_VERSION).toBe(1);
  });
});
