import type { ErrorCode } from './errors.js';
import type { DirectoryProvider, ProviderFlagName } from './provider-messages.js';
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

/** STIR/SHAKEN attestation levels (RFC 8588): A full, B partial, C gateway. */
export const ATTESTATIONS = ['A', 'B', 'C'] as const;
export type Attestation = (typeof ATTESTATIONS)[number];

/**
 * What a provider knows of the call's STIR/SHAKEN signature: the attestation and origination id
 * it signed the call with, or received it with from upstream, and optionally the SIP `Identity`
 * header itself. Optional in every answer except `not_found`.
 *
 * @example
 * ```ts
 * { attestation: 'A', origId: '123e4567-e89b-12d3-a456-426655440000', identity: 'eyJhbGciOi…;info=<https://cert.example.org/passport.cer>' }
 * ```
 */
export interface StirShaken {
  attestation: Attestation;
  /** The PASSporT's `origid`: a UUID naming the origination point inside the signer. */
  origId: string;
  /**
   * The SIP `Identity` header (RFC 8224): a full-form PASSporT compact JWS
   * (`header.payload.signature`), optionally followed by `;info=<…>;alg=…;ppt=shaken`.
   */
  identity?: string;
}

/** Answer fields common to every type that can carry STIR/SHAKEN data. */
interface SignedAnswer {
  /** STIR/SHAKEN data of the call as this provider signed or received it. */
  stirShaken?: StirShaken;
}

/** The provider sent the call on: it came from `provider`. */
export interface UpstreamAnswer extends SignedAnswer {
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
export interface OriginatorAnswer extends SignedAnswer {
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
export interface ForeignEntryAnswer extends SignedAnswer {
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
export interface DisputeAnswer extends SignedAnswer {
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

/** A provider flag as it stood when the provider handled a hop. */
export interface ProviderFlagSnapshot {
  name: ProviderFlagName;
  raisedAt: number;
  reason: string;
}

/**
 * The provider's directory entry and active flags when it handled a hop (answered or missed it).
 * The provider actor takes this snapshot when the hop closes, so a replayed trail is identical.
 */
export interface ProviderInfo {
  /** Legal name. */
  name?: string;
  /** FCC Registration Number. */
  frn?: string;
  /** Operating Company Number. */
  ocn?: string;
  /** Robocall Mitigation Database filing status. */
  rmdStatus?: NonNullable<DirectoryProvider['rmdStatus']>;
  /** True when the entry came from the imported directory; false when the provider was only named by another carrier. */
  verified: boolean;
  /** Flags standing when the hop closed (including one this hop's strike raised), in flag order. */
  flags: ProviderFlagSnapshot[];
}

/**
 * The consistency checks of a PASSporT against the call and the declared attestation. `identity`
 * appears only when a stored header could not be decoded.
 */
export const STIR_SHAKEN_CHECKS = ['identity', 'attest', 'origid', 'orig_tn', 'dest_tn', 'iat'] as const;
export type StirShakenCheck = (typeof STIR_SHAKEN_CHECKS)[number];

/** One check's result, e.g. `{ check: 'orig_tn', ok: false, detail: 'orig.tn 12155550199 is not the caller ID +12155550121' }`. */
export interface StirShakenFinding {
  check: StirShakenCheck;
  ok: boolean;
  detail: string;
}

/** The claims of a SHAKEN PASSporT, as written in its header and payload (numbers as in the token). */
export interface PassportClaims {
  /** Header `alg` (SHAKEN uses `ES256`). */
  alg: string;
  /** Header `x5u`: where the signer's certificate is published. */
  x5u: string;
  attest: Attestation;
  origid: string;
  /** `orig.tn`: digits with country code, no `+`. */
  origTn: string;
  /** `dest.tn`. */
  destTn: string[];
  /** `iat`: issued-at, **seconds** since the epoch. */
  iat: number;
  /** Always false: the signature needs the STI-CA certificate chain, which an offline decoder cannot check. */
  signatureVerified: boolean;
}

/** STIR/SHAKEN of one hop in a trail: what the provider declared, and what its PASSporT says. */
export interface TrailStirShaken {
  attestation: Attestation;
  origId: string;
  /** Present when the provider gave its `Identity` header (the header itself is in the answer). */
  passport?: PassportClaims;
  /** Checks of the PASSporT against the call; empty without a PASSporT. */
  findings: StirShakenFinding[];
}

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
  /** The provider's directory entry and flags when it answered or missed the hop. Absent for trails of older engines. */
  providerInfo?: ProviderInfo;
  /** STIR/SHAKEN data from the answer, with the PASSporT's claims and checks against the call. */
  stirShaken?: TrailStirShaken;
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
