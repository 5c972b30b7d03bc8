import type { StartRequest } from '../engine/index.js';
export function simulatedStarts(_seed: number, _providers: number, _n: number): StartRequest[] {
  return [];
}
