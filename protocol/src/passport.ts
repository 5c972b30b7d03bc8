import { ErrorCode, ProtocolError } from './errors.js';
import {
  ATTESTATIONS,
  type Attestation,
  type CallData,
  type PassportClaims,
  type StirShaken,
  type StirShakenFinding,
  type TrailStirShaken,
} from './messages.js';
import { normalizeE164 } from './phone.js';

/**
 * Reading SHAKEN PASSporTs (RFC 8225, RFC 8588) from a SIP `Identity` header (RFC 8224) and
 * checking their claims against the call. Decoding only: the ES256 signature needs the signer's
 * certificate (header `x5u`) and the STI-CA trust chain, which an offline decoder does not have,
 * so claims are evidence to confirm, never proof.
 */

/** Longest `Identity` header accepted in an answer; real SHAKEN headers are about 450-650 characters. */
export const ANSWER_IDENTITY_MAX = 1024;

/** Largest accepted difference between the PASSporT's `iat` and the call time. */
export const IAT_TOLERANCE_MS = 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** True for a UUID in its canonical 8-4-4-4-12 hex form (either case). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function bad(path: string, why: string): never {
  throw new ProtocolError(ErrorCode.InvalidField, `${path} is not a SHAKEN PASSporT: ${why}`, { path });
}

/** Decodes one base64url JWS segment to a JSON object. `atob` keeps this free of Node's Buffer. */
function segment(part: string, name: string, path: string): Record<string, unknown> {
  if (!BASE64URL.test(part) || part.length % 4 === 1) bad(path, `the ${name} is not base64url`);
  let text: string;
  try {
    const binary = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return bad(path, `the ${name} is not base64url-encoded UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad(path, `the ${name} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(path, `the ${name} is not a JSON object`);
  return value as Record<string, unknown>;
}

function text(map: Record<string, unknown>, key: string, where: string, path: string, max = 512): string {
  const value = map[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) bad(path, `${where} ${key} must be a non-empty string of at most ${max} characters`);
  return value;
}

function tn(map: Record<string, unknown>, key: 'orig' | 'dest', path: string): unknown {
  const value = map[key];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(path, `payload ${key} must be an object with tn`);
  return (value as Record<string, unknown>)['tn'];
}

/**
 * Reads the claims of a SIP `Identity` header value: the full-form compact JWS, optionally followed
 * by `;info=<…>` and other parameters. The header must be a SHAKEN PASSporT (`ppt: shaken`, with
 * `alg` and `x5u`), the payload must carry `attest`, `origid`, `orig.tn`, `dest.tn` and `iat`.
 * The signature is NOT verified (see the module comment); `signatureVerified` is always false.
 *
 * @throws ProtocolError `INVALID_FIELD` at `path`, saying what is wrong.
 * @example
 * ```ts
 * const claims = parsePassport(answer.stirShaken.identity, 'answer.stirShaken.identity');
 * claims.attest; // 'A'
 * ```
 */
export function parsePassport(identity: string, path: string): PassportClaims {
  const jws = (identity.split(';')[0] ?? '').trim();
  const parts = jws.split('.');
  if (parts.length !== 3) bad(path, `expected header.payload.signature, found ${parts.length} part${parts.length === 1 ? '' : 's'}`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  if (headerPart === '' || payloadPart === '') bad(path, 'the compact form without header and payload carries no claims; send the full form');
  if (signaturePart === '' || !BASE64URL.test(signaturePart)) bad(path, 'the signature is missing or not base64url');
  const header = segment(headerPart, 'header', path);
  const payload = segment(payloadPart, 'payload', path);
  if (header['ppt'] !== 'shaken') bad(path, `header ppt must be "shaken", got ${JSON.stringify(header['ppt'] ?? null)}`);
  const alg = text(header, 'alg', 'header', path, 32);
  const x5u = text(header, 'x5u', 'header', path);
  const attest = payload['attest'];
  if (typeof attest !== 'string' || !(ATTESTATIONS as readonly string[]).includes(attest)) {
    bad(path, `payload attest must be one of ${ATTESTATIONS.join(', ')}, got ${JSON.stringify(attest ?? null)}`);
  }
  const origid = text(payload, 'origid', 'payload', path, 128);
  const origTn = tn(payload, 'orig', path);
  if (typeof origTn !== 'string' || origTn.length === 0 || origTn.length > 32) bad(path, 'payload orig.tn must be a telephone number string');
  const destTn = tn(payload, 'dest', path);
  if (!Array.isArray(destTn) || destTn.length === 0 || destTn.length > 16 || !destTn.every((d) => typeof d === 'string' && d.length > 0 && d.length <= 32)) {
    bad(path, 'payload dest.tn must be a non-empty array of telephone number strings');
  }
  const iat = payload['iat'];
  if (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat < 0) bad(path, 'payload iat must be an integer number of seconds');
  return { alg, x5u, attest: attest as Attestation, origid, origTn, destTn: [...(destTn as string[])], iat, signatureVerified: false };
}

/** The number as E.164, or undefined when it is not a valid one. */
function e164(value: string): string | undefined {
  try {
    return normalizeE164(value, 'tn');
  } catch {
    return undefined;
  }
}

/**
 * Checks a PASSporT's claims against the call and what the provider declared: `attest` and
 * `origid` equal the declared ones, `orig.tn` is the caller ID, the called number is among
 * `dest.tn`, and `iat` is within 60 s of the call time. One finding per check, in that order.
 */
export function checkPassport(claims: PassportClaims, declared: Pick<StirShaken, 'attestation' | 'origId'>, call: Pick<CallData, 'calling' | 'called' | 'time'>): StirShakenFinding[] {
  const findings: StirShakenFinding[] = [];
  const add = (check: StirShakenFinding['check'], ok: boolean, detail: string) => findings.push({ check, ok, detail });
  add('attest', claims.attest === declared.attestation, `attest ${claims.attest}${claims.attest === declared.attestation ? ' =' : ' differs from'} declared ${declared.attestation}`);
  const sameId = claims.origid.toLowerCase() === declared.origId.toLowerCase();
  add('origid', sameId, sameId ? 'origid = declared origId' : `origid ${claims.origid} differs from declared ${declared.origId}`);
  const orig = e164(claims.origTn);
  add(
    'orig_tn',
    orig === call.calling,
    orig === undefined ? `orig.tn ${claims.origTn} is not a valid number` : `orig.tn ${claims.origTn}${orig === call.calling ? ' =' : ' is not'} caller ID ${call.calling}`,
  );
  const dest = claims.destTn.map(e164);
  const toCalled = dest.includes(call.called);
  add('dest_tn', toCalled, `dest.tn ${claims.destTn.join(' ')}${toCalled ? ' includes' : ' does not include'} called ${call.called}`);
  const offsetS = Math.round((claims.iat * 1000 - call.time) / 1000);
  const inTime = Math.abs(claims.iat * 1000 - call.time) <= IAT_TOLERANCE_MS;
  add('iat', inTime, `iat ${offsetS >= 0 ? '+' : ''}${offsetS} s from the call time${inTime ? '' : ` (over ${IAT_TOLERANCE_MS / 1000} s)`}`);
  return findings;
}

/**
 * The trail's view of a hop's STIR/SHAKEN data: the declared attestation and origId, and, when the
 * `Identity` header was given, its claims and the checks against the call. Pure and total: an
 * identity that no longer parses (stored before validation existed) yields a failed finding
 * instead of an exception, so a trail can always be built.
 */
export function trailStirShaken(stirShaken: StirShaken, call: Pick<CallData, 'calling' | 'called' | 'time'>): TrailStirShaken {
  const out: TrailStirShaken = { attestation: stirShaken.attestation, origId: stirShaken.origId, findings: [] };
  if (stirShaken.identity === undefined) return out;
  try {
    out.passport = parsePassport(stirShaken.identity, 'identity');
  } catch (err) {
    out.findings.push({ check: 'identity', ok: false, detail: `identity unreadable: ${(err as Error).message}`.slice(0, 256) });
    return out;
  }
  out.findings = checkPassport(out.passport, stirShaken, call);
  return out;
}
