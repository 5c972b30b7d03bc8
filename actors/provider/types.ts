import type { Answer, HopId, HopQuery, Outcome, ProviderId, ProviderInfo, TracebackId } from '../../protocol/index.js';

/** Version of the provider machine's persisted shape (see the traceback's for the rule). */
export const PROVIDER_MACHINE_VERSION = 1;

/** Robocall Mitigation Database filing status. */
export type RmdStatus = 'certified' | 'not_filed' | 'removed' | 'unknown';

/** What the directory knows of a provider. */
export interface DirectoryEntry {
  id: ProviderId;
  name?: string;
  /** FCC Registration Number, 10 digits. */
  frn?: string;
  /** Operating Company Number, 4 characters. */
  ocn?: string;
  contact?: string;
  rmdStatus: RmdStatus;
  roles: string[];
  /** False for a provider first named in an answer and not (yet) in the imported directory. */
  verified: boolean;
}

/**
 * When a provider's 24 hours start. `fixed`: on receipt. `business`: a query received
 * outside business hours counts as received at the opening of the next business day
 * (47 CFR 64.1200(n)(1) allows this for small providers).
 */
export type DeadlinePolicy =
  | { kind: 'fixed'; deadlineMs: number }
  | {
      kind: 'business';
      deadlineMs: number;
      /** IANA time zone, e.g. `America/Chicago`. */
      timeZone: string;
      /** Local opening and closing hour, e.g. 8 and 17. */
      opensAt: number;
      closesAt: number;
      /** ISO weekdays that are business days (1 = Monday … 7 = Sunday). @default [1,2,3,4,5] */
      businessDays: number[];
      /** Local dates `YYYY-MM-DD` that are not business days. */
      holidays: string[];
    };

export interface ProviderPolicy {
  deadline: DeadlinePolicy;
  /** Fractions of the deadline at which reminders are sent. */
  reminderFractions: number[];
  /** Queries open at the carrier at once; the rest wait in order. */
  maxInFlight: number;
}

/** Flag names: the attorneys general's definition of a noncooperative provider, split by cause. */
export const FLAGS = ['noncooperative', 'high_risk_origin', 'high_risk_entry', 'insufficient_records'] as const;
export type FlagName = (typeof FLAGS)[number];

/** A threshold: `count` strikes of one kind within `windowMs`. */
export interface Threshold {
  count: number;
  windowMs: number;
}

export type FlagThresholds = Record<FlagName, Threshold>;

/** One strike: which traceback, when. */
export interface Evidence {
  tracebackId: TracebackId;
  hopId?: HopId;
  at: number;
  campaign?: string;
}

export interface Flag {
  name: FlagName;
  raisedAt: number;
  /** Human-readable cause, e.g. "3 missed deadlines within 30 days". */
  reason: string;
  evidence: Evidence[];
}

export interface ClearedFlag extends Flag {
  clearedAt: number;
  clearedBy: string;
  clearReason: string;
}

/** A hop query that is open at the carrier. */
export interface OpenHop {
  hopId: HopId;
  tracebackId: TracebackId;
  /** The query as the traceback built it; `askedAt`, `deadline`, `reminder` are set on sending. */
  query: HopQuery;
  /** When the query was sent to the carrier. */
  sentAt: number;
  /** When the provider's clock started (after business-hours adjustment). */
  receivedAt: number;
  deadline: number;
  remindersDue: number[];
  remindedAt: number[];
}

export interface QueuedHop {
  hopId: HopId;
  tracebackId: TracebackId;
  query: HopQuery;
  requestedAt: number;
}

export interface ResponseStats {
  asked: number;
  answered: number;
  /** Answered after the deadline had passed (the answer still arrived before the miss was processed). */
  late: number;
  missed: number;
  notFound: number;
  /** Answer times of the most recent answers, ms, for p50/p90. */
  answerMs: number[];
}

export interface ProviderContext {
  id: ProviderId;
  directory: DirectoryEntry;
  policy: ProviderPolicy;
  thresholds: FlagThresholds;
  open: Record<string, OpenHop>;
  queue: QueuedHop[];
  stats: ResponseStats;
  strikes: Record<FlagName, Evidence[]>;
  /** Strikes before this time do not count toward the flag again after it was cleared. */
  clearedUntil: Partial<Record<FlagName, number>>;
  flags: Partial<Record<FlagName, Flag>>;
  clearedFlags: ClearedFlag[];
  /**
   * When recently closed hops closed, so a redelivered ASK is not sent again. Only times:
   * answers live in the traceback, and this record is written on every provider event.
   */
  recent: Record<string, number>;
  eventSeq: number;
}

export interface ProviderInput {
  id: ProviderId;
  directory?: Partial<DirectoryEntry>;
  policy: ProviderPolicy;
  thresholds: FlagThresholds;
  now: number;
}

/** What the provider tells the traceback when a hop is over. */
export type HopResult =
  | { kind: 'answered'; answer: Answer; answeredAt: number }
  | { kind: 'missed' };

export interface HopTiming {
  askedAt: number;
  deadline: number;
  remindedAt: number[];
}

export type ProviderEventIn =
  /** A traceback asks this provider about one hop. */
  | { type: 'ASK'; query: HopQuery; at: number }
  /** The carrier answered (already checked against the traceback by the engine). */
  | { type: 'ANSWER'; hopId: HopId; answer: Answer; at: number }
  | { type: 'TIMER_FIRED'; timer: string; at: number }
  /** The traceback was cancelled: drop its hop. */
  | { type: 'CANCEL_HOP'; hopId: HopId; at: number }
  /** A trail ended at this provider as origin or point of entry. */
  | { type: 'TRAIL_ENDED'; tracebackId: TracebackId; outcome: Outcome; campaign?: string; at: number }
  | { type: 'CLEAR_FLAG'; flag: FlagName; reason: string; by: string; at: number }
  | { type: 'UPDATE_DIRECTORY'; entry: Partial<DirectoryEntry>; at: number }
  | { type: 'UPDATE_POLICY'; policy: Partial<ProviderPolicy>; at: number };

/** An audit record of the provider, published on `tb.provider.events.<provider>`. */
export interface ProviderAudit {
  provider: ProviderId;
  seq: number;
  at: number;
  type: 'asked' | 'queued' | 'strike' | 'reminded' | 'answered' | 'missed' | 'flag_raised' | 'flag_cleared' | 'directory_updated' | 'policy_updated' | 'hop_cancelled';
  hopId?: HopId;
  tracebackId?: TracebackId;
  flag?: FlagName;
  detail?: string;
}

export type ProviderCommand =
  | { type: 'cmd.hopQuery'; query: HopQuery }
  | { type: 'cmd.scheduleTimer'; timer: string; dueAt: number }
  | { type: 'cmd.cancelTimer'; timer: string }
  /**
   * Deliver the hop's result to its traceback actor, with the provider's directory entry and flags
   * as they stood when the hop closed (absent in outboxes written before snapshots existed).
   */
  | { type: 'cmd.hopResult'; tracebackId: TracebackId; hopId: HopId; result: HopResult; timing: HopTiming; providerInfo?: ProviderInfo }
  | { type: 'cmd.publishFlag'; flag: Flag; state: 'raised' | 'cleared'; cleared?: ClearedFlag }
  | { type: 'cmd.providerAudit'; record: ProviderAudit };
