/**
 * Why starting a local nats-server failed. Callers branch on `code`, never on message text.
 */
export const LocalNatsErrorCode = {
  /** No usable `nats-server` binary (and it could not or may not be installed). */
  Missing: 'NATS_SERVER_MISSING',
  /** The binary runs but reports a version older than `MIN_NATS_SERVER_VERSION`. */
  UnsupportedVersion: 'NATS_SERVER_UNSUPPORTED_VERSION',
  /** The process exited, or did not become ready, before the deadline. */
  StartFailed: 'NATS_SERVER_START_FAILED',
  /** A local cluster's nodes did not all start, or JetStream formed no meta group with every node current. */
  ClusterStartFailed: 'NATS_CLUSTER_START_FAILED',
} as const;
export type LocalNatsErrorCode = (typeof LocalNatsErrorCode)[keyof typeof LocalNatsErrorCode];

/** The one-line instruction shown when the binary is missing. */
export const INSTALL_HINT = 'install it with `apt-get install nats-server` or set NATS_SERVER_BIN';

function isNamed(err: unknown, name: string, code: string): boolean {
  return err instanceof Error && err.name === name && (err as { code?: unknown }).code === code;
}

/** `nats-server` could not be found (or installed). The message is a one-line fix. */
export class NatsServerMissingError extends Error {
  override readonly name = 'NatsServerMissingError';
  readonly code = LocalNatsErrorCode.Missing;
  /** Where we looked (`NATS_SERVER_BIN` value, or the PATH entries searched). */
  readonly searched: readonly string[];

  constructor(options: { detail?: string; searched?: readonly string[]; cause?: unknown } = {}) {
    const where = options.detail === undefined ? '' : ` (${options.detail})`;
    super(
      `nats-server not found${where}: ${INSTALL_HINT}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.searched = options.searched ?? [];
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is NatsServerMissingError {
    return isNamed(err, 'NatsServerMissingError', LocalNatsErrorCode.Missing);
  }
}

/** The server is older than the minimum robotrace supports. */
export class NatsServerVersionError extends Error {
  override readonly name = 'NatsServerVersionError';
  readonly code = LocalNatsErrorCode.UnsupportedVersion;
  readonly version: string;
  readonly required: string;

  constructor(version: string, required: string) {
    super(`nats-server ${version} is too old: robotrace needs >= ${required}`);
    this.version = version;
    this.required = required;
  }

  static is(err: unknown): err is NatsServerVersionError {
    return isNamed(err, 'NatsServerVersionError', LocalNatsErrorCode.UnsupportedVersion);
  }
}

/** The server process exited early or never became ready. Carries the end of its log. */
export class NatsServerStartError extends Error {
  override readonly name = 'NatsServerStartError';
  readonly code = LocalNatsErrorCode.StartFailed;
  /** Last lines the server wrote to stderr (its log), oldest first. */
  readonly stderrTail: readonly string[];
  /** Exit code, when the process exited; `null` when it was killed by a signal or is still running. */
  readonly exitCode: number | null;
  /** The listen address was taken (parsed once here from the server log, so callers need not). */
  readonly addressInUse: boolean;

  constructor(
    reason: string,
    options: { stderrTail?: readonly string[]; exitCode?: number | null; cause?: unknown } = {},
  ) {
    const tail = options.stderrTail ?? [];
    const shown = tail.slice(-10);
    super(
      shown.length === 0 ? reason : `${reason}; server log tail:\n  ${shown.join('\n  ')}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.stderrTail = tail;
    this.exitCode = options.exitCode ?? null;
    this.addressInUse = tail.some((line) => /address already in use/i.test(line));
  }

  static is(err: unknown): err is NatsServerStartError {
    return isNamed(err, 'NatsServerStartError', LocalNatsErrorCode.StartFailed);
  }
}

/**
 * A local cluster did not form: a node failed to start, or JetStream elected no meta leader with
 * every running node current before the deadline. The failing node's error, if any, is the `cause`.
 */
export class NatsClusterStartError extends Error {
  override readonly name = 'NatsClusterStartError';
  readonly code = LocalNatsErrorCode.ClusterStartFailed;
  /** Name of the node that failed, when one did. */
  readonly node: string | undefined;

  constructor(reason: string, options: { node?: string; cause?: unknown } = {}) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.node = options.node;
  }

  static is(err: unknown): err is NatsClusterStartError {
    return isNamed(err, 'NatsClusterStartError', LocalNatsErrorCode.ClusterStartFailed);
  }
}
