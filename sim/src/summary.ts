import type { ProviderId } from '../../protocol/index.js';
import type { ProviderRole, SimCall, SimNetwork, SimSummary } from './types.js';

/** Share of `values`' total held by its largest tenth (at least one value). */
function top10Share(values: number[]): number {
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const sorted = [...values].sort((a, b) => b - a);
  const k = Math.max(1, Math.round(values.length / 10));
  return sorted.slice(0, k).reduce((a, b) => a + b, 0) / total;
}

/** Statistics of a network and calls through it, for tests and the demo. */
export function summarizeNetwork(network: SimNetwork, calls: readonly SimCall[]): SimSummary {
  const { providers } = network;
  const byRole: Record<ProviderRole, number> = { originating: 0, intermediate: 0, gateway: 0, terminating: 0 };
  for (const p of providers) byRole[p.role]++;
  const silent = new Set(providers.filter((p) => p.behaviour.kind === 'silent').map((p) => p.id));
  const carried = new Map<ProviderId, number>(providers.map((p) => [p.id, 0]));
  const histogram: Record<number, number> = {};
  const campaigns: Record<string, number> = {};
  let hopsTotal = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let foreign = 0;
  let silentOnPath = 0;
  for (const call of calls) {
    const hops = call.path.length;
    hopsTotal += hops;
    min = Math.min(min, hops);
    max = Math.max(max, hops);
    histogram[hops] = (histogram[hops] ?? 0) + 1;
    campaigns[call.campaign] = (campaigns[call.campaign] ?? 0) + 1;
    if (call.origin.kind === 'foreign') foreign++;
    if (call.path.some((id) => silent.has(id))) silentOnPath++;
    for (const id of call.path) carried.set(id, (carried.get(id) ?? 0) + 1);
  }
  const n = calls.length;
  const byId = new Map(providers.map((p) => [p.id, p]));
  return {
    providers: providers.length,
    byRole,
    silentShare: silent.size / providers.length,
    slowShare: providers.filter((p) => p.behaviour.kind === 'slow').length / providers.length,
    sizeTop10Share: top10Share(providers.map((p) => p.size)),
    calls: n,
    hops: { mean: n === 0 ? 0 : hopsTotal / n, min: n === 0 ? 0 : min, max, histogram },
    foreignOriginShare: n === 0 ? 0 : foreign / n,
    trafficTop10Share: top10Share([...carried.values()]),
    silentOnPathShare: n === 0 ? 0 : silentOnPath / n,
    topProviders: [...carried.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([id, count]) => {
        const p = byId.get(id)!;
        return { id, name: p.name, role: p.role, calls: count };
      }),
    campaigns,
  };
}
