import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli/robotrace.js', import.meta.url));

async function robotrace(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `cluster up` starts engines with the sharding flags; they only run once `robotrace engine` has them. */
const engineHasShardFlags = (() => {
  try {
    return execFileSync(process.execPath, [CLI, 'engine', '--help'], { encoding: 'utf8' }).includes('--shards');
  } catch {
    return false;
  }
})();

describe('robotrace cluster up', { timeout: 300_000 }, () => {
  it('--help explains the flags and how engines are started', async () => {
    const help = await robotrace(['cluster', 'up', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--nodes', '--engines', '--shards', '--replicas', '--lease', '--demo', '--tracebacks', '--store', '--log-dir']) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toMatch(/must use the same number/);
    expect(help.stdout).toMatch(/--id engine-<i>/);
  });

  it('bad flags fail with one line before anything starts', async () => {
    for (const [args, message] of [
      [['--nodes', '0'], /--nodes must be a positive integer/],
      [['--engines', 'x'], /--engines must be a positive integer/],
      [['--replicas', '4'], /--replicas 4 needs at least 4 nodes/],
      [['--lease', '5x'], /--lease takes a duration/],
      [['--lease', '100ms'], /--lease must be at least 1s/],
    ] as const) {
      const r = await robotrace(['cluster', 'up', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const unknown = await robotrace(['cluster', 'up', '--bogus']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
  });

  it.skipIf(!engineHasShardFlags)('--demo runs tracebacks on a 3-node cluster with 3 engines and stops everything', async () => {
    const r = await robotrace(['cluster', 'up', '--demo', '--tracebacks', '30', '--json', '--deadline', '5s']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { completed: number; cluster: { nodes: number; engines: number } };
    expect(summary.completed).toBe(30);
    expect(summary.cluster).toMatchObject({ nodes: 3, engines: 3 });
    const pids = [...r.stderr.matchAll(/^\S+\s+nats:\/\/127\.0\.0\.1:\d+\s+(\d+)/gm)].map((m) => Number(m[1]));
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
