import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Buckets } from '../../protocol/index.js';

/** Before shards, one checkpoint covered the whole store; a shard without its own starts there. */
const LEGACY_CHECKPOINT_KEY = 'checkpoint.actors';
const KV_STREAM = `KV_${Buckets.actors}`;
const KV_SUBJECT_PREFIX = `$KV.${Buckets.actors}.`;

const shardCheckpointKey = (shard: number) => `checkpoint.shard.${shard}`;

/** A shard's saved checkpoint and the revision of its key, for compare-and-set saves. */
export interface SavedCheckpoint {
  sequence: number;
  revision: number;
}

export async function readShardCheckpoint(meta: KV, shard: number): Promise<SavedCheckpoint> {
  const entry = await meta.get(shardCheckpointKey(shard));
  if (entry && entry.operation === 'PUT') return { sequence: Number(entry.string()) || 0, revision: entry.revision };
  const legacy = await meta.get(LEGACY_CHECKPOINT_KEY);
  const sequence = legacy && legacy.operation === 'PUT' ? Number(legacy.string()) || 0 : 0;
  return { sequence, revision: entry?.revision ?? 0 };
}

/**
 * Saves a shard's checkpoint only if nobody else wrote it since `previous` (a newer owner of
 * the shard); returns the new revision, or `undefined` when the shard's checkpoint moved on.
 */
export async function writeShardCheckpoint(meta: KV, shard: number, sequence: number, previous: number): Promise<number | undefined> {
  try {
    return previous === 0
      ? await meta.create(shardCheckpointKey(shard), String(sequence))
      : await meta.update(shardCheckpointKey(shard), String(sequence), previous);
  } catch (err) {
    if (/wrong last sequence|key exists/i.test((err as Error).message ?? '')) return undefined;
    throw err;
  }
}

/**
 * Keys of actor records written after `fromSequence`, each with the sequence of its last
 * write there, read from the bucket's stream (headers only).
 */
export async function keysWrittenSince(
  js: JetStreamClient,
  jsm: JetStreamManager,
  fromSequence: number,
): Promise<{ keys: Map<string, number>; lastSequence: number }> {
  const info = await jsm.streams.info(KV_STREAM);
  const lastSequence = info.state.last_seq;
  const keys = new Map<string, number>();
  if (lastSequence <= fromSequence) return { keys, lastSequence };
  const consumer = await js.consumers.get(KV_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSequence + 1,
    headers_only: true,
  });
  const messages = await consumer.consume({ max_messages: 1024 });
  for await (const m of messages) {
    keys.set(m.subject.slice(KV_SUBJECT_PREFIX.length), m.seq);
    if (m.seq >= lastSequence || m.info.pending === 0) break;
  }
  await messages.close();
  return { keys, lastSequence };
}
