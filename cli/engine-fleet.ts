import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** The line `robotrace engine` logs once recovery and timer loading are done (pino `msg`). */
const READY_MSG = '"msg":"engine running"';
/** pino's numeric level of `warn`: engine lines at or above it are shown on our stderr. */
const WARN_LEVEL = 40;
const TAIL_LINES = 40;

/** Why an engine child process could not be started. */
export const EngineFleetErrorCode = {
  /** The process exited before it logged that it was running. */
  ExitedEarly: 'ENGINE_EXITED_EARLY',
  /** It did not log that it was running before the deadline. */
  NotReady: 'ENGINE_NOT_READY',
} as const;
export type EngineFleetErrorCode = (typeof EngineFleetErrorCode)[keyof typeof EngineFleetErrorCode];

/** An engine child failed to start; the message ends with the last lines it logged. */
export class EngineStartError extends Error {
  override readonly name = 'EngineStartError';
  readonly code: EngineFleetErrorCode;
  readonly engineId: string;
  readonly logTail: readonly string[];

  constructor(code: EngineFleetErrorCode, engineId: string, reason: string, logTail: readonly string[]) {
    const shown = logTail.slice(-10);
    super(shown.length === 0 ? `${engineId} ${reason}` : `${engineId} ${reason}; its last log lines:\n  ${shown.join('\n  ')}`);
    this.code = code;
    this.engineId = engineId;
    this.logTail = logTail;
  }
}

/** One `robotrace engine` child process. */
export interface EngineChild {
  readonly id: string;
  readonly pid: number;
  /** Last lines it wrote to stderr (its pino log), oldest first. */
  readonly logTail: readonly string[];
  /** True until the process exits. */
  readonly running: boolean;
  /** Resolves when the process exits; never rejects. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of {@link startEngines}. */
export interface EngineFleetOptions {
  /** One entry per engine: its id (for messages and log files) and the arguments after `engine`. */
  engines: { id: string; args: string[] }[];
  /** Where our messages go (engine exits, forwarded warnings). */
  logger: Logger;
  /** When set, every engine's full log is appended to `<logDir>/<id>.log`. @default not kept */
  logDir?: string;
  /** Deadline for each engine to log that it is running. @default 60000 */
  readyTimeoutMs?: number;
  /** The built CLI to run. @default dist/cli/robotrace.js next to this module */
  cli?: string;
  /**
   * Start the first engine alone and the others once it is running. On a fresh cluster the first engine
   * creates every replicated stream and bucket; engines racing to create the same R3 assets can time out
   * on a small machine.
   * @default true
   */
  firstAlone?: boolean;
}

/** Engine child processes started together; stop them with `stop()`. */
export interface EngineFleet {
  readonly engines: readonly EngineChild[];
  /** SIGTERM to every engine, SIGKILL to those still running after `graceMs`; resolves when all exited. */
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_CLI = fileURLToPath(new URL('./robotrace.js', import.meta.url));

/** Every child not yet exited; a synchronous 'exit' hook kills them so none outlives us. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

class EngineChildImpl implements EngineChild {
  readonly id: string;
  readonly child: ChildProcess;
  readonly logTail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running = true;
  /** Set when we signal the process, so its exit is not reported as a crash. */
  stopping = false;
  /** Exits before readiness are reported by `startEngines()` as an error instead of a warning. */
  isReady = false;
  #ready: Promise<void>;

  constructor(id: string, child: ChildProcess, logger: Logger, logFile: WriteStream | undefined, readyTimeoutMs: number) {
    this.id = id;
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.running = false;
        live.delete(child);
        logFile?.end();
        if (!this.stopping && this.isReady) logger.warn({ engine: id, pid: child.pid, code, signal }, 'engine exited unexpectedly');
        resolve({ code, signal });
      });
      child.once('error', (err) => {
        this.#keep(`spawn failed: ${err.message}`);
        this.running = false;
        live.delete(child);
        resolve({ code: null, signal: null });
      });
    });
    this.#ready = new Promise<void>((resolve, reject) => {
      let partial = '';
      const timer = setTimeout(
        () => reject(new EngineStartError(EngineFleetErrorCode.NotReady, id, `not running after ${readyTimeoutMs}ms`, [...this.logTail])),
        readyTimeoutMs,
      );
      child.stderr?.on('data', (chunk: Buffer) => {
        logFile?.write(chunk);
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue;
          this.#keep(line);
          if (line.includes(READY_MSG)) {
            clearTimeout(timer);
            this.isReady = true;
            resolve();
          }
          if (levelOf(line) >= WARN_LEVEL) process.stderr.write(`[${id}] ${line}\n`);
        }
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new EngineStartError(EngineFleetErrorCode.ExitedEarly, id, `exited (${signal ?? `code ${code}`}) before it was running`, [...this.logTail]));
      });
    });
    // Rejections after readiness (a later exit) are reported by the exit handler, not here.
    this.#ready.catch(() => {});
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  #keep(line: string): void {
    this.logTail.push(line);
    if (this.logTail.length > TAIL_LINES) this.logTail.shift();
  }

  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** pino's numeric `level` of a JSON log line; 0 when the line is not one. */
function levelOf(line: string): number {
  const m = /"level":(\d+)/.exec(line);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Starts one `robotrace engine` child process per entry (the first alone, see `firstAlone`, then the
 * rest at once) and resolves once every one has logged that it is running. If one fails, all are stopped and its error is thrown.
 *
 * @throws EngineStartError when an engine exits early or is not running in time.
 */
export async function startEngines(options: EngineFleetOptions): Promise<EngineFleet> {
  const { logger, logDir, readyTimeoutMs = 60_000, cli = DEFAULT_CLI, firstAlone = true } = options;
  installExitHook();
  if (logDir !== undefined) await mkdir(logDir, { recursive: true });
  const engines: EngineChildImpl[] = [];
  const spawnOne = ({ id, args }: { id: string; args: string[] }): EngineChildImpl => {
    const child = spawn(process.execPath, [cli, 'engine', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // `info` at least: readiness is read from the log.
      env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] === 'debug' ? 'debug' : 'info' },
    });
    live.add(child);
    const logFile = logDir === undefined ? undefined : createWriteStream(path.join(logDir, `${id}.log`), { flags: 'a' });
    const engine = new EngineChildImpl(id, child, logger, logFile, readyTimeoutMs);
    engines.push(engine);
    return engine;
  };
  const stop = async (graceMs = 10_000): Promise<void> => {
    await Promise.all(engines.map((e) => e.stop(graceMs)));
  };
  const [first, ...rest] = options.engines;
  try {
    if (firstAlone && first !== undefined) await spawnOne(first).ready();
    const remaining = firstAlone ? rest : options.engines;
    await Promise.all(remaining.map((spec) => spawnOne(spec).ready()));
  } catch (err) {
    await stop(2_000);
    throw err;
  }
  return { engines, stop };
}
