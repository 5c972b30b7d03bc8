import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { NatsServerMissingError } from './errors.js';
import type { EnsureNatsServerOptions, LocalNatsLogger } from './types.js';

const BINARY = 'nats-server';
/**
 * Debian installs the package to /usr/sbin, which is not on a non-root user's PATH,
 * so these are searched after PATH.
 */
const SBIN_FALLBACKS = ['/usr/local/sbin', '/usr/sbin'];

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function searchPath(name: string, extra: readonly string[] = []): Promise<{ found?: string; searched: string[] }> {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '');
  const searched = [...new Set([...dirs, ...extra])];
  for (const dir of searched) {
    const candidate = path.join(dir, name);
    if (await isExecutableFile(candidate)) return { found: candidate, searched };
  }
  return { searched };
}

/**
 * Locates the `nats-server` binary: `NATS_SERVER_BIN` when set (authoritative, no fallback),
 * else PATH, then /usr/local/sbin and /usr/sbin.
 *
 * @throws NatsServerMissingError when none is executable.
 */
export async function findNatsServer(): Promise<string> {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (await isExecutableFile(fromEnv)) return path.resolve(fromEnv);
    throw new NatsServerMissingError({ detail: `NATS_SERVER_BIN=${fromEnv} is not an executable file`, searched: [fromEnv] });
  }
  const { found, searched } = await searchPath(BINARY, SBIN_FALLBACKS);
  if (found !== undefined) return found;
  throw new NatsServerMissingError({ searched });
}

function run(cmd: string, args: readonly string[], logger: LocalNatsLogger | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const tail: string[] = [];
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        logger?.debug({ cmd: path.basename(cmd), line }, 'install output');
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(new Error(`${[cmd, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n  ${tail.join('\n  ')}`));
    });
  });
}

// One install per process: concurrent callers share it, and `apt-get update` runs once.
let installing: Promise<void> | undefined;

async function aptInstall(aptGet: string, logger: LocalNatsLogger | undefined): Promise<void> {
  logger?.info({ aptGet }, 'nats-server missing; installing the OS package');
  await run(aptGet, ['update'], logger);
  await run(aptGet, ['install', '-y', BINARY], logger);
  logger?.info({}, 'nats-server installed');
}

/**
 * Like {@link findNatsServer}, but when the binary is missing, `install` is on, we are root and
 * apt-get exists (Debian/Ubuntu), installs the OS package `nats-server` and returns its path.
 *
 * @throws NatsServerMissingError when the binary is missing and could not be installed; an
 * install failure is its `cause`.
 */
export async function ensureNatsServer(options: EnsureNatsServerOptions = {}): Promise<string> {
  const { install = true, logger } = options;
  try {
    return await findNatsServer();
  } catch (err) {
    const envSet = (process.env['NATS_SERVER_BIN'] ?? '') !== '';
    if (!NatsServerMissingError.is(err) || !install || envSet) throw err;
    if (process.getuid?.() !== 0) throw new NatsServerMissingError({ detail: 'not root, so not installing', searched: err.searched });
    const { found: aptGet } = await searchPath('apt-get', ['/usr/bin']);
    if (aptGet === undefined) throw new NatsServerMissingError({ detail: 'no apt-get, so not installing', searched: err.searched });

    installing ??= aptInstall(aptGet, logger).finally(() => {
      installing = undefined;
    });
    try {
      await installing;
    } catch (installErr) {
      throw new NatsServerMissingError({ detail: 'apt-get install failed', searched: err.searched, cause: installErr });
    }
    return findNatsServer();
  }
}
