import { EngineError, EngineErrorCode } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A readable duration: a number of ms, or `"500ms"`, `"30s"`, `"5m"`, `"24h"`, `"7d"`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

export function toMs(value: Duration | string, name: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new EngineError(EngineErrorCode.InvalidOptions, `${name} must be ≥ 0 ms`);
    return value;
  }
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new EngineError(EngineErrorCode.InvalidOptions, `${name}: cannot read duration ${JSON.stringify(value)} (e.g. 30s, 5m, 24h)`);
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}
