import type { NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Streams } from '../../protocol/index.js';
import { EnforcementError, EnforcementErrorCode } from './errors.js';
import { checkAgency, deliverFrom, trailConsumerName, trailSubject } from './filter.js';
import { streamMissing, toDelivery } from './read.js';
import type { SubscribeOptions, TrailDelivery, TrailHandler, TrailIterator, TrailMessage, TrailSubscription } from './types.js';

const NANOS_PER_MS = 1_000_000;
const CONSUMER_NOT_FOUND = 10014;
/**
 * Pull requests expire after this long. nats-server 2.9 keeps delivering to a pull request after its
 * subscriber is gone, so a trail handed back at once could land in the closed buffer and wait out
 * the ack wait; handing back after the request expired sends it to a live process instead.
 */
const PULL_EXPIRES_MS = 2_000;
const HAND_BACK_DELAY_MS = PULL_EXPIRES_MS + 500;
/** Trail ids acknowledged in this process, to drop a redelivery whose ack was lost. */
const SEEN_LIMIT = 10_000;

interface Compiled {
  consumer: string;
  subject: string;
  ackWaitMs: number;
  nakDelayMs: number;
  batch: number;
  onError: NonNullable<SubscribeOptions['onError']>;
}

function compile(options: SubscribeOptions): Compiled {
  checkAgency(options.agency);
  const subject = trailSubject(options.filter);
  const positive = (value: number | undefined, fallback: number, name: string, min: number) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a number ≥ ${min}, got ${value}`);
    return Math.floor(value);
  };
  return {
    consumer: options.durable ?? trailConsumerName(options.agency, options.filter),
    subject,
    ackWaitMs: positive(options.ackWaitMs, 30_000, 'ackWaitMs', 100),
    nakDelayMs: positive(options.nakDelayMs, 1_000, 'nakDelayMs', 0),
    batch: positive(options.batch, 16, 'batch', 1),
    onError:
      options.onError ??
      ((error, { subject: s, seq }) => process.emitWarning(`robotrace trail subscription: ${s} (seq ${seq}): ${error.message}`)),
  };
}

/** Creates the agency's durable consumer, or binds to it; reports whether it was created. */
async function ensureConsumer(jsm: JetStreamManager, c: Compiled, options: SubscribeOptions): Promise<boolean> {
  const stream = Streams.trails;
  if (options.reset) await jsm.consumers.delete(stream, c.consumer).catch(() => false);
  const check = async (): Promise<boolean> => {
    const info = await jsm.consumers.info(stream, c.consumer);
    if (info.config.filter_subject !== c.subject) {
      throw new EnforcementError(
        EnforcementErrorCode.ConsumerMismatch,
        `consumer ${c.consumer} exists with filter ${String(info.config.filter_subject)}, not ${c.subject}`,
      );
    }
    const ackWait = c.ackWaitMs * NANOS_PER_MS;
    if (info.config.ack_wait !== ackWait) await jsm.consumers.update(stream, c.consumer, { ack_wait: ackWait });
    return false;
  };
  try {
    return await check();
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND)) {
      if (EnforcementError.is(err)) throw err;
      return await streamMissing(jsm, stream, err);
    }
  }
  const config: Partial<ConsumerConfig> = {
    durable_name: c.consumer,
    description: `robotrace enforcement: agency ${options.agency}, ${c.subject}`,
    filter_subject: c.subject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: c.ackWaitMs * NANOS_PER_MS,
    max_deliver: -1,
    max_ack_pending: Math.max(c.batch * 4, 256),
    ...deliverFrom(options.from ?? 'all'),
  };
  try {
    await jsm.consumers.add(stream, config);
    return true;
  } catch (err) {
    // Another process of the agency created it at the same moment.
    return await check().catch(() => {
      throw err;
    });
  }
}

/** Internal: a delivery with its message, so the handler loop can extend its ack deadline. */
interface Wrapped extends TrailMessage {
  readonly settled: boolean;
  working(): void;
}

function wrap(m: JsMsg, delivery: TrailDelivery, seen: Set<string>): Wrapped {
  let settled = false;
  const id = delivery.trail.tracebackId;
  return {
    ...delivery,
    get settled() {
      return settled;
    },
    async ack() {
      if (settled) return;
      settled = true;
      seen.add(id);
      if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string);
      // If the confirmation is lost the server redelivers; `seen` drops that redelivery.
      await m.ackAck().catch(() => false);
    },
    nak(delayMs = 0) {
      if (settled) return;
      settled = true;
      m.nak(delayMs);
    },
    working() {
      if (!settled) m.working();
    },
  };
}

interface Pulling {
  generator: AsyncGenerator<Wrapped>;
  /** Stops pulling; the generator hands back what is buffered and ends after the trail it holds. */
  halt(): void;
  /** Stops at once: the trail held (not acknowledged) and every buffered one are handed back. */
  stop(): Promise<void>;
}

function pulling(messages: ConsumerMessages, c: Compiled, options: SubscribeOptions): Pulling {
  const seen = new Set<string>();
  let stopping = false;
  let current: Wrapped | undefined;
  // One iterator, stepped by hand: a `for await` would end it on `break`, and the messages still
  // buffered after close() must be handed back through it.
  const pulled = messages[Symbol.asyncIterator]();
  let drained: Promise<void> | undefined;
  const drain = () => {
    stopping = true;
    drained ??= (async () => {
      void messages.close();
      current?.nak(HAND_BACK_DELAY_MS);
      for (let next = await pulled.next(); next.done !== true; next = await pulled.next()) next.value.nak(HAND_BACK_DELAY_MS);
    })();
    return drained;
  };
  const generator = (async function* () {
    try {
      for (let next = await pulled.next(); next.done !== true; next = await pulled.next()) {
        const m = next.value;
        if (stopping) {
          // Pulled ahead but not handed over: give it back for another process.
          m.nak(HAND_BACK_DELAY_MS);
          continue;
        }
        let delivery: TrailDelivery;
        try {
          delivery = toDelivery({ subject: m.subject, seq: m.seq, data: m.data, storedAt: m.time, deliveryCount: m.info.deliveryCount }, options.keys);
        } catch (err) {
          m.term(); // no reason text: nats-server 2.9 does not parse '+TERM <reason>'
          c.onError(err as Error, { subject: m.subject, seq: m.seq });
          continue;
        }
        if (seen.has(delivery.trail.tracebackId)) {
          await m.ackAck().catch(() => false);
          continue;
        }
        current = wrap(m, delivery, seen);
        yield current;
        // The loop came back for more: the previous trail was handled.
        await current.ack();
        current = undefined;
      }
    } finally {
      // Ended, `break`, or a throw in the loop body: what is held or buffered goes back.
      if (!drained) await drain();
    }
  })();
  const halt = () => {
    stopping = true;
    void messages.close();
  };
  return {
    generator,
    halt,
    stop: async () => {
      halt();
      await generator.return(undefined);
      await drain();
    },
  };
}

/**
 * Receives trails through the agency's durable consumer on `TB_TRAILS`: each trail once per
 * agency and filter (however many processes of the agency pull from it), redelivered if it is not
 * acknowledged within `ackWaitMs`. The consumer survives restarts: the next subscription resumes
 * where the agency left off.
 *
 * With a handler, trails are handed over one at a time, in stream order; the handler resolving
 * acknowledges the trail, throwing hands it back (delivered again after `nakDelayMs`). Without a
 * handler, the result is an async iterable of {@link TrailMessage}: a trail is acknowledged when the
 * loop asks for the next one, handed back on `break` or a throw (call `ack()` first to keep it).
 *
 * @throws EnforcementError `BAD_AGENCY`, `BAD_FILTER`, `BAD_FROM`, `CONSUMER_MISMATCH`, `STREAM_MISSING`
 * @example
 * ```ts
 * await using sub = await subscribeTrails(nc, { agency: 'NC-AGO', filter: { outcome: 'origin_found' } }, async ({ trail, wire }) => {
 *   await saveCase(trail.tracebackId, wire); // throw to get it again later
 * });
 *
 * for await (const msg of await subscribeTrails(nc, { agency: 'FTC', from: new Date('2026-01-01') })) {
 *   console.log(msg.trail.tracebackId); // acknowledged when the loop continues
 * }
 * ```
 */
export async function subscribeTrails(nc: NatsConnection, options: SubscribeOptions): Promise<TrailIterator>;
export async function subscribeTrails(nc: NatsConnection, options: SubscribeOptions, handler: TrailHandler): Promise<TrailSubscription>;
export async function subscribeTrails(nc: NatsConnection, options: SubscribeOptions, handler?: TrailHandler): Promise<TrailSubscription | TrailIterator> {
  const c = compile(options);
  const jsm = await jetstreamManager(nc);
  const created = await ensureConsumer(jsm, c, options);
  const consumer = await jetstream(nc).consumers.get(Streams.trails, c.consumer);
  const messages = await consumer.consume({ max_messages: c.batch, expires: PULL_EXPIRES_MS });
  const pull = pulling(messages, c, options);
  const base = { consumer: c.consumer, subject: c.subject, created };
  if (handler === undefined) {
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= pull.stop());
    const done = messages.closed().then(() => undefined);
    return { ...base, done, stop, [Symbol.asyncDispose]: stop, [Symbol.asyncIterator]: () => pull.generator };
  }
  const done = (async () => {
    for await (const msg of pull.generator) {
      const beat = setInterval(() => msg.working(), Math.max(c.ackWaitMs / 2, 50));
      try {
        await handler(msg);
        await msg.ack();
      } catch (err) {
        msg.nak(c.nakDelayMs);
        c.onError(err instanceof Error ? err : new Error(String(err)), { subject: msg.subject, seq: msg.seq });
      } finally {
        clearInterval(beat);
      }
    }
  })();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // The trail being handled finishes (and is acknowledged); the ones pulled ahead go back.
      pull.halt();
      await done;
    })());
  return { ...base, done, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Deletes an agency's durable consumer for a filter (its position is lost: a new subscription
 * starts again at its `from`). Resolves to false when there was none.
 */
export async function deleteTrailSubscription(nc: NatsConnection, agency: string, filter?: SubscribeOptions['filter']): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return jsm.consumers.delete(Streams.trails, trailConsumerName(agency, filter)).catch(() => false);
}
