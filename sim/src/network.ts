import { isSubjectToken } from '../../protocol/index.js';
import type { ProviderId } from '../../protocol/index.js';
import type { CustomerAction } from './carrier.js';
import { CAMPAIGNS, campaignSpec } from './campaigns.js';
import { FOREIGN_COUNTRIES, NameBook, randomAddress, randomState, slug } from './names.js';
import { randomUsNumber } from './phone.js';
import { Rng, WeightedTable } from './rng.js';
import type {
  CompiledSimNetworkOptions,
  ProviderBehaviour,
  ProviderRole,
  SimCampaign,
  SimCampaignSource,
  SimCustomer,
  SimForeignCarrier,
  SimLink,
  SimNetwork,
  SimNetworkOptions,
  SimProvider,
} from './types.js';

const DAY_MS = 86_400_000;

function share(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return value;
}

function range(name: string, value: [number, number], min = 0): [number, number] {
  const [a, b] = value;
  if (!Number.isFinite(a) || !Number.isFinite(b) || a < min || a > b) {
    throw new RangeError(`${name} must be [min, max] with ${min} <= min <= max, got [${a}, ${b}]`);
  }
  return [a, b];
}

/** Fills in defaults and validates; throws `RangeError` on impossible options. */
export function compileNetworkOptions(options: SimNetworkOptions = {}): CompiledSimNetworkOptions {
  const providers = options.providers ?? 200;
  if (!Number.isInteger(providers) || providers < 20 || providers > 10_000) {
    throw new RangeError(`providers must be an integer in [20, 10000], got ${providers}`);
  }
  const maxHops = options.maxHops ?? 15;
  if (!Number.isInteger(maxHops) || maxHops < 2 || maxHops > 64) throw new RangeError(`maxHops must be an integer in [2, 64], got ${maxHops}`);
  const meanHops = options.meanHops ?? 5.6;
  if (!Number.isFinite(meanHops) || meanHops < 2 || meanHops > maxHops) {
    throw new RangeError(`meanHops must be in [2, maxHops], got ${meanHops}`);
  }
  const compiled: CompiledSimNetworkOptions = {
    seed: options.seed ?? 1,
    providers,
    silentShare: share('silentShare', options.silentShare ?? 0.12),
    slowShare: share('slowShare', options.slowShare ?? 0.1),
    foreignOriginShare: share('foreignOriginShare', options.foreignOriginShare ?? 0.6),
    meanHops,
    maxHops,
    retentionDays: options.retentionDays ?? 90,
    shortRetentionShare: share('shortRetentionShare', options.shortRetentionShare ?? 0.05),
    shortRetentionDays: range('shortRetentionDays', options.shortRetentionDays ?? [7, 30], 1),
    deadlineMs: options.deadlineMs ?? DAY_MS,
    slowDeadlineFraction: range('slowDeadlineFraction', options.slowDeadlineFraction ?? [0.2, 0.8]),
    responsiveDelayMs: range('responsiveDelayMs', options.responsiveDelayMs ?? [5, 50]),
    terminatingShare: share('terminatingShare', options.terminatingShare ?? 0.03),
    gatewayShare: share('gatewayShare', options.gatewayShare ?? 0.04),
    intermediateShare: share('intermediateShare', options.intermediateShare ?? 0.35),
    foreignCarriers: options.foreignCarriers ?? Math.max(4, Math.round(providers * 0.06)),
    referenceTime: options.referenceTime ?? Date.UTC(2026, 10, 1),
    campaigns: options.campaigns ?? CAMPAIGNS.map((c) => c.name),
  };
  if (compiled.slowDeadlineFraction[1] >= 1) throw new RangeError('slowDeadlineFraction must stay below 1 (a slow provider still answers in time)');
  if (!(compiled.retentionDays > 0)) throw new RangeError(`retentionDays must be > 0, got ${compiled.retentionDays}`);
  if (!(compiled.deadlineMs > 0)) throw new RangeError(`deadlineMs must be > 0, got ${compiled.deadlineMs}`);
  if (!Number.isInteger(compiled.foreignCarriers) || compiled.foreignCarriers < 1) {
    throw new RangeError(`foreignCarriers must be an integer >= 1, got ${compiled.foreignCarriers}`);
  }
  const roleShare = compiled.terminatingShare + compiled.gatewayShare + compiled.intermediateShare;
  if (roleShare > 0.9) throw new RangeError('terminatingShare + gatewayShare + intermediateShare must leave room for originating providers');
  if (compiled.silentShare + compiled.slowShare > 1 - compiled.terminatingShare - 0.05) {
    throw new RangeError('silentShare + slowShare is too large: terminating carriers always answer');
  }
  if (compiled.campaigns.length === 0) throw new RangeError('campaigns must not be empty');
  for (const name of compiled.campaigns) campaignSpec(name);
  return compiled;
}

/** Draws `count` distinct indices from `pool` with probability proportional to `weight`. */
function drawDistinct(rng: Rng, pool: readonly number[], count: number, weight: (i: number) => number): number[] {
  const left = [...pool];
  const weights = left.map(weight);
  const out: number[] = [];
  while (out.length < count && left.length > 0) {
    const total = weights.reduce((a, b) => a + b, 0);
    const k = total > 0 ? rng.weighted(weights) : rng.int(left.length);
    out.push(left[k] as number);
    left.splice(k, 1);
    weights.splice(k, 1);
  }
  return out;
}

/** A Fenwick tree of weights: O(log n) update and proportional draw. */
class WeightTree {
  private readonly tree: Float64Array;
  private readonly mask: number;

  constructor(private readonly n: number) {
    this.tree = new Float64Array(n + 1);
    let m = 1;
    while (m * 2 <= n) m *= 2;
    this.mask = m;
  }

  add(i: number, delta: number): void {
    for (let k = i + 1; k <= this.n; k += k & -k) this.tree[k] = this.tree[k]! + delta;
  }

  total(): number {
    let sum = 0;
    for (let k = this.n; k > 0; k -= k & -k) sum += this.tree[k]!;
    return sum;
  }

  /** The index whose cumulative range contains `x` (0 <= x < total). */
  find(x: number): number {
    let pos = 0;
    let rest = x;
    for (let step = this.mask; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.n && this.tree[next]! <= rest) {
        pos = next;
        rest -= this.tree[next]!;
      }
    }
    return Math.min(pos, this.n - 1);
  }
}

/**
 * Grows the interconnection graph by preferential attachment with fitness: each newcomer links
 * to 2–4 existing providers chosen with probability proportional to degree × fitness.
 */
function growGraph(rng: Rng, n: number): { adjacency: Set<number>[]; fitness: number[] } {
  const fitness = Array.from({ length: n }, () => Math.exp(0.8 * rng.normal()));
  const adjacency = Array.from({ length: n }, () => new Set<number>());
  const weights = new WeightTree(n);
  const link = (a: number, b: number): void => {
    connect(adjacency, a, b);
    weights.add(a, fitness[a]!);
    weights.add(b, fitness[b]!);
  };
  const seedNodes = Math.min(4, n);
  for (let a = 0; a < seedNodes; a++) for (let b = a + 1; b < seedNodes; b++) link(a, b);
  for (let i = seedNodes; i < n; i++) {
    const m = Math.min(i, rng.between(2, 4));
    const chosen: number[] = [];
    for (let k = 0; k < m; k++) {
      const target = weights.find(rng.float() * weights.total());
      chosen.push(target);
      // Out of the draw until this newcomer is linked: no double links.
      weights.add(target, -adjacency[target]!.size * fitness[target]!);
    }
    for (const target of chosen) weights.add(target, adjacency[target]!.size * fitness[target]!);
    for (const target of chosen) link(i, target);
  }
  return { adjacency, fitness };
}

function connect(adjacency: Set<number>[], a: number, b: number): void {
  if (a === b) return;
  adjacency[a]!.add(b);
  adjacency[b]!.add(a);
}

function uniqueToken(used: Set<string>, make: () => string): string {
  for (let attempt = 0; attempt < 100; attempt++) {
    const t = make();
    if (!used.has(t)) {
      used.add(t);
      return t;
    }
  }
  // A crowded space: number a variant instead of drawing forever.
  const base = make();
  for (let k = 2; ; k++) {
    const t = `${base}-${k}`;
    if (!used.has(t)) {
      used.add(t);
      return t;
    }
  }
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Generates a synthetic US phone network from a seed: a few national terminating carriers
 * carrying most traffic, wholesalers, gateways for foreign traffic and a long tail of small
 * originating providers; their interconnections, customers, foreign carriers and campaigns.
 * Deterministic: the same options give a deep-equal network.
 */
export function generateNetwork(options: SimNetworkOptions = {}): SimNetwork {
  const o = compileNetworkOptions(options);
  const n = o.providers;
  const graphRng = Rng.derive(o.seed, 'graph');
  const { adjacency, fitness } = growGraph(graphRng, n);

  // Traffic volume grows faster than degree: big carriers are big in every way.
  const rawSize = adjacency.map((adj, i) => Math.pow(adj.size * fitness[i]!, 1.2));
  const byRank = [...rawSize.keys()].sort((a, b) => rawSize[b]! - rawSize[a]! || a - b);

  // Roles.
  const roleRng = Rng.derive(o.seed, 'roles');
  const primary: ProviderRole[] = new Array<ProviderRole>(n).fill('originating');
  const terminatingCount = Math.max(3, Math.round(n * o.terminatingShare));
  const terminating = byRank.slice(0, terminatingCount);
  for (const i of terminating) primary[i] = 'terminating';
  const rest = byRank.slice(terminatingCount);
  const gateways = drawDistinct(roleRng, rest, Math.max(2, Math.round(n * o.gatewayShare)), (i) => Math.sqrt(rawSize[i]!));
  for (const i of gateways) primary[i] = 'gateway';
  const unassigned = rest.filter((i) => primary[i] === 'originating');
  const intermediates = drawDistinct(roleRng, unassigned, Math.round(n * o.intermediateShare), (i) => rawSize[i]!);
  for (const i of intermediates) primary[i] = 'intermediate';
  const roles: ProviderRole[][] = primary.map((role) => {
    switch (role) {
      case 'terminating':
        return ['terminating', 'originating'];
      case 'gateway':
        return roleRng.chance(0.5) ? ['gateway', 'intermediate'] : ['gateway'];
      case 'intermediate':
        return roleRng.chance(0.3) ? ['intermediate', 'originating'] : ['intermediate'];
      case 'originating':
        return roleRng.chance(0.15) ? ['originating', 'intermediate'] : ['originating'];
      default:
        return role satisfies never;
    }
  });
  const canTransit = (i: number): boolean => roles[i]!.includes('intermediate');

  // Risk: heavy-tailed, a few bad actors; national carriers police their traffic.
  const riskRng = Rng.derive(o.seed, 'risk');
  const risk = primary.map((role) => {
    const u = riskRng.float();
    switch (role) {
      case 'terminating':
        return 0.01 + 0.02 * u;
      case 'gateway':
        return 0.05 + 0.9 * u * u;
      default:
        return 0.02 + 0.95 * u * u * u;
    }
  });

  // Extra interconnections: everyone reaches the national carriers; wholesalers peer widely.
  const linkRng = Rng.derive(o.seed, 'links');
  const transitPool = [...Array(n).keys()].filter(canTransit);
  const transitTable = new WeightedTable(transitPool, transitPool.map((i) => rawSize[i]!));
  const terminatingTable = new WeightedTable(terminating, terminating.map((i) => rawSize[i]!));
  for (const a of terminating) for (const b of terminating) if (a < b) connect(adjacency, a, b);
  for (let i = 0; i < n; i++) {
    if (primary[i] === 'terminating') continue;
    for (const t of terminating) if (linkRng.chance(0.25)) connect(adjacency, i, t);
    if (![...adjacency[i]!].some((j) => primary[j] === 'terminating')) connect(adjacency, i, terminatingTable.sample(linkRng));
    if (canTransit(i)) {
      const extra = linkRng.between(1, 3);
      for (let k = 0; k < extra; k++) connect(adjacency, i, transitTable.sample(linkRng));
    }
    if (![...adjacency[i]!].some(canTransit)) {
      let j = transitTable.sample(linkRng);
      while (j === i) j = transitTable.sample(linkRng);
      connect(adjacency, i, j);
    }
  }

  // Provider records.
  const width = Math.max(4, String(n).length);
  const ids = Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(width, '0')}`);
  for (const id of ids) if (!isSubjectToken(id)) throw new Error(`bad provider id ${id}`);
  const attrRng = Rng.derive(o.seed, 'attributes');
  const names = new NameBook(Rng.derive(o.seed, 'names'));
  const usedOcn = new Set<string>();
  const usedFrn = new Set<string>();
  const ALNUM = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  const nonTerminating = [...Array(n).keys()].filter((i) => primary[i] !== 'terminating');
  const behaviourRng = Rng.derive(o.seed, 'behaviour');
  const silent = new Set(drawDistinct(behaviourRng, nonTerminating, Math.round(n * o.silentShare), (i) => 1 / rawSize[i]!));
  const slow = new Set(
    drawDistinct(
      behaviourRng,
      nonTerminating.filter((i) => !silent.has(i)),
      Math.round(n * o.slowShare),
      () => 1,
    ),
  );
  const shortRetention = new Set(drawDistinct(behaviourRng, nonTerminating, Math.round(n * o.shortRetentionShare), (i) => 1 / Math.sqrt(rawSize[i]!)));
  const totalSize = rawSize.reduce((a, b) => a + b, 0);

  const providers: SimProvider[] = ids.map((id, i) => {
    const role = primary[i]!;
    const name = role === 'terminating' ? names.national() : names.provider(role);
    let behaviour: ProviderBehaviour;
    if (silent.has(i)) behaviour = { kind: 'silent' };
    else if (slow.has(i)) {
      const fraction = Math.round(behaviourRng.uniform(o.slowDeadlineFraction[0], o.slowDeadlineFraction[1]) * 1000) / 1000;
      behaviour = { kind: 'slow', answerDelayMs: Math.round(o.deadlineMs * fraction), deadlineFraction: fraction };
    } else behaviour = { kind: 'responsive', answerDelayMs: behaviourRng.between(o.responsiveDelayMs[0], o.responsiveDelayMs[1]) };
    const skewKind = attrRng.float();
    const clockSkewMs =
      skewKind < 0.7
        ? Math.max(-50, Math.min(50, Math.round(attrRng.normal() * 20)))
        : skewKind < 0.95
          ? attrRng.between(-500, 500)
          : attrRng.between(-1200, 1200);
    return {
      id,
      name,
      ocn: uniqueToken(usedOcn, () => `${attrRng.between(100, 999)}${ALNUM[attrRng.int(ALNUM.length)]}`),
      frn: uniqueToken(usedFrn, () => `00${String(attrRng.int(100_000_000)).padStart(8, '0')}`),
      role,
      roles: roles[i]!,
      size: rawSize[i]! / totalSize,
      risk: Math.round(risk[i]! * 10_000) / 10_000,
      behaviour,
      retentionDays: shortRetention.has(i) ? attrRng.between(o.shortRetentionDays[0], o.shortRetentionDays[1]) : o.retentionDays,
      clockSkewMs,
      contact: `traceback@${slug(name)}.example`,
      state: randomState(attrRng),
    };
  });

  // Directed links with the trunk group the receiver sees.
  const trunkRng = Rng.derive(o.seed, 'trunks');
  const trunksAt = Array.from({ length: n }, () => new Set<string>());
  const links: SimLink[] = [];
  for (let a = 0; a < n; a++) {
    for (const b of [...adjacency[a]!].sort((x, y) => x - y)) {
      links.push({ from: ids[a]!, to: ids[b]!, trunk: uniqueToken(trunksAt[b]!, () => `TG${trunkRng.between(1000, 9999)}`) });
    }
  }

  // Foreign carriers enter through the gateways, the riskier ones more often.
  const foreignRng = Rng.derive(o.seed, 'foreign');
  const gatewayPool = [...Array(n).keys()].filter((i) => roles[i]!.includes('gateway'));
  const countryTable = new WeightedTable(
    FOREIGN_COUNTRIES.map((c) => c.country),
    FOREIGN_COUNTRIES.map((c) => c.weight),
  );
  const foreignCarriers: SimForeignCarrier[] = [];
  const intlTrunks = Array.from({ length: n }, () => new Set<string>());
  for (let f = 0; f < o.foreignCarriers; f++) {
    const country = countryTable.sample(foreignRng);
    const entries = drawDistinct(foreignRng, gatewayPool, foreignRng.between(1, 2), (i) => 0.1 + risk[i]!).map((g) => ({
      gateway: ids[g]!,
      trunk: uniqueToken(intlTrunks[g]!, () => `INTL-${foreignRng.between(1, 99)}`),
    }));
    foreignCarriers.push({ id: `f${String(f + 1).padStart(3, '0')}`, name: names.foreign(country), country, entries });
  }

  // Customers of every provider that originates calls; robocallers at the risky ones.
  const customerRng = Rng.derive(o.seed, 'customers');
  const customers: Record<ProviderId, SimCustomer[]> = {};
  const ACTIONS: readonly CustomerAction[] = ['terminated', 'warned', 'none'];
  const robocallerSites: number[] = [];
  const makeCustomers = (i: number, robocallers: number): void => {
    const id = ids[i]!;
    const list = customers[id] ?? (customers[id] = []);
    const prefix = customerRng.pick(['ACCT', 'CUST', 'SUB', 'A', 'BAN']);
    const used = new Set(list.map((c) => c.account));
    const legit = list.length === 0 ? customerRng.between(2, 8) : 0;
    for (let k = 0; k < legit + robocallers; k++) {
      const robocaller = k >= legit;
      const name = names.customer(robocaller);
      const customer: SimCustomer = {
        account: uniqueToken(used, () => `${prefix}-${customerRng.between(10_000, 99_999)}`),
        name,
        address: randomAddress(customerRng),
        contact: customerRng.chance(0.6) ? `ops@${slug(name)}.example` : randomUsNumber(customerRng),
        accountSince: isoDate(o.referenceTime - (robocaller ? customerRng.between(20, 700) : customerRng.between(200, 5000)) * DAY_MS),
        action: robocaller ? ACTIONS[customerRng.weighted([0.4, 0.4, 0.2])]! : 'none',
        robocaller,
      };
      list.push(customer);
    }
    if (robocallers > 0) robocallerSites.push(i);
    customerRng.shuffle(list);
  };
  for (let i = 0; i < n; i++) {
    if (!roles[i]!.includes('originating')) continue;
    const robocallers =
      primary[i] !== 'terminating' && customerRng.chance(Math.min(1, risk[i]! * 2.5)) ? customerRng.between(1, 1 + Math.floor(risk[i]! * 4)) : 0;
    makeCustomers(i, robocallers);
  }
  // Campaigns need somewhere to come from: make sure a few bad actors exist.
  const wanted = Math.max(3, Math.ceil(o.campaigns.length / 2));
  const candidates = nonTerminating.filter((i) => roles[i]!.includes('originating')).sort((a, b) => risk[b]! - risk[a]! || a - b);
  for (const i of candidates) {
    if (robocallerSites.length >= wanted) break;
    if (!robocallerSites.includes(i)) makeCustomers(i, 1);
  }

  // Campaigns: each has a few domestic robocallers and a few foreign carriers behind it.
  const campaignRng = Rng.derive(o.seed, 'campaigns');
  const robocallers: { provider: number; account: string }[] = [];
  for (const i of [...new Set(robocallerSites)].sort((a, b) => a - b)) {
    for (const c of customers[ids[i]!] ?? []) if (c.robocaller) robocallers.push({ provider: i, account: c.account });
  }
  const robocallerIdx = [...robocallers.keys()];
  const foreignIdx = [...foreignCarriers.keys()];
  const campaigns: SimCampaign[] = o.campaigns.map((name) => {
    const sources: SimCampaignSource[] = [];
    for (const k of drawDistinct(campaignRng, robocallerIdx, campaignRng.between(1, 3), (r) => risk[robocallers[r]!.provider]!)) {
      const r = robocallers[k]!;
      sources.push({ kind: 'customer', provider: ids[r.provider]!, account: r.account });
    }
    for (const k of drawDistinct(campaignRng, foreignIdx, campaignRng.between(1, 3), () => 1)) {
      sources.push({ kind: 'foreign', carrier: foreignCarriers[k]!.id });
    }
    return { name, weight: campaignSpec(name).weight, sources };
  });

  return { options: o, providers, links, foreignCarriers, customers, campaigns };
}
