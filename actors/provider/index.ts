export { providerMachine, createProvider, restoreProvider } from './machine.js';
export type { ProviderActor } from './machine.js';
export { reduceProvider, answerPercentile, providerTimerName, providerInfo } from './reduce.js';
export { DEFAULT_PROVIDER_POLICY, DEFAULT_FLAG_THRESHOLDS, deadlineFor, receivedAt, zonedTime, policyProblems } from './policy.js';
export { PROVIDER_MACHINE_VERSION, FLAGS } from './types.js';
export type {
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
} from './types.js';
