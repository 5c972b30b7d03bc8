import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { setup } from '../harness/nats-server.js';
import { Engine } from '../../engine/index.js';
import { quiet } from '../integration/fixtures.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli/robotrace.js', import.meta.url));

async function robotrace(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('robotrace CLI', { timeout: 180_000 }, () => {
  it('demo --json runs every traceback to an outcome that matches the simulated network', async () => {
    const result = await robotrace(['demo', '--tracebacks', '60', '--json', '--deadline', '2s']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      tracebacks: number;
      completed: number;
      meanHops: number;
      outcomes: Record<string, number>;
      groundTruth: { matched: number; late: number; mismatched: number };
    };
    expect(summary.completed).toBe(60);
    // Under a loaded machine a slow carrier may miss the compressed deadline; anything else is a bug.
    expect(summary.groundTruth.mismatched).toBe(0);
    expect(summary.groundTruth.matched + summary.groundTruth.late).toBe(60);
    expect(summary.groundTruth.matched).toBeGreaterThanOrEqual(50);
    expect(summary.meanHops).toBeGreaterThanOrEqual(3);
    expect(Object.values(summary.outcomes).reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('bad input gets a one-line error and a non-zero exit, without touching the server', async () => {
    await using t = await setup();
    await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet });
    const bad = await robotrace(['trace', '--nats', t.ns.url, '--calling', '2155550121', '--called', '+12025550143', '--time', '2026-11-29T10:00:00Z', '--terminating', 'T1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/INVALID_NUMBER: --calling: "2155550121"/);

    const missing = await robotrace(['trace', '--nats', t.ns.url, '--calling', '+12155550121']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--called is required/);

    const unknown = await robotrace(['trace', '--nats', t.ns.url, '--bogus']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);

    const status = await robotrace(['status', '--nats', t.ns.url, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 0, active: 0 });

    const noServer = await robotrace(['status', '--nats', 'nats://127.0.0.1:1']);
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });

  it('trace starts one traceback and --wait prints its trail', async () => {
    await using t = await setup();
    await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '1s', reminderFractions: [0.5] });
    const result = await robotrace([
      'trace', '--nats', t.ns.url, '--calling', '+1 (215) 555-0121', '--called', '12025550143',
      '--time', '2026-11-29T10:00:00Z', '--terminating', 'NOBODY', '--campaign', 'SSA-CalltheSSA', '--wait', '--json',
    ]);
    expect(result.code).toBe(0);
    const trail = JSON.parse(result.stdout) as { outcome: string; call: { calling: string; called: string } };
    expect(trail.outcome).toBe('noncooperative');
    expect(trail.call).toMatchObject({ calling: '+12155550121', called: '+12025550143' });
  });
});
