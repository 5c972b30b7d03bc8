import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { EvidenceError, fetchPublicKey, importPublicKey, verifyTrail, type PublicKey, type VerifyResult } from '../../evidence/index.js';
import { fetchEvents } from '../../enforcement/index.js';
import { CliError, connectTo, natsOption } from '../common.js';

function readText(file: string, what: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new CliError(`cannot read ${what} ${file}: ${why}`);
  }
}

/** A public key file: SPKI PEM or a JWK (JSON). */
export function readKeyFile(file: string): PublicKey {
  const text = readText(file, 'key file');
  try {
    return importPublicKey(text);
  } catch (err) {
    throw new CliError(`${file} is not an Ed25519 public key (PEM or JWK): ${EvidenceError.is(err) ? err.message.replace(/^not a public key \(PEM or JWK expected\): /, '') : String(err)}`);
  }
}

/**
 * Trails in a file: one JSON object, a JSON array of them, or JSON Lines (one per line, blank lines
 * ignored). Each item is returned as parsed; whether it is a trail is for `verifyTrail` to say.
 */
export function parseTrailFile(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new CliError(`${file} is empty: expected a JSON trail or JSON lines of trails`);
  try {
    const whole: unknown = JSON.parse(trimmed);
    return Array.isArray(whole) ? whole : [whole];
  } catch {
    // Not one JSON value: JSON Lines.
  }
  const items: unknown[] = [];
  trimmed.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      items.push(JSON.parse(line));
    } catch (err) {
      throw new CliError(`${file} is not JSON (line ${i + 1}: ${(err as Error).message})`);
    }
  });
  return items;
}

function label(item: unknown, index: number): string {
  const id = item !== null && typeof item === 'object' ? (item as Record<string, unknown>)['tracebackId'] : undefined;
  return typeof id === 'string' ? id : `#${index + 1}`;
}

export function resultLine(item: unknown, index: number, result: VerifyResult): string {
  if (result.ok) {
    const chain = result.chainChecked ? `, chain of ${result.eventCount} events matches` : '';
    return `OK    ${result.tracebackId}  signed by ${result.keyId}${chain}`;
  }
  return `FAIL  ${label(item, index)}  ${result.code}: ${result.reason}`;
}

interface VerifyFlags {
  nats: string;
  key?: string;
  events?: boolean;
  json?: boolean;
}

export function verifyCommand(): Command {
  return new Command('verify')
    .description('check trails offline against the engine public key (exit 0 only if every trail verifies)')
    .argument('<file>', 'a JSON trail, a JSON array, or JSON lines of trails (as `export --format json` writes); - for stdin')
    .addOption(natsOption())
    .option('--key <file>', 'the engine public key (PEM or JWK); without it the key is fetched from tb.keys.engine over --nats')
    .option('--events', "also fetch each traceback's audit events from NATS and check the hash chain")
    .option('--json', 'one JSON result per line')
    .action(async (file: string, flags: VerifyFlags) => {
      const items = parseTrailFile(readText(file, 'trail file'), file);
      if (items.length === 0) throw new CliError(`${file} holds no trails`);
      const offlineKey = flags.key === undefined ? undefined : readKeyFile(flags.key);
      const needNats = offlineKey === undefined || flags.events === true;
      const nc = needNats ? await connectTo(flags.nats, 'robotrace-verify') : undefined;
      try {
        const key = offlineKey ?? (await fetchPublicKey(nc!, { timeoutMs: 5_000 })).key;
        let failed = 0;
        for (const [i, item] of items.entries()) {
          let result: VerifyResult = verifyTrail(item, key);
          if (result.ok && flags.events) {
            const events = await fetchEvents(nc!, result.tracebackId);
            result = verifyTrail(item, key, { events });
          }
          if (!result.ok) failed++;
          process.stdout.write(`${flags.json ? JSON.stringify({ item: label(item, i), ...result }) : resultLine(item, i, result)}\n`);
        }
        process.stderr.write(`${items.length - failed} of ${items.length} trails verified\n`);
        if (failed > 0) process.exitCode = 1;
      } finally {
        await nc?.close();
      }
    });
}
