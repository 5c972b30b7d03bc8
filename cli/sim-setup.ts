import { buildCdrs, callDataOf, generateCalls, generateNetwork, type SimCall, type SimCdrs, type SimNetwork } from '../sim/index.js';
import type { StartRequest } from '../engine/index.js';

export interface SimWorld {
  network: SimNetwork;
  calls: SimCall[];
  cdrs: SimCdrs;
}

/** The simulated network, its calls and every provider's CDRs, all from one seed. */
export function simWorld(seed: number, providers: number, calls: number, deadlineMs = 86_400_000): SimWorld {
  const network = generateNetwork({ seed, providers, deadlineMs });
  const generated = generateCalls(network, { count: calls, seed });
  return { network, calls: generated, cdrs: buildCdrs(network, generated) };
}

export function startRequestOf(call: SimCall, requester = 'robotrace-sim'): StartRequest {
  return { call: callDataOf(call), terminatingProvider: call.terminatingProvider, requester };
}

/** Start requests for the first `n` calls of the simulated network. */
export function simulatedStarts(seed: number, providers: number, n: number): StartRequest[] {
  return simWorld(seed, providers, n).calls.map((call) => startRequestOf(call));
}
