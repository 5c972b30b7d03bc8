import type { KeyObject } from 'node:crypto';
import type { Trail } from '../../protocol/index.js';

/** `Trail.evidence`: what an engine adds to make a trail tamper-evident. */
export type TrailEvidence = NonNullable<Trail['evidence']>;

/** A trail as built by the engine, before it is signed. Any `evidence` it has is replaced by `signTrail`. */
export type UnsignedTrail = Omit<Trail, 'evidence'> & { evidence?: unknown };

/**
 * Running state of one traceback's hash chain. The engine keeps it with the actor (it must survive
 * a crash exactly as the audit events do) and extends it with every audit event it emits.
 *
 * @example
 * ```ts
 * let chain = emptyChain();
 * chain = extendChain(chain, { v: 1, kind: 'traceback_event', ...record }); // the event as published
 * const trail = signTrail(buildTrail(context), engineKey, chain);
 * ```
 */
export interface ChainState {
  /** Lowercase hex SHA-256 of the last link; `GENESIS` when empty. */
  head: string;
  /** Events in the chain; equals the last event's `seq`. */
  count: number;
  /** The traceback the chain belongs to, once it has an event. */
  tracebackId?: string;
}

/** Result of {@link verifyChain}. */
export type ChainCheck =
  | { ok: true; head: string; count: number }
  | {
      ok: false;
      /** 0-based position of the first bad event; `-1` when only the head differs (an edited event). */
      index: number;
      reason: string;
      head?: string;
      count?: number;
    };

/** The engine's signing key. Keep `privateKey` out of logs and messages. */
export interface EngineKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A public key able to verify trails, with its key id. */
export interface PublicKey {
  keyId: string;
  key: KeyObject;
}

/** An Ed25519 public key as a JSON Web Key (RFC 8037 `OKP`). */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  /** The 32-byte raw public key, base64url without padding. */
  x: string;
  /** The robotrace key id. */
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

/** What `tb.keys.engine` answers and `robotrace keys` prints. */
export interface PublicKeyInfo {
  keyId: string;
  alg: 'Ed25519';
  /** SPKI public key, PEM. */
  publicKeyPem: string;
  jwk: Ed25519Jwk;
}

/** Why a trail failed verification. Branch on these codes. */
export const VerifyFailure = {
  /** Not a trail: not a map, wrong `kind`, or a field breaks the protocol's rules. */
  NotATrail: 'NOT_A_TRAIL',
  /** The trail carries no `evidence`: it was never signed. */
  Unsigned: 'UNSIGNED',
  /** `evidence.alg` is not `Ed25519`. */
  UnsupportedAlg: 'UNSUPPORTED_ALG',
  /** No key given has the trail's `evidence.keyId`. */
  UnknownKey: 'UNKNOWN_KEY',
  /** The signature does not match: some field was changed after signing (or the signature was). */
  BadSignature: 'BAD_SIGNATURE',
  /** Events were given and their chain does not end at `evidence.chainHead` / `evidence.eventCount`. */
  ChainMismatch: 'CHAIN_MISMATCH',
} as const;
export type VerifyFailure = (typeof VerifyFailure)[keyof typeof VerifyFailure];

/** Result of {@link verifyTrail}. */
export type VerifyResult =
  | {
      ok: true;
      tracebackId: string;
      keyId: string;
      chainHead: string;
      eventCount: number;
      /** True when events were given and their chain matched; false when only the signature was checked. */
      chainChecked: boolean;
    }
  | {
      ok: false;
      code: VerifyFailure;
      /** One line for a person: what failed and, where known, which field. */
      reason: string;
      tracebackId?: string;
    };

/** Options of {@link verifyTrail}. */
export interface VerifyOptions {
  /**
   * The traceback's audit events (from `tb.events.<id>`, in stream order, as decoded from the wire
   * with every field). When given, their chain must end at the trail's `chainHead` and `eventCount`.
   */
  events?: readonly unknown[];
}
