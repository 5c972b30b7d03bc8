import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli/robotrace.js', import.meta.url));
const LOG_TAIL = 200;

/** Every child the benchmark started and has not seen exit: killed by pid on any way out. */
const children = new Map<number, ChildProcess>();
let hooked = false;

function register(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  children.set(pid, child);
  child.once('exit', () => children.delete(pid));
  if (!hooked) {
    hooked = true;
    process.on('exit', killAllChildrenSync);
  }
}

/** SIGKILL, by pid, every child still running (synchronous: safe in an 'exit' handler). */
export function killAllChildrenSync(): void {
  for (const [pid, child] of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

export function liveChildren(): number[] {
  return [...children.keys()];
}

/** A child process with its stderr tail kept, ready to be stopped or killed by pid. */
export interface Child {
  readonly pid: number;
  readonly name: string;
  readonly log: string[];
  /** Log lines at pino level warn or above. */
  readonly warnings: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`, wait for the exit. */
  stop(graceMs?: number): Promise<void>;
  alive(): boolean;
}

function wrap(child: ChildProcess, name: string, onLine?: (line: string) => void, logFile?: string): Child {
  register(child);
  const file: WriteStream | undefined = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  file?.on('error', () => undefined);
  const log: string[] = [];
  const warnings: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      file?.end();
      resolve({ code, signal });
    }),
  );
  let buffered = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    file?.write(chunk);
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      log.push(line);
      if (log.length > LOG_TAIL) log.shift();
      if (/"level":(4|5|6)0/.test(line) && warnings.length < LOG_TAIL) warnings.push(line);
      onLine?.(line);
    }
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const pid = child.pid as number;
  return {
    pid,
    name,
    log,
    warnings,
    exited,
    alive,
    kill: async () => {
      if (alive()) process.kill(pid, 'SIGKILL');
      await exited;
    },
    stop: async (graceMs = 15_000) => {
      if (alive()) process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (alive()) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface EngineChild extends Child {
  /** When the process was spawned (ms since epoch). */
  spawnedAt: number;
  /** When the `engine running` line arrived (ms since epoch). */
  readyAt: number;
  /** The start-up log lines (`shards recovered`, `engine running`), parsed. */
  startup: Record<string, unknown>[];
  /** Every shard ownership change the engine logged, in order, with the time the line arrived. */
  shardLog: ShardLogLine[];
}

/** `shards acquired` / `shards recovered` / `shards handed over` / `shard leases lost`, parsed from the engine's pino log. */
export interface ShardLogLine {
  msg: 'shards acquired' | 'shards recovered' | 'shards handed over' | 'shard leases lost';
  shards: number[];
  /** The line's pino `time` (ms since epoch, the engine's clock: the same machine's). */
  time: number;
  /** When the benchmark read the line (ms since epoch). */
  receivedAt: number;
  /** `shards recovered`: how long recovery took, and how many actors' outboxes were replayed. */
  ms?: number;
  replayed?: number;
}

const SHARD_LOG_MESSAGES = new Set<string>(['shards acquired', 'shards recovered', 'shards handed over', 'shard leases lost']);

export interface SpawnOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Run `bench/engine-variant.js` with this config instead of `robotrace engine`. */
  variant?: Record<string, unknown>;
  /** Append the child's stderr (its log) to this file. */
  logFile?: string;
}

/**
 * Starts `robotrace engine` from the build as a child process and resolves once it logs
 * `engine running` (recovery and timer loading done).
 */
export async function spawnEngine(natsUrl: string, args: string[], options: SpawnOptions = {}): Promise<EngineChild> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  let resolveReady!: (at: number) => void;
  const ready = new Promise<number>((resolve) => (resolveReady = resolve));
  const spawnedAt = Date.now();
  const command = options.variant
    ? [fileURLToPath(new URL('../engine-variant.js', import.meta.url)), JSON.stringify({ url: natsUrl, ...options.variant })]
    : [CLI, 'engine', '--nats', natsUrl, ...args];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...command], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  const startup: Record<string, unknown>[] = [];
  const shardLog: ShardLogLine[] = [];
  const wrapped = wrap(
    child,
    'engine',
    (line) => {
      if (line.includes('"msg":"shard')) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          const msg = String(parsed['msg']);
          if (SHARD_LOG_MESSAGES.has(msg)) {
            const entry: ShardLogLine = {
              msg: msg as ShardLogLine['msg'],
              shards: Array.isArray(parsed['shards']) ? (parsed['shards'] as unknown[]).map(Number) : [],
              time: Number(parsed['time']),
              receivedAt: Date.now(),
            };
            if (typeof parsed['ms'] === 'number') entry.ms = parsed['ms'];
            if (typeof parsed['replayed'] === 'number') entry.replayed = parsed['replayed'];
            shardLog.push(entry);
          }
        } catch {
          // not JSON: ignore
        }
      }
    if (line.includes('"msg":"engine running"') || line.includes('"msg":"shards recovered"')) {
      try {
        startup.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: ignore
      }
    }
      if (line.includes('"msg":"engine running"')) resolveReady(Date.now());
    },
    options.logFile,
  );
  const timeoutMs = options.readyTimeoutMs ?? 600_000;
  let timer: NodeJS.Timeout | undefined;
  const failed = Promise.race([
    wrapped.exited.then(() => {
      throw new Error(`engine exited before it was ready:\n${wrapped.log.slice(-20).join('\n')}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`engine not ready after ${timeoutMs} ms; last log lines:\n${wrapped.log.slice(-10).join('\n')}`)), timeoutMs);
    }),
  ]);
  try {
    const readyAt = await Promise.race([ready, failed]);
    return { ...wrapped, spawnedAt, readyAt, startup, shardLog };
  } catch (err) {
    await wrapped.kill();
    throw err;
  } finally {
    clearTimeout(timer);
    failed.catch(() => undefined);
  }
}

/** A forked benchmark helper (carriers, bare pipeline) with a request/response channel. */
export interface WorkerChild extends Child {
  call<T>(cmd: string, args?: unknown): Promise<T>;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

export async function forkWorker(script: string, name: string, config: unknown, options: SpawnOptions = {}): Promise<WorkerChild> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = fork(path, [JSON.stringify(config)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv: options.nodeArgs ?? [],
    env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' },
  });
  const wrapped = wrap(child, name, undefined, options.logFile);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; failed?: string } & Partial<Reply>) => {
      if (message.ready) resolve();
      if (message.failed !== undefined) reject(new Error(`${name} failed to start: ${message.failed}`));
      if (message.id !== undefined) {
        const p = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) p?.reject(new Error(`${name}: ${message.error}`));
        else p?.resolve(message.result);
      }
    });
  });
  void wrapped.exited.then(({ code, signal }) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (${code ?? signal})`));
    pending.clear();
  });
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      wrapped.exited.then(() => {
        throw new Error(`${name} exited before it was ready:\n${wrapped.log.slice(-20).join('\n')}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    await wrapped.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const call = <T>(cmd: string, args?: unknown) =>
    new Promise<T>((resolve, reject) => {
      if (!wrapped.alive()) {
        reject(new Error(`${name} is not running`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, args });
    });
  return { ...wrapped, call };
}

/** The child side of `forkWorker`: answers `call`s with the given handlers. */
export function serveParent(handlers: Record<string, (args: unknown) => Promise<unknown> | unknown>): void {
  process.on('message', (message: { id: number; cmd: string; args?: unknown }) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send?.({ id: message.id, result }),
        (err: unknown) => process.send?.({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  // The parent going away (even by SIGKILL) closes the channel: leave too.
  process.on('disconnect', () => process.exit(0));
}

export function configFromArgv<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/**
 * A forked worker's side of the protocol: `take` and `stop` served to the parent, SIGTERM
 * stops it too, and the parent hears it is ready.
 */
export function serveWorker(take: () => unknown, stop: () => Promise<void>): void {
  serveParent({
    take,
    stop: async () => {
      await stop();
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.once('SIGTERM', () => void stop().finally(() => process.exit(0)));
  process.send?.({ ready: true });
}

/** Runs a worker's main; a failure is reported to the parent before the process exits. */
export function runWorker(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.send?.({ failed: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100);
  });
}
