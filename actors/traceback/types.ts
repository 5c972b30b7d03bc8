import type {
  Answer,
  CallData,
  HopId,
  HopQuery,
  HopStatus,
  Outcome,
  ProviderId,
  TracebackEvent,
  TracebackId,
} from '../../protocol/index.js';

/**
 * Version of the traceback machine's persisted shape. Bump it when states or context
 * change incompatibly and add a migration in `migrate.ts`; the engine refuses to load a
 * snapshot of an unknown version rather than guess.
 */
export const TRACEBACK_MACHINE_VERSION = 1;

/** Deadline policy applied to every hop of one traceback. */
export interface HopPolicy {
  /** Time a provider has to answer, ms. @default 24 h (47 CFR 64.1200(n)(1)) */
  deadlineMs: number;
  /** Fractions of the deadline at which a reminder is sent, ascending, each in (0, 1). @default [0.5] */
  reminderFractions: number[];
  /** Hops after which the traceback stops with `max_hops`. @default 15 */
  maxHops: number;
}

export const DEFAULT_HOP_POLICY: HopPolicy = {
  deadlineMs: 24 * 60 * 60 * 1000,
  reminderFractions: [0.5],
  maxHops: 15,
};

/** What the traceback knows about one hop. */
export interface HopRecord {
  hop: number;
  hopId: HopId;
  provider: ProviderId;
  downstream?: ProviderId;
  askedAt: number;
  deadline: number;
  /** Absolute times of the reminders still to send. */
  remindersDue: number[];
  remindedAt: number[];
  answeredAt?: number;
  status: HopStatus;
  answer?: Answer;
}

export interface TracebackInput {
  tracebackId: TracebackId;
  call: CallData;
  terminatingProvider: ProviderId;
  requester: string;
  /** Creation time, ms since epoch (the machine reads no clock of its own). */
  now: number;
  policy?: Partial<HopPolicy>;
}

export interface TracebackContext {
  tracebackId: TracebackId;
  call: CallData;
  terminatingProvider: ProviderId;
  requester: string;
  policy: HopPolicy;
  startedAt: number;
  hops: HopRecord[];
  /** Sequence number of the last audit event emitted; audit events are gap-free. */
  eventSeq: number;
  outcome?: Outcome;
  reason?: string;
  endedAt?: number;
}

/** Inbound events. Every event carries the engine's clock reading `at`. */
export type TracebackEventIn =
  | { type: 'ANSWER'; hopId: HopId; provider: ProviderId; answer: Answer; at: number }
  /** A durable timer named `timer` fired (`hop<n>`: a reminder or the deadline of hop n). */
  | { type: 'TIMER_FIRED'; timer: string; at: number }
  | { type: 'CANCEL'; reason: string; by: string; at: number };

/** An audit record before the engine wraps it into a `TracebackEvent` message. */
export type AuditRecord = Omit<TracebackEvent, 'v' | 'kind'>;

/**
 * Commands the machine asks its host to carry out, delivered as emitted events. The host
 * persists them with the snapshot (outbox) and executes them idempotently after the write.
 */
export type TracebackCommand =
  /** Publish a hop query (first ask or reminder) to the provider's queue. */
  | { type: 'cmd.hopQuery'; query: HopQuery }
  /** Create or replace the durable timer `timer` of this actor. */
  | { type: 'cmd.scheduleTimer'; timer: string; dueAt: number }
  | { type: 'cmd.cancelTimer'; timer: string }
  /** Append to the traceback's audit history. */
  | { type: 'cmd.audit'; record: AuditRecord }
  /** Publish the completed trail, built from the persisted context. */
  | { type: 'cmd.publishTrail' };
