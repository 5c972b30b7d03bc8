/**
 * STIR/SHAKEN in answers and trails: reading PASSporTs from an Identity header, checking their
 * claims against the call, and the wire rules for `answer.stirShaken` and the trail's hop fields.
 */
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  checkPassport,
  decodeHopAnswer,
  decodeTrail,
  encodeMessage,
  parsePassport,
  trailStirShaken,
  validateAnswer,
  type CallData,
  type E164,
  type HopAnswer,
  type Trail,
} from '../index.js';
import { T0, answers, expectProtocolError, trailOrigin, withField } from './samples.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const SIG = Buffer.alloc(64, 7).toString('base64url');
const ORIGID = '123e4567-e89b-12d3-a456-426655440000';
const HEADER = { alg: 'ES256', typ: 'passport', ppt: 'shaken', x5u: 'https://cert.example.org/passport.cer' };
const CALL: Pick<CallData, 'calling' | 'called' | 'time'> = { calling: '+12155550121' as E164, called: '+12155550131' as E164, time: T0 };

function payload(patch: Record<string, unknown> = {}) {
  return { attest: 'A', dest: { tn: ['12155550131'] }, iat: Math.floor(T0 / 1000), orig: { tn: '12155550121' }, origid: ORIGID, ...patch };
}

/** An Identity header as RFC 8224 writes it: the JWS, then its parameters. */
function identity(p: unknown = payload(), h: unknown = HEADER, sig = SIG): string {
  return `${b64(h)}.${b64(p)}.${sig};info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken`;
}

const stirShaken = { attestation: 'A', origId: ORIGID, identity: identity() } as const;
const signed: HopAnswer = { ...answers.upstream, answer: { ...answers.upstream.answer, stirShaken } };

describe('parsePassport', () => {
  it('reads the claims of a full Identity header, or of the bare JWS', () => {
    const claims = {
      alg: 'ES256',
      x5u: 'https://cert.example.org/passport.cer',
      attest: 'A',
      origid: ORIGID,
      origTn: '12155550121',
      destTn: ['12155550131'],
      iat: Math.floor(T0 / 1000),
      signatureVerified: false,
    };
    expect(parsePassport(identity(), 'p')).toEqual(claims);
    expect(parsePassport(identity().split(';')[0]!, 'p')).toEqual(claims);
  });

  it.each([
    ['two parts', `${b64(HEADER)}.${b64(payload())}`, /found 2 parts/],
    ['the compact form without claims', `..${SIG}`, /compact form/],
    ['no signature', `${b64(HEADER)}.${b64(payload())}.`, /signature/],
    ['a header that is not base64url', `${b64(HEADER)}$.${b64(payload())}.${SIG}`, /header is not base64url/],
    ['a payload that is not JSON', identity('not json'), /payload is not JSON/],
    ['a payload that is an array', identity([1, 2]), /payload is not a JSON object/],
    ['a header without ppt shaken', identity(payload(), { ...HEADER, ppt: 'div' }), /ppt must be "shaken"/],
    ['a header without x5u', identity(payload(), { alg: 'ES256', ppt: 'shaken' }), /x5u/],
    ['attestation D', identity(payload({ attest: 'D' })), /attest must be one of A, B, C/],
    ['no origid', identity(payload({ origid: undefined })), /origid/],
    ['orig.tn as a number', identity(payload({ orig: { tn: 12155550121 } })), /orig\.tn/],
    ['dest.tn as a string', identity(payload({ dest: { tn: '12155550131' } })), /dest\.tn/],
    ['iat with a fraction', identity(payload({ iat: 1.5 })), /iat/],
    ['iat as a string', identity(payload({ iat: '1443208345' })), /iat/],
  ])('refuses %s with INVALID_FIELD at the path', (_what, value, message) => {
    const err = expectProtocolError(() => parsePassport(value, 'answer.stirShaken.identity'), ErrorCode.InvalidField, 'answer.stirShaken.identity');
    expect(err.message).toMatch(/^answer\.stirShaken\.identity is not a SHAKEN PASSporT: /);
    expect(err.message).toMatch(message);
  });
});

describe('checkPassport', () => {
  const claims = parsePassport(identity(), 'p');

  it('passes all five checks for a PASSporT that fits the call (origid compared case-insensitively)', () => {
    const findings = checkPassport(claims, { attestation: 'A', origId: ORIGID.toUpperCase() }, CALL);
    expect(findings.map((f) => [f.check, f.ok])).toEqual([
      ['attest', true],
      ['origid', true],
      ['orig_tn', true],
      ['dest_tn', true],
      ['iat', true],
    ]);
    expect(findings.find((f) => f.check === 'orig_tn')?.detail).toBe('orig.tn 12155550121 = caller ID +12155550121');
  });

  it('names each mismatch', () => {
    const other = parsePassport(identity(payload({ attest: 'B', origid: 'X', orig: { tn: '12155550199' }, dest: { tn: ['12155550132'] }, iat: Math.floor(T0 / 1000) + 61 })), 'p');
    const findings = checkPassport(other, { attestation: 'A', origId: ORIGID }, CALL);
    expect(findings.every((f) => !f.ok)).toBe(true);
    expect(findings.map((f) => f.detail)).toEqual([
      'attest B differs from declared A',
      `origid X differs from declared ${ORIGID}`,
      'orig.tn 12155550199 is not caller ID +12155550121',
      'dest.tn 12155550132 does not include called +12155550131',
      'iat +61 s from the call time (over 60 s)',
    ]);
  });

  it('keeps iat within 60 s either way, and reports numbers that are not valid', () => {
    const early = parsePassport(identity(payload({ iat: Math.floor(T0 / 1000) - 59, orig: { tn: '999' } })), 'p');
    const findings = checkPassport(early, { attestation: 'A', origId: ORIGID }, CALL);
    expect(findings.find((f) => f.check === 'iat')).toMatchObject({ ok: true, detail: 'iat -59 s from the call time' });
    expect(findings.find((f) => f.check === 'orig_tn')).toEqual({ check: 'orig_tn', ok: false, detail: 'orig.tn 999 is not a valid number' });
  });
});

describe('trailStirShaken', () => {
  it('without an Identity header: the declared values, no claims, no findings', () => {
    expect(trailStirShaken({ attestation: 'C', origId: ORIGID }, CALL)).toEqual({ attestation: 'C', origId: ORIGID, findings: [] });
  });

  it('with one: claims and findings; an unreadable stored header gives a failed identity finding instead of throwing', () => {
    const s = trailStirShaken(stirShaken, CALL);
    expect(s.passport?.attest).toBe('A');
    expect(s.findings).toHaveLength(5);
    const broken = trailStirShaken({ attestation: 'A', origId: ORIGID, identity: 'garbage' }, CALL);
    expect(broken.passport).toBeUndefined();
    expect(broken.findings).toEqual([{ check: 'identity', ok: false, detail: expect.stringMatching(/^identity unreadable: /) as string }]);
  });
});

describe('answer.stirShaken on the wire', () => {
  it('round-trips on every answer type that can carry it; not_found drops it', () => {
    expect(decodeHopAnswer(encodeMessage(signed))).toEqual(signed);
    for (const sample of [answers.originator, answers.foreignEntry, answers.dispute]) {
      const message = { ...sample, answer: { ...sample.answer, stirShaken: { attestation: 'C', origId: ORIGID } } };
      expect(decodeHopAnswer(encodeMessage(message))).toEqual(message);
    }
    const notFound = { ...answers.notFound, answer: { ...answers.notFound.answer, stirShaken } };
    expect(decodeHopAnswer(encodeMessage(notFound))).toEqual(answers.notFound);
    expect(validateAnswer(signed.answer)).toEqual(signed.answer);
  });

  it.each([
    ['answer.stirShaken', 'A', ErrorCode.InvalidField],
    ['answer.stirShaken.attestation', undefined, ErrorCode.MissingField],
    ['answer.stirShaken.attestation', 'D', ErrorCode.InvalidField],
    ['answer.stirShaken.attestation', 'a', ErrorCode.InvalidField],
    ['answer.stirShaken.attestation', 1, ErrorCode.InvalidField],
    ['answer.stirShaken.origId', undefined, ErrorCode.MissingField],
    ['answer.stirShaken.origId', 42, ErrorCode.InvalidField],
    ['answer.stirShaken.origId', 'not-a-uuid', ErrorCode.InvalidField],
    ['answer.stirShaken.identity', 42, ErrorCode.InvalidField],
    ['answer.stirShaken.identity', new Uint8Array([1, 2, 3]), ErrorCode.InvalidField],
    ['answer.stirShaken.identity', '', ErrorCode.InvalidField],
    ['answer.stirShaken.identity', 'a.b', ErrorCode.InvalidField],
    ['answer.stirShaken.identity', identity(payload({ attest: 'Z' })), ErrorCode.InvalidField],
    ['answer.stirShaken.identity', `${identity()};${'x'.repeat(1024)}`, ErrorCode.InvalidField],
  ])('%s = %j → %s at that path', (path, value, code) => {
    expectProtocolError(() => decodeHopAnswer(encodeMessage(withField(signed, path, value))), code, path);
    expectProtocolError(() => validateAnswer(withField(signed.answer, path.slice('answer.'.length), value)), code, path);
  });
});

describe('trail hops with providerInfo and stirShaken', () => {
  const hop = trailOrigin.hops[1]!;
  const trail: Trail = {
    ...trailOrigin,
    hops: [
      trailOrigin.hops[0]!,
      {
        ...hop,
        answer: { ...hop.answer!, stirShaken } as typeof hop.answer,
        providerInfo: {
          name: 'Acme Voice LLC',
          frn: '0012345678',
          ocn: '123A',
          rmdStatus: 'certified',
          verified: true,
          flags: [{ name: 'high_risk_origin', raisedAt: T0 - 1000, reason: '3 trails within 60 days (threshold 3)' }],
        },
        stirShaken: trailStirShaken(stirShaken, trailOrigin.call),
      },
    ],
  };

  it('round-trip', () => {
    expect(decodeTrail(encodeMessage(trail))).toEqual(trail);
    const minimal = { ...trail, hops: [{ ...trail.hops[1]!, providerInfo: { verified: false, flags: [] } }] };
    expect(decodeTrail(encodeMessage(minimal))).toEqual(minimal);
  });

  it.each([
    ['hops[1].providerInfo.verified', undefined, ErrorCode.MissingField],
    ['hops[1].providerInfo.flags', 'noncooperative', ErrorCode.InvalidField],
    ['hops[1].providerInfo.flags[0].name', 'shady', ErrorCode.InvalidField],
    ['hops[1].providerInfo.flags[0].raisedAt', -1, ErrorCode.InvalidField],
    ['hops[1].providerInfo.rmdStatus', 'maybe', ErrorCode.InvalidField],
    ['hops[1].stirShaken.attestation', 'D', ErrorCode.InvalidField],
    ['hops[1].stirShaken.findings', undefined, ErrorCode.MissingField],
    ['hops[1].stirShaken.findings[0].check', 'vibes', ErrorCode.InvalidField],
    ['hops[1].stirShaken.passport.destTn', '12155550131', ErrorCode.InvalidField],
    ['hops[1].stirShaken.passport.signatureVerified', 'no', ErrorCode.InvalidField],
    ['hops[1].answer.stirShaken.identity', 'x.y.z', ErrorCode.InvalidField],
  ])('%s = %j → %s', (path, value, code) => {
    expectProtocolError(() => decodeTrail(encodeMessage(withField(trail, path, value))), code, path);
  });
});
