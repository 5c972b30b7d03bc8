import type { NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Buckets, Streams, SubjectWildcards } from '../../protocol/index.js';
import { EngineError, EngineErrorCode } from './errors.js';

const NANOS_PER_MS = 1_000_000;
const DAY_MS = 86_400_000;
/** Long enough to cover any engine restart in which an outbox is replayed. */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/** The engine's durable consumer of carrier answers. */
export const ENGINE_ANSWER_CONSUMER = 'engine';

/** How long an answer may stay unacknowledged before the server hands it out again. */
export const ANSWER_ACK_WAIT_MS = 5_000;

export interface Topology {
  actors: KV;
  timers: KV;
  meta: KV;
  shards: KV;
}

/** The durable consumer through which a shard's owner reads `tb.shard.<shard>.>`; the next owner resumes it. */
export function shardConsumerName(shard: number): string {
  return `shard-${shard}`;
}

/** Creates (idempotently) the consumer of one shard's inbox. */
export async function ensureShardConsumer(jsm: JetStreamManager, shard: number, concurrency: number): Promise<string> {
  const name = shardConsumerName(shard);
  try {
    await jsm.consumers.info(Streams.shardInbox, name);
  } catch {
    await jsm.consumers.add(Streams.shardInbox, {
      durable_name: name,
      filter_subject: `tb.shard.${shard}.>`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ANSWER_ACK_WAIT_MS * NANOS_PER_MS,
      max_ack_pending: Math.max(concurrency * 2, 64),
      max_deliver: -1,
    });
  }
  return name;
}

type NamedStreamConfig = Partial<StreamConfig> & { name: string };

function streamConfigs(replicas: number): NamedStreamConfig[] {
  const base = { storage: StorageType.File, num_replicas: replicas, duplicate_window: DUPLICATE_WINDOW_MS * NANOS_PER_MS };
  return [
    { ...base, name: Streams.hopQueries, subjects: [SubjectWildcards.hopQueries], retention: RetentionPolicy.Workqueue, max_age: 30 * DAY_MS * NANOS_PER_MS },
    { ...base, name: Streams.hopAnswers, subjects: [SubjectWildcards.hopAnswers], retention: RetentionPolicy.Workqueue, max_age: 30 * DAY_MS * NANOS_PER_MS },
    { ...base, name: Streams.hopErrors, subjects: [SubjectWildcards.hopErrors], retention: RetentionPolicy.Limits, max_age: 7 * DAY_MS * NANOS_PER_MS, discard: DiscardPolicy.Old },
    { ...base, name: Streams.trails, subjects: [SubjectWildcards.trails], retention: RetentionPolicy.Limits, max_age: 0 },
    { ...base, name: Streams.events, subjects: [SubjectWildcards.events], retention: RetentionPolicy.Limits, max_age: 0 },
    { ...base, name: Streams.providerFlags, subjects: [SubjectWildcards.providerFlags], retention: RetentionPolicy.Limits, max_age: 0 },
    { ...base, name: Streams.providerEvents, subjects: [SubjectWildcards.providerEvents], retention: RetentionPolicy.Limits, max_age: 0 },
    { ...base, name: Streams.shardInbox, subjects: [SubjectWildcards.shardInbox], retention: RetentionPolicy.Workqueue, max_age: 30 * DAY_MS * NANOS_PER_MS },
  ];
}

/** nats-server 2.9.0 is the oldest with everything the engine uses (KV, direct get, pull consume). */
export function checkServerVersion(version: string): void {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  if (major < 2 || (major === 2 && minor < 9)) {
    throw new EngineError(EngineErrorCode.ServerVersion, `nats-server ${version} is too old: robotrace needs 2.9.0 or newer with JetStream`);
  }
}

async function ensureStream(jsm: JetStreamManager, config: NamedStreamConfig): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Several engines starting together race to create it; the loser finds it there.
      await jsm.streams.info(config.name).catch(() => {
        throw err;
      });
    }
  }
}

/**
 * Creating replicated streams on a cluster that is still electing leaders can time out;
 * engines started together also race. Retried for a while before giving up.
 */
export async function ensureTopologyRetrying(
  nc: NatsConnection,
  jsm: JetStreamManager,
  replicas: number,
  answerConcurrency: number,
  onRetry: (err: unknown, attempt: number) => void,
  budgetMs = 60_000,
): Promise<Topology> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await ensureTopology(nc, jsm, replicas, answerConcurrency);
    } catch (err) {
      if (err instanceof EngineError || Date.now() - started > budgetMs) throw err;
      onRetry(err, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 200 * attempt)));
    }
  }
}

/** Creates (idempotently) every stream, bucket and engine consumer; safe to run on each start. */
export async function ensureTopology(nc: NatsConnection, jsm: JetStreamManager, replicas: number, answerConcurrency: number): Promise<Topology> {
  checkServerVersion(nc.info?.version ?? '0.0.0');
  for (const config of streamConfigs(replicas)) await ensureStream(jsm, config);
  const consumer = {
    durable_name: ENGINE_ANSWER_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    // Short, so answers held by an engine that died are redelivered within seconds; a
    // handler that takes longer (NATS reconnecting) extends it with `working()`.
    ack_wait: ANSWER_ACK_WAIT_MS * NANOS_PER_MS,
    max_ack_pending: Math.max(answerConcurrency * 2, 64),
    max_deliver: -1,
  };
  let existing;
  try {
    existing = await jsm.consumers.info(Streams.hopAnswers, ENGINE_ANSWER_CONSUMER);
  } catch {
    await jsm.consumers.add(Streams.hopAnswers, consumer).catch(async (err: unknown) => {
      await jsm.consumers.info(Streams.hopAnswers, ENGINE_ANSWER_CONSUMER).catch(() => {
        throw err;
      });
    });
  }
  if (existing && (existing.config.ack_wait !== consumer.ack_wait || existing.config.max_ack_pending !== consumer.max_ack_pending)) {
    await jsm.consumers.update(Streams.hopAnswers, ENGINE_ANSWER_CONSUMER, { ack_wait: consumer.ack_wait, max_ack_pending: consumer.max_ack_pending });
  }
  const kvm = new Kvm(nc);
  // Reads go to the stream leader: with `allow_direct`, any replica answers a get, and one that
  // is catching up (a node just restarted) serves an old record or none at all; an engine that
  // read "no traceback" there would drop a hop result on the floor.
  const opts = { history: 1, replicas, storage: StorageType.File, allow_direct: false };
  return {
    actors: await kvm.create(Buckets.actors, opts),
    timers: await kvm.create(Buckets.timers, opts),
    meta: await kvm.create(Buckets.engine, opts),
    shards: await kvm.create(Buckets.shards, opts),
  };
}
