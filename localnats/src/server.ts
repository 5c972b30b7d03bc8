import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsServerStartError, NatsServerVersionError } from './errors.js';
import { ensureNatsServer, findNatsServer } from './find.js';
import type { LocalNats, LocalNatsExit, LocalNatsLogger, LocalNatsOptions, LocalNatsState } from './types.js';
import { MIN_NATS_SERVER_VERSION, versionAtLeast } from './version.js';

const STOP_GRACE_MS = 5_000;
const POLL_MS = 20;
const STDERR_TAIL_LINES = 50;
const RESTART_ATTEMPTS = 5;

/** Every instance not yet stopped; the process 'exit' hook kills their children. */
const live = new Set<LocalNatsImpl>();
let exitHookInstalled = false;

export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL and rmSync only.
  process.on('exit', () => {
    for (const ns of live) ns.killSync();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Client-facing address for a listen address (wildcards are reached through loopback). */
function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function natsUrl(host: string, port: number): string {
  return `nats://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Route listener of a clustered server (see `cluster.ts`). */
export interface ClusterSettings {
  name: string;
  /** Fixed cluster port, so a restarted node is found again at the same route URL. */
  port: number;
  /** Route URLs of every node (its own included; the server ignores a route to itself). */
  routes: readonly string[];
}

/** Everything one server process needs; built once by `startLocalNats` or `startLocalCluster`. */
export interface ServerSettings {
  bin: string;
  host: string;
  storeDir: string;
  ownsStore: boolean;
  keepStore: boolean;
  runDir: string;
  jetstream: boolean;
  debug: boolean;
  logger: LocalNatsLogger | undefined;
  startTimeoutMs: number;
  serverName: string;
  /** Monitoring port (`/jsz`, `/healthz`), on the same host; omitted = no monitoring listener. */
  httpPort?: number;
  cluster?: ClusterSettings;
}

export class LocalNatsImpl implements LocalNats {
  #s: ServerSettings;
  #state: LocalNatsState = 'starting';
  #port = -1;
  #version = '';
  #child: ChildProcess | undefined;
  #exit: LocalNatsExit | undefined;
  #exited: Promise<LocalNatsExit> = Promise.resolve({ code: null, signal: null });
  #stderrTail: string[] = [];
  #stopping: Promise<void> | undefined;
  /** Set when we signal the process ourselves, so its exit is not reported as a crash. */
  #exitRequested = false;

  constructor(settings: ServerSettings) {
    this.#s = settings;
  }

  get url(): string {
    return natsUrl(dialHost(this.#s.host), this.#port);
  }
  get port(): number {
    return this.#port;
  }
  get pid(): number {
    return this.#child?.pid ?? -1;
  }
  get storeDir(): string {
    return this.#s.storeDir;
  }
  get version(): string {
    return this.#version;
  }
  get state(): LocalNatsState {
    return this.#state;
  }
  get exited(): Promise<LocalNatsExit> {
    return this.#exited;
  }

  get #running(): boolean {
    return this.#child !== undefined && this.#exit === undefined;
  }

  /** Spawns the server on `port` (-1 = any) and resolves once a client round trip succeeded. */
  async start(port: number): Promise<void> {
    const { bin, runDir, debug, logger } = this.#s;
    this.#state = 'starting';
    const portsDir = path.join(runDir, 'ports');
    // A SIGKILLed server leaves its ports file behind; start from an empty directory.
    await rm(portsDir, { recursive: true, force: true });
    await mkdir(portsDir, { recursive: true });
    const confPath = path.join(runDir, 'nats-server.conf');
    await writeFile(confPath, this.#config(port, portsDir));

    const child = spawn(bin, ['-c', confPath, ...(debug ? ['-DV'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#exit = undefined;
    this.#exitRequested = false;
    this.#stderrTail = [];
    this.#exited = new Promise<LocalNatsExit>((resolve) => {
      const settle = (exit: LocalNatsExit): void => {
        if (this.#child === child && this.#exit === undefined) {
          this.#exit = exit;
          // A crash while serving; exits during start-up are reported by start() instead.
          if (this.#state === 'running' && !this.#exitRequested) {
            logger?.warn({ pid: child.pid, ...exit }, 'nats-server exited unexpectedly');
          }
          if (this.#state === 'running') this.#state = 'exited';
        }
        resolve(exit);
      };
      child.once('exit', (code, signal) => settle({ code, signal }));
      // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'.
      child.once('error', (err) => {
        this.#pushLog(`spawn failed: ${err.message}`);
        settle({ code: null, signal: null });
      });
    });
    this.#pipeLog(child);
    live.add(this);

    try {
      await this.#waitReady(child, portsDir);
    } catch (err) {
      await this.#terminate('SIGKILL');
      this.#state = 'exited';
      throw err;
    }
    this.#state = 'running';
    logger?.info({ url: this.url, pid: child.pid, version: this.#version }, 'nats-server ready');
  }

  #config(port: number, portsDir: string): string {
    const { host, storeDir, jetstream, serverName, httpPort, cluster } = this.#s;
    const q = (s: string): string => JSON.stringify(s);
    return [
      '# Generated by robotrace localnats for one local test/dev server.',
      `server_name: ${q(serverName)}`,
      `host: ${q(host)}`,
      `port: ${port}`,
      `ports_file_dir: ${q(portsDir)}`,
      ...(httpPort === undefined ? [] : [`http: ${q(`${host}:${httpPort}`)}`]),
      ...(jetstream ? ['jetstream {', `  store_dir: ${q(storeDir)}`, '}'] : []),
      ...(cluster === undefined
        ? []
        : [
            'cluster {',
            `  name: ${q(cluster.name)}`,
            `  listen: ${q(`${host}:${cluster.port}`)}`,
            `  routes: [${cluster.routes.map(q).join(', ')}]`,
            '}',
          ]),
      '',
    ].join('\n');
  }

  #pushLog(line: string): void {
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
  }

  #pipeLog(child: ChildProcess): void {
    const { debug, logger } = this.#s;
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        this.#pushLog(line);
        if (debug) logger?.debug({ pid: child.pid, line }, 'nats-server log');
      }
    };
    // Always drained: an unread pipe would eventually block the server's logging.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  async #waitReady(child: ChildProcess, portsDir: string): Promise<void> {
    const { host, jetstream, startTimeoutMs } = this.#s;
    const deadline = Date.now() + startTimeoutMs;
    let phase = 'ports file';
    let lastError = '';

    const failIfDone = (): void => {
      if (this.#exit !== undefined) {
        const how = this.#exit.signal ?? `code ${this.#exit.code}`;
        throw new NatsServerStartError(`nats-server exited (${how}) before it was ready`, {
          stderrTail: [...this.#stderrTail],
          exitCode: this.#exit.code,
        });
      }
      if (Date.now() > deadline) {
        const last = lastError === '' ? '' : ` (last error: ${lastError})`;
        throw new NatsServerStartError(`nats-server not ready after ${startTimeoutMs}ms waiting for ${phase}${last}`, {
          stderrTail: [...this.#stderrTail],
        });
      }
    };
    // Waits one poll interval, cut short by the process exiting.
    const pause = async (): Promise<void> => {
      await Promise.race([delay(POLL_MS), this.#exited]);
    };
    const remaining = (): number => Math.max(100, deadline - Date.now());

    // 1. Ports file: `<exe>_<pid>.ports` = {"nats":["nats://127.0.0.1:PORT"]}.
    let port: number | undefined;
    while (port === undefined) {
      failIfDone();
      port = await readPortsFile(portsDir, child.pid).catch((err: unknown) => {
        lastError = errorText(err);
        return undefined;
      });
      if (port === undefined) await pause();
    }
    this.#port = port;

    // 2. TCP probe.
    phase = `TCP connect to ${dialHost(host)}:${port}`;
    while (!(await tcpProbe(dialHost(host), port, Math.min(1_000, remaining())))) {
      failIfDone();
      await pause();
    }

    // 3. A client round trip (with JetStream, an account-info request), which also gives the version.
    phase = jetstream ? 'JetStream account info' : 'client connect';
    for (;;) {
      failIfDone();
      try {
        this.#version = await probeClient(this.url, jetstream, Math.min(2_000, remaining()));
        break;
      } catch (err) {
        lastError = errorText(err);
        await pause();
      }
    }
    if (!versionAtLeast(this.#version, MIN_NATS_SERVER_VERSION)) {
      throw new NatsServerVersionError(this.#version, MIN_NATS_SERVER_VERSION);
    }
  }

  /** Signals the current process and waits for it; escalates SIGTERM to SIGKILL after the grace period. */
  async #terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.#running) {
      await this.#exited;
      return;
    }
    this.#exitRequested = true;
    child.kill(signal);
    if (signal === 'SIGTERM') {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
      });
      const first = await Promise.race([this.#exited, graceOver]);
      clearTimeout(timer);
      if (first === 'timeout') {
        this.#s.logger?.warn({ pid: child.pid }, 'nats-server ignored SIGTERM; sending SIGKILL');
        child.kill('SIGKILL');
      }
    }
    await this.#exited;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    await this.#terminate('SIGTERM');
    const { runDir, storeDir, ownsStore, keepStore, logger } = this.#s;
    await rm(runDir, { recursive: true, force: true });
    if (ownsStore && !keepStore) await rm(storeDir, { recursive: true, force: true });
    live.delete(this);
    this.#state = 'stopped';
    logger?.info({ port: this.#port, storeDir: keepStore || !ownsStore ? storeDir : undefined }, 'nats-server stopped');
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    await this.#terminate(signal);
    this.#state = 'exited';
  }

  async restart(): Promise<void> {
    if (this.#stopping !== undefined) throw new Error('LocalNats.restart(): the server was stopped');
    await this.#terminate('SIGTERM');
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start(this.#port);
        return;
      } catch (err) {
        // The old socket can linger briefly after the process died; back off and retry.
        if (!(NatsServerStartError.is(err) && err.addressInUse) || attempt >= RESTART_ATTEMPTS) throw err;
        this.#s.logger?.debug({ port: this.#port, attempt }, 'port still in use; retrying restart');
        await delay(100 * attempt);
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Last-resort cleanup from the process 'exit' hook: synchronous only. */
  killSync(): void {
    const { runDir, storeDir, ownsStore, keepStore } = this.#s;
    const pid = this.#child?.pid;
    if (this.#running && pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(runDir, { recursive: true, force: true });
    if (ownsStore && !keepStore) rmSync(storeDir, { recursive: true, force: true });
  }
}

async function readPortsFile(dir: string, pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const name = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
  if (name === undefined) return undefined;
  // The file may be caught half-written; a parse error just means "poll again".
  const parsed = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { nats?: unknown };
  const first = Array.isArray(parsed.nats) ? parsed.nats[0] : undefined;
  if (typeof first !== 'string') return undefined;
  const port = Number(new URL(first).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

async function probeClient(url: string, jetstream: boolean, timeoutMs: number): Promise<string> {
  const nc = await connect({ servers: url, reconnect: false, timeout: timeoutMs, name: 'robotrace-localnats-probe' });
  try {
    if (jetstream) {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
      await jsm.getAccountInfo();
    } else {
      await nc.flush();
    }
    return nc.info?.version ?? '';
  } finally {
    await nc.close();
  }
}

/**
 * Starts a local nats-server (JetStream on, loopback only, random port by default) and resolves
 * once it serves clients.
 *
 * @throws NatsServerMissingError when the binary is missing (see `install`).
 * @throws NatsServerStartError when the process exits early or misses the start deadline.
 * @throws NatsServerVersionError when the server is older than {@link MIN_NATS_SERVER_VERSION}.
 */
export async function startLocalNats(options: LocalNatsOptions = {}): Promise<LocalNats> {
  const { port = -1, host = '127.0.0.1', keepStore = false, jetstream = true, debug = false, logger } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  if (!(port === -1 || (Number.isInteger(port) && port > 0 && port < 65_536))) {
    throw new Error(`startLocalNats: port must be -1 (random) or 1..65535, got ${port}`);
  }
  const bin = options.install === true ? await ensureNatsServer({ install: true, logger }) : await findNatsServer();

  installExitHook();
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'robotrace-nats-run-'));
  let storeDir: string;
  const ownsStore = options.storeDir === undefined;
  if (options.storeDir === undefined) {
    storeDir = await mkdtemp(path.join(os.tmpdir(), 'robotrace-nats-store-'));
  } else {
    storeDir = path.resolve(options.storeDir);
    await mkdir(storeDir, { recursive: true });
  }
  const ns = new LocalNatsImpl({
    bin,
    host,
    storeDir,
    ownsStore,
    keepStore,
    runDir,
    jetstream,
    debug,
    logger,
    startTimeoutMs,
    serverName: `robotrace-local-${randomBytes(4).toString('hex')}`,
  });
  try {
    await ns.start(port);
  } catch (err) {
    await ns.stop();
    throw err;
  }
  return ns;
}
