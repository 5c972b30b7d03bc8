/**
 * Benchmark carriers, run as a child process by `bench/run.ts`: one `connectCarrier` per
 * provider on a shared connection, answering at once from the scripted route table.
 *
 * Also measures the engine's turnaround from the carriers' side: the time from the moment a
 * carrier hands its answer to the SDK (which publishes it) to the moment the same traceback's
 * next query reaches the next carrier's lookup.
 */
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectCarrier, type Carrier } from '../carrier/index.js';
import { configFromArgv, runWorker, serveWorker } from './src/children.js';
import type { CarriersTake } from './src/names.js';
import { answerFor, providersOf, type RoutePlan } from './src/routes.js';
import { nowMs } from './src/stats.js';

export interface CarriersConfig {
  /** Server URL; several servers of one cluster comma-separated. */
  url: string;
  plan: RoutePlan;
  /** Connect only these providers (default: every provider of the plan). */
  only?: string[];
  concurrency: number;
}


async function main(): Promise<void> {
  const config = configFromArgv<CarriersConfig>();
  const logger = pino({ name: 'bench-carriers', level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  const nc = await connect({ servers: config.url.split(','), name: 'robotrace-bench-carriers', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const answeredAt = new Map<string, { hop: number; at: number }>();
  let samples: number[] = [];
  const counters = { received: 0, answered: 0, wrongRoute: 0 };
  const providers = config.only ?? providersOf(config.plan);
  const carriers: Carrier[] = [];
  // No carrier answers before all are connected: with a backlog queued, the first ones would
  // otherwise flood the shared connection and time out the later ones' JetStream API calls.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  for (let i = 0; i < providers.length; i += 50) {
    const batch = providers.slice(i, i + 50);
    carriers.push(
      ...(await Promise.all(
        batch.map((provider) =>
          connectCarrier({
            provider,
            connection: nc,
            logger,
            concurrency: config.concurrency,
            lookup: async (query) => {
              await gate;
              const received = nowMs();
              counters.received++;
              const previous = answeredAt.get(query.tracebackId);
              if (previous !== undefined && previous.hop === query.hop - 1 && query.reminder === 0) samples.push(received - previous.at);
              const answer = answerFor(config.plan, query);
              if (answer.type === 'not_found') counters.wrongRoute++;
              if (answer.type === 'upstream') answeredAt.set(query.tracebackId, { hop: query.hop, at: nowMs() });
              else answeredAt.delete(query.tracebackId);
              counters.answered++;
              return answer;
            },
          }),
        ),
      )),
    );
  }
  open();
  const stop = async () => {
    await Promise.all(carriers.map((c) => c.stop()));
    await nc.drain().catch(() => nc.close());
  };
  serveWorker((): CarriersTake => {
    const taken = samples;
    samples = [];
    return { samples: taken, ...counters };
  }, stop);
}

runWorker(main);
