import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { Logger } from 'pino';
import { Buckets } from '../../protocol/index.js';
import type { IndexEntry, TracebackIndex } from './index-store.js';

/** A running watch; `stop()` ends it and waits for its loop. */
export interface BucketWatch {
  stop(): Promise<void>;
}

const RETRY_MS = 1_000;

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Binds a bucket the engine creates; until it exists (engine never started), waits and retries. */
async function openBucket(nc: NatsConnection, bucket: string, signal: AbortSignal, logger: Logger): Promise<KV | undefined> {
  const jsm = await jetstreamManager(nc);
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await jsm.streams.info(`KV_${bucket}`);
      return await new Kvm(nc).open(bucket);
    } catch (err) {
      if (attempt === 0) logger.info({ bucket, err: (err as Error).message }, 'waiting for the engine to create the bucket');
      await delay(RETRY_MS, signal);
    }
  }
  return undefined;
}

/**
 * Feeds the index from a bucket: first every stored value (last value per key), then every
 * change as it happens. `onReady` runs once the stored values are in.
 */
async function feed(kv: KV, apply: (entry: IndexEntry) => void, onReady: () => void, signal: AbortSignal): Promise<void> {
  const status = await kv.status();
  let ready = status.values === 0;
  if (ready) onReady();
  const iter = await kv.watch({ key: '>' });
  const abort = () => iter.stop();
  signal.addEventListener('abort', abort, { once: true });
  try {
    for await (const entry of iter as AsyncIterable<KvWatchEntry>) {
      apply(entry);
      if (!ready && (entry.isUpdate || entry.delta === 0)) {
        ready = true;
        onReady();
      }
    }
  } finally {
    signal.removeEventListener('abort', abort);
  }
}

/** Watches `tb_actors` and `tb_timers` into `index` until stopped; survives the buckets not existing yet. */
export function watchBuckets(nc: NatsConnection, index: TracebackIndex, logger: Logger): BucketWatch {
  const controller = new AbortController();
  const run = async (bucket: string, apply: (entry: IndexEntry) => void, onReady: () => void) => {
    while (!controller.signal.aborted) {
      try {
        const kv = await openBucket(nc, bucket, controller.signal, logger);
        if (!kv) return;
        await feed(kv, apply, onReady, controller.signal);
      } catch (err) {
        if (controller.signal.aborted || nc.isClosed()) return;
        logger.warn({ bucket, err }, 'bucket watch failed; restarting');
      }
      await delay(RETRY_MS, controller.signal);
    }
  };
  const loops = [
    run(Buckets.actors, (e) => index.applyActor(e), () => {
      index.markLoaded('actors');
      logger.info({ tracebacks: index.size }, 'index loaded');
    }),
    run(Buckets.timers, (e) => index.applyTimer(e), () => index.markLoaded('timers')),
  ];
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}
