import type { ProviderId } from '../../protocol/index.js';
import { CdrIndex, answerFromCdr, type CdrRecord, type Customer } from './carrier.js';
import { randomUsNumber } from './phone.js';
import { Rng, hashString, mix32 } from './rng.js';
import { shakenAlongPath } from './shaken.js';
import type { SimCall, SimCdrOptions, SimCdrs, SimExpectation, SimNetwork, SimProvider } from './types.js';

const DAY_MS = 86_400_000;

/**
 * A provider-local SIP Call-ID (the id changes at every carrier). `n` is unique per record of a
 * provider and every step is a bijection on 32 bits, so ids never collide within a provider.
 */
function localCallId(n: number, providerHash: number, provider: ProviderId): string {
  return `${mix32(mix32(n) ^ providerHash).toString(36)}@${provider}`;
}

/**
 * Builds each provider's call detail records for `calls`, consistent with their paths: at each
 * provider the ingress is the previous hop (or the customer / foreign carrier at the start), the
 * egress the next hop, the time the true arrival time shifted by the provider's clock skew.
 * Records older than a provider's retention at `asOf` are purged, as the provider would have.
 * Each record carries the call's STIR/SHAKEN data as that provider signed or received it (`shaken.ts`).
 * A few look-alike decoy records (other caller, or the same caller minutes apart) are added at
 * terminating providers so that a lookup has something to tell apart.
 */
export function buildCdrs(network: SimNetwork, calls: readonly SimCall[], options: SimCdrOptions = {}): SimCdrs {
  const asOf = options.asOf ?? calls.reduce((max, c) => Math.max(max, c.time), Number.NEGATIVE_INFINITY);
  const snapshot = Number.isFinite(asOf) ? asOf : network.options.referenceTime;
  const decoyShare = options.decoyShare ?? 0.05;
  const rng = Rng.derive(options.seed ?? network.options.seed, 'cdrs');
  const byId = new Map<ProviderId, SimProvider>(network.providers.map((p) => [p.id, p]));
  const providerHash = new Map<ProviderId, number>(network.providers.map((p) => [p.id, hashString(p.id)]));
  const trunks = new Map<string, Map<string, string>>();
  for (const l of network.links) {
    let from = trunks.get(l.from);
    if (from === undefined) trunks.set(l.from, (from = new Map()));
    from.set(l.to, l.trunk);
  }
  const inbound = new Map<ProviderId, ProviderId[]>();
  for (const l of network.links) {
    const list = inbound.get(l.to) ?? [];
    list.push(l.from);
    inbound.set(l.to, list);
  }
  const foreign = new Map(network.foreignCarriers.map((f) => [f.id, f]));
  const records = new Map<ProviderId, CdrRecord[]>(network.providers.map((p) => [p.id, []]));
  let purged = 0;

  const keep = (provider: SimProvider, record: CdrRecord): void => {
    if (snapshot - record.startUtc > provider.retentionDays * DAY_MS) {
      purged++;
      return;
    }
    records.get(provider.id)!.push(record);
  };

  for (let c = 0; c < calls.length; c++) {
    const call = calls[c]!;
    const last = call.path.length - 1;
    const shaken = shakenAlongPath(call, byId);
    for (let k = 0; k <= last; k++) {
      const id = call.path[k]!;
      const provider = byId.get(id);
      if (provider === undefined) throw new Error(`call ${call.id} passes unknown provider ${id}`);
      const callId = localCallId(c, providerHash.get(id)!, id);
      const startUtc = call.hopTimes[k]! + provider.clockSkewMs;
      let record: CdrRecord;
      if (k > 0) {
        const upstream = call.path[k - 1]!;
        const trunk = trunks.get(upstream)?.get(id);
        if (trunk === undefined) throw new Error(`call ${call.id}: no link ${upstream} → ${id}`);
        record = { callId, startUtc, calling: call.calling, called: call.called, ingressKind: 'provider', ingressId: upstream, ingressTrunk: trunk };
      } else if (call.origin.kind === 'customer') {
        record = { callId, startUtc, calling: call.calling, called: call.called, ingressKind: 'customer', ingressId: call.origin.account };
      } else {
        const carrier = foreign.get(call.origin.carrier);
        const entry = carrier?.entries.find((e) => e.gateway === id);
        if (carrier === undefined || entry === undefined) throw new Error(`call ${call.id}: ${call.origin.carrier} does not enter at ${id}`);
        record = {
          callId,
          startUtc,
          calling: call.calling,
          called: call.called,
          ingressKind: 'foreign',
          ingressId: carrier.name,
          ingressTrunk: entry.trunk,
          ingressCountry: carrier.country,
        };
      }
      if (k < last) record.egressId = call.path[k + 1]!;
      const stirShaken = shaken[k];
      if (stirShaken !== undefined) record.stirShaken = { ...stirShaken };
      keep(provider, record);
    }

    if (decoyShare > 0 && rng.chance(decoyShare)) {
      const terminating = byId.get(call.terminatingProvider)!;
      const from = inbound.get(terminating.id) ?? [];
      if (from.length === 0) continue;
      const upstream = rng.pick(from);
      const sameCaller = rng.chance(0.4);
      const offset = sameCaller ? rng.between(30, 900) * 1000 : rng.between(2_000, 120_000) * (rng.chance(0.5) ? 1 : -1);
      keep(terminating, {
        callId: localCallId(calls.length + c, providerHash.get(terminating.id)!, terminating.id),
        startUtc: call.hopTimes[call.hopTimes.length - 1]! + terminating.clockSkewMs + offset,
        calling: sameCaller ? call.calling : randomUsNumber(rng),
        called: call.called,
        ingressKind: 'provider',
        ingressId: upstream,
        ingressTrunk: trunks.get(upstream)!.get(terminating.id)!,
      });
    }
  }
  for (const list of records.values()) {
    list.sort((a, b) => a.startUtc - b.startUtc || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));
  }
  const customers = new Map<ProviderId, Customer[]>();
  for (const [id, list] of Object.entries(network.customers)) {
    customers.set(
      id,
      list.map(({ robocaller: _robocaller, ...customer }) => customer),
    );
  }
  return { records, customers, asOf: snapshot, purged };
}

/** One `CdrIndex` per provider, as each carrier would build from its own files. */
export function buildCdrIndexes(cdrs: SimCdrs): Map<ProviderId, CdrIndex> {
  const out = new Map<ProviderId, CdrIndex>();
  for (const [id, records] of cdrs.records) out.set(id, new CdrIndex(records, cdrs.customers.get(id) ?? []));
  return out;
}

const byIdCache = new WeakMap<SimNetwork, Map<ProviderId, SimProvider>>();

function providersById(network: SimNetwork): Map<ProviderId, SimProvider> {
  let map = byIdCache.get(network);
  if (map === undefined) byIdCache.set(network, (map = new Map(network.providers.map((p) => [p.id, p]))));
  return map;
}

/**
 * Follows a call back from its terminating provider the way a correct traceback would, asking
 * each provider's CDR index: where it must end, after how many hops, at which provider.
 */
export function expectTraceback(
  network: SimNetwork,
  indexes: ReadonlyMap<ProviderId, CdrIndex>,
  call: SimCall,
  options: { asOf: number; skewMs?: number },
): SimExpectation {
  const byId = providersById(network);
  let provider: ProviderId = call.terminatingProvider;
  let downstream: ProviderId | undefined;
  for (let hops = 1; ; hops++) {
    const p = byId.get(provider);
    const index = indexes.get(provider);
    if (p === undefined || index === undefined) throw new Error(`unknown provider ${provider}`);
    if (p.behaviour.kind === 'silent') return { outcome: 'noncooperative', hops, endProvider: provider };
    const query = downstream === undefined ? { call: { calling: call.calling, called: call.called, time: call.time } } : { call: { calling: call.calling, called: call.called, time: call.time }, downstream };
    const answer = answerFromCdr(index, query, {
      retentionMs: p.retentionDays * DAY_MS,
      now: options.asOf,
      ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
    });
    switch (answer.type) {
      case 'upstream':
        if (hops > network.options.maxHops + 1) throw new Error(`call ${call.id}: traceback does not end`);
        downstream = provider;
        provider = answer.provider;
        continue;
      case 'originator':
        return { outcome: 'origin_found', hops, endProvider: provider };
      case 'foreign_entry':
        return { outcome: 'foreign_entry', hops, endProvider: provider };
      case 'not_found':
      case 'dispute':
        return { outcome: 'not_found', hops, endProvider: provider };
      default:
        return answer satisfies never;
    }
  }
}
