import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isSubjectToken } from '../../protocol/index.js';
import type { Role } from '../shared/api.js';
import { ViewerError, ViewerErrorCode } from './errors.js';

/**
 * One login of the viewer, as written in the logins file. Passwords are never stored: only
 * an scrypt hash made by `robotrace viewer hash-password`.
 *
 * @example
 * ```json
 * { "logins": [
 *   { "user": "ops",  "role": "operator", "passwordHash": "scrypt$16384$8$1$…$…" },
 *   { "user": "acme", "role": "carrier", "provider": "acme-voice", "passwordHash": "scrypt$16384$8$1$…$…" }
 * ] }
 * ```
 */
export interface Login {
  user: string;
  role: Role;
  /** The provider id a carrier login answers for; required for `carrier`, absent for `operator`. */
  provider?: string;
  passwordHash: string;
}

/** A logged-in user, as a request sees it. */
export interface Principal {
  user: string;
  role: Role;
  provider?: string;
}

const N = 16_384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password as `scrypt$N$r$p$<salt base64url>$<key base64url>`. */
export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new ViewerError(ViewerErrorCode.BadRequest, 'the password is empty');
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(hash: string): ParsedHash | undefined {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = parts.slice(1, 4).map((x) => Number(x));
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (!n || !r || !p || !Number.isInteger(Math.log2(n)) || n > 2 ** 20 || r > 32 || p > 16) return undefined;
  if (salt.length < 8 || key.length < 16) return undefined;
  return { n, r, p, salt, key };
}

/** True when `password` matches `hash`; false for a wrong password or an unreadable hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.n,
    r: parsed.r,
    p: parsed.p,
    maxmem: 256 * parsed.n * parsed.r + 1024 * 1024,
  });
  return timingSafeEqual(key, parsed.key);
}

function invalid(source: string, message: string): never {
  throw new ViewerError(ViewerErrorCode.InvalidConfig, `${source}: ${message}`);
}

/** Checks a parsed logins file; `source` names it in error messages. */
export function parseLogins(value: unknown, source = 'logins'): Login[] {
  if (value === null || typeof value !== 'object' || !Array.isArray((value as { logins?: unknown }).logins)) {
    invalid(source, 'expected an object with a "logins" array');
  }
  const logins: Login[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of ((value as { logins: unknown[] }).logins).entries()) {
    const where = `logins[${i}]`;
    if (entry === null || typeof entry !== 'object') invalid(source, `${where} must be an object`);
    const { user, role, provider, passwordHash } = entry as Record<string, unknown>;
    if (typeof user !== 'string' || !/^[A-Za-z0-9_.@-]{1,64}$/.test(user)) invalid(source, `${where}.user must be 1–64 of [A-Za-z0-9_.@-]`);
    if (seen.has(user)) invalid(source, `${where}.user ${JSON.stringify(user)} appears twice`);
    seen.add(user);
    if (role !== 'operator' && role !== 'carrier') invalid(source, `${where}.role must be "operator" or "carrier"`);
    if (typeof passwordHash !== 'string' || !parseHash(passwordHash)) {
      invalid(source, `${where}.passwordHash must be a hash made by \`robotrace viewer hash-password\``);
    }
    if (role === 'carrier') {
      if (typeof provider !== 'string' || !isSubjectToken(provider)) invalid(source, `${where}.provider must be a provider id ([A-Za-z0-9_-]{1,64})`);
      logins.push({ user, role, provider, passwordHash });
    } else {
      if (provider !== undefined) invalid(source, `${where}.provider is only for carrier logins`);
      logins.push({ user, role, passwordHash });
    }
  }
  return logins;
}

/** Reads and checks a logins file (JSON). */
export async function loadLogins(file: string): Promise<Login[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ViewerError(ViewerErrorCode.InvalidConfig, `cannot read logins file ${file}: ${(cause as Error).message}`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ViewerError(ViewerErrorCode.InvalidConfig, `${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseLogins(value, file);
}

interface Session extends Principal {
  expiresAt: number;
}

const MAX_FAILURES = 5;
const LOCKOUT_MS = 30_000;

/**
 * Logins and sessions, in memory. A session is a random 256-bit token in an HttpOnly,
 * SameSite=Strict cookie; restarting the viewer logs everyone out.
 */
export class Access {
  private readonly logins = new Map<string, Login>();
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, { count: number; until: number }>();
  /** A hash to verify against for unknown users, so a wrong user name costs as much time as a wrong password. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    logins: Login[],
    private readonly sessionTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    for (const login of logins) this.logins.set(login.user, login);
  }

  get size(): number {
    return this.logins.size;
  }

  /** Checks a user name and password; returns a new session token or throws. */
  async login(user: string, password: string): Promise<{ token: string; principal: Principal }> {
    const now = this.now();
    const failure = this.failures.get(user);
    if (failure && failure.count >= MAX_FAILURES && failure.until > now) {
      throw new ViewerError(ViewerErrorCode.TooManyAttempts, `too many failed logins for ${user}; try again in ${Math.ceil((failure.until - now) / 1000)} s`);
    }
    const login = this.logins.get(user);
    this.dummyHash ??= hashPassword(randomBytes(12).toString('hex'));
    const ok = await verifyPassword(password, login?.passwordHash ?? (await this.dummyHash));
    if (!login || !ok) {
      const count = (failure && failure.until > now ? failure.count : 0) + 1;
      this.failures.set(user, { count, until: now + LOCKOUT_MS });
      throw new ViewerError(ViewerErrorCode.Unauthenticated, 'wrong user name or password');
    }
    this.failures.delete(user);
    const principal: Principal = login.provider === undefined ? { user, role: login.role } : { user, role: login.role, provider: login.provider };
    return { token: this.open(principal), principal };
  }

  /** Opens a session without a password: only for demo mode, which is loopback-only. */
  open(principal: Principal): string {
    const now = this.now();
    for (const [token, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(token);
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { ...principal, expiresAt: now + this.sessionTtlMs });
    return token;
  }

  session(token: string | undefined): Principal | undefined {
    if (token === undefined) return undefined;
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    const { expiresAt: _expiresAt, ...principal } = session;
    return principal;
  }

  logout(token: string | undefined): void {
    if (token !== undefined) this.sessions.delete(token);
  }
}
