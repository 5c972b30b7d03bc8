/** Why the viewer refused to start or to answer. Callers branch on `code`, never on message text. */
export const ViewerErrorCode = {
  /** The logins file is missing, unreadable or malformed. */
  InvalidConfig: 'INVALID_CONFIG',
  /** Demo mode (no login) was asked for on an address other than loopback. */
  DemoNotLoopback: 'DEMO_NOT_LOOPBACK',
  /** Neither logins nor demo mode: nobody could use the viewer. */
  NoLogins: 'NO_LOGINS',
  /** Invalid options passed to `startViewer`. */
  InvalidOptions: 'INVALID_OPTIONS',
  /** Not logged in (HTTP 401). */
  Unauthenticated: 'UNAUTHENTICATED',
  /** Logged in, but this login may not see or do that (HTTP 403). */
  Forbidden: 'FORBIDDEN',
  /** No such traceback, hop or route (HTTP 404). */
  NotFound: 'NOT_FOUND',
  /** The request body is not what the endpoint takes (HTTP 400). */
  BadRequest: 'BAD_REQUEST',
  /** The hop is no longer open: answered, missed, cancelled (HTTP 409). */
  HopClosed: 'HOP_CLOSED',
  /** NATS or the engine did not answer (HTTP 503). */
  Unavailable: 'UNAVAILABLE',
  /** Too many failed logins for this user; wait (HTTP 429). */
  TooManyAttempts: 'TOO_MANY_ATTEMPTS',
} as const;
export type ViewerErrorCode = (typeof ViewerErrorCode)[keyof typeof ViewerErrorCode];

const STATUS: Record<ViewerErrorCode, number> = {
  INVALID_CONFIG: 500,
  DEMO_NOT_LOOPBACK: 500,
  NO_LOGINS: 500,
  INVALID_OPTIONS: 500,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_REQUEST: 400,
  HOP_CLOSED: 409,
  UNAVAILABLE: 503,
  TOO_MANY_ATTEMPTS: 429,
};

export class ViewerError extends Error {
  override readonly name = 'ViewerError';
  readonly path: string | undefined;

  constructor(
    readonly code: ViewerErrorCode,
    message: string,
    options: { cause?: unknown; path?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.path = options.path;
  }

  /** HTTP status an API response for this error carries. */
  get status(): number {
    return STATUS[this.code];
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is ViewerError {
    return err instanceof Error && err.name === 'ViewerError' && typeof (err as { code?: unknown }).code === 'string';
  }
}
