import { describe, expect, it } from 'vitest';
import { Rng, WeightedTable, hashString } from '../index.js';

describe('Rng', () => {
  it('repeats its sequence for a seed and differs between seeds and labels', () => {
    const draw = (r: Rng): number[] => Array.from({ length: 20 }, () => r.u32());
    expect(draw(new Rng(1))).toEqual(draw(new Rng(1)));
    expect(draw(new Rng('a'))).toEqual(draw(new Rng('a')));
    expect(draw(new Rng(1))).not.toEqual(draw(new Rng(2)));
    expect(draw(Rng.derive(1, 'x'))).not.toEqual(draw(Rng.derive(1, 'y')));
    expect(hashString('p0001')).not.toBe(hashString('p0002'));
  });

  it('draws uniformly in range', () => {
    const r = new Rng(7);
    const buckets = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.float();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 10)]!++;
    }
    expect(outside).toBe(0);
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
    const seen = new Set(Array.from({ length: 1000 }, () => r.between(3, 5)));
    expect([...seen].sort()).toEqual([3, 4, 5]);
    const mean = Array.from({ length: 20_000 }, () => r.normal()).reduce((a, b) => a + b, 0) / 20_000;
    expect(Math.abs(mean)).toBeLessThan(0.05);
  });

  it('samples weighted tables in proportion', () => {
    const r = new Rng(3);
    const t = new WeightedTable(['a', 'b', 'c'], [1, 0, 3]);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 40_000; i++) counts[t.sample(r)]!++;
    expect(counts['b']).toBe(0);
    expect(Math.abs(counts['c']! / counts['a']! - 3)).toBeLessThan(0.2);
    expect(r.weighted([0, 0, 1])).toBe(2);
    expect(() => new WeightedTable([], []).sample(r)).toThrow(RangeError);
  });
});
