/**
 * The engine: hosts traceback actors, persists them in JetStream KV, carries out their
 * commands, runs durable timers, consumes carrier answers and serves the start API.
 */
export { Engine } from './src/engine.js';
export type { EngineState, EngineStats } from './src/engine.js';
export { compileOptions } from './src/options.js';
export type { EngineOptions, CompiledEngineOptions } from './src/options.js';
export { systemClock, SimulatedClock } from './src/clock.js';
export type { Clock } from './src/clock.js';
export { EngineError, EngineErrorCode, TerminalError, RetryableError, ensureError } from './src/errors.js';
export { toMs } from './src/duration.js';
export { shardOf } from './src/shards/shard-of.js';
export { assignShards } from './src/shards/assignment.js';
export type { Duration } from './src/duration.js';
export { checkServerVersion } from './src/topology.js';
export { withSpan, Attr } from './src/tracing.js';
export { startTraceback, cancelTraceback, getStatus, watchTrails, upsertProviders, clearProviderFlag, listProviders, getProvider } from './src/client.js';
export type { StartRequest, WatchOptions } from './src/client.js';
