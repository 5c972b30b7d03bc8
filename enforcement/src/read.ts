import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, JetStreamApiError, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { Streams, Subjects, decodeMap, decodeTracebackEvent, decodeTrail, parseTracebackId } from '../../protocol/index.js';
import { canonicalJson, verifyTrail } from '../../evidence/index.js';
import { EnforcementError, EnforcementErrorCode } from './errors.js';
import { deliverFrom, trailSubject } from './filter.js';
import type { ReadOptions, TrailDelivery, TrailStart, VerificationKeys } from './types.js';

const NANOS_PER_MS = 1_000_000;

/** A stored message, whatever consumer delivered it. */
export interface Stored {
  subject: string;
  seq: number;
  data: Uint8Array;
  storedAt: Date;
  deliveryCount: number;
}

/** Decodes a trail message; throws `ProtocolError` when it is not a valid trail. */
export function toDelivery(m: Stored, keys: VerificationKeys | undefined): TrailDelivery {
  const trail = decodeTrail(m.data);
  const wire = decodeMap(m.data);
  const delivery: TrailDelivery = { trail, wire, subject: m.subject, seq: m.seq, storedAt: m.storedAt, deliveryCount: m.deliveryCount };
  if (keys !== undefined) delivery.verification = verifyTrail(wire, keys);
  return delivery;
}

export async function streamMissing(jsm: JetStreamManager, stream: string, err: unknown): Promise<never> {
  if (err instanceof JetStreamApiError && err.code === 10059) {
    throw new EnforcementError(EnforcementErrorCode.StreamMissing, `stream ${stream} does not exist: start the engine once (robotrace engine) to create it`, { cause: err });
  }
  // Some paths report a missing stream without the API code: ask.
  try {
    await jsm.streams.info(stream);
  } catch (cause) {
    throw new EnforcementError(EnforcementErrorCode.StreamMissing, `stream ${stream} does not exist: start the engine once (robotrace engine) to create it`, { cause });
  }
  throw err;
}

/**
 * Reads the messages stored on `subject` at the time of the call, in stream order, then ends.
 * Uses an ephemeral consumer (memory, no acks) that is deleted afterwards and expires on its own
 * after a minute if this process dies.
 */
export async function* readStored(nc: NatsConnection, stream: string, subject: string, from: TrailStart = 'all'): AsyncGenerator<Stored> {
  const jsm = await jetstreamManager(nc);
  let info;
  try {
    info = await jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      filter_subject: subject,
      ...deliverFrom(from),
      inactive_threshold: 60_000 * NANOS_PER_MS,
      mem_storage: true,
      num_replicas: 1,
    });
  } catch (err) {
    return await streamMissing(jsm, stream, err);
  }
  let messages: ConsumerMessages | undefined;
  try {
    let left = info.num_pending;
    if (left === 0) return;
    const consumer = await jetstream(nc).consumers.get(stream, info.name);
    messages = await consumer.consume({ max_messages: Math.min(left, 256) });
    for await (const m of messages) {
      yield { subject: m.subject, seq: m.seq, data: m.data, storedAt: m.time, deliveryCount: m.info.deliveryCount };
      if (--left === 0) break;
    }
  } finally {
    await messages?.close().catch(() => undefined);
    await jsm.consumers.delete(stream, info.name).catch(() => false);
  }
}

/** Wraps protocol errors of stored trails in the caller's `onInvalid`; valid ones pass. */
async function* decodeAll(source: AsyncIterable<Stored>, keys: VerificationKeys | undefined, onInvalid?: (error: Error, m: Stored) => void): AsyncGenerator<TrailDelivery> {
  for await (const m of source) {
    let delivery: TrailDelivery;
    try {
      delivery = toDelivery(m, keys);
    } catch (err) {
      onInvalid?.(err as Error, m);
      continue;
    }
    yield delivery;
  }
}

/**
 * Every stored trail that matches, from `from` up to the moment of the call, then ends. Nothing is
 * acknowledged and no consumer is left behind: use it for exports and one-off reads.
 */
export function readTrails(nc: NatsConnection, options: ReadOptions & { onInvalid?: (error: Error, m: Stored) => void } = {}): AsyncGenerator<TrailDelivery> {
  return decodeAll(readStored(nc, Streams.trails, trailSubject(options.filter), options.from ?? 'all'), options.keys, options.onInvalid);
}

/** A live, ephemeral view of trails: stored ones from `from`, then new ones as they come. */
export interface TrailFollower extends AsyncIterable<TrailDelivery>, AsyncDisposable {
  close(): Promise<void>;
}

/**
 * Follows trails without a durable consumer (an ordered consumer: nothing to clean up, nothing
 * acknowledged; a restart starts again at `from`). `from` defaults to `'new'` here. For delivery
 * that survives restarts use `subscribeTrails`.
 */
export async function followTrails(nc: NatsConnection, options: ReadOptions & { onInvalid?: (error: Error, m: Stored) => void } = {}): Promise<TrailFollower> {
  const subject = trailSubject(options.filter);
  const from = deliverFrom(options.from ?? 'new');
  const js = jetstream(nc);
  let messages: ConsumerMessages;
  try {
    const consumer = await js.consumers.get(Streams.trails, { filter_subjects: subject, ...from });
    messages = await consumer.consume();
  } catch (err) {
    return await streamMissing(await jetstreamManager(nc), Streams.trails, err);
  }
  async function* stored(): AsyncGenerator<Stored> {
    for await (const m of messages) yield { subject: m.subject, seq: m.seq, data: m.data, storedAt: m.time, deliveryCount: m.info.deliveryCount };
  }
  const close = async () => {
    await messages.close().catch(() => undefined);
  };
  return {
    [Symbol.asyncIterator]: () => decodeAll(stored(), options.keys, options.onInvalid),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The trail of one traceback, looked up by the subject wildcard `tb.trail.*.*.*.<tracebackId>`.
 *
 * @throws EnforcementError `TRAIL_NOT_FOUND`; `ProtocolError` for a bad id or a stored message that is not a trail.
 */
export async function fetchTrail(nc: NatsConnection, tracebackId: string, options: { keys?: VerificationKeys } = {}): Promise<TrailDelivery> {
  const id = parseTracebackId(tracebackId);
  for await (const m of readStored(nc, Streams.trails, `tb.trail.*.*.*.${id}`)) {
    return toDelivery(m, options.keys);
  }
  throw new EnforcementError(EnforcementErrorCode.TrailNotFound, `no trail stored for ${id} (still running, or unknown)`);
}

/**
 * The audit events of one traceback from `tb.events.<tracebackId>`, each as the decoded wire map
 * (every field: this is what the hash chain covers) and checked against the protocol's rules. They
 * come ordered by `seq`, the chain's order (the engine may store two events of one step out of
 * order), with exact repeats of an event dropped; two different events with one `seq` are both
 * kept, so that verification fails.
 */
export async function fetchEvents(nc: NatsConnection, tracebackId: string): Promise<Record<string, unknown>[]> {
  const id = parseTracebackId(tracebackId);
  const events: { seq: number; map: Record<string, unknown> }[] = [];
  for await (const m of readStored(nc, Streams.events, Subjects.events(id))) {
    events.push({ seq: decodeTracebackEvent(m.data).seq, map: decodeMap(m.data) });
  }
  events.sort((a, b) => a.seq - b.seq);
  return events
    .filter((e, i) => {
      const previous = events[i - 1];
      return previous === undefined || previous.seq !== e.seq || canonicalJson(previous.map) !== canonicalJson(e.map);
    })
    .map((e) => e.map);
}
