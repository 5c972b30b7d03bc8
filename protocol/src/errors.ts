/**
 * Machine-readable error codes. They travel on the wire in `ProtocolErrorMessage.code`
 * and are the only thing a client should branch on; `message` is for humans.
 */
export const ErrorCode = {
  /** Bytes are not a MessagePack map (truncated, wrong type, trailing bytes). */
  Malformed: 'MALFORMED',
  /** `v` is missing or not a supported protocol version. */
  UnsupportedVersion: 'UNSUPPORTED_VERSION',
  /** Encoded message exceeds `MAX_MESSAGE_BYTES`. */
  TooLarge: 'TOO_LARGE',
  /** `kind` is not the one expected on this subject. */
  UnknownKind: 'UNKNOWN_KIND',
  /** A required field is absent or nil. */
  MissingField: 'MISSING_FIELD',
  /** A field has the wrong type or an out-of-range value. */
  InvalidField: 'INVALID_FIELD',
  /** A phone number is not a valid E.164 number. */
  InvalidNumber: 'INVALID_NUMBER',
  /** The answer names a traceback that does not exist. */
  UnknownTraceback: 'UNKNOWN_TRACEBACK',
  /** The answer names a hop that was never asked. */
  UnknownHop: 'UNKNOWN_HOP',
  /** The answer came from a provider other than the one the hop was asked of. */
  WrongProvider: 'WRONG_PROVIDER',
  /** The hop was already answered differently, timed out, or its traceback ended. */
  HopClosed: 'HOP_CLOSED',
  /** The traceback already ended (cancel of a finished traceback). */
  TracebackClosed: 'TRACEBACK_CLOSED',
  /** No provider actor with that id. */
  UnknownProvider: 'UNKNOWN_PROVIDER',
  /** The provider does not carry that flag. */
  FlagNotSet: 'FLAG_NOT_SET',
  /** The engine could not process the request; safe to retry. */
  Unavailable: 'UNAVAILABLE',
  /** An unexpected failure inside the engine. */
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const ALL_CODES = new Set<string>(Object.values(ErrorCode));

/** Narrows an arbitrary string (e.g. read from the wire) to a known code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ALL_CODES.has(value);
}

/**
 * The one error type of the protocol layer. `path` names the offending field
 * (`call.calling`, `answer.customer.name`) so a client can show where its message was wrong.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is ProtocolError {
    return err instanceof Error && err.name === 'ProtocolError' && isErrorCode((err as ProtocolError).code);
  }
}
