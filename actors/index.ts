/**
 * The actors: XState v5 machines without I/O. Each emits commands that the engine
 * persists and carries out; none reads a clock or touches NATS.
 */
export {
  tracebackMachine,
  checkAnswer,
  buildTrail,
  createTraceback,
  restoreTraceback,
  TRACEBACK_MACHINE_VERSION,
  DEFAULT_HOP_POLICY,
} from './traceback/index.js';
export type {
  TracebackMachine,
  TracebackActor,
  AnswerCheck,
  HopPolicy,
  HopRecord,
  TracebackInput,
  TracebackContext,
  TracebackEventIn,
  TracebackCommand,
  AuditRecord,
} from './traceback/index.js';
export {
  providerMachine,
  createProvider,
  restoreProvider,
  reduceProvider,
  answerPercentile,
  providerTimerName,
  DEFAULT_PROVIDER_POLICY,
  DEFAULT_FLAG_THRESHOLDS,
  deadlineFor,
  receivedAt,
  zonedTime,
  policyProblems,
  PROVIDER_MACHINE_VERSION,
  FLAGS,
} from './provider/index.js';
export type {
  ProviderActor,
  RmdStatus,
  DirectoryEntry,
  DeadlinePolicy,
  ProviderPolicy,
  FlagName,
  Threshold,
  FlagThresholds,
  Evidence,
  Flag,
  ClearedFlag,
  OpenHop,
  QueuedHop,
  ResponseStats,
  ProviderContext,
  ProviderInput,
  HopResult,
  HopTiming,
  ProviderEventIn,
  ProviderAudit,
  ProviderCommand,
} from './provider/index.js';
