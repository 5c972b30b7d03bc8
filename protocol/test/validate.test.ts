import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  decodeCancelTraceback,
  decodeHopAnswer,
  decodeHopQuery,
  decodeProtocolError,
  decodeStartTraceback,
  decodeStatusReply,
  decodeTrail,
  decodeTracebackEvent,
  decodeTracebackStarted,
  encodeMessage,
  validateAnswer,
  type ErrorCode as Code,
} from '../index.js';
import {
  T0,
  TB,
  answers,
  cancelTraceback,
  expectProtocolError,
  hopQuery,
  startTraceback,
  statusReply,
  trailOrigin,
  tracebackEvent,
  tracebackStarted,
  withField,
} from './samples.js';

/** Encodes `message` with `path` set to `value` (deleted for undefined), decodes, expects code and path. */
function rejects(decode: (b: Uint8Array) => unknown, message: object, path: string, value: unknown, code: Code, at = path) {
  expectProtocolError(() => decode(encodeMessage(withField(message, path, value))), code, at);
}

describe('missing fields → MISSING_FIELD at the field path', () => {
  const startFields = ['call', 'call.calling', 'call.called', 'call.time', 'terminatingProvider', 'requester'];
  it.each(startFields)('StartTraceback without %s', (path) => {
    rejects(decodeStartTraceback, startTraceback, path, undefined, ErrorCode.MissingField);
  });
  it.each(startFields)('StartTraceback with %s = nil', (path) => {
    rejects(decodeStartTraceback, startTraceback, path, null, ErrorCode.MissingField);
  });

  const answerFields: Array<[keyof typeof answers, string]> = [
    ['upstream', 'hopId'],
    ['upstream', 'provider'],
    ['upstream', 'answer'],
    ['upstream', 'answer.type'],
    ['upstream', 'answer.provider'],
    ['originator', 'answer.customer'],
    ['originator', 'answer.customer.name'],
    ['originator', 'answer.action'],
    ['foreignEntry', 'answer.carrier'],
    ['foreignEntry', 'answer.country'],
    ['notFound', 'answer.reason'],
    ['dispute', 'answer.reason'],
  ];
  it.each(answerFields)('HopAnswer (%s) without %s', (sample, path) => {
    rejects(decodeHopAnswer, answers[sample], path, undefined, ErrorCode.MissingField);
    rejects(decodeHopAnswer, answers[sample], path, null, ErrorCode.MissingField);
  });

  it.each(['tracebackId', 'hopId', 'hop', 'provider', 'call', 'askedAt', 'deadline', 'reminder'])('HopQuery without %s', (path) => {
    rejects(decodeHopQuery, hopQuery, path, undefined, ErrorCode.MissingField);
  });

  it('names the path inside trail hops', () => {
    const trail = structuredClone(trailOrigin) as unknown as { hops: Array<Record<string, unknown>> };
    delete trail.hops[1]!['deadlineKept'];
    expectProtocolError(() => decodeTrail(encodeMessage(trail)), ErrorCode.MissingField, 'hops[1].deadlineKept');
  });
});

describe('wrong types and ranges → INVALID_FIELD at the field path', () => {
  it.each([
    ['call', 'a call'],
    ['call', ['+12155550121']],
    ['call', 42],
    ['call.time', String(T0)],
    ['call.time', T0 + 0.5],
    ['call.time', Date.UTC(1999, 11, 31)],
    ['call.time', -1],
    ['call.time', true],
    ['call.calling', 12155550121],
    ['call.calling', Buffer.from('+12155550121')], // bin, not str
    ['call.campaign', ''],
    ['call.campaign', 'x'.repeat(129)],
    ['call.transcript', 'x'.repeat(32 * 1024 + 1)],
    ['call.identity', { jwt: 'x' }],
    ['requester', 7],
    ['requester', ''],
    ['requester', 'x'.repeat(129)],
    ['requestId', 5],
    ['terminatingProvider', 'term carrier'],
    ['terminatingProvider', 'a.b'],
    ['terminatingProvider', 'x'.repeat(65)],
  ])('StartTraceback %s = %j', (path, value) => {
    rejects(decodeStartTraceback, startTraceback, path, value, ErrorCode.InvalidField);
  });

  it('accepts the limits themselves', () => {
    const msg = withField(withField(startTraceback, 'requester', 'x'.repeat(128)), 'terminatingProvider', 'p'.repeat(64));
    expect(decodeStartTraceback(encodeMessage(msg)).requester).toHaveLength(128);
  });

  it.each([
    ['hop', 0],
    ['hop', 1000],
    ['hop', '2'],
    ['reminder', -1],
    ['reminder', 1001],
    ['askedAt', -5],
    ['deadline', 1.5],
    ['provider', 'acme.voice'],
    ['downstream', '*'],
    ['tracebackId', 'tb-short'],
  ])('HopQuery %s = %j', (path, value) => {
    rejects(decodeHopQuery, hopQuery, path, value, ErrorCode.InvalidField);
  });

  it.each([
    ['answeredAt', -1],
    ['answeredAt', 'now'],
    ['provider', 'acme voice'],
    ['provider', ''],
    ['answer', 'upstream'],
    ['answer', ['upstream']],
    ['answer.provider', 'wholesale.7'],
    ['answer.trunk', 12],
    ['answer.hopTime', 1000],
  ])('HopAnswer %s = %j', (path, value) => {
    rejects(decodeHopAnswer, answers.upstream, path, value, ErrorCode.InvalidField);
  });

  it('other messages', () => {
    rejects(decodeTracebackStarted, tracebackStarted, 'existing', 1, ErrorCode.InvalidField);
    rejects(decodeTracebackStarted, tracebackStarted, 'tracebackId', 'TB-0M9X8KQZ1ABCDEFGHIJK', ErrorCode.InvalidField);
    rejects(decodeCancelTraceback, cancelTraceback, 'reason', '', ErrorCode.InvalidField);
    rejects(decodeStatusReply, statusReply, 'byOutcome.loop', -1, ErrorCode.InvalidField);
    rejects(decodeStatusReply, statusReply, 'byOutcome', [1, 2], ErrorCode.InvalidField);
    rejects(decodeTracebackEvent, tracebackEvent, 'seq', 0, ErrorCode.InvalidField);
    rejects(decodeTracebackEvent, tracebackEvent, 'outcome', 'won', ErrorCode.InvalidField);
    rejects(decodeTrail, trailOrigin, 'outcome', 'origin-found', ErrorCode.InvalidField);
    rejects(decodeTrail, trailOrigin, 'hops', { 0: {} }, ErrorCode.InvalidField);
    rejects(decodeTrail, trailOrigin, 'origin.action', 'jailed', ErrorCode.InvalidField);
  });

  it('names array elements in trail paths', () => {
    const trail = structuredClone(trailOrigin) as unknown as { hops: unknown[] };
    trail.hops[1] = 'hop two';
    expectProtocolError(() => decodeTrail(encodeMessage(trail)), ErrorCode.InvalidField, 'hops[1]');
    const floats = structuredClone(trailOrigin);
    floats.hops[1]!.remindedAt = [T0 + 0.5];
    expectProtocolError(() => decodeTrail(encodeMessage(floats)), ErrorCode.InvalidField, 'hops[1].remindedAt');
    const status = structuredClone(trailOrigin) as unknown as { hops: Array<Record<string, unknown>> };
    status.hops[0]!['status'] = 'lost';
    expectProtocolError(() => decodeTrail(encodeMessage(status)), ErrorCode.InvalidField, 'hops[0].status');
  });

  it('rejects values that msgpackr builds from extensions or reserved bytes', () => {
    // {v:1, kind:"start_traceback", call: 0xc1, ...}: the reserved byte must not pass for a map.
    const bytes = Buffer.from(encodeMessage({ ...startTraceback, call: 'CALL' }));
    const at = bytes.indexOf(Buffer.from([0xa4, ...Buffer.from('CALL')]));
    const patched = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xc1]), bytes.subarray(at + 5)]);
    expectProtocolError(() => decodeStartTraceback(patched), ErrorCode.InvalidField, 'call');
  });
});

describe('phone numbers in messages → INVALID_NUMBER at the field path', () => {
  it.each([
    ['national format', '(215) 555-0121'],
    ['national digits', '215-555-0121'],
    ['bare national digits', '2155550121'],
    ['ambiguous bare national digits', '3525550121'],
    ['too short', '+1215555'],
    ['too long', '+1215555012112345'],
    ['letters', '+1 215 555 CALL'],
    ['trailing text', '+12155550121 call me'],
    ['extension', '+1 215 555 0121 ext. 5'],
    ['area code starting with 0', '+1 011 555 0121'],
    ['area code starting with 1', '+1 115 555 0121'],
    ['unassigned country code', '+999 555 0121'],
  ])('%s: %s', (_name, number) => {
    rejects(decodeStartTraceback, startTraceback, 'call.calling', number, ErrorCode.InvalidNumber);
    rejects(decodeStartTraceback, startTraceback, 'call.called', number, ErrorCode.InvalidNumber);
    rejects(decodeHopQuery, hopQuery, 'call.calling', number, ErrorCode.InvalidNumber);
  });

  it('uses the nested path inside a trail', () => {
    rejects(decodeTrail, trailOrigin, 'call.called', '555-0131', ErrorCode.InvalidNumber);
  });
});

describe('answers', () => {
  it.each([
    ['unknown type', 'answer.type', 'transferred', ErrorCode.InvalidField],
    ['type of wrong case', 'answer.type', 'Upstream', ErrorCode.InvalidField],
    ['type not a string', 'answer.type', 1, ErrorCode.InvalidField],
  ])('%s', (_name, path, value, code) => {
    rejects(decodeHopAnswer, answers.upstream, path, value, code);
  });

  it.each(['usa', 'us', 'U1', 'Gb', ''])('bad country %j', (country) => {
    rejects(decodeHopAnswer, answers.foreignEntry, 'answer.country', country, ErrorCode.InvalidField);
  });

  it.each(['blocked', 'Warned', '', 3])('bad action %j', (action) => {
    rejects(decodeHopAnswer, answers.originator, 'answer.action', action, ErrorCode.InvalidField);
  });

  it('bad customer', () => {
    rejects(decodeHopAnswer, answers.originator, 'answer.customer', 'Best Leads LLC', ErrorCode.InvalidField);
    rejects(decodeHopAnswer, answers.originator, 'answer.customer.name', '', ErrorCode.InvalidField);
    rejects(decodeHopAnswer, answers.originator, 'answer.customer.address', 'x'.repeat(513), ErrorCode.InvalidField);
    rejects(decodeHopAnswer, answers.originator, 'answer.customer.accountSince', 20241102, ErrorCode.InvalidField);
  });

  it('bad reason', () => {
    rejects(decodeHopAnswer, answers.notFound, 'answer.reason', 'x'.repeat(1025), ErrorCode.InvalidField);
    rejects(decodeHopAnswer, answers.dispute, 'answer.reason', '', ErrorCode.InvalidField);
  });

  it('names the full path of an answer inside a trail hop', () => {
    const trail = structuredClone(trailOrigin) as unknown as { hops: Array<{ answer: Record<string, unknown> }> };
    trail.hops[1]!.answer = { type: 'foreign_entry', carrier: 'Far Telecom Ltd', country: 'gb' };
    expectProtocolError(() => decodeTrail(encodeMessage(trail)), ErrorCode.InvalidField, 'hops[1].answer.country');
    const entry = { ...trailOrigin, origin: undefined, entry: { provider: 'acme-voice', foreignCarrier: 'Far', country: 'UK1' } };
    expectProtocolError(() => decodeTrail(encodeMessage(entry)), ErrorCode.InvalidField, 'entry.country');
  });

  it('validateAnswer applies the wire rules to answers built in code', () => {
    expect(validateAnswer(answers.originator.answer)).toStrictEqual(answers.originator.answer);
    expect(validateAnswer({ type: 'upstream', provider: 'p1', trunk: undefined })).toStrictEqual({ type: 'upstream', provider: 'p1' });
    expectProtocolError(() => validateAnswer(null), ErrorCode.InvalidField, 'answer');
    expectProtocolError(() => validateAnswer('upstream'), ErrorCode.InvalidField, 'answer');
    expectProtocolError(() => validateAnswer(['upstream']), ErrorCode.InvalidField, 'answer');
    expectProtocolError(() => validateAnswer({ type: 'upstream' }), ErrorCode.MissingField, 'answer.provider');
    expectProtocolError(() => validateAnswer({ type: 'originator', customer: { name: 'x' }, action: 'maybe' }), ErrorCode.InvalidField, 'answer.action');
  });
});

describe('hop ids', () => {
  it.each([
    'tb-abc-h1',
    `${TB}`,
    `${TB}-h0`,
    `${TB}-h01`,
    `${TB}-h1000`,
    `${TB}-H1`,
    `${TB}-h1x`,
    `${TB}h1`,
    `x${TB}-h1`,
    `${TB.toUpperCase()}-h1`,
    '',
  ])('rejects %j', (hopId) => {
    rejects(decodeHopAnswer, answers.upstream, 'hopId', hopId, ErrorCode.InvalidField);
    rejects(decodeHopQuery, hopQuery, 'hopId', hopId, ErrorCode.InvalidField);
  });

  it('rejects a hop id that is not a string', () => {
    rejects(decodeHopAnswer, answers.upstream, 'hopId', 1, ErrorCode.InvalidField);
  });

  it('accepts hops 1 to 999', () => {
    for (const n of [1, 9, 10, 999]) {
      expect(decodeHopAnswer(encodeMessage(withField(answers.upstream, 'hopId', `${TB}-h${n}`))).hopId).toBe(`${TB}-h${n}`);
    }
  });
});

describe('ProtocolErrorMessage', () => {
  it('maps an unknown code from a newer peer to INTERNAL', () => {
    const decoded = decodeProtocolError(encodeMessage({ v: 1, kind: 'error', code: 'RATE_LIMITED', message: 'slow down' }));
    expect(decoded.code).toBe('INTERNAL');
    expect(decoded.message).toBe('slow down');
  });
  it('requires code and message', () => {
    expectProtocolError(() => decodeProtocolError(encodeMessage({ v: 1, kind: 'error', code: 'INTERNAL' })), ErrorCode.MissingField, 'message');
    expectProtocolError(() => decodeProtocolError(encodeMessage({ v: 1, kind: 'error', message: 'x' })), ErrorCode.MissingField, 'code');
  });
});
