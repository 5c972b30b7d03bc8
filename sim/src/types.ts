import type { E164, ProviderId } from '../../protocol/index.js';
import type { CdrRecord, Customer } from './carrier.js';
import type { Seed } from './rng.js';

/**
 * Types of the simulated US phone network: providers and their interconnections, customers,
 * foreign carriers, campaigns, calls and the records carriers keep of them.
 *
 * Everything is plain data (JSON-serialisable, deep-equal comparable), generated from a seed.
 */

/**
 * What a provider does on a robocall's path.
 * - `originating`: has customers that place calls (small VoIP providers, the long tail).
 * - `intermediate`: a wholesaler / least-cost router that passes calls between providers.
 * - `gateway`: a US point of entry that accepts calls from foreign carriers.
 * - `terminating`: a big national carrier that delivers calls to the called party.
 */
export type ProviderRole = 'originating' | 'intermediate' | 'gateway' | 'terminating';

/**
 * How a provider responds to traceback requests.
 * - `responsive`: answers within `answerDelayMs` (milliseconds: it has automated the lookup).
 * - `slow`: answers after `deadlineFraction` of the response deadline (`answerDelayMs` for the
 *   deadline the network was generated with; rescale with the fraction for another deadline).
 * - `silent`: never answers (a noncooperative provider).
 */
export type ProviderBehaviour =
  | { kind: 'responsive'; answerDelayMs: number }
  | { kind: 'slow'; answerDelayMs: number; deadlineFraction: number }
  | { kind: 'silent' };

/** One US voice service provider. */
export interface SimProvider {
  /** Subject-safe id, `p` and a zero-padded number, e.g. `p0042`. */
  id: ProviderId;
  /** Legal name, e.g. `Blue Ridge Voice LLC`. */
  name: string;
  /** Operating Company Number: 4 characters, unique. */
  ocn: string;
  /** FCC Registration Number: 10 digits, unique. */
  frn: string;
  /** Primary role. */
  role: ProviderRole;
  /** All roles, the primary first. A wholesaler may also originate; a gateway may also carry domestic transit. */
  roles: ProviderRole[];
  /** Share of US voice traffic this provider carries (all providers sum to 1; heavy-tailed). */
  size: number;
  /** Tendency to accept or originate illegal traffic, 0..1 (heavy-tailed: a few bad actors). */
  risk: number;
  behaviour: ProviderBehaviour;
  /** How long the provider keeps call detail records, days. */
  retentionDays: number;
  /** Offset of the provider's CDR clock from true time, ms. */
  clockSkewMs: number;
  /** Traceback contact (reserved `.example` domain). */
  contact: string;
  /** State of the headquarters, e.g. `TX`. */
  state: string;
}

/** Provider `from` sends calls to provider `to`, which sees them arrive on trunk group `trunk`. */
export interface SimLink {
  from: ProviderId;
  to: ProviderId;
  trunk: string;
}

/** A carrier outside the US that hands calls to US gateways. */
export interface SimForeignCarrier {
  /** Internal id, e.g. `f007` (not a US provider id; the carrier is outside the traceback). */
  id: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** The US gateways it reaches, with the trunk each gateway sees its calls on. */
  entries: { gateway: ProviderId; trunk: string }[];
}

/** A customer of an originating provider. */
export interface SimCustomer extends Customer {
  /** True for customers that place illegal robocalls (campaign sources). */
  robocaller: boolean;
}

/** Where a campaign's calls come from. */
export type SimCampaignSource =
  | { kind: 'customer'; provider: ProviderId; account: string }
  | { kind: 'foreign'; carrier: string };

/** A robocall campaign with its sources in this network. Content comes from `CAMPAIGNS`. */
export interface SimCampaign {
  /** Consortium-style name, e.g. `SSA-CalltheSSA`. */
  name: string;
  /** Relative call volume. */
  weight: number;
  sources: SimCampaignSource[];
}

/** Options of `generateNetwork`. */
export interface SimNetworkOptions {
  /** @default 1 */
  seed?: Seed;
  /** Number of US providers. @default 200 */
  providers?: number;
  /** Share of providers that never answer. @default 0.12 */
  silentShare?: number;
  /** Share of providers that answer late in the deadline. @default 0.1 */
  slowShare?: number;
  /** Share of robocalls that originate abroad and enter through a gateway. @default 0.6 */
  foreignOriginShare?: number;
  /** Target mean number of US providers on a robocall's path (= traceback hops). @default 5.6 */
  meanHops?: number;
  /** Longest path. @default 15 */
  maxHops?: number;
  /** Record retention of most providers, days. @default 90 */
  retentionDays?: number;
  /** Share of providers with short retention. @default 0.05 */
  shortRetentionShare?: number;
  /** Range of short retention, days. @default [7, 30] */
  shortRetentionDays?: [number, number];
  /** Response deadline the behaviours are computed for, ms. @default 86_400_000 (24 h) */
  deadlineMs?: number;
  /** Range of a slow provider's answer time as a fraction of the deadline. @default [0.2, 0.8] */
  slowDeadlineFraction?: [number, number];
  /** Range of a responsive provider's answer time, ms. @default [5, 50] */
  responsiveDelayMs?: [number, number];
  /** Share of providers that are national terminating carriers. @default 0.03 */
  terminatingShare?: number;
  /** Share of providers that are gateways for foreign traffic. @default 0.04 */
  gatewayShare?: number;
  /** Share of providers that are wholesalers. @default 0.35 */
  intermediateShare?: number;
  /** Number of foreign carriers. @default max(4, round(providers × 0.06)) */
  foreignCarriers?: number;
  /** Reference "today" for account-opening dates, ms. @default Date.UTC(2026, 10, 1) */
  referenceTime?: number;
  /** Campaign names to use (from `CAMPAIGNS`). @default all */
  campaigns?: string[];
}

/** `SimNetworkOptions` with every default filled in. */
export type CompiledSimNetworkOptions = Required<Omit<SimNetworkOptions, 'campaigns'>> & { campaigns: string[] };

/** A generated network. */
export interface SimNetwork {
  options: CompiledSimNetworkOptions;
  /** Ordered by id; `p0001` is the oldest (and usually among the largest). */
  providers: SimProvider[];
  /** Directed interconnections: who sends traffic to whom. */
  links: SimLink[];
  foreignCarriers: SimForeignCarrier[];
  /** Customers per provider that has the `originating` role. */
  customers: Record<ProviderId, SimCustomer[]>;
  campaigns: SimCampaign[];
}

/** Where one call came from. */
export type SimOrigin =
  | { kind: 'customer'; provider: ProviderId; account: string }
  | { kind: 'foreign'; carrier: string; carrierName: string; country: string; gateway: ProviderId };

/** One simulated robocall. */
export interface SimCall {
  /** Simulation id, e.g. `call-000042` (not a SIP Call-ID). */
  id: string;
  /** Caller ID as presented (usually spoofed). */
  calling: E164;
  called: E164;
  /** When the called party's side saw the call, ms since epoch, whole seconds (what a complaint reports). */
  time: number;
  campaign: string;
  transcript: string;
  /** US providers from the origin to the terminating provider; no provider twice. */
  path: ProviderId[];
  /** True time the call reached each provider on `path`, ms. */
  hopTimes: number[];
  origin: SimOrigin;
  terminatingProvider: ProviderId;
}

/** Options of `generateCalls`. */
export interface SimCallOptions {
  /** @default 1000 */
  count?: number;
  /** @default the network's seed */
  seed?: Seed;
  /** Earliest call time, ms. @default referenceTime − spreadMs */
  startTime?: number;
  /** Calls fall in [startTime, startTime + spreadMs). @default 30 days */
  spreadMs?: number;
}

/** Records each provider keeps of the simulated calls. */
export interface SimCdrs {
  /** Per provider, sorted by time; every provider has an entry (possibly empty). */
  records: Map<ProviderId, CdrRecord[]>;
  /** Per provider with customers. */
  customers: Map<ProviderId, Customer[]>;
  /** The moment the records are a snapshot of; older ones were purged per provider retention. */
  asOf: number;
  /** Records dropped because they were older than the provider's retention at `asOf`. */
  purged: number;
}

/** Options of `buildCdrs`. */
export interface SimCdrOptions {
  /** Snapshot time. @default the latest call time */
  asOf?: number;
  /** Share of calls that get an unrelated look-alike record at the terminating provider. @default 0.05 */
  decoyShare?: number;
  /** @default the network's seed */
  seed?: Seed;
}

/** The outcome a correct traceback of a call must reach. */
export interface SimExpectation {
  outcome: 'origin_found' | 'foreign_entry' | 'not_found' | 'noncooperative';
  /** Number of providers asked. */
  hops: number;
  /** The last provider asked. */
  endProvider: ProviderId;
}

/** A curated campaign: name, what it is about, and real transcripts. */
export interface CampaignSpec {
  name: string;
  topic: string;
  /** Relative call volume. */
  weight: number;
  language: 'en' | 'zh';
  /** Speech-to-text transcripts of real recordings; `source` is the upstream recording file. */
  transcripts: readonly { text: string; source: string }[];
}

/** Statistics of a network and a set of calls. */
export interface SimSummary {
  providers: number;
  byRole: Record<ProviderRole, number>;
  silentShare: number;
  slowShare: number;
  /** Share of total size held by the largest 10% of providers. */
  sizeTop10Share: number;
  calls: number;
  hops: { mean: number; min: number; max: number; histogram: Record<number, number> };
  foreignOriginShare: number;
  /** Share of provider appearances on call paths taken by the busiest 10% of providers. */
  trafficTop10Share: number;
  /** Share of calls whose path has a silent provider (a traceback of it ends noncooperative at best). */
  silentOnPathShare: number;
  /** Busiest providers by number of calls carried. */
  topProviders: { id: ProviderId; name: string; role: ProviderRole; calls: number }[];
  /** Calls per campaign. */
  campaigns: Record<string, number>;
}
