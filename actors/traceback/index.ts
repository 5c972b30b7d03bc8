export { tracebackMachine } from './machine.js';
export type { TracebackMachine } from './machine.js';
export { checkAnswer } from './answers.js';
export type { AnswerCheck } from './answers.js';
export { buildTrail } from './trail.js';
export { createTraceback, restoreTraceback } from './restore.js';
export type { TracebackActor } from './restore.js';
export { TRACEBACK_MACHINE_VERSION, DEFAULT_HOP_POLICY } from './types.js';
export type {
  HopPolicy,
  HopRecord,
  TracebackInput,
  TracebackContext,
  TracebackEventIn,
  TracebackCommand,
  AuditRecord,
} from './types.js';
