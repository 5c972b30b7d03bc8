/** Codes of {@link EnforcementError}. Branch on these, never on the message. */
export const EnforcementErrorCode = {
  /** The filter is not a valid trail subject filter, or names an unknown outcome / a bad token. */
  BadFilter: 'BAD_FILTER',
  /** The agency name is not a token of 1-32 characters `[A-Za-z0-9_-]`. */
  BadAgency: 'BAD_AGENCY',
  /** `from` is not a Date, `'all'`, `'new'` or `{ sequence }` with a positive integer. */
  BadFrom: 'BAD_FROM',
  /** A durable consumer of that name exists with another filter subject. */
  ConsumerMismatch: 'CONSUMER_MISMATCH',
  /** The stream does not exist: no engine has run against this server yet. */
  StreamMissing: 'STREAM_MISSING',
  /** No trail is stored for the traceback asked for. */
  TrailNotFound: 'TRAIL_NOT_FOUND',
} as const;
export type EnforcementErrorCode = (typeof EnforcementErrorCode)[keyof typeof EnforcementErrorCode];

const CODES = new Set<string>(Object.values(EnforcementErrorCode));

/** The one error type of `enforcement/`. */
export class EnforcementError extends Error {
  override readonly name = 'EnforcementError';
  readonly code: EnforcementErrorCode;

  constructor(code: EnforcementErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is EnforcementError {
    return err instanceof Error && err.name === 'EnforcementError' && CODES.has((err as EnforcementError).code);
  }
}
