import { describe, expect, test } from 'vitest';
import { check, uniqueName } from './check.js';

describe('check', () => {
  test('returns the first truthy value, retrying throws and falsy results', async () => {
    let n = 0;
    const v = await check(
      () => {
        n++;
        if (n === 1) throw new Error('boom');
        return n >= 3 ? `done at ${n}` : 0;
      },
      1_000,
      { name: 'three calls', interval: 1 },
    );
    expect(v).toBe('done at 3');
  });

  test('times out with the name and the last error', async () => {
    await expect(
      check(() => Promise.reject(new Error('not yet')), 100, { name: 'never', interval: 10 }),
    ).rejects.toThrow('timed out after 100ms waiting for never: not yet');
  });

  test('does not wait for a call that hangs past the deadline', async () => {
    const started = Date.now();
    await expect(check(() => new Promise<boolean>(() => {}), 50, { name: 'hang' })).rejects.toThrow(/waiting for hang/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

test('uniqueName is fresh and a valid stream name', () => {
  const a = uniqueName('S');
  expect(a).toMatch(/^S_[0-9a-f]{16}$/);
  expect(uniqueName('S')).not.toBe(a);
});
