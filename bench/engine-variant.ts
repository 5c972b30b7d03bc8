/**
 * The engine with one setting changed, run as a child process instead of `robotrace engine`
 * to measure a proposed fix without touching engine/: same `Engine.start` the CLI calls, but
 * on a connection the benchmark configures. Logs like the CLI (pino JSON on stderr).
 */
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Engine } from '../engine/index.js';
import { configFromArgv } from './src/children.js';

export interface EngineVariantConfig {
  url: string;
  hopDeadline: string;
  concurrency: number;
  /** nats.js `noAsyncTraces`: skip the two Error objects (stack captures) made per request. */
  noAsyncTraces: boolean;
}

async function main(): Promise<void> {
  const config = configFromArgv<EngineVariantConfig>();
  const logger = pino({ name: 'robotrace-engine', level: process.env['LOG_LEVEL'] ?? 'info' }, pino.destination(2));
  const connection = await connect({
    servers: config.url,
    name: 'robotrace-engine-variant',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: config.noAsyncTraces,
  });
  const engine = await Engine.start({ connection, hopDeadline: config.hopDeadline as `${number}h`, concurrency: config.concurrency, logger });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await engine.stop();
  await connection.drain().catch(() => connection.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
