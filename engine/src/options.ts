import type { NatsConnection } from '@nats-io/transport-node';
import type { Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import { hostname } from 'node:os';
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
  /**
   * This engine's id among the engines sharing a store; unique per running engine. An engine
   * restarted under the same id takes its shards back at once; a new id waits for the old
   * leases to expire. @default the host name
   */
  engineId?: string;
  /** Shards the store is split into; fixed when the store is created, the same for every engine. @default 32 */
  shards?: number;
  /** A shard whose owner stopped renewing for this long is taken over by another engine. @default "5s" */
  lease?: Duration;
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
  engineId: string;
  shards: number;
  leaseMs: number;
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
  const engineId = options.engineId ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'engine');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(engineId)) invalid(`engineId must be 1-64 letters, digits, "_" or "-", got ${JSON.stringify(engineId)}`);
  const shards = options.shards ?? 32;
  if (!Number.isInteger(shards) || shards < 1 || shards > 4096) invalid('shards must be an integer in [1, 4096]');
  const leaseMs = toMs(options.lease ?? '5s', 'lease');
  if (leaseMs < 200) invalid('lease must be at least 200ms');
  const replicas = options.replicas ?? 1;
  if (![1, 3, 5].includes(replicas)) invalid('replicas must be 1, 3 or 5');
  return {
    connection: options.connection,
    servers: (Array.isArray(servers) ? servers : [servers]).flatMap((url) => url.split(',')).map((url) => url.trim()).filter(Boolean),
    name: options.name ?? 'robotrace-engine',
    hopDeadlineMs,
    reminderFractions,
    maxHops,
    idleEvictionMs: toMs(options.idleEviction ?? '30s', 'idleEviction'),
    maxLiveActors: Math.max(1, options.maxLiveActors ?? 10_000),
    concurrency,
    checkpointIntervalMs: Math.max(50, toMs(options.checkpointInterval ?? '1s', 'checkpointInterval')),
    timerTickMs: Math.max(10, toMs(options.timerTick ?? '200ms', 'timerTick')),
    replicas,
    engineId,
    shards,
    leaseMs,
    maxInFlightPerProvider: Math.max(1, options.maxInFlightPerProvider ?? 1000),
    flagThresholds: options.flagThresholds,
    clock: options.clock ?? systemClock,
    logger,
    tracer: options.tracer ?? trace.getTracer('robotrace-engine'),
  };
}
