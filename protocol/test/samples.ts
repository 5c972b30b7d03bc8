/** Valid sample messages of every kind, and helpers shared by the protocol tests. */
import { expect } from 'vitest';
import {
  OUTCOMES,
  PROTOCOL_VERSION,
  ProtocolError,
  type CallData,
  type CancelTraceback,
  type E164,
  type ErrorCode,
  type HopAnswer,
  type HopId,
  type HopQuery,
  type Outcome,
  type ProtocolErrorMessage,
  type StartTraceback,
  type StatusReply,
  type StatusRequest,
  type Trail,
  type TracebackCancelled,
  type TracebackEvent,
  type TracebackId,
  type TracebackStarted,
  decodeCancelTraceback,
  decodeHopAnswer,
  decodeHopQuery,
  decodeProtocolError,
  decodeStartTraceback,
  decodeStatusReply,
  decodeStatusRequest,
  decodeTracebackCancelled,
  decodeTracebackEvent,
  decodeTrail,
  decodeTracebackStarted,
} from '../index.js';

/** 2025-05-01T14:03:07.250Z: beyond 32 bits, like every ms-epoch time. */
export const T0 = Date.UTC(2025, 4, 1, 14, 3, 7, 250);
export const TB = 'tb-0m9x8kqz1abcdefghijk' as TracebackId;
export const hop = (n: number) => `${TB}-h${n}` as HopId;
const e164 = (s: string) => s as E164;

export const call: CallData = {
  calling: e164('+12155550121'),
  called: e164('+12155550131'),
  time: T0,
  campaign: 'SSA-CalltheSSA',
  transcript: 'This is the Social Security Administration. Your number has been suspended…',
  identity: 'eyJhbGciOiJFUzI1NiJ9.eyJhdHRlc3QiOiJBIn0.c2ln;info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken',
};

export const startTraceback: StartTraceback = {
  v: PROTOCOL_VERSION,
  kind: 'start_traceback',
  call,
  terminatingProvider: 'term-carrier',
  requester: 'nc-ag-office',
  requestId: 'req-2025-0001',
};

export const startMinimal: StartTraceback = {
  v: PROTOCOL_VERSION,
  kind: 'start_traceback',
  call: { calling: e164('+12155550121'), called: e164('+12155550131'), time: T0 },
  terminatingProvider: 'term-carrier',
  requester: 'nc-ag-office',
};

export const tracebackStarted: TracebackStarted = { v: 1, kind: 'traceback_started', tracebackId: TB, existing: false };

export const cancelTraceback: CancelTraceback = {
  v: 1,
  kind: 'cancel_traceback',
  tracebackId: TB,
  reason: 'duplicate of an earlier request',
  requester: 'nc-ag-office',
};

export const tracebackCancelled: TracebackCancelled = { v: 1, kind: 'traceback_cancelled', tracebackId: TB };

export const hopQuery: HopQuery = {
  v: 1,
  kind: 'hop_query',
  tracebackId: TB,
  hopId: hop(2),
  hop: 2,
  provider: 'acme-voice',
  downstream: 'term-carrier',
  call,
  askedAt: T0 + 60_000,
  deadline: T0 + 60_000 + 86_400_000,
  reminder: 0,
};

export const hopQueryFirst: HopQuery = {
  v: 1,
  kind: 'hop_query',
  tracebackId: TB,
  hopId: hop(1),
  hop: 1,
  provider: 'term-carrier',
  call: startMinimal.call,
  askedAt: T0 + 1_000,
  deadline: T0 + 1_000 + 86_400_000,
  reminder: 2,
};

const answerBase = { v: 1, kind: 'hop_answer', hopId: hop(2), provider: 'acme-voice' } as const;

export const answers = {
  upstream: {
    ...answerBase,
    answer: { type: 'upstream', provider: 'wholesale-7', trunk: 'TG-12', ip: '198.51.100.7', hopTime: T0 + 20 },
    answeredAt: T0 + 120_000,
  },
  upstreamMinimal: { ...answerBase, answer: { type: 'upstream', provider: 'wholesale-7' } },
  originator: {
    ...answerBase,
    answer: {
      type: 'originator',
      customer: { name: 'Best Leads LLC', address: '1 Main St, Dover DE', contact: 'ops@bestleads.example', accountSince: '2024-11-02' },
      action: 'terminated',
    },
  },
  originatorMinimal: { ...answerBase, answer: { type: 'originator', customer: { name: 'Best Leads LLC' }, action: 'none' } },
  foreignEntry: { ...answerBase, answer: { type: 'foreign_entry', carrier: 'Far Telecom Ltd', country: 'GB' } },
  notFound: { ...answerBase, answer: { type: 'not_found', reason: 'no CDR matches within ±5 s' } },
  dispute: { ...answerBase, answer: { type: 'dispute', reason: 'customer holds written consent' } },
} satisfies Record<string, HopAnswer>;

export const protocolError: ProtocolErrorMessage = {
  v: 1,
  kind: 'error',
  code: 'HOP_CLOSED',
  message: 'hop tb-…-h2 was already answered',
  path: 'answer',
  hopId: hop(2),
  tracebackId: TB,
};

export const statusRequest: StatusRequest = { v: 1, kind: 'status_request' };

export const statusReply: StatusReply = {
  v: 1,
  kind: 'status',
  total: 17_030,
  active: 3,
  byOutcome: Object.fromEntries(OUTCOMES.map((o, i) => [o, i * 10])) as Record<Outcome, number>,
};

export const trailOrigin: Trail = {
  v: 1,
  kind: 'trail',
  tracebackId: TB,
  call,
  requester: 'nc-ag-office',
  terminatingProvider: 'term-carrier',
  startedAt: T0,
  endedAt: T0 + 3_600_000,
  outcome: 'origin_found',
  reason: 'originator identified by acme-voice',
  hops: [
    {
      hop: 1,
      hopId: hop(1),
      provider: 'term-carrier',
      askedAt: T0 + 1_000,
      deadline: T0 + 86_401_000,
      remindedAt: [],
      answeredAt: T0 + 30_000,
      status: 'answered',
      deadlineKept: true,
      answer: { type: 'upstream', provider: 'acme-voice', trunk: 'TG-1' },
    },
    {
      hop: 2,
      hopId: hop(2),
      provider: 'acme-voice',
      downstream: 'term-carrier',
      askedAt: T0 + 31_000,
      deadline: T0 + 86_431_000,
      remindedAt: [T0 + 43_231_000, T0 + 64_831_000],
      answeredAt: T0 + 3_600_000,
      status: 'answered',
      deadlineKept: true,
      answer: answers.originator.answer,
    },
  ],
  endProvider: 'acme-voice',
  origin: { provider: 'acme-voice', customer: answers.originator.answer.customer, action: 'terminated' },
};

export const trailEntry: Trail = {
  ...trailOrigin,
  outcome: 'foreign_entry',
  reason: 'acme-voice is the US point of entry',
  hops: [{ ...trailOrigin.hops[0]!, answer: { type: 'upstream', provider: 'acme-voice' } }, { ...trailOrigin.hops[1]!, answer: answers.foreignEntry.answer }],
  origin: undefined,
  entry: { provider: 'acme-voice', foreignCarrier: 'Far Telecom Ltd', country: 'GB' },
};
delete trailEntry.origin;

export const trailNoncooperative: Trail = {
  ...trailOrigin,
  call: startMinimal.call,
  outcome: 'noncooperative',
  reason: 'acme-voice did not answer by the deadline',
  hops: [
    trailOrigin.hops[0]!,
    {
      hop: 2,
      hopId: hop(2),
      provider: 'acme-voice',
      downstream: 'term-carrier',
      askedAt: T0 + 31_000,
      deadline: T0 + 86_431_000,
      remindedAt: [T0 + 43_231_000],
      status: 'missed',
      deadlineKept: false,
    },
  ],
};
delete trailNoncooperative.origin;

export const tracebackEvent: TracebackEvent = {
  v: 1,
  kind: 'traceback_event',
  tracebackId: TB,
  seq: 7,
  at: T0 + 3_600_000,
  type: 'answered',
  state: 'asking',
  hopId: hop(2),
  provider: 'acme-voice',
  outcome: 'origin_found',
  answer: answers.upstream.answer,
};

export const eventMinimal: TracebackEvent = { v: 1, kind: 'traceback_event', tracebackId: TB, seq: 1, at: T0, type: 'started', state: 'asking' };

/** Every sample, named, with the decoder for its kind. */
export const SAMPLES: ReadonlyArray<readonly [string, object, (bytes: Uint8Array) => unknown]> = [
  ['StartTraceback', startTraceback, decodeStartTraceback],
  ['StartTraceback (minimal)', startMinimal, decodeStartTraceback],
  ['TracebackStarted', tracebackStarted, decodeTracebackStarted],
  ['TracebackStarted (existing)', { ...tracebackStarted, existing: true }, decodeTracebackStarted],
  ['CancelTraceback', cancelTraceback, decodeCancelTraceback],
  ['TracebackCancelled', tracebackCancelled, decodeTracebackCancelled],
  ['HopQuery', hopQuery, decodeHopQuery],
  ['HopQuery (first hop, reminder)', hopQueryFirst, decodeHopQuery],
  ...Object.entries(answers).map(([name, msg]) => [`HopAnswer ${name}`, msg, decodeHopAnswer] as const),
  ['ProtocolErrorMessage', protocolError, decodeProtocolError],
  ['ProtocolErrorMessage (minimal)', { v: 1, kind: 'error', code: 'INTERNAL', message: 'internal error' }, decodeProtocolError],
  ['StatusRequest', statusRequest, decodeStatusRequest],
  ['StatusReply', statusReply, decodeStatusReply],
  ['Trail (origin_found)', trailOrigin, decodeTrail],
  ['Trail (foreign_entry)', trailEntry, decodeTrail],
  ['Trail (noncooperative)', trailNoncooperative, decodeTrail],
  ['TracebackEvent', tracebackEvent, decodeTracebackEvent],
  ['TracebackEvent (minimal)', eventMinimal, decodeTracebackEvent],
];

/**
 * Deep copy with one dotted path (`call.calling`, `answer.customer.name`, `hops[1].answer`) changed
 * or, for `undefined`, deleted.
 */
export function withField(message: object, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(message) as Record<string, unknown>;
  const keys = path.split('.').flatMap((k) => k.split(/\[(\d+)\]/).filter((x) => x !== ''));
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

/** Runs `fn`, expects a ProtocolError, and checks its code and path. */
export function expectProtocolError(fn: () => unknown, code: ErrorCode, path?: string): ProtocolError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected a ProtocolError to be thrown').toBeInstanceOf(ProtocolError);
  const err = thrown as ProtocolError;
  expect({ code: err.code, path: err.path }).toEqual({ code, path });
  return err;
}

/** Bytes from hex, ignoring whitespace. */
export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
