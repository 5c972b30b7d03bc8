import { sign, verify } from 'node:crypto';
import { ProtocolError, decodeTrail, encodeMessage, type Trail } from '../../protocol/index.js';
import { canonicalBytes } from './canonical.js';
import { verifyChain } from './chain.js';
import { EvidenceError, EvidenceErrorCode } from './errors.js';
import {
  VerifyFailure,
  type ChainState,
  type EngineKey,
  type PublicKey,
  type TrailEvidence,
  type UnsignedTrail,
  type VerifyOptions,
  type VerifyResult,
} from './types.js';

/**
 * The bytes an engine signs and a verifier checks: canonical JSON of the trail with every field,
 * `evidence` included, except `evidence.signature`.
 */
export function signingInput(trail: object): Uint8Array {
  const { evidence, ...body } = trail as { evidence?: unknown };
  if (evidence === null || typeof evidence !== 'object' || Array.isArray(evidence)) return canonicalBytes(body);
  const { signature: _signature, ...rest } = evidence as Record<string, unknown>;
  return canonicalBytes({ ...body, evidence: rest });
}

/**
 * Signs a completed trail: sets `evidence` to the chain's head and length, the key id and the
 * Ed25519 signature over {@link signingInput}. Returns a new trail; any `evidence` on the input is
 * replaced. Publish the result exactly as returned (no field may change afterwards).
 *
 * @throws EvidenceError `CHAIN_ORDER` when `chain` belongs to another traceback; `NOT_CANONICAL`
 *   when the trail holds a value canonical JSON refuses (a float, for instance).
 */
export function signTrail(trail: UnsignedTrail, key: EngineKey, chain: ChainState): Trail {
  if (chain.tracebackId !== undefined && chain.tracebackId !== trail.tracebackId) {
    throw new EvidenceError(EvidenceErrorCode.ChainOrder, `chain of ${chain.tracebackId} cannot sign the trail of ${trail.tracebackId}`);
  }
  const { evidence: _old, ...body } = trail;
  const evidence: Omit<TrailEvidence, 'signature'> = { chainHead: chain.head, eventCount: chain.count, keyId: key.keyId, alg: 'Ed25519' };
  const signature = sign(null, canonicalBytes({ ...body, evidence }), key.privateKey).toString('base64url');
  return { ...body, evidence: { ...evidence, signature } };
}

function failure(code: VerifyFailure, reason: string, tracebackId: unknown): VerifyResult {
  return typeof tracebackId === 'string' ? { ok: false, code, reason, tracebackId } : { ok: false, code, reason };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Checks a trail against the engine's public key(s) (an `EngineKey` is accepted for its public half): the protocol's field rules, the key id, the
 * Ed25519 signature over every field, and — when `options.events` is given — the hash chain of the
 * audit events against `evidence.chainHead` and `evidence.eventCount`.
 *
 * Pass the trail as received (the decoded wire map or parsed JSON with every field), not a value
 * re-built by a decoder that drops unknown fields: the signature covers fields a newer engine adds.
 * Never throws for a bad trail; the result says why it failed.
 *
 * @example
 * ```ts
 * const result = verifyTrail(JSON.parse(line), importPublicKey(pem));
 * if (!result.ok) console.log(result.code, result.reason);
 * ```
 */
export function verifyTrail(
  trail: unknown,
  keys: PublicKey | EngineKey | readonly (PublicKey | EngineKey)[],
  options: VerifyOptions = {},
): VerifyResult {
  if (!isMap(trail)) return failure(VerifyFailure.NotATrail, 'not a trail: expected a map', undefined);
  const id = trail['tracebackId'];
  if (trail['kind'] !== 'trail') return failure(VerifyFailure.NotATrail, `not a trail: kind is ${JSON.stringify(trail['kind'] ?? null)}`, id);
  const evidence = trail['evidence'];
  if (evidence === undefined || evidence === null) return failure(VerifyFailure.Unsigned, 'the trail is not signed (no evidence)', id);
  if (isMap(evidence) && evidence['alg'] !== 'Ed25519') {
    return failure(VerifyFailure.UnsupportedAlg, `unsupported signature algorithm ${JSON.stringify(evidence['alg'] ?? null)}`, id);
  }
  let decoded: Trail;
  try {
    decoded = decodeTrail(encodeMessage(trail));
  } catch (err) {
    const where = ProtocolError.is(err) && err.path !== undefined ? ` (${err.path})` : '';
    return failure(VerifyFailure.NotATrail, `not a valid trail${where}: ${(err as Error).message}`, id);
  }
  const ev = decoded.evidence;
  if (ev === undefined) return failure(VerifyFailure.Unsigned, 'the trail is not signed (no evidence)', id);
  const candidates: readonly (PublicKey | EngineKey)[] = Array.isArray(keys) ? keys : [keys as PublicKey | EngineKey];
  const found = candidates.find((k) => k.keyId === ev.keyId);
  if (found === undefined) {
    const known = candidates.map((k) => k.keyId).join(', ') || 'none';
    return failure(VerifyFailure.UnknownKey, `signed by unknown key ${ev.keyId} (known: ${known})`, id);
  }
  let input: Uint8Array;
  try {
    input = signingInput(trail);
  } catch (err) {
    return failure(VerifyFailure.NotATrail, `not a valid trail: ${(err as Error).message}`, id);
  }
  const publicKey = 'publicKey' in found ? found.publicKey : found.key;
  // Only the canonical base64url spelling counts: the last character of an 86-character
  // signature carries unused bits, and another spelling of the same bytes is a changed trail.
  const signatureBytes = Buffer.from(ev.signature, 'base64url');
  if (signatureBytes.toString('base64url') !== ev.signature || !verify(null, input, publicKey, signatureBytes)) {
    return failure(VerifyFailure.BadSignature, 'bad signature: the trail was changed after it was signed', id);
  }
  let chainChecked = false;
  if (options.events !== undefined) {
    const foreign = options.events.findIndex((e) => !isMap(e) || e['tracebackId'] !== decoded.tracebackId);
    if (foreign !== -1) {
      return failure(VerifyFailure.ChainMismatch, `chain mismatch: event ${foreign + 1} is not an event of ${decoded.tracebackId}`, id);
    }
    const check = verifyChain(options.events, { chainHead: ev.chainHead, eventCount: ev.eventCount });
    if (!check.ok) return failure(VerifyFailure.ChainMismatch, `chain mismatch: ${check.reason}`, id);
    chainChecked = true;
  }
  return { ok: true, tracebackId: decoded.tracebackId, keyId: ev.keyId, chainHead: ev.chainHead, eventCount: ev.eventCount, chainChecked };
}
