import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportPublicKeyPem, generateEngineKey, servePublicKey, type KeyService } from '../../evidence/index.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { signedSample } from '../../evidence/test/samples.js';
import { createTrailStreams, publishEvents, publishTrail } from './helpers.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli/robotrace.js', import.meta.url));

async function robotrace(args: string[], input?: string) {
  try {
    const child = run(process.execPath, [CLI, ...args], { timeout: 60_000 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const key = generateEngineKey();
const samples = [
  signedSample(key, { outcome: 'origin_found', campaign: 'SSA-CalltheSSA' }),
  signedSample(key, { outcome: 'foreign_entry', campaign: 'Amazon Impers P2', endProvider: 'gw-1' }),
  signedSample(key, { outcome: 'origin_found', campaign: 'SSA-CalltheSSA', endProvider: 'o-2' }),
];
let t: NatsFixture;
let service: KeyService;
let dir: string;
let nats: string[];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (or npx tsc -p tsconfig.build.json) first`);
  t = await setup();
  await createTrailStreams(t.nc);
  for (const s of samples) {
    await publishTrail(t.nc, s.trail);
    await publishEvents(t.nc, s.events);
  }
  service = servePublicKey(t.nc, key); // what the engine will serve
  dir = mkdtempSync(join(tmpdir(), 'robotrace-cli-'));
  nats = ['--nats', t.ns.url];
});
afterAll(async () => {
  await service?.stop();
  await t?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('robotrace keys, export, verify, report', { timeout: 120_000 }, () => {
  it('keys prints the engine public key', async () => {
    const json = await robotrace(['keys', ...nats, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ keyId: key.keyId, alg: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519', kid: key.keyId } });
    const pem = await robotrace(['keys', ...nats, '--pem']);
    expect(pem.stdout).toBe(exportPublicKeyPem(key.publicKey));
    const text = await robotrace(['keys', ...nats]);
    expect(text.stdout).toContain(`key id     ${key.keyId}`);
    expect(text.stdout).toContain('-----BEGIN PUBLIC KEY-----');
  });

  it('export --format json writes trails that verify offline, and verify rejects a tampered copy', async () => {
    const file = join(dir, 'trails.jsonl');
    const exported = await robotrace(['export', ...nats, '--format', 'json', '--out', file]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toBe(`exported 3 trails to ${file}\n`);
    const pemFile = join(dir, 'engine.pem');
    writeFileSync(pemFile, exportPublicKeyPem(key.publicKey));

    const ok = await robotrace(['verify', file, '--key', pemFile]);
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.startsWith('OK    '))).toBe(true);
    expect(ok.stderr).toBe('3 of 3 trails verified\n');

    // Without --key, the key comes from tb.keys.engine; --events checks each chain too.
    const online = await robotrace(['verify', file, ...nats, '--events']);
    expect(online.code).toBe(0);
    expect(online.stdout).toContain(`, chain of ${samples[0]!.events.length} events matches`);

    const [first, ...rest] = readFileSync(file, 'utf8').trimEnd().split('\n');
    const tampered = JSON.parse(first!) as { hops: { answeredAt: number }[] };
    tampered.hops[0]!.answeredAt += 60_000;
    const tamperedFile = join(dir, 'tampered.jsonl');
    writeFileSync(tamperedFile, [JSON.stringify(tampered), ...rest].join('\n'));
    const bad = await robotrace(['verify', tamperedFile, '--key', pemFile]);
    expect(bad.code).toBe(1);
    const badLines = bad.stdout.trimEnd().split('\n');
    expect(badLines[0]).toBe(`FAIL  ${samples[0]!.trail.tracebackId}  BAD_SIGNATURE: bad signature: the trail was changed after it was signed`);
    expect(badLines.slice(1).every((l) => l.startsWith('OK'))).toBe(true);

    // One pretty-printed trail, and stdin.
    const single = join(dir, 'one.json');
    writeFileSync(single, JSON.stringify(samples[1]!.trail, null, 2));
    expect((await robotrace(['verify', single, '--key', pemFile])).code).toBe(0);
    const stdin = await robotrace(['verify', '-', '--key', pemFile, '--json'], JSON.stringify(samples[2]!.trail));
    expect(stdin.code).toBe(0);
    expect(JSON.parse(stdin.stdout)).toMatchObject({ ok: true, tracebackId: samples[2]!.trail.tracebackId });
  });

  it('export --format csv filters and writes one row per trail', async () => {
    const file = join(dir, 'ssa.csv');
    const result = await robotrace(['export', ...nats, '--format', 'csv', '--filter', 'outcome=origin_found,campaign=SSA-CalltheSSA', '--since', '1h', '--out', file]);
    expect(result.code).toBe(0);
    const rows = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^tracebackId,outcome,campaign,/);
    expect(rows.slice(1).map((r) => r.split(',')[0])).toEqual([samples[0]!.trail.tracebackId, samples[2]!.trail.tracebackId]);
    const stdout = await robotrace(['export', ...nats, '--format', 'csv', '--filter', '*.*.gw-1.>', '--out', '-']);
    expect(stdout.stdout.trimEnd().split('\r\n')).toHaveLength(2);
  });

  it('report renders the HTML report of one traceback, verified', async () => {
    const file = join(dir, 'report.html');
    const id = samples[1]!.trail.tracebackId;
    const result = await robotrace(['report', id, ...nats, '--out', file]);
    expect(result.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(`<title>Traceback report ${id}</title>`);
    expect(html).toMatch(/<strong>VERIFIED<\/strong>.*the \d+ audit events chain to the recorded head/);
    const stdout = await robotrace(['report', id, ...nats]);
    expect(stdout.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
  });

  it('bad input gets one clear line and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['verify', join(dir, 'missing.json'), '--key', join(dir, 'engine.pem')], /^robotrace: cannot read trail file .*missing\.json: no such file\n$/],
      [['verify', join(dir, 'engine.pem'), '--key', join(dir, 'engine.pem')], /^robotrace: .*engine\.pem is not JSON \(line 1: /],
      [['verify', join(dir, 'trails.jsonl'), '--key', join(dir, 'trails.jsonl')], /^robotrace: .*trails\.jsonl is not an Ed25519 public key/],
      [['verify', join(dir, 'trails.jsonl'), '--key', join(dir, 'nope.pem')], /^robotrace: cannot read key file .*nope\.pem: no such file\n$/],
      [['report', 'tb-0000000000zzzzzzzzzz', ...nats], /^robotrace: no trail stored for tb-0000000000zzzzzzzzzz/],
      [['report', 'not-an-id', ...nats], /^robotrace: INVALID_FIELD: not a traceback id/],
      [['export', ...nats, '--format', 'json', '--filter', 'won.>', '--out', '-'], /^robotrace: unknown outcome "won"/],
      [['export', ...nats, '--format', 'json', '--out', join(dir, 'no/such/dir.jsonl')], /^robotrace: cannot write .*dir\.jsonl: /],
      [['keys', '--nats', 'nats://127.0.0.1:1'], /^robotrace: cannot connect to NATS/],
    ];
    for (const [args, pattern] of cases) {
      const result = await robotrace(args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(pattern);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const notTrail = join(dir, 'not-trail.json');
    writeFileSync(notTrail, '{"v":1,"kind":"hop_query"}\n[1,2]');
    const result = await robotrace(['verify', notTrail, '--key', join(dir, 'engine.pem')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^robotrace: |FAIL {2}#1 {2}NOT_A_TRAIL: not a trail: kind is "hop_query"/);
  });
});

describe('robotrace watch', { timeout: 60_000 }, () => {
  function watch(args: string[]) {
    const child = spawn(process.execPath, [CLI, 'watch', ...nats, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return {
      lines: () => stdout.split('\n').filter((l) => l !== ''),
      stderr: () => stderr,
      stop: async () => {
        child.kill('SIGINT');
        return exited;
      },
    };
  }

  it('replays with --since, then shows new trails live; --json lines verify', async () => {
    const w = watch(['--since', '1h', '--json']);
    await check(() => w.lines().length === 3, 20_000, { name: 'three replayed trails' });
    const live = signedSample(key, { outcome: 'not_found' });
    await publishTrail(t.nc, live.trail);
    await check(() => w.lines().length === 4, 10_000, { name: 'the live trail' });
    expect((JSON.parse(w.lines()[3]!) as { tracebackId: string }).tracebackId).toBe(live.trail.tracebackId);
    expect(await w.stop()).toBe(0);
  });

  it('prints a table, filtered, and with --agency resumes a durable consumer', async () => {
    const pemFile = join(dir, 'engine.pem');
    writeFileSync(pemFile, exportPublicKeyPem(key.publicKey));
    const w = watch(['--all', '--filter', 'origin_found.>', '--agency', 'NC-AGO', '--key', pemFile]);
    await check(() => w.lines().length === 3, 20_000, { name: 'header and two origin_found trails' });
    expect(w.lines()[0]).toMatch(/^ended \(UTC\) +traceback +outcome +hops +end provider +campaign +sig +path$/);
    expect(w.lines()[1]).toContain(samples[0]!.trail.tracebackId);
    expect(w.lines()[1]).toMatch(/ ok +T1 ← W2 ← acme-voice$/);
    expect(w.stderr()).toMatch(/as consumer enf_NC-AGO_[0-9a-f]{12} \(created\)/);
    expect(await w.stop()).toBe(0);

    const later = signedSample(key, { outcome: 'origin_found' });
    await publishTrail(t.nc, later.trail);
    const again = watch(['--all', '--filter', 'origin_found.>', '--agency', 'NC-AGO']);
    await check(() => again.lines().length === 2, 20_000, { name: 'only the trail published while away' });
    expect(again.lines()[1]).toContain(later.trail.tracebackId);
    expect(again.stderr()).toMatch(/resumed; --since\/--all ignored/);
    expect(await again.stop()).toBe(0);
  });
});
