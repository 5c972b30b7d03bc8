/**
 * The minimal logger localnats writes to. A pino `Logger` (or a child of one) fits as is.
 *
 * @example
 * ```ts
 * import { pino } from 'pino';
 * const ns = await startLocalNats({ logger: pino().child({ component: 'localnats' }) });
 * ```
 */
export interface LocalNatsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link ensureNatsServer}. */
export interface EnsureNatsServerOptions {
  /**
   * Install the OS package `nats-server` with apt-get when the binary is missing, we run as root,
   * and apt-get exists. Never done when `NATS_SERVER_BIN` is set (it names the binary to use).
   * @default true
   */
  install?: boolean;
  /** Receives install progress. @default no logging */
  logger?: LocalNatsLogger;
}

/** Options of {@link startLocalNats}. */
export interface LocalNatsOptions {
  /**
   * Client port. `-1` lets the server pick a free port; read the result from `LocalNats.port`.
   * @default -1
   */
  port?: number;
  /**
   * Listen address. Keep loopback unless you mean to expose an unauthenticated server.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * JetStream store directory. When omitted, a fresh directory under `os.tmpdir()` is created and
   * removed by `stop()` (unless `keepStore`). A directory you pass is never removed.
   * @default a new temp dir
   */
  storeDir?: string;
  /**
   * Keep the temp store directory on `stop()` (to inspect it after a failed test).
   * @default false
   */
  keepStore?: boolean;
  /**
   * Enable JetStream; readiness then includes a JetStream account-info round trip.
   * @default true
   */
  jetstream?: boolean;
  /**
   * Start the server with `-DV` (debug and protocol trace) and forward its log lines to `logger.debug`.
   * @default false
   */
  debug?: boolean;
  /** Receives lifecycle events and, with `debug`, the server's log. @default no logging */
  logger?: LocalNatsLogger;
  /**
   * Install the binary when missing (see {@link EnsureNatsServerOptions.install}).
   * Off by default so that starting a server never runs apt-get unasked.
   * @default false
   */
  install?: boolean;
  /**
   * Deadline for one start (spawn → ports file → TCP → client round trip), in milliseconds.
   * @default 15000
   */
  startTimeoutMs?: number;
}

/**
 * Lifecycle of a {@link LocalNats}.
 */
export type LocalNatsState =
  /** The process is being spawned and probed for readiness. */
  | 'starting'
  /** The server answered a client round trip and is serving. */
  | 'running'
  /** The process is gone (`kill()` or a crash); the store is kept and `restart()` may bring it back. */
  | 'exited'
  /** `stop()` is terminating the process and removing temp directories. */
  | 'stopping'
  /** Stopped for good; `restart()` is no longer allowed. */
  | 'stopped';

/** How the server process ended. */
export interface LocalNatsExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A nats-server child process started by {@link startLocalNats}.
 *
 * @example
 * ```ts
 * await using ns = await startLocalNats();
 * const nc = await connect({ servers: ns.url });
 * ```
 */
export interface LocalNats extends AsyncDisposable {
  /** `nats://HOST:PORT`, ready for `connect({ servers: url })`. */
  readonly url: string;
  /** The actual client port (resolved when started with `port: -1`); stays the same across `restart()`. */
  readonly port: number;
  /** Pid of the current server process (changes on `restart()`). */
  readonly pid: number;
  /** JetStream store directory (without the `jetstream/` subdirectory the server adds). */
  readonly storeDir: string;
  /** Server version from its INFO, e.g. `'2.9.10'`. */
  readonly version: string;
  /** Current lifecycle state. */
  readonly state: LocalNatsState;
  /** Resolves when the current process exits; never rejects. A `restart()` replaces it. */
  readonly exited: Promise<LocalNatsExit>;
  /**
   * SIGTERM, wait up to 5 s, then SIGKILL; removes the temp store unless `keepStore`.
   * Idempotent; safe after `kill()`.
   */
  stop(): Promise<void>;
  /** SIGKILL now (a crash, for fault tests) and wait for the exit. Keeps the store. */
  kill(): Promise<void>;
  /**
   * Start again on the same port with the same store, and wait for readiness.
   * A running server is stopped gracefully first. Retries while the port is still taken.
   */
  restart(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
