/**
 * A small seeded PRNG for the simulator. Never `Math.random`: the same seed must give the
 * same network on every machine.
 *
 * The generator is a Weyl sequence (add the golden-ratio constant) through a 32-bit
 * integer hash: stateless mixing, 2^32 period, good enough spread for simulation. Separate
 * streams are derived by hashing a label, so adding draws in one phase does not shift
 * another phase's numbers.
 */

/** Final mixing step of a 32-bit hash: every input bit affects every output bit. */
export function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** 32-bit hash of a string (FNV-1a over UTF-16 code units, then `mix32`). */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** A seed as the user gives it. */
export type Seed = number | string;

export function seedToInt(seed: Seed): number {
  return typeof seed === 'number' && Number.isInteger(seed) ? mix32(seed ^ 0x5bd1e995) : hashString(String(seed));
}

export class Rng {
  private state: number;

  constructor(seed: Seed) {
    this.state = seedToInt(seed);
  }

  /** An independent stream for one phase of generation, e.g. `Rng.derive(seed, 'providers')`. */
  static derive(seed: Seed, label: string): Rng {
    return new Rng(hashString(label, seedToInt(seed)));
  }

  /** Next 32 random bits as an unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** Uniform real in [min, max). */
  uniform(min: number, max: number): number {
    return min + this.float() * (max - min);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Number of failures before the first success, success probability `p`. */
  geometric(p: number): number {
    if (p >= 1) return 0;
    return Math.floor(Math.log(1 - this.float()) / Math.log(1 - p));
  }

  /** Index drawn with probability proportional to `weights[i]` (linear scan; for small lists). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new RangeError('weighted pick needs a positive total weight');
    let x = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i] as number;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** Cumulative weights for repeated O(log n) draws from a fixed distribution. */
export class WeightedTable<T> {
  private readonly cumulative: Float64Array;
  readonly total: number;

  constructor(
    readonly items: readonly T[],
    weights: readonly number[],
  ) {
    if (items.length !== weights.length) throw new RangeError('items and weights differ in length');
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += Math.max(0, weights[i] as number);
      this.cumulative[i] = sum;
    }
    this.total = sum;
  }

  get size(): number {
    return this.items.length;
  }

  sample(rng: Rng): T {
    if (!(this.total > 0)) throw new RangeError('weighted table is empty');
    const x = rng.float() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo] as T;
  }
}
