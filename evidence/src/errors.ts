/** Codes of {@link EvidenceError}. Branch on these, never on the message. */
export const EvidenceErrorCode = {
  /** The value holds something canonical JSON cannot encode (float, bigint, lone surrogate, Date, …). */
  NotCanonical: 'NOT_CANONICAL',
  /** A chain hash is not 64 lowercase hex digits. */
  BadHash: 'BAD_HASH',
  /** An event was appended out of order (its `seq` is not the chain length + 1) or to another traceback's chain. */
  ChainOrder: 'CHAIN_ORDER',
  /** Key material is not an Ed25519 key, or cannot be parsed. */
  BadKey: 'BAD_KEY',
  /** The stored engine key is unreadable or does not match its recorded key id. */
  KeyStore: 'KEY_STORE',
  /** Nobody answered on the key subject (no engine running, or no permission). */
  KeyServiceUnavailable: 'KEY_SERVICE_UNAVAILABLE',
  /** The key service's reply is malformed, or its key id does not match its key. */
  BadKeyReply: 'BAD_KEY_REPLY',
} as const;
export type EvidenceErrorCode = (typeof EvidenceErrorCode)[keyof typeof EvidenceErrorCode];

const CODES = new Set<string>(Object.values(EvidenceErrorCode));

/** The one error type of `evidence/`. Verification failures are results, not errors (see `VerifyResult`). */
export class EvidenceError extends Error {
  override readonly name = 'EvidenceError';
  readonly code: EvidenceErrorCode;

  constructor(code: EvidenceErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is EvidenceError {
    return err instanceof Error && err.name === 'EvidenceError' && CODES.has((err as EvidenceError).code);
  }
}
