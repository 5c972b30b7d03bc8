import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Engine processes still running; `test/harness/cleanup.ts` kills them after each file. */
export const runningEngines = new Set<ChildProcess>();

const CLI = fileURLToPath(new URL('../../dist/cli/robotrace.js', import.meta.url));

/** An engine running as a real child process, so tests can SIGKILL it mid-flight. */
export interface EngineProcess extends AsyncDisposable {
  readonly pid: number;
  /** Everything the process wrote to stderr (its pino log). */
  readonly log: string[];
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `robotrace engine` (from the build in dist/) and resolves once it logs
 * `engine running`, i.e. after recovery and timer loading finished.
 */
export async function spawnEngine(natsUrl: string, args: string[] = []): Promise<EngineProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const child: ChildProcess = spawn(process.execPath, [CLI, 'engine', '--nats', natsUrl, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env['ENGINE_LOG_LEVEL'] ?? 'info' },
  });
  const log: string[] = [];
  runningEngines.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      runningEngines.delete(child);
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        if (line.includes('"msg":"engine running"')) resolve();
      }
    });
    void exited.then(() => reject(new Error(`engine exited before it was ready:\n${log.slice(-20).join('\n')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  const pid = child.pid as number;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { pid, log, kill, stop, [Symbol.asyncDispose]: stop };
}
