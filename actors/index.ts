/**
 * The actors: XState v5 machines without I/O. Each emits commands that the engine
 * persists and carries out; none reads a clock or touches NATS.
 */
export {
  tracebackMachine,
  hopTimerName,
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
