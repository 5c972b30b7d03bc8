import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, cancelTraceback, getStatus, startTraceback } from '../../engine/index.js';
import {
  ErrorCode,
  PROTOCOL_VERSION,
  ProtocolError,
  Subjects,
  decodeProtocolError,
  decodeTracebackEvent,
  encodeMessage,
  hopIdOf,
  type ProtocolErrorMessage,
  type TracebackId,
} from '../../protocol/index.js';
import { check } from '../harness/check.js';
import { setup, type NatsFixture } from '../harness/nats-server.js';
import { call, collectTrails, originator, quiet, scriptedCarriers, upstream } from './fixtures.js';
import { DeliverPolicy } from '@nats-io/jetstream';
import { Streams } from '../../protocol/index.js';

describe('wire behaviour', () => {
  let t: NatsFixture;
  let engine: Engine;
  beforeAll(async () => {
    t = await setup();
    engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '30s', reminderFractions: [0.5] });
  });
  afterAll(async () => {
    await engine?.stop();
    await t?.[Symbol.asyncDispose]();
  });

  /** Collects the rejections the engine publishes to one provider. */
  function rejections(provider: string): ProtocolErrorMessage[] {
    const seen: ProtocolErrorMessage[] = [];
    t.nc.subscribe(Subjects.hopError(provider), {
      callback: (_err, msg) => {
        seen.push(decodeProtocolError(msg.data));
      },
    });
    return seen;
  }

  async function events(tracebackId: string) {
    const consumer = await jetstream(t.nc).consumers.get(Streams.events, { filter_subjects: Subjects.events(tracebackId), deliver_policy: DeliverPolicy.All });
    const out = [];
    const messages = await consumer.fetch({ max_messages: 100, expires: 1000 });
    for await (const m of messages) {
      out.push(decodeTracebackEvent(m.data));
      if (m.info.pending === 0) break;
    }
    return out;
  }

  const answerBytes = (hopId: string, provider: string, answer: object) =>
    encodeMessage({ v: PROTOCOL_VERSION, kind: 'hop_answer', hopId, provider, answer });

  it('rejects spoofed, malformed and misdirected answers with a clear error and changes nothing', async () => {
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'W1', requester: 'test' });
    const hopId = hopIdOf(tracebackId, 1);
    const js = jetstream(t.nc);
    const toSpoofer = rejections('SPOOF');
    const toW1 = rejections('W1');
    await t.nc.flush();

    await js.publish(Subjects.hopAnswer('SPOOF'), answerBytes(hopId, 'SPOOF', originator));
    await check(() => toSpoofer.find((e) => e.code === ErrorCode.WrongProvider && e.hopId === hopId), 5000, { name: 'WRONG_PROVIDER for the spoofer' });

    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopId, 'SPOOF', originator));
    await check(() => toW1.find((e) => e.code === ErrorCode.WrongProvider), 5000, { name: 'WRONG_PROVIDER for a subject/provider mismatch' });

    await js.publish(Subjects.hopAnswer('W1'), new Uint8Array([0xc1, 0x00, 0x17]));
    await check(() => toW1.find((e) => e.code === ErrorCode.Malformed), 5000, { name: 'MALFORMED' });

    await js.publish(Subjects.hopAnswer('W1'), encodeMessage({ v: 9, kind: 'hop_answer', hopId, provider: 'W1', answer: originator }));
    await check(() => toW1.find((e) => e.code === ErrorCode.UnsupportedVersion), 5000, { name: 'UNSUPPORTED_VERSION' });

    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopId, 'W1', { type: 'upstream' }));
    await check(() => toW1.find((e) => e.code === ErrorCode.MissingField && e.path === 'answer.provider'), 5000, { name: 'MISSING_FIELD answer.provider' });

    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopIdOf('tb-000000000aaaaaaaaaaa' as TracebackId, 1), 'W1', originator));
    await check(() => toW1.find((e) => e.code === ErrorCode.UnknownTraceback), 5000, { name: 'UNKNOWN_TRACEBACK' });

    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopIdOf(tracebackId, 4), 'W1', originator));
    await check(() => toW1.find((e) => e.code === ErrorCode.UnknownHop), 5000, { name: 'UNKNOWN_HOP' });

    // Nothing above changed the traceback: it is still waiting on its first hop.
    expect((await events(tracebackId)).map((e) => e.type)).toEqual(['started', 'asked']);

    const watch = await collectTrails(t.nc);
    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopId, 'W1', originator), { msgID: 'first' });
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 5000, { name: 'trail' });
    expect(trail.outcome).toBe('origin_found');

    // The same answer again is a harmless duplicate; a different one is refused.
    const duplicates = engine.stats().answersDuplicate;
    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopId, 'W1', originator), { msgID: 'again' });
    await check(() => engine.stats().answersDuplicate === duplicates + 1, 5000, { name: 'duplicate counted' });
    await js.publish(Subjects.hopAnswer('W1'), answerBytes(hopId, 'W1', { type: 'not_found', reason: 'changed my mind' }));
    await check(() => toW1.find((e) => e.code === ErrorCode.HopClosed), 5000, { name: 'HOP_CLOSED' });
    expect((await events(tracebackId)).map((e) => e.type)).toEqual(['started', 'asked', 'answered', 'ended']);
    expect(watch.trails.filter((x) => x.tracebackId === tracebackId)).toHaveLength(1);
    await watch.close();
  });

  it('start API: bad input gets a typed error reply; a request id makes retries idempotent', async () => {
    await expect(startTraceback(t.nc, { call: { ...call, calling: '2155550121' }, terminatingProvider: 'W1', requester: 'test' })).rejects.toMatchObject({
      name: 'ProtocolError',
      code: ErrorCode.InvalidNumber,
      path: 'call.calling',
    });
    await expect(startTraceback(t.nc, { call, terminatingProvider: 'bad.provider', requester: 'test' })).rejects.toMatchObject({
      code: ErrorCode.InvalidField,
      path: 'terminatingProvider',
    });
    const raw = await t.nc.request(Subjects.start, new TextEncoder().encode('{"json":"is not msgpack"}'), { timeout: 5000 });
    expect(decodeProtocolError(raw.data).code).toBe(ErrorCode.Malformed);

    const request = { call, terminatingProvider: 'W2', requester: 'ag-office', requestId: 'case-42' };
    const first = await startTraceback(t.nc, request);
    const second = await startTraceback(t.nc, request);
    expect(first.existing).toBe(false);
    expect(second).toMatchObject({ tracebackId: first.tracebackId, existing: true });
  });

  it('a carrier that was offline finds its queries when it connects', async () => {
    const watch = await collectTrails(t.nc);
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'OFF1', requester: 'test' });
    await check(async () => (await events(tracebackId)).some((e) => e.type === 'asked'), 5000, { name: 'hop asked' });
    // OFF1 connects only now; its durable queue kept the query.
    const carriers = await scriptedCarriers(t.ns.url, { OFF1: upstream('OFF2'), OFF2: originator });
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 10_000, { name: 'trail after reconnect' });
    expect(trail.hops.map((h) => h.provider)).toEqual(['OFF1', 'OFF2']);
    await Promise.all(carriers.map((c) => c.stop()));
    await watch.close();
  });

  it('cancel ends a traceback once; status counts by outcome', async () => {
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'C1', requester: 'test' });
    const watch = await collectTrails(t.nc);
    await cancelTraceback(t.nc, tracebackId, 'duplicate request', 'operator-1');
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 5000, { name: 'cancelled trail' });
    expect(trail.outcome).toBe('cancelled');
    expect(trail.hops[0]?.status).toBe('cancelled');
    await expect(cancelTraceback(t.nc, tracebackId, 'again', 'operator-1')).rejects.toSatisfy(
      (err: unknown) => ProtocolError.is(err) && err.code === ErrorCode.TracebackClosed,
    );
    await expect(cancelTraceback(t.nc, 'tb-000000000bbbbbbbbbbb' as TracebackId, 'x', 'operator-1')).rejects.toMatchObject({
      code: ErrorCode.UnknownTraceback,
    });
    const status = await getStatus(t.nc);
    expect(status.byOutcome.cancelled).toBeGreaterThanOrEqual(1);
    expect(status.total).toBeGreaterThanOrEqual(status.active + status.byOutcome.cancelled + status.byOutcome.origin_found);
    await watch.close();
  });
});
