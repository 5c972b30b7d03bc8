import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exportPublicKeyPem, generateEngineKey } from '../index.js';
import { signedSample } from './samples.js';

const SCRIPT = fileURLToPath(new URL('./verify_trail.py', import.meta.url));
/** The interop check needs python3 with `cryptography`; CI machines without it skip it. */
const python = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
const available = python.status === 0;

describe.skipIf(!available)('an independent Python verifier (protocol/README.md section 11)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'robotrace-py-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const key = generateEngineKey();
  const { trail, events } = signedSample(key, { customerName: 'Ünïcödé "quoted" \\ LLC — 😀' });
  const pem = join(dir, 'engine.pem');
  writeFileSync(pem, exportPublicKeyPem(key.publicKey));
  const eventsFile = join(dir, 'events.jsonl');
  writeFileSync(eventsFile, `${[...events].reverse().map((e) => JSON.stringify(e)).join('\n')}\n`);

  const verify = (value: unknown, withEvents = true) => {
    const file = join(dir, 'trail.json');
    writeFileSync(file, JSON.stringify(value));
    const result = spawnSync('python3', [SCRIPT, file, pem, ...(withEvents ? [eventsFile] : [])], { encoding: 'utf8' });
    return `${result.stdout.trim()}${result.stderr.trim()}`;
  };

  it('accepts a trail signed here, chain included', () => {
    expect(verify(trail)).toBe('OK');
    expect(verify(trail, false)).toBe('OK');
  });

  it('rejects a tampered trail', () => {
    expect(verify({ ...trail, outcome: 'not_found' })).toBe('FAIL bad signature');
    expect(verify({ ...trail, evidence: { ...trail.evidence, chainHead: 'f'.repeat(64) } })).toBe('FAIL bad signature');
  });
});
