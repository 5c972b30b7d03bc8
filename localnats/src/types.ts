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
  /**
   * SIGKILL now (a crash, for fault tests) and wait for the exit. Keeps the store.
   * `'SIGTERM'` asks for a clean shutdown instead (escalated to SIGKILL after 5 s).
   * @default 'SIGKILL'
   */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /**
   * Start again on the same port with the same store, and wait for readiness.
   * A running server is stopped gracefully first. Retries while the port is still taken.
   */
  restart(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /**
   * Number of nats-servers. JetStream needs a majority for its meta group, so 3 survives one node down.
   * @default 3
   */
  size?: number;
  /**
   * Cluster name (`cluster { name }`); node `i` (1-based) is named `<name>-<i>`.
   * @default 'robotrace-local-<random hex>'
   */
  name?: string;
  /**
   * Directory holding one store directory per node (`<storeRoot>/<node name>`); it is never removed.
   * When omitted, a fresh directory under `os.tmpdir()` is created and removed by `stop()`.
   * @default a new temp dir
   */
  storeRoot?: string;
  /** Receives lifecycle events of every node. @default no logging */
  logger?: LocalNatsLogger;
  /**
   * Install the binary when missing (see {@link EnsureNatsServerOptions.install}).
   * @default false
   */
  install?: boolean;
  /**
   * Deadline for the whole cluster to form (all nodes ready, a meta leader, every node current), in ms.
   * @default 30000
   */
  startTimeoutMs?: number;
}

/** One nats-server of a {@link LocalCluster}. */
export interface LocalClusterNode {
  /** `server_name`, also its JetStream peer name: `<cluster name>-<i>`. */
  readonly name: string;
  /** Client URL `nats://127.0.0.1:PORT`; the same after `restart()`. */
  readonly url: string;
  /** Route URL other nodes dial, `nats-route://127.0.0.1:PORT`. */
  readonly routeUrl: string;
  /** Monitoring base URL (`/jsz`, `/healthz`, `/routez`), `http://127.0.0.1:PORT`. */
  readonly monitorUrl: string;
  /** Pid of the current process (changes on `restart()`). */
  readonly pid: number;
  /** This node's JetStream store directory; kept across `kill()` and `restart()`. */
  readonly storeDir: string;
  /** Lifecycle state of the process. */
  readonly state: LocalNatsState;
  /** Resolves when the current process exits; never rejects. */
  readonly exited: Promise<LocalNatsExit>;
  /**
   * Signal the process and wait for it to exit. `'SIGKILL'` is a real crash (for fault tests); the store
   * is kept so `restart()` can bring the node back.
   * @default 'SIGKILL'
   */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /**
   * Start the node again with the same ports and store, and resolve once the meta leader lists it as a
   * current peer (it rejoined). A running node is stopped gracefully first.
   */
  restart(): Promise<void>;
}

/**
 * A JetStream cluster of local nats-servers started by {@link startLocalCluster}.
 *
 * @example
 * ```ts
 * await using cluster = await startLocalCluster({ size: 3 });
 * const nc = await connect({ servers: cluster.urls });
 * await jsm.streams.add({ name: 'S', subjects: ['s.>'], num_replicas: 3 });
 * ```
 */
export interface LocalCluster extends AsyncDisposable {
  /** Cluster name. */
  readonly name: string;
  /** Client URL of every node, in node order; pass them all so clients fail over. */
  readonly urls: string[];
  readonly nodes: readonly LocalClusterNode[];
  /** Server version, e.g. `'2.9.10'`. */
  readonly version: string;
  /** Name of the current JetStream meta leader, asked of the running nodes; `undefined` when there is none. */
  metaLeader(): Promise<string | undefined>;
  /**
   * Resolves once a meta leader exists and lists every running node as current.
   * @throws NatsClusterStartError after `timeoutMs`.
   */
  waitFormed(timeoutMs?: number): Promise<void>;
  /** Stop every node (SIGTERM, then SIGKILL after 5 s) and remove temp directories. Idempotent. */
  stop(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
