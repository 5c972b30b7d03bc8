import { decodeMap, isPlainMap } from './codec.js';
import { ErrorCode, ProtocolError } from './errors.js';
import { parseHopId, parseTracebackId } from './ids.js';
import {
  ATTESTATIONS,
  OUTCOMES,
  STIR_SHAKEN_CHECKS,
  type Answer,
  type PassportClaims,
  type ProviderInfo,
  type StirShaken,
  type TrailStirShaken,
  type OriginatorAnswer,
  type CallData,
  type CancelTraceback,
  type HopAnswer,
  type HopQuery,
  type MessageKind,
  type ProtocolErrorMessage,
  type StartTraceback,
  type StatusReply,
  type StatusRequest,
  type TracebackEvent,
  type TracebackStarted,
  type TracebackCancelled,
  type Trail,
  type Outcome,
  type HopId,
} from './messages.js';
import { ANSWER_IDENTITY_MAX, isUuid, parsePassport } from './passport.js';
import { normalizeE164 } from './phone.js';
import { PROVIDER_FLAGS } from './provider-messages.js';
import { isErrorCode } from './errors.js';
import { isSubjectToken } from './subjects.js';
import { SUPPORTED_VERSIONS, PROTOCOL_VERSION } from './version.js';

/** Reads typed fields out of a decoded map, naming the dotted path of whatever is wrong. */
class Fields {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly prefix: string,
  ) {}

  private path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  private present(name: string): unknown {
    const value = this.obj[name];
    if (value === undefined || value === null) {
      throw new ProtocolError(ErrorCode.MissingField, `missing field ${this.path(name)}`, { path: this.path(name) });
    }
    return value;
  }

  private invalid(name: string, expected: string): never {
    throw new ProtocolError(ErrorCode.InvalidField, `${this.path(name)} must be ${expected}`, { path: this.path(name) });
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  str(name: string, maxLength = 256): string {
    const value = this.present(name);
    if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
      this.invalid(name, `a non-empty string of at most ${maxLength} characters`);
    }
    return value;
  }

  optStr(name: string, maxLength = 256): string | undefined {
    return this.has(name) ? this.str(name, maxLength) : undefined;
  }

  int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.present(name);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.invalid(name, `an integer in [${min}, ${max}]`);
    }
    return value;
  }

  optInt(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    return this.has(name) ? this.int(name, min, max) : undefined;
  }

  bool(name: string): boolean {
    const value = this.present(name);
    if (typeof value !== 'boolean') this.invalid(name, 'a boolean');
    return value;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const value = this.present(name);
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      this.invalid(name, `one of ${values.join(', ')}`);
    }
    return value as T;
  }

  token(name: string): string {
    const value = this.str(name, 64);
    if (!isSubjectToken(value)) this.invalid(name, 'an id of 1-64 characters [A-Za-z0-9_-]');
    return value;
  }

  e164(name: string) {
    return normalizeE164(this.str(name, 32), this.path(name));
  }

  nested(name: string): Fields {
    const value = this.present(name);
    if (!isPlainMap(value)) this.invalid(name, 'a map');
    return new Fields(value, this.path(name));
  }

  list(name: string): Fields[] {
    const value = this.present(name);
    if (!Array.isArray(value)) this.invalid(name, 'an array');
    return value.map((item, i) => {
      if (!isPlainMap(item)) this.invalid(`${name}[${i}]`, 'a map');
      return new Fields(item, this.path(`${name}[${i}]`));
    });
  }

  /** An array of non-empty strings of at most `maxLength` characters. */
  strList(name: string, maxLength = 256): string[] {
    const value = this.present(name);
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string' && x.length > 0 && x.length <= maxLength)) {
      this.invalid(name, `an array of non-empty strings of at most ${maxLength} characters`);
    }
    return [...(value as string[])];
  }

  /** A UUID, 8-4-4-4-12 hex digits. */
  uuid(name: string): string {
    const value = this.str(name, 36);
    if (!isUuid(value)) this.invalid(name, 'a UUID like 123e4567-e89b-12d3-a456-426655440000');
    return value;
  }

  /** A SIP Identity header whose PASSporT decodes; see `parsePassport`. */
  passport(name: string, maxLength: number): string {
    const value = this.str(name, maxLength);
    parsePassport(value, this.path(name));
    return value;
  }

  intList(name: string): number[] {
    const value = this.present(name);
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' && Number.isInteger(x))) {
      this.invalid(name, 'an array of integers');
    }
    return value as number[];
  }

  /** ISO 3166-1 alpha-2 country code, upper case. */
  country(name: string): string {
    const value = this.str(name, 2);
    if (!/^[A-Z]{2}$/.test(value)) this.invalid(name, 'an ISO 3166-1 alpha-2 code (two capital letters)');
    return value;
  }

  hopId(name: string): HopId {
    const value = this.str(name, 64);
    try {
      return parseHopId(value).hopId;
    } catch {
      return this.invalid(name, 'a hop id like tb-…-h1');
    }
  }
}

/** Checks version and kind; returns the fields of the message. */
function envelope(bytes: Uint8Array, kind: MessageKind): Fields {
  const map = decodeMap(bytes);
  const v = map['v'];
  if (typeof v !== 'number' || !SUPPORTED_VERSIONS.includes(v)) {
    throw new ProtocolError(
      ErrorCode.UnsupportedVersion,
      `protocol version ${JSON.stringify(v ?? null)} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`,
      { path: 'v' },
    );
  }
  if (map['kind'] !== kind) {
    throw new ProtocolError(ErrorCode.UnknownKind, `expected kind ${kind}, got ${JSON.stringify(map['kind'] ?? null)}`, {
      path: 'kind',
    });
  }
  return new Fields(map, '');
}

/** Transcripts may be long; every other string is short. */
const TRANSCRIPT_MAX = 32 * 1024;
const IDENTITY_MAX = 4096;
/**
 * Earliest plausible call time (2000-01-01). There is no upper bound: decoding is pure and
 * must not depend on the local clock (a stored trail stays decodable years later).
 */
const CALL_TIME_MIN = Date.UTC(2000, 0, 1);

function readCall(f: Fields): CallData {
  const call: CallData = {
    calling: f.e164('calling'),
    called: f.e164('called'),
    time: f.int('time', CALL_TIME_MIN),
  };
  const campaign = f.optStr('campaign', 128);
  const transcript = f.optStr('transcript', TRANSCRIPT_MAX);
  const identity = f.optStr('identity', IDENTITY_MAX);
  if (campaign !== undefined) call.campaign = campaign;
  if (transcript !== undefined) call.transcript = transcript;
  if (identity !== undefined) call.identity = identity;
  return call;
}

const ANSWER_TYPES = ['upstream', 'originator', 'foreign_entry', 'not_found', 'dispute'] as const;
const ACTIONS = ['warned', 'terminated', 'none'] as const;

function readCustomer(c: Fields): OriginatorAnswer['customer'] {
  const customer: OriginatorAnswer['customer'] = { name: c.str('name') };
  const address = c.optStr('address', 512);
  const contact = c.optStr('contact');
  const accountSince = c.optStr('accountSince', 32);
  if (address !== undefined) customer.address = address;
  if (contact !== undefined) customer.contact = contact;
  if (accountSince !== undefined) customer.accountSince = accountSince;
  return customer;
}

function readStirShaken(f: Fields): StirShaken {
  const s: StirShaken = { attestation: f.oneOf('attestation', ATTESTATIONS), origId: f.uuid('origId') };
  if (f.has('identity')) s.identity = f.passport('identity', ANSWER_IDENTITY_MAX);
  return s;
}

/** Adds `stirShaken` to an answer that has it; checked after the type's own fields. */
function withStirShaken<A extends Exclude<Answer, { type: 'not_found' }>>(f: Fields, answer: A): A {
  if (f.has('stirShaken')) answer.stirShaken = readStirShaken(f.nested('stirShaken'));
  return answer;
}

function readAnswer(f: Fields): Answer {
  const type = f.oneOf('type', ANSWER_TYPES);
  switch (type) {
    case 'upstream': {
      const a: Answer = { type, provider: f.token('provider') };
      const trunk = f.optStr('trunk', 128);
      const ip = f.optStr('ip', 64);
      const hopTime = f.optInt('hopTime', CALL_TIME_MIN);
      if (trunk !== undefined) a.trunk = trunk;
      if (ip !== undefined) a.ip = ip;
      if (hopTime !== undefined) a.hopTime = hopTime;
      return withStirShaken(f, a);
    }
    case 'originator':
      return withStirShaken(f, { type, customer: readCustomer(f.nested('customer')), action: f.oneOf('action', ACTIONS) });
    case 'foreign_entry':
      return withStirShaken(f, { type, carrier: f.str('carrier'), country: f.country('country') });
    case 'not_found':
      // No record, so nothing signed: a stirShaken here is ignored like any field of another type.
      return { type, reason: f.str('reason', 1024) };
    case 'dispute':
      return withStirShaken(f, { type, reason: f.str('reason', 1024) });
    default:
      return type satisfies never;
  }
}

const RMD_STATUSES = ['certified', 'not_filed', 'removed', 'unknown'] as const;

function readProviderInfo(f: Fields): ProviderInfo {
  const info: ProviderInfo = {
    verified: f.bool('verified'),
    flags: f.list('flags').map((flag) => ({ name: flag.oneOf('name', PROVIDER_FLAGS), raisedAt: flag.int('raisedAt'), reason: flag.str('reason', 1024) })),
  };
  const name = f.optStr('name');
  const frn = f.optStr('frn', 32);
  const ocn = f.optStr('ocn', 32);
  if (name !== undefined) info.name = name;
  if (frn !== undefined) info.frn = frn;
  if (ocn !== undefined) info.ocn = ocn;
  if (f.has('rmdStatus')) info.rmdStatus = f.oneOf('rmdStatus', RMD_STATUSES);
  return info;
}

function readPassportClaims(f: Fields): PassportClaims {
  return {
    alg: f.str('alg', 32),
    x5u: f.str('x5u', 512),
    attest: f.oneOf('attest', ATTESTATIONS),
    origid: f.str('origid', 128),
    origTn: f.str('origTn', 32),
    destTn: f.strList('destTn', 32),
    iat: f.int('iat'),
    signatureVerified: f.bool('signatureVerified'),
  };
}

function readTrailStirShaken(f: Fields): TrailStirShaken {
  const s: TrailStirShaken = {
    attestation: f.oneOf('attestation', ATTESTATIONS),
    origId: f.uuid('origId'),
    findings: f.list('findings').map((x) => ({ check: x.oneOf('check', STIR_SHAKEN_CHECKS), ok: x.bool('ok'), detail: x.str('detail', 512) })),
  };
  if (f.has('passport')) s.passport = readPassportClaims(f.nested('passport'));
  return s;
}

export function decodeStartTraceback(bytes: Uint8Array): StartTraceback {
  const f = envelope(bytes, 'start_traceback');
  const msg: StartTraceback = {
    v: PROTOCOL_VERSION,
    kind: 'start_traceback',
    call: readCall(f.nested('call')),
    terminatingProvider: f.token('terminatingProvider'),
    requester: f.str('requester', 128),
  };
  const requestId = f.optStr('requestId', 128);
  if (requestId !== undefined) msg.requestId = requestId;
  return msg;
}

export function decodeTracebackStarted(bytes: Uint8Array): TracebackStarted {
  const f = envelope(bytes, 'traceback_started');
  return {
    v: PROTOCOL_VERSION,
    kind: 'traceback_started',
    tracebackId: parseTracebackId(f.str('tracebackId', 64)),
    existing: f.bool('existing'),
  };
}

export function decodeCancelTraceback(bytes: Uint8Array): CancelTraceback {
  const f = envelope(bytes, 'cancel_traceback');
  return {
    v: PROTOCOL_VERSION,
    kind: 'cancel_traceback',
    tracebackId: parseTracebackId(f.str('tracebackId', 64)),
    reason: f.str('reason', 1024),
    requester: f.str('requester', 128),
  };
}

export function decodeTracebackCancelled(bytes: Uint8Array): TracebackCancelled {
  const f = envelope(bytes, 'traceback_cancelled');
  return { v: PROTOCOL_VERSION, kind: 'traceback_cancelled', tracebackId: parseTracebackId(f.str('tracebackId', 64)) };
}

export function decodeHopQuery(bytes: Uint8Array): HopQuery {
  const f = envelope(bytes, 'hop_query');
  const query: HopQuery = {
    v: PROTOCOL_VERSION,
    kind: 'hop_query',
    tracebackId: parseTracebackId(f.str('tracebackId', 64)),
    hopId: f.hopId('hopId'),
    hop: f.int('hop', 1, 999),
    provider: f.token('provider'),
    call: readCall(f.nested('call')),
    askedAt: f.int('askedAt'),
    deadline: f.int('deadline'),
    reminder: f.int('reminder', 0, 1000),
  };
  if (f.has('downstream')) query.downstream = f.token('downstream');
  return query;
}

export function decodeHopAnswer(bytes: Uint8Array): HopAnswer {
  const f = envelope(bytes, 'hop_answer');
  const msg: HopAnswer = {
    v: PROTOCOL_VERSION,
    kind: 'hop_answer',
    hopId: f.hopId('hopId'),
    provider: f.token('provider'),
    answer: readAnswer(f.nested('answer')),
  };
  const answeredAt = f.optInt('answeredAt');
  if (answeredAt !== undefined) msg.answeredAt = answeredAt;
  return msg;
}

export function decodeProtocolError(bytes: Uint8Array): ProtocolErrorMessage {
  const f = envelope(bytes, 'error');
  const code = f.str('code', 64);
  const msg: ProtocolErrorMessage = {
    v: PROTOCOL_VERSION,
    kind: 'error',
    code: isErrorCode(code) ? code : ErrorCode.Internal,
    message: f.str('message', 4096),
  };
  for (const key of ['path', 'hopId', 'tracebackId'] as const) {
    const value = f.optStr(key, 128);
    if (value !== undefined) msg[key] = value;
  }
  return msg;
}

export function decodeStatusRequest(bytes: Uint8Array): StatusRequest {
  envelope(bytes, 'status_request');
  return { v: PROTOCOL_VERSION, kind: 'status_request' };
}

export function decodeStatusReply(bytes: Uint8Array): StatusReply {
  const f = envelope(bytes, 'status');
  const counts = f.nested('byOutcome');
  const byOutcome = {} as Record<Outcome, number>;
  for (const outcome of OUTCOMES) byOutcome[outcome] = counts.has(outcome) ? counts.int(outcome) : 0;
  return { v: PROTOCOL_VERSION, kind: 'status', total: f.int('total'), active: f.int('active'), byOutcome };
}

const EVIDENCE_FORMATS = {
  chainHead: [/^[0-9a-f]{64}$/, '64 lowercase hex digits'],
  signature: [/^[A-Za-z0-9_-]{86}$/, 'an Ed25519 signature in base64url without padding (86 characters)'],
  keyId: [/^[A-Za-z0-9_-]{1,64}$/, 'a key id of 1-64 characters [A-Za-z0-9_-]'],
} as const;

/** `Trail.evidence`: formats are checked here; the signature itself is checked by `evidence/`. */
function readEvidence(f: Fields): NonNullable<Trail['evidence']> {
  const text = (name: keyof typeof EVIDENCE_FORMATS): string => {
    const value = f.str(name, 128);
    const [format, expected] = EVIDENCE_FORMATS[name];
    if (!format.test(value)) {
      throw new ProtocolError(ErrorCode.InvalidField, `evidence.${name} must be ${expected}`, { path: `evidence.${name}` });
    }
    return value;
  };
  return {
    chainHead: text('chainHead'),
    eventCount: f.int('eventCount'),
    signature: text('signature'),
    keyId: text('keyId'),
    alg: f.oneOf('alg', ['Ed25519'] as const),
  };
}

export function decodeTrail(bytes: Uint8Array): Trail {
  const f = envelope(bytes, 'trail');
  const trail: Trail = {
    v: PROTOCOL_VERSION,
    kind: 'trail',
    tracebackId: parseTracebackId(f.str('tracebackId', 64)),
    call: readCall(f.nested('call')),
    requester: f.str('requester', 128),
    terminatingProvider: f.token('terminatingProvider'),
    startedAt: f.int('startedAt'),
    endedAt: f.int('endedAt'),
    outcome: f.oneOf('outcome', OUTCOMES),
    reason: f.str('reason', 1024),
    endProvider: f.token('endProvider'),
    hops: f.list('hops').map((h) => {
      const hop: Trail['hops'][number] = {
        hop: h.int('hop', 1, 999),
        hopId: h.hopId('hopId'),
        provider: h.token('provider'),
        askedAt: h.int('askedAt'),
        deadline: h.int('deadline'),
        remindedAt: h.intList('remindedAt'),
        status: h.oneOf('status', ['open', 'answered', 'missed', 'cancelled'] as const),
        deadlineKept: h.bool('deadlineKept'),
      };
      if (h.has('downstream')) hop.downstream = h.token('downstream');
      const answeredAt = h.optInt('answeredAt');
      if (answeredAt !== undefined) hop.answeredAt = answeredAt;
      if (h.has('answer')) hop.answer = readAnswer(h.nested('answer'));
      if (h.has('providerInfo')) hop.providerInfo = readProviderInfo(h.nested('providerInfo'));
      if (h.has('stirShaken')) hop.stirShaken = readTrailStirShaken(h.nested('stirShaken'));
      return hop;
    }),
  };
  if (f.has('origin')) {
    const o = f.nested('origin');
    trail.origin = { provider: o.token('provider'), customer: readCustomer(o.nested('customer')), action: o.oneOf('action', ACTIONS) };
  }
  if (f.has('entry')) {
    const e = f.nested('entry');
    trail.entry = { provider: e.token('provider'), foreignCarrier: e.str('foreignCarrier'), country: e.country('country') };
  }
  if (f.has('evidence')) trail.evidence = readEvidence(f.nested('evidence'));
  return trail;
}

export function decodeTracebackEvent(bytes: Uint8Array): TracebackEvent {
  const f = envelope(bytes, 'traceback_event');
  const event: TracebackEvent = {
    v: PROTOCOL_VERSION,
    kind: 'traceback_event',
    tracebackId: parseTracebackId(f.str('tracebackId', 64)),
    seq: f.int('seq', 1),
    at: f.int('at'),
    type: f.str('type', 64),
    state: f.str('state', 64),
  };
  const hopId = f.optStr('hopId', 64);
  if (hopId !== undefined) event.hopId = hopId;
  if (f.has('provider')) event.provider = f.token('provider');
  if (f.has('outcome')) event.outcome = f.oneOf('outcome', OUTCOMES);
  if (f.has('answer')) event.answer = readAnswer(f.nested('answer'));
  return event;
}

/** Validates an answer body built in code (carrier SDK) with the same rules as the wire. */
export function validateAnswer(answer: unknown): Answer {
  if (!isPlainMap(answer)) {
    throw new ProtocolError(ErrorCode.InvalidField, 'answer must be a map', { path: 'answer' });
  }
  return readAnswer(new Fields(answer, 'answer'));
}
