import { randomBytes } from 'node:crypto';

/** Options of {@link check}. */
export interface CheckOptions {
  /** What is being waited for; it appears in the timeout error. */
  name: string;
  /** Pause between attempts, in milliseconds. @default 50 */
  interval?: number;
}

/**
 * Polls `fn` until it returns (or resolves to) a truthy value, and returns that value.
 * A throw or a falsy result means "not yet": the last one is reported if the deadline passes.
 * For assertion-style waits, end the callback with `return true`.
 * A call still pending at the deadline is not waited for.
 *
 * @throws Error `timed out after <timeoutMs>ms waiting for <name>: <last error or value>`
 * @example
 * ```ts
 * const info = await check(() => jsm.streams.info(name), 2_000, { name: `stream ${name}` });
 * await check(() => { expect(seen).toHaveLength(3); return true; }, 1_000, { name: '3 messages' });
 * ```
 */
export async function check<T>(
  fn: () => T | Promise<T>,
  timeoutMs: number,
  options: CheckOptions,
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const { name, interval = 50 } = options;
  let last = 'never ran';
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
  });
  try {
    for (;;) {
      const attempt = (async () => fn())().then(
        (value) => ({ value }),
        (err: unknown) => ({ err }),
      );
      const result = await Promise.race([attempt, timedOut]);
      if (result === TIMEOUT) break;
      if ('err' in result) last = result.err instanceof Error ? result.err.message : String(result.err);
      else if (result.value) return result.value as Exclude<T, undefined | null | false | 0 | ''>;
      else last = `returned ${String(result.value)}`;
      const slept = await Promise.race([sleep(interval), timedOut]);
      if (slept === TIMEOUT) break;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${name}: ${last}`);
}

const TIMEOUT = Symbol('timeout');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `<prefix>_<16 hex chars>`: a fresh name per call, valid as a stream, consumer or KV bucket name,
 * so tests can share one server without colliding.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}
