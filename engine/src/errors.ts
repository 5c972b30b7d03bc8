/** Engine error codes; callers branch on these, never on message text. */
export const EngineErrorCode = {
  /** nats-server is older than the engine supports. */
  ServerVersion: 'SERVER_VERSION',
  /** A KV compare-and-set lost to another writer. */
  Conflict: 'CONFLICT',
  /** A persisted actor record cannot be read by this build. */
  UnknownRecordVersion: 'UNKNOWN_RECORD_VERSION',
  /** Invalid engine options. */
  InvalidOptions: 'INVALID_OPTIONS',
  /** The engine is not running. */
  NotRunning: 'NOT_RUNNING',
} as const;
export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A failure that will not go away by retrying: the inbound message is terminated. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

/** A failure that may pass (NATS reconnecting, CAS conflict): retry after `retryAfterMs`. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs = 1000,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** This engine does not own the actor's shard now (moving, lost, or not yet recovered). */
export class NotOwnerError extends RetryableError {
  override name = 'NotOwnerError';
  constructor(message: string) {
    super(message, 50);
  }
}

/** A message on a shard's inbox reached an engine that no longer holds the shard: hand it back. */
export class ShardMovedError extends Error {
  override name = 'ShardMovedError';
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value), { cause: value });
}
