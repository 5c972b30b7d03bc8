import type { NatsConnection } from '@nats-io/transport-node';
import type { Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import { DEFAULT_HOP_POLICY, type FlagThresholds } from '../../actors/index.js';
import { systemClock, type Clock } from './clock.js';
import { toMs, type Duration } from './duration.js';
import { EngineError, EngineErrorCode } from './errors.js';

export interface EngineOptions {
  /** An open connection to use; the engine does not close it. Either this or `servers`. */
  connection?: NatsConnection;
  /** NATS URL(s) to connect to when no `connection` is given. @default "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Name shown in the server's connection list. @default "robotrace-engine" */
  name?: string;
  /** Time each provider has to answer one hop. @default "24h" */
  hopDeadline?: Duration;
  /** Fractions of the deadline at which reminders are sent. @default [0.5] */
  reminderFractions?: number[];
  /** Traceback stops with `max_hops` beyond this many hops. @default 15 */
  maxHops?: number;
  /** Actors idle this long are evicted from memory (they stay in KV). @default "30s" */
  idleEviction?: Duration;
  /** Most live actors held in memory; the least recently used are evicted beyond it. @default 10000 */
  maxLiveActors?: number;
  /** Answers processed concurrently (also the consumer's max_ack_pending). @default 512 */
  concurrency?: number;
  /** How often the outbox checkpoint is saved. @default "1s" */
  checkpointInterval?: Duration;
  /** How often the timer service looks for due timers. @default "200ms" */
  timerTick?: Duration;
  /** Hop queries open at one carrier at once; the rest wait in order. @default 1000 */
  maxInFlightPerProvider?: number;
  /** Flag thresholds for new provider actors. @default DEFAULT_FLAG_THRESHOLDS (actors/provider/policy.ts) */
  flagThresholds?: FlagThresholds;
  /** Replicas for streams and buckets (3 on a cluster). @default 1 */
  replicas?: number;
  clock?: Clock;
  logger?: Logger;
  tracer?: Tracer;
}

export interface CompiledEngineOptions {
  connection: NatsConnection | undefined;
  servers: string[];
  name: string;
  hopDeadlineMs: number;
  reminderFractions: number[];
  maxHops: number;
  idleEvictionMs: number;
  maxLiveActors: number;
  concurrency: number;
  checkpointIntervalMs: number;
  timerTickMs: number;
  replicas: number;
  maxInFlightPerProvider: number;
  flagThresholds: FlagThresholds | undefined;
  clock: Clock;
  logger: Logger;
  tracer: Tracer;
}

function invalid(message: string): never {
  throw new EngineError(EngineErrorCode.InvalidOptions, message);
}

/** Validates options once and fills defaults; the rest of the engine reads only the compiled form. */
export function compileOptions(options: EngineOptions = {}): CompiledEngineOptions {
  const logger = options.logger ?? pino({ name: 'robotrace-engine', level: process.env['LOG_LEVEL'] ?? 'info' });
  const reminderFractions = options.reminderFractions ?? DEFAULT_HOP_POLICY.reminderFractions;
  if (!reminderFractions.every((f, i) => f > 0 && f < 1 && (i === 0 || f > (reminderFractions[i - 1] as number)))) {
    invalid('reminderFractions must be ascending fractions in (0, 1)');
  }
  const maxHops = options.maxHops ?? DEFAULT_HOP_POLICY.maxHops;
  if (!Number.isInteger(maxHops) || maxHops < 1 || maxHops > 99) invalid('maxHops must be an integer in [1, 99]');
  const hopDeadlineMs = toMs(options.hopDeadline ?? DEFAULT_HOP_POLICY.deadlineMs, 'hopDeadline');
  if (hopDeadlineMs < 100) invalid('hopDeadline must be at least 100ms');
  let concurrency = options.concurrency ?? 512;
  if (!Number.isInteger(concurrency) || concurrency < 1) invalid('concurrency must be a positive integer');
  if (concurrency > 10_000) {
    logger.warn({ concurrency }, 'concurrency clamped to 10000');
    concurrency = 10_000;
  }
  const servers = options.servers ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  return {
    connection: options.connection,
    servers: Array.isArray(servers) ? servers : [servers],
    name: options.name ?? 'robotrace-engine',
    hopDeadlineMs,
    reminderFractions,
    maxHops,
    idleEvictionMs: toMs(options.idleEviction ?? '30s', 'idleEviction'),
    maxLiveActors: Math.max(1, options.maxLiveActors ?? 10_000),
    concurrency,
    checkpointIntervalMs: Math.max(50, toMs(options.checkpointInterval ?? '1s', 'checkpointInterval')),
    timerTickMs: Math.max(10, toMs(options.timerTick ?? '200ms', 'timerTick')),
    replicas: options.replicas ?? 1,
    maxInFlightPerProvider: Math.max(1, options.maxInFlightPerProvider ?? 1000),
    flagThresholds: options.flagThresholds,
    clock: options.clock ?? systemClock,
    logger,
    tracer: options.tracer ?? trace.getTracer('robotrace-engine'),
  };
}
