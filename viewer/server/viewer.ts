import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import { toMs, type Duration } from '../../engine/index.js';
import { ViewerApp } from './app.js';
import { Access, type Login } from './auth.js';
import { ViewerError, ViewerErrorCode } from './errors.js';
import { isLoopback } from './http.js';
import { TracebackIndex } from './index-store.js';
import { LiveHub } from './live.js';
import { StaticFiles, defaultPublicDir } from './static.js';
import { watchBuckets } from './watch.js';

export interface ViewerOptions {
  /** NATS URL(s) when no `connection` is given. @default process.env.NATS_URL or "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** An open connection to use; the viewer does not close it. */
  connection?: NatsConnection;
  /** HTTP port; 0 picks a free one. @default 8080 */
  port?: number;
  /** Address to bind. @default "127.0.0.1" */
  host?: string;
  /**
   * Demo mode: requests without a session act as an operator, and the login page offers a
   * password-less carrier inbox. Refused unless `host` is a loopback address. @default false
   */
  demo?: boolean;
  /** Operator and carrier logins (see `loadLogins`). Without any, only demo mode is usable. @default [] */
  logins?: Login[];
  /** How long a login lasts. @default "12h" */
  sessionTtl?: Duration;
  /** Where the built client is. @default dist/viewer/public */
  publicDir?: string;
  logger?: Logger;
}

/** A running viewer. */
export interface Viewer extends AsyncDisposable {
  /** `http://host:port/`. */
  readonly url: string;
  readonly index: TracebackIndex;
  /** Resolves once the stored tracebacks are all in the index. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface CompiledViewerOptions {
  servers: string[];
  connection: NatsConnection | undefined;
  port: number;
  host: string;
  demo: boolean;
  logins: Login[];
  sessionTtlMs: number;
  publicDir: string;
  logger: Logger;
}

function invalid(message: string): never {
  throw new ViewerError(ViewerErrorCode.InvalidOptions, message);
}

/** Validates options once and fills defaults. */
export function compileViewerOptions(options: ViewerOptions): CompiledViewerOptions {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) invalid(`port must be an integer in [0, 65535], got ${port}`);
  const demo = options.demo ?? false;
  if (demo && !isLoopback(host)) {
    throw new ViewerError(ViewerErrorCode.DemoNotLoopback, `demo mode serves without login, so it binds loopback only (127.0.0.1, ::1, localhost), not ${host}`);
  }
  const logins = options.logins ?? [];
  if (!demo && logins.length === 0) {
    throw new ViewerError(ViewerErrorCode.NoLogins, 'no logins configured: pass --config FILE (see `robotrace viewer hash-password`) or --demo on loopback');
  }
  const servers = options.servers ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  return {
    servers: Array.isArray(servers) ? servers : [servers],
    connection: options.connection,
    port,
    host,
    demo,
    logins,
    sessionTtlMs: toMs(options.sessionTtl ?? '12h', 'sessionTtl'),
    publicDir: options.publicDir ?? defaultPublicDir(),
    logger: options.logger ?? pino({ name: 'robotrace-viewer', level: process.env['LOG_LEVEL'] ?? 'info' }),
  };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Starts the trace viewer: connects to NATS, loads every traceback record into an in-memory
 * index (and keeps it current with KV watches), and serves the web app and its API.
 *
 * @example
 * ```ts
 * const viewer = await startViewer({ servers: 'nats://127.0.0.1:4222', port: 0, demo: true });
 * console.log(viewer.url);
 * await viewer.stop();
 * ```
 */
export async function startViewer(options: ViewerOptions = {}): Promise<Viewer> {
  const o = compileViewerOptions(options);
  const logger = o.logger;
  const owns = o.connection === undefined;
  const nc =
    o.connection ??
    (await connect({ servers: o.servers, name: 'robotrace-viewer', maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 }));
  const index = new TracebackIndex();
  const watch = watchBuckets(nc, index, logger);
  const hub = new LiveHub(nc, index, logger);
  const app = new ViewerApp({
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    index,
    hub,
    access: new Access(o.logins, o.sessionTtlMs),
    files: new StaticFiles(o.publicDir),
    demo: o.demo,
    sessionTtlMs: o.sessionTtlMs,
    logger,
    now: Date.now,
  });
  const server = createServer(app.handle);
  server.keepAliveTimeout = 5_000;
  let address: AddressInfo;
  try {
    address = await listen(server, o.port, o.host);
  } catch (err) {
    hub.close();
    await watch.stop();
    if (owns) await nc.close();
    throw err;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/`;
  logger.info({ url, demo: o.demo, logins: o.logins.length }, 'viewer listening');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      hub.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await watch.stop();
      if (owns && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    })();
    return stopping;
  };
  return {
    url,
    index,
    async ready(timeoutMs = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ViewerError(ViewerErrorCode.Unavailable, `index not loaded after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([index.whenReady(), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
