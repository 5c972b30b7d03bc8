import type { ErrorCode } from './errors.js';
import type { ProtocolVersion } from './version.js';

/**
 * Message types of the robotrace wire protocol.
 *
 * Every message is a MessagePack map with string keys. Absent optional fields are
 * omitted (never encoded as nil). Times are integers: milliseconds since the Unix
 * epoch, UTC. Phone numbers are E.164 strings with a leading `+`.
 */

/** An E.164 phone number, e.g. `+12155550121`. Built only by `normalizeE164`. */
export type E164 = string & { readonly __brand: 'E164' };

/** A traceback id: `tb-` followed by 20 characters of `[0-9a-z]`, time-ordered. */
export type TracebackId = string & { readonly __brand: 'TracebackId' };

/** A hop id: `<tracebackId>-h<n>`, n = 1 for the terminating provider. */
export type HopId = string & { readonly __brand: 'HopId' };

/** A provider id: 1–64 characters of `[A-Za-z0-9_-]`, usable as a subject token. */
export type ProviderId = string;

/** The call being traced. */
export interface CallData {
  /** Caller ID as presented to the called party (E.164). */
  calling: E164;
  /** The called number (E.164). */
  called: E164;
  /** When the call was placed, ms since epoch UTC. */
  time: number;
  /** Consortium campaign name, e.g. `SSA-CalltheSSA`. */
  campaign?: string;
  /** Transcript of the recorded message. */
  transcript?: string;
  /** The SIP `Identity` header (STIR/SHAKEN PASSporT) as received, if any. */
  identity?: string;
}

/** Operator → engine on `tb.api.start`. */
export interface StartTraceback {
  v: ProtocolVersion;
  kind: 'start_traceback';
  call: CallData;
  /** The provider that delivered the call to the called party: the first hop. */
  terminatingProvider: ProviderId;
  /** Who asked for the traceback (agency or consortium user). */
  requester: string;
  /**
   * Idempotency key chosen by the requester. Retrying a start with the same
   * `requester` + `requestId` returns the same traceback instead of a new one.
   */
  requestId?: string;
}

/** Engine → operator reply to `StartTraceback`. */
export interface TracebackStarted {
  v: ProtocolVersion;
  kind: 'traceback_started';
  tracebackId: TracebackId;
  /** True when `requestId` matched an earlier start and no new traceback was made. */
  existing: boolean;
}

/** Operator → engine on `tb.api.cancel`. */
export interface CancelTraceback {
  v: ProtocolVersion;
  kind: 'cancel_traceback';
  tracebackId: TracebackId;
  reason: string;
  requester: string;
}

/** Engine → operator reply to `CancelTraceback`. */
export interface TracebackCancelled {
  v: ProtocolVersion;
  kind: 'traceback_cancelled';
  tracebackId: TracebackId;
}

/** Engine → carrier on `tb.hop.req.<provider>`: "who sent you this call?" */
export interface HopQuery {
  v: ProtocolVersion;
  kind: 'hop_query';
  tracebackId: TracebackId;
  hopId: HopId;
  /** 1-based position of this hop, 1 = terminating provider. */
  hop: number;
  /** The provider asked (equals the subject's last token). */
  provider: ProviderId;
  /** The provider this one handed the call to, absent for the terminating provider. */
  downstream?: ProviderId;
  call: CallData;
  /** When the question was first asked, ms since epoch. */
  askedAt: number;
  /** When the answer is due, ms since epoch. */
  deadline: number;
  /** 0 for the first ask, n for the n-th reminder of the same hop. */
  reminder: number;
}

/** The provider sent the call on: it came from `provider`. */
export interface UpstreamAnswer {
  type: 'upstream';
  /** Provider id of the upstream provider. */
  provider: ProviderId;
  /** Trunk group the call arrived on. */
  trunk?: string;
  /** Signalling IP address of the upstream. */
  ip?: string;
  /** When the call reached this provider per its CDR, ms since epoch. */
  hopTime?: number;
}

/** The provider's own customer placed the call. */
export interface OriginatorAnswer {
  type: 'originator';
  customer: {
    name: string;
    address?: string;
    contact?: string;
    /** Date the account was opened, `YYYY-MM-DD`. */
    accountSince?: string;
  };
  /** What the provider did about the customer. */
  action: 'warned' | 'terminated' | 'none';
}

/** The provider is the US point of entry; the call came from a foreign carrier. */
export interface ForeignEntryAnswer {
  type: 'foreign_entry';
  /** Name of the foreign upstream carrier. */
  carrier: string;
  /** ISO 3166-1 alpha-2 country of the foreign carrier. */
  country: string;
}

/** The provider has no record of the call. */
export interface NotFoundAnswer {
  type: 'not_found';
  reason: string;
}

/** The provider disputes that the call was illegal (e.g. claims consent). */
export interface DisputeAnswer {
  type: 'dispute';
  reason: string;
}

export type Answer = UpstreamAnswer | OriginatorAnswer | ForeignEntryAnswer | NotFoundAnswer | DisputeAnswer;
export type AnswerType = Answer['type'];

/** Carrier → engine on `tb.hop.ans.<provider>`. */
export interface HopAnswer {
  v: ProtocolVersion;
  kind: 'hop_answer';
  hopId: HopId;
  /** The answering provider (must equal the subject token and the provider asked). */
  provider: ProviderId;
  answer: Answer;
  /** When the carrier produced the answer, by its clock; informational. */
  answeredAt?: number;
}

/** Engine → client when a message is rejected: reply to a request, or on `tb.hop.err.<provider>`. */
export interface ProtocolErrorMessage {
  v: ProtocolVersion;
  kind: 'error';
  code: ErrorCode;
  message: string;
  /** Offending field, dotted, e.g. `answer.provider`. */
  path?: string;
  hopId?: string;
  tracebackId?: string;
}

/** How a traceback ended. */
export const OUTCOMES = [
  'origin_found',
  'foreign_entry',
  'not_found',
  'noncooperative',
  'loop',
  'max_hops',
  'disputed',
  'cancelled',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Status of one hop in a trail. */
export type HopStatus = 'open' | 'answered' | 'missed' | 'cancelled';

/** One hop of a trail, in order from the terminating provider upstream. */
export interface TrailHop {
  hop: number;
  hopId: HopId;
  provider: ProviderId;
  downstream?: ProviderId;
  askedAt: number;
  deadline: number;
  /** When reminders were sent. */
  remindedAt: number[];
  answeredAt?: number;
  status: HopStatus;
  /** True when answered before the deadline. */
  deadlineKept: boolean;
  /** The answer verbatim. */
  answer?: Answer;
}

/** Engine → enforcement on `tb.trail.<outcome>.<campaign>.<provider>.<traceback>`. */
export interface Trail {
  v: ProtocolVersion;
  kind: 'trail';
  tracebackId: TracebackId;
  call: CallData;
  requester: string;
  terminatingProvider: ProviderId;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  /** Human-readable reason for the outcome. */
  reason: string;
  hops: TrailHop[];
  /** Last provider of the trail: origin, point of entry, dead end or non-responder. */
  endProvider: ProviderId;
  /** Set when `outcome` is `origin_found`. */
  origin?: { provider: ProviderId; customer: OriginatorAnswer['customer']; action: OriginatorAnswer['action'] };
  /** Set when `outcome` is `foreign_entry`. */
  entry?: { provider: ProviderId; foreignCarrier: string; country: string };
  /**
   * Tamper evidence, set by an engine that signs its trails (see `evidence/` and the protocol
   * README, "Trails for enforcement"). The signature covers every field of the trail except
   * `evidence.signature` itself.
   */
  evidence?: {
    /** Lowercase hex SHA-256 head of the hash chain over the traceback's audit events. */
    chainHead: string;
    /** Number of audit events in the chain (the last event's `seq`). */
    eventCount: number;
    /** Ed25519 signature, base64url without padding. */
    signature: string;
    /** Id of the engine key that signed: base64url SHA-256 of the raw public key, first 16 chars. */
    keyId: string;
    alg: 'Ed25519';
  };
}

/** Engine → audit on `tb.events.<traceback>`: one per state change. */
export interface TracebackEvent {
  v: ProtocolVersion;
  kind: 'traceback_event';
  tracebackId: TracebackId;
  /** 1-based, gap-free per traceback. */
  seq: number;
  at: number;
  /** What happened: `started`, `asked`, `reminded`, `answered`, `missed`, `ended`, `cancelled`, `rejected`. */
  type: string;
  /** Machine state after the change. */
  state: string;
  hopId?: string;
  provider?: ProviderId;
  outcome?: Outcome;
  answer?: Answer;
}

/** Operator → engine on `tb.api.status`. */
export interface StatusRequest {
  v: ProtocolVersion;
  kind: 'status_request';
}

/** Engine → operator: counts since the engine's store was created. */
export interface StatusReply {
  v: ProtocolVersion;
  kind: 'status';
  total: number;
  active: number;
  byOutcome: Record<Outcome, number>;
}

/** Every message kind, for dispatch. */
export type Message =
  | StartTraceback
  | TracebackStarted
  | CancelTraceback
  | TracebackCancelled
  | HopQuery
  | HopAnswer
  | ProtocolErrorMessage
  | Trail
  | TracebackEvent
  | StatusRequest
  | StatusReply;
export type MessageKind = Message['kind'];
