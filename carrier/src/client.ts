import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  Streams,
  Subjects,
  carrierConsumerName,
  decodeHopQuery,
  decodeProtocolError,
  encodeMessage,
  isSubjectToken,
  validateAnswer,
  type Answer,
  type HopAnswer,
  type HopQuery,
  type ProtocolErrorMessage,
  type ProviderId,
} from '../../protocol/index.js';

/** Answers one hop query; return `undefined` to leave it unanswered for now (it is redelivered). */
export type HopLookup = (query: HopQuery) => Promise<Answer | undefined> | Answer | undefined;

export interface CarrierOptions {
  /** This carrier's provider id; it only ever sees `tb.hop.req.<provider>`. */
  provider: ProviderId;
  lookup: HopLookup;
  /** An open connection to use (not closed by the carrier). Either this or `servers`. */
  connection?: NatsConnection;
  /** @default process.env.NATS_URL or "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Queries looked up concurrently. @default 32 */
  concurrency?: number;
  /** Called with each rejection the engine sends back for this carrier's answers. */
  onRejected?: (error: ProtocolErrorMessage) => void;
  logger?: Logger;
}

export interface CarrierStats {
  received: number;
  answered: number;
  deferred: number;
  failed: number;
  rejected: number;
}

/** A connected carrier. Stop it with `stop()` or `await using`. */
export interface Carrier extends AsyncDisposable {
  readonly provider: ProviderId;
  readonly stats: CarrierStats;
  stop(): Promise<void>;
}

const NANOS_PER_MS = 1_000_000;
const LOOKUP_RETRY_MS = 5_000;

/**
 * Connects a carrier: binds its durable queue (created on first use, so queries sent
 * while it was offline wait for it), looks each query up, publishes the answer and only
 * then acknowledges the query. Answers carry `Nats-Msg-Id = hopId`, so answering a
 * query and its reminder both lands once.
 */
export async function connectCarrier(options: CarrierOptions): Promise<Carrier> {
  if (!isSubjectToken(options.provider)) throw new Error(`invalid provider id ${JSON.stringify(options.provider)}`);
  const logger = (options.logger ?? pino({ name: 'robotrace-carrier', level: process.env['LOG_LEVEL'] ?? 'info' })).child({
    provider: options.provider,
  });
  const concurrency = options.concurrency ?? 32;
  const owns = options.connection === undefined;
  const nc =
    options.connection ??
    (await connect({
      servers: options.servers ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      name: `robotrace-carrier-${options.provider}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }));
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const durable = carrierConsumerName(options.provider);
  await waitForConsumer(jsm, durable, options.provider, concurrency, logger);

  const stats: CarrierStats = { received: 0, answered: 0, deferred: 0, failed: 0, rejected: 0 };
  const errors: Subscription = nc.subscribe(Subjects.hopError(options.provider), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const rejection = decodeProtocolError(msg.data);
        stats.rejected++;
        logger.warn({ code: rejection.code, hopId: rejection.hopId }, rejection.message);
        options.onRejected?.(rejection);
      } catch (decodeErr) {
        logger.warn({ err: decodeErr }, 'unreadable rejection');
      }
    },
  });

  const consumer = await js.consumers.get(Streams.hopQueries, durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: concurrency });
  const inflight = new Set<Promise<void>>();

  async function handle(m: JsMsg): Promise<void> {
    stats.received++;
    let query: HopQuery;
    try {
      query = decodeHopQuery(m.data);
    } catch (err) {
      logger.error({ err, seq: m.seq }, 'unreadable hop query dropped');
      m.term();
      return;
    }
    try {
      const answer = await options.lookup(query);
      if (answer === undefined) {
        stats.deferred++;
        m.nak(LOOKUP_RETRY_MS);
        return;
      }
      const message: HopAnswer = {
        v: PROTOCOL_VERSION,
        kind: 'hop_answer',
        hopId: query.hopId,
        provider: options.provider,
        answer: validateAnswer(answer),
        answeredAt: Date.now(),
      };
      await js.publish(Subjects.hopAnswer(options.provider), encodeMessage(message), { msgID: query.hopId });
      stats.answered++;
      m.ack();
    } catch (err) {
      stats.failed++;
      logger.warn({ err, hopId: query.hopId, code: ProtocolError.is(err) ? err.code : undefined }, 'could not answer; will retry');
      m.nak(LOOKUP_RETRY_MS);
    }
  }

  const loop = (async () => {
    const waiters: (() => void)[] = [];
    for await (const m of messages) {
      const work = handle(m).finally(() => {
        inflight.delete(work);
        waiters.shift()?.();
      });
      inflight.add(work);
      if (inflight.size >= concurrency) await new Promise<void>((resolve) => waiters.push(resolve));
    }
  })();

  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    stopping ??= (async () => {
      await messages.close();
      await loop.catch(() => undefined);
      await Promise.allSettled([...inflight]);
      errors.unsubscribe();
      if (owns && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    })();
    return stopping;
  }

  return { provider: options.provider, stats, stop, [Symbol.asyncDispose]: stop };
}

/** The engine creates the streams; a carrier that starts first waits for them. */
async function waitForConsumer(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  durable: string,
  provider: ProviderId,
  concurrency: number,
  logger: Logger,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await jsm.consumers.info(Streams.hopQueries, durable);
      return;
    } catch {
      try {
        await jsm.consumers.add(Streams.hopQueries, {
          durable_name: durable,
          filter_subject: Subjects.hopQuery(provider),
          ack_policy: AckPolicy.Explicit,
          ack_wait: 60_000 * NANOS_PER_MS,
          max_ack_pending: Math.max(concurrency * 2, 16),
          max_deliver: -1,
        });
        return;
      } catch (err) {
        if (attempt === 0) logger.info({ err: (err as Error).message }, 'waiting for the robotrace streams');
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }
}
