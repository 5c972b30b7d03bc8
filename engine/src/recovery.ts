import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { Buckets } from '../../protocol/index.js';
interface Recoverable {
  readonly kind: string;
  markForReplay(ids: Iterable<string>): void;
  recover(id: string): Promise<boolean>;
}

const CHECKPOINT_KEY = 'checkpoint.actors';
const KV_STREAM = `KV_${Buckets.actors}`;
const KV_SUBJECT_PREFIX = `$KV.${Buckets.actors}.`;

export async function readCheckpoint(meta: KV): Promise<number> {
  const entry = await meta.get(CHECKPOINT_KEY);
  if (!entry || entry.operation !== 'PUT') return 0;
  return Number(entry.string()) || 0;
}

export async function writeCheckpoint(meta: KV, sequence: number): Promise<void> {
  await meta.put(CHECKPOINT_KEY, String(sequence));
}

/**
 * Start-up recovery: every actor record written after the checkpoint may have an outbox
 * that was never carried out (the engine died between the write and the commands). Read
 * those writes back from the bucket's stream and replay each actor's latest outbox.
 */
export async function recoverOutboxes(
  js: JetStreamClient,
  jsm: JetStreamManager,
  meta: KV,
  hosts: Recoverable[],
  logger: Logger,
): Promise<{ checkpoint: number; lastSequence: number; replayed: number }> {
  const checkpoint = await readCheckpoint(meta);
  const info = await jsm.streams.info(KV_STREAM);
  const lastSequence = info.state.last_seq;
  if (lastSequence <= checkpoint) return { checkpoint, lastSequence, replayed: 0 };

  const keys = new Set<string>();
  const consumer = await js.consumers.get(KV_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: checkpoint + 1,
    headers_only: true,
  });
  const messages = await consumer.consume({ max_messages: 1024 });
  for await (const m of messages) {
    keys.add(m.subject.slice(KV_SUBJECT_PREFIX.length));
    if (m.seq >= lastSequence || m.info.pending === 0) break;
  }
  await messages.close();

  let replayed = 0;
  let actors = 0;
  // Mark every kind first: replaying one actor delivers to others, which must then take over
  // their own stored outboxes instead of overwriting them.
  const byHost = hosts.map((host) => {
    const prefix = `${host.kind}.`;
    const ids = [...keys].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    host.markForReplay(ids);
    return { host, ids };
  });
  for (const { host, ids } of byHost) {
    actors += ids.length;
    for (let i = 0; i < ids.length; i += 128) {
      const results = await Promise.all(ids.slice(i, i + 128).map((id) => host.recover(id)));
      replayed += results.filter(Boolean).length;
    }
  }
  await writeCheckpoint(meta, lastSequence);
  logger.info({ checkpoint, lastSequence, actors, replayed }, 'outbox recovery done');
  return { checkpoint, lastSequence, replayed };
}
