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
      flags: { silentOverThreshold: number; silentFlaggedNoncooperative: number; cooperativeFlaggedNoncooperative: number };
    };
    expect(summary.completed).toBe(60);
    // Under a loaded machine a slow carrier may miss the compressed deadline; anything else is a bug.
    expect(summary.groundTruth.mismatched).toBe(0);
    expect(summary.groundTruth.matched + summary.groundTruth.late).toBe(60);
    expect(summary.groundTruth.matched).toBeGreaterThanOrEqual(50);
    expect(summary.meanHops).toBeGreaterThanOrEqual(3);
    expect(Object.values(summary.outcomes).reduce((a, b) => a + b, 0)).toBe(60);
    // Silent carriers that missed enough deadlines are flagged; carriers that answer are not.
    expect(summary.flags.silentFlaggedNoncooperative).toBe(summary.flags.silentOverThreshold);
    expect(summary.flags.cooperativeFlaggedNoncooperative).toBe(0);
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

describe('robotrace providers', { timeout: 120_000 }, () => {
  it('imports a directory, rejects a bad one with line numbers, prints scorecards', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'robotrace-dir-'));
    try {
      await using t = await setup();
      await using _engine = await Engine.start({ servers: t.ns.url, logger: quiet });
      const good = join(dir, 'providers.csv');
      await writeFile(
        good,
        'id,name,frn,ocn,contact,rmd_status,roles,deadline_hours,time_zone,opens_at,closes_at,holidays,max_in_flight\n' +
          'P1,Acme Voice LLC,0012345678,AB12,noc@acme.example,certified,terminating,24,,,,,\n' +
          'P2,Small Telco Inc,0087654321,CD34,tb@small.example,certified,originating,24,America/Chicago,8,17,2026-12-25;2027-01-01,5\n',
      );
      const imported = await robotrace(['providers', 'import', good, '--nats', t.ns.url]);
      expect(imported.stdout).toMatch(/imported 2 providers/);
      const bad = join(dir, 'bad.csv');
      await writeFile(bad, 'id,name,frn,time_zone\nok1,Fine,0012345678,\nnot ok,Bad,123,Mars/Olympus\n');
      const rejected = await robotrace(['providers', 'import', bad, '--nats', t.ns.url]);
      expect(rejected.code).toBe(1);
      expect(rejected.stderr).toMatch(/bad\.csv line 3: id "not ok"/);
      expect(rejected.stderr).toMatch(/line 3: frn must be 10 digits/);
      expect(rejected.stderr).toMatch(/line 3: unknown time zone Mars\/Olympus/);
      const listed = await robotrace(['providers', '--json', '--nats', t.ns.url]);
      const cards = JSON.parse(listed.stdout) as { id: string; name: string; flags: string[] }[];
      expect(cards.map((c) => [c.id, c.name])).toEqual([
        ['P1', 'Acme Voice LLC'],
        ['P2', 'Small Telco Inc'],
      ]);
      const shown = await robotrace(['providers', 'show', 'P2', '--json', '--nats', t.ns.url]);
      const p2 = JSON.parse(shown.stdout) as { policy: { deadline: { kind: string; timeZone: string; holidays: string[] }; maxInFlight: number } };
      expect(p2.policy.deadline).toMatchObject({ kind: 'business', timeZone: 'America/Chicago', holidays: ['2026-12-25', '2027-01-01'] });
      expect(p2.policy.maxInFlight).toBe(5);
      const clear = await robotrace(['providers', 'clear-flag', 'P1', 'noncooperative', '--reason', 'test', '--nats', t.ns.url]);
      expect(clear.code).toBe(1);
      expect(clear.stderr).toMatch(/FLAG_NOT_SET/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
