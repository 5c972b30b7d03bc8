import type {
  Answer,
  CallData,
  HopId,
  HopQuery,
  HopStatus,
  Outcome,
  ProviderId,
  ProviderInfo,
  TracebackEvent,
  TracebackId,
} from '../../protocol/index.js';
import type { HopResult, HopTiming } from '../provider/types.js';

/**
 * Version of the traceback machine's persisted shape. Bump it when states or context
 * change incompatibly and add a migration in `migrate.ts`; the engine refuses to load a
 * snapshot of an unknown version rather than guess.
 */
export const TRACEBACK_MACHINE_VERSION = 2;

/** Deadline policy applied to every hop of one traceback. */
export interface HopPolicy {
  /**
   * Time a provider has to answer, ms. The provider actor sets the real deadline of each hop
   * (its policy may use business hours); this is the estimate until it does. @default 24 h
   */
  deadlineMs: number;
  /**
   * Fractions of the deadline at which reminders are sent, ascending, each in (0, 1); the
   * provider actors keep the clock, this is the default they are created with. @default [0.5]
   */
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
  remindedAt: number[];
  answeredAt?: number;
  status: HopStatus;
  answer?: Answer;
  /** The provider's directory entry and flags when the hop closed, as its actor reported them. */
  providerInfo?: ProviderInfo;
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
  /**
   * The provider actor reports how the hop ended: answered, or deadline missed, with a snapshot of
   * its directory entry and flags (absent from providers of older engines).
   */
  | { type: 'HOP_RESULT'; hopId: HopId; result: HopResult; timing: HopTiming; providerInfo?: ProviderInfo; at: number }
  | { type: 'CANCEL'; reason: string; by: string; at: number };

/** An audit record before the engine wraps it into a `TracebackEvent` message. */
export type AuditRecord = Omit<TracebackEvent, 'v' | 'kind'>;

/**
 * Commands the machine asks its host to carry out, delivered as emitted events. The host
 * persists them with the snapshot (outbox) and executes them idempotently after the write.
 */
export type TracebackCommand =
  /** Ask the provider actor about this hop; it sends the query and keeps the deadline. */
  | { type: 'cmd.askProvider'; provider: ProviderId; query: HopQuery }
  /** The traceback was cancelled while this hop was open. */
  | { type: 'cmd.cancelHop'; provider: ProviderId; hopId: HopId }
  /** The trail ended at this provider as origin or point of entry (it may flag it). */
  | { type: 'cmd.trailEnded'; provider: ProviderId; outcome: Outcome; campaign?: string }
  /** Append to the traceback's audit history. */
  | { type: 'cmd.audit'; record: AuditRecord }
  /** Publish the completed trail, built from the persisted context. */
  | { type: 'cmd.publishTrail' };
