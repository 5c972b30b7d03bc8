import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Streams, decodeTrail, type Answer, type HopQuery, type ProviderId, type Trail } from '../../protocol/index.js';
import { connectCarrier, type Carrier } from '../../carrier/index.js';
import { startTraceback, watchTrails } from '../../engine/index.js';
import { check } from '../harness/check.js';

export const quiet = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** A hand-written route: each provider's answer to any query. */
export type Script = Record<ProviderId, Answer | ((query: HopQuery) => Answer | undefined)>;

/** Connects one carrier per scripted provider, each answering from the script. */
export async function scriptedCarriers(servers: string, script: Script): Promise<Carrier[]> {
  return Promise.all(
    Object.entries(script).map(([provider, answer]) =>
      connectCarrier({
        servers,
        provider,
        logger: quiet,
        lookup: (query) => (typeof answer === 'function' ? answer(query) : answer),
      }),
    ),
  );
}

/** Collects every trail published from now on. */
export async function collectTrails(nc: NatsConnection): Promise<{ trails: Trail[]; close(): Promise<void> }> {
  const watch = await watchTrails(nc, { all: true });
  const trails: Trail[] = [];
  const loop = (async () => {
    for await (const trail of watch) trails.push(trail);
  })();
  return {
    trails,
    close: async () => {
      await watch.close();
      await loop;
    },
  };
}

export const call = {
  calling: '+12155550121',
  called: '+12025550143',
  time: Date.UTC(2026, 10, 29, 15, 4, 5),
  campaign: 'SSA-CalltheSSA',
};

export const upstream = (provider: string): Answer => ({ type: 'upstream', provider });
export const originator: Answer = {
  type: 'originator',
  customer: { name: 'Acme Dialer LLC', address: '1 Main St, Dover DE', accountSince: '2025-01-02' },
  action: 'terminated',
};

/** Every trail stored in the trails stream, read start to end. */
export async function storedTrails(nc: NatsConnection): Promise<Trail[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(Streams.trails);
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(Streams.trails, { deliver_policy: DeliverPolicy.All });
  const trails: Trail[] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    trails.push(decodeTrail(m.data));
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return trails;
}

/** Counts trails per traceback id; a correct engine never stores two for one traceback. */
export function countById(trails: Trail[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of trails) counts.set(t.tracebackId, (counts.get(t.tracebackId) ?? 0) + 1);
  return counts;
}

export function delayed<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

/**
 * Starts `n` tracebacks of `call` (one second apart) at `terminatingProvider`, each with an
 * idempotency key `<prefix>-<i>`, retrying any whose reply was lost (an engine killed or a
 * shard moving meanwhile); resolves with their ids.
 */
export async function startAll(nc: NatsConnection, n: number, options: { prefix: string; terminatingProvider: string; requester: string }): Promise<Set<string>> {
  const ids = new Set<string>();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const request = { call: { ...call, time: call.time + i }, terminatingProvider: options.terminatingProvider, requester: options.requester, requestId: `${options.prefix}-${i}` };
      const started = await check(() => startTraceback(nc, request, 3000), 60_000, { name: `start ${options.prefix}-${i}` });
      ids.add(started.tracebackId);
    }),
  );
  return ids;
}
