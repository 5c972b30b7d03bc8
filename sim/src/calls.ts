import type { CallData, E164 } from '../../protocol/index.js';
import { campaignSpec } from './campaigns.js';
import { areaCodeOf, randomUsNumber } from './phone.js';
import { Rng, WeightedTable } from './rng.js';
import type { SimCall, SimCallOptions, SimCampaignSource, SimForeignCarrier, SimNetwork, SimOrigin } from './types.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Per-network routing tables, built once. */
interface Routing {
  index: Map<string, number>;
  /** Out-neighbours that can carry transit, weighted for least-cost wholesale routing. */
  transit: WeightedTable<number>[];
  /** Out-neighbours that are terminating carriers, weighted by the square root of size. */
  terminal: WeightedTable<number>[];
  foreign: Map<string, SimForeignCarrier>;
}

const routingCache = new WeakMap<SimNetwork, Routing>();

function routingOf(network: SimNetwork): Routing {
  const cached = routingCache.get(network);
  if (cached !== undefined) return cached;
  const { providers } = network;
  const index = new Map(providers.map((p, i) => [p.id, i]));
  const out: number[][] = providers.map(() => []);
  for (const link of network.links) {
    const a = index.get(link.from);
    const b = index.get(link.to);
    if (a === undefined || b === undefined) throw new Error(`link ${link.from} → ${link.to} names an unknown provider`);
    out[a]!.push(b);
  }
  // Robocalls ride least-cost routes: wholesalers are chosen by size, tilted towards the permissive ones.
  const transitWeight = (j: number): number => Math.pow(providers[j]!.size, 0.75) * (0.3 + providers[j]!.risk);
  const routing: Routing = {
    index,
    transit: out.map((targets) => {
      const t = targets.filter((j) => providers[j]!.roles.includes('intermediate'));
      return new WeightedTable(t, t.map(transitWeight));
    }),
    terminal: out.map((targets) => {
      const t = targets.filter((j) => providers[j]!.role === 'terminating');
      // Market share of the called number's carrier: the big ones are big, not overwhelming.
      return new WeightedTable(t, t.map((j) => Math.sqrt(providers[j]!.size)));
    }),
    foreign: new Map(network.foreignCarriers.map((f) => [f.id, f])),
  };
  routingCache.set(network, routing);
  return routing;
}

/**
 * Number of US providers on a path: 2 plus a negative-binomial (r = 3) count, so that the
 * mean is `meanHops`, the mode is around 4–5 and the tail reaches `maxHops`.
 */
function drawPathLength(rng: Rng, meanHops: number, maxHops: number): number {
  const r = 3;
  const extra = meanHops - 2;
  if (extra <= 0) return 2;
  const p = r / (r + extra);
  for (;;) {
    let x = 0;
    for (let k = 0; k < r; k++) x += rng.geometric(p);
    if (2 + x <= maxHops) return 2 + x;
  }
}

/**
 * Generates robocalls through the network. Each call belongs to a campaign, comes from one of
 * its sources (a customer of an originating provider, or a foreign carrier through a gateway),
 * and is routed through least-cost wholesalers to a national carrier. Calls arrive in storms.
 * Deterministic for a given network and seed; sorted by time.
 */
export function generateCalls(network: SimNetwork, options: SimCallOptions = {}): SimCall[] {
  const count = options.count ?? 1000;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  const spreadMs = options.spreadMs ?? 30 * DAY_MS;
  if (!(spreadMs > 0)) throw new RangeError(`spreadMs must be > 0, got ${spreadMs}`);
  const startTime = options.startTime ?? network.options.referenceTime - spreadMs;
  const seed = options.seed ?? network.options.seed;
  const o = network.options;
  const routing = routingOf(network);
  const { providers } = network;
  const rng = Rng.derive(seed, 'calls');

  const campaignTable = new WeightedTable(
    network.campaigns,
    network.campaigns.map((c) => c.weight),
  );
  const storms = new Map(
    network.campaigns.map((c) => [c.name, Array.from({ length: rng.between(3, 8) }, () => startTime + rng.float() * spreadMs)]),
  );
  const sourcesOf = new Map(
    network.campaigns.map((c) => [
      c.name,
      {
        domestic: c.sources.filter((s): s is Extract<SimCampaignSource, { kind: 'customer' }> => s.kind === 'customer'),
        foreign: c.sources.filter((s): s is Extract<SimCampaignSource, { kind: 'foreign' }> => s.kind === 'foreign'),
      },
    ]),
  );

  const visited = new Int32Array(providers.length).fill(-1);
  const calls: SimCall[] = [];
  for (let n = 0; n < count; n++) {
    const campaign = campaignTable.sample(rng);
    const spec = campaignSpec(campaign.name);
    const sources = sourcesOf.get(campaign.name)!;
    const foreign = sources.domestic.length === 0 || (sources.foreign.length > 0 && rng.chance(o.foreignOriginShare));

    let origin: SimOrigin;
    if (foreign) {
      const source = rng.pick(sources.foreign);
      const carrier = routing.foreign.get(source.carrier);
      if (carrier === undefined) throw new Error(`campaign ${campaign.name} names unknown foreign carrier ${source.carrier}`);
      const entry = carrier.entries[rng.weighted(carrier.entries.map((e) => 0.2 + providers[routing.index.get(e.gateway)!]!.risk))]!;
      origin = { kind: 'foreign', carrier: carrier.id, carrierName: carrier.name, country: carrier.country, gateway: entry.gateway };
    } else {
      const source = rng.pick(sources.domestic);
      origin = { kind: 'customer', provider: source.provider, account: source.account };
    }

    // Route: origin → wholesalers → national carrier; no provider twice.
    const first = routing.index.get(origin.kind === 'foreign' ? origin.gateway : origin.provider);
    if (first === undefined) throw new Error(`unknown origin provider in campaign ${campaign.name}`);
    const target = drawPathLength(rng, o.meanHops, o.maxHops);
    const path = [first];
    visited[first] = n;
    let current = first;
    while (path.length < target - 1) {
      const table = routing.transit[current]!;
      if (table.size === 0) break;
      let next = -1;
      for (let attempt = 0; attempt < 8 && next === -1; attempt++) {
        const j = table.sample(rng);
        if (visited[j] !== n) next = j;
      }
      if (next === -1) {
        const free = table.items.filter((j) => visited[j] !== n);
        if (free.length === 0) break;
        next = free[rng.int(free.length)]!;
      }
      path.push(next);
      visited[next] = n;
      current = next;
    }
    const terminal = routing.terminal[current]!;
    let last = -1;
    for (let attempt = 0; attempt < 8 && last === -1; attempt++) {
      const j = terminal.sample(rng);
      if (visited[j] !== n) last = j;
    }
    if (last === -1) throw new Error(`provider ${providers[current]!.id} has no way to a terminating carrier`);
    path.push(last);

    // Time: most calls in a campaign's storms, the rest spread out.
    const centres = storms.get(campaign.name)!;
    const t0 = rng.chance(0.7)
      ? Math.min(startTime + spreadMs - 1, Math.max(startTime, rng.pick(centres) + Math.abs(rng.normal()) * 3 * HOUR_MS))
      : startTime + rng.float() * spreadMs;
    const hopTimes: number[] = [];
    let t = Math.floor(t0);
    for (let k = 0; k < path.length; k++) {
      if (k > 0) t += rng.between(20, 120);
      hopTimes.push(t);
    }

    const called = randomUsNumber(rng);
    // Neighbour spoofing is rare (about 6% share the called party's area code).
    let calling: E164 = rng.chance(0.06) ? randomUsNumber(rng, areaCodeOf(called)) : randomUsNumber(rng);
    while (calling === called) calling = randomUsNumber(rng);

    calls.push({
      id: '',
      calling,
      called,
      time: Math.floor(hopTimes[hopTimes.length - 1]! / 1000) * 1000,
      campaign: campaign.name,
      transcript: rng.pick(spec.transcripts).text,
      path: path.map((i) => providers[i]!.id),
      hopTimes,
      origin,
      terminatingProvider: providers[last]!.id,
    });
  }
  calls.sort((a, b) => a.time - b.time || a.hopTimes[0]! - b.hopTimes[0]!);
  const width = Math.max(6, String(count).length);
  calls.forEach((c, i) => (c.id = `call-${String(i + 1).padStart(width, '0')}`));
  return calls;
}

/** The call data a traceback request carries for a simulated call. */
export function callDataOf(call: SimCall): CallData {
  return { calling: call.calling, called: call.called, time: call.time, campaign: call.campaign, transcript: call.transcript };
}
