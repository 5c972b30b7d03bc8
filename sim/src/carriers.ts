import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ProviderId } from '../../protocol/index.js';
import { connectCarrier, type Carrier } from '../../carrier/index.js';
import { answerFromCdr, type CdrIndex } from './carrier.js';
import { buildCdrIndexes } from './cdrs.js';
import type { SimCdrs, SimNetwork } from './types.js';

const DAY_MS = 86_400_000;

export interface SimulatedCarriersOptions {
  network: SimNetwork;
  cdrs: SimCdrs;
  /** One shared connection for all carriers (a real carrier has its own; hundreds of sockets add nothing to a demo). */
  connection: NatsConnection;
  /** The engine's hop deadline; slow providers answer at their fraction of it. */
  deadlineMs: number;
  logger: Logger;
}

export interface SimulatedCarriers extends AsyncDisposable {
  carriers: Carrier[];
  /** Providers that never answer (not connected at all). */
  silent: ProviderId[];
  stop(): Promise<void>;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Connects every cooperative provider of the network as a carrier that answers from its
 * own CDRs, after its behaviour's delay. Silent providers are left unconnected, which is
 * exactly what a noncooperative provider looks like to the engine.
 */
export async function startSimulatedCarriers(options: SimulatedCarriersOptions): Promise<SimulatedCarriers> {
  const indexes: Map<ProviderId, CdrIndex> = buildCdrIndexes(options.cdrs);
  const silent: ProviderId[] = [];
  const connecting: Promise<Carrier>[] = [];
  for (const provider of options.network.providers) {
    const behaviour = provider.behaviour;
    if (behaviour.kind === 'silent') {
      silent.push(provider.id);
      continue;
    }
    const index = indexes.get(provider.id);
    if (!index) continue;
    const answerDelayMs = behaviour.kind === 'slow' ? Math.round(behaviour.deadlineFraction * options.deadlineMs) : behaviour.answerDelayMs;
    connecting.push(
      connectCarrier({
        provider: provider.id,
        connection: options.connection,
        logger: options.logger,
        concurrency: 64,
        lookup: async (query) => {
          if (answerDelayMs > 0) await delay(answerDelayMs);
          return answerFromCdr(index, query, { retentionMs: provider.retentionDays * DAY_MS, now: options.cdrs.asOf });
        },
      }),
    );
  }
  const carriers = await Promise.all(connecting);
  const stop = async () => {
    await Promise.all(carriers.map((c) => c.stop()));
  };
  return { carriers, silent, stop, [Symbol.asyncDispose]: stop };
}
