import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, decodeStartTraceback, encodeMessage, normalizeE164 } from '../../protocol/index.js';
import type { StartTraceback } from '../../protocol/index.js';
import { CAMPAIGNS, US_AREA_CODES, buildCdrs, callDataOf, generateCalls, generateNetwork, summarizeNetwork } from '../index.js';

const DAY_MS = 86_400_000;

describe('generateCalls', () => {
  const net = generateNetwork({ seed: 7 });
  const startTime = Date.UTC(2026, 9, 1);
  const spreadMs = 30 * DAY_MS;
  const calls = generateCalls(net, { count: 2000, seed: 11, startTime, spreadMs });
  const byId = new Map(net.providers.map((p) => [p.id, p]));
  const links = new Set(net.links.map((l) => `${l.from}>${l.to}`));

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateCalls(net, { count: 2000, seed: 11, startTime, spreadMs })).toEqual(calls);
    expect(generateCalls(net, { count: 50, seed: 12, startTime, spreadMs })).not.toEqual(calls.slice(0, 50));
  });

  it('routes through 5-6 providers on average, up to 15', () => {
    const s = summarizeNetwork(net, calls);
    expect(s.hops.mean).toBeGreaterThanOrEqual(5);
    expect(s.hops.mean).toBeLessThanOrEqual(6);
    expect(s.hops.min).toBeGreaterThanOrEqual(2);
    expect(s.hops.max).toBeLessThanOrEqual(15);
    expect(s.hops.max).toBeGreaterThanOrEqual(12);
    expect(s.trafficTop10Share).toBeGreaterThan(0.5);
  });

  it('keeps the mean in range for other seeds', () => {
    for (const seed of [1, 2, 3]) {
      const n = generateNetwork({ seed });
      const mean = summarizeNetwork(n, generateCalls(n, { count: 2000 })).hops.mean;
      expect(mean).toBeGreaterThanOrEqual(5);
      expect(mean).toBeLessThanOrEqual(6);
    }
  });

  it('uses valid E.164 numbers from real US area codes', () => {
    for (const c of calls) {
      expect(normalizeE164(c.calling)).toBe(c.calling);
      expect(normalizeE164(c.called)).toBe(c.called);
      expect(c.calling).not.toBe(c.called);
    }
    for (const npa of US_AREA_CODES) expect(normalizeE164(`+1${npa}2345678`)).toBe(`+1${npa}2345678`);
  });

  it('never visits a provider twice and only follows links', () => {
    for (const c of calls) {
      expect(new Set(c.path).size).toBe(c.path.length);
      for (let k = 1; k < c.path.length; k++) expect(links.has(`${c.path[k - 1]}>${c.path[k]}`)).toBe(true);
      for (const id of c.path.slice(1, -1)) expect(byId.get(id)?.roles).toContain('intermediate');
    }
  });

  it('ends every path at a terminating carrier', () => {
    for (const c of calls) {
      expect(c.path[c.path.length - 1]).toBe(c.terminatingProvider);
      expect(byId.get(c.terminatingProvider)?.role).toBe('terminating');
    }
  });

  it('brings foreign calls in through gateways and domestic ones from robocalling customers', () => {
    const foreign = new Map(net.foreignCarriers.map((f) => [f.id, f]));
    let abroad = 0;
    for (const c of calls) {
      if (c.origin.kind === 'foreign') {
        abroad++;
        expect(c.path[0]).toBe(c.origin.gateway);
        expect(byId.get(c.origin.gateway)?.roles).toContain('gateway');
        expect(foreign.get(c.origin.carrier)?.entries.map((e) => e.gateway)).toContain(c.origin.gateway);
      } else {
        const { provider, account } = c.origin;
        expect(c.path[0]).toBe(provider);
        expect(net.customers[provider]?.find((x) => x.account === account)?.robocaller).toBe(true);
      }
    }
    expect(Math.abs(abroad / calls.length - 0.6)).toBeLessThan(0.05);
  });

  it('gives each call a campaign, a transcript of it, increasing hop times and a time in the window', () => {
    const specs = new Map(CAMPAIGNS.map((c) => [c.name, c]));
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i]!;
      expect(specs.get(c.campaign)?.transcripts.map((t) => t.text)).toContain(c.transcript);
      expect(c.hopTimes).toHaveLength(c.path.length);
      for (let k = 1; k < c.hopTimes.length; k++) expect(c.hopTimes[k]!).toBeGreaterThan(c.hopTimes[k - 1]!);
      expect(c.time % 1000).toBe(0);
      expect(c.time).toBeGreaterThanOrEqual(startTime - 1000);
      expect(c.time).toBeLessThan(startTime + spreadMs + 5000);
      if (i > 0) expect(c.time).toBeGreaterThanOrEqual(calls[i - 1]!.time);
    }
    expect(Object.keys(summarizeNetwork(net, calls).campaigns).length).toBeGreaterThan(10);
  });

  it('produces call data the protocol accepts', () => {
    for (const c of calls.slice(0, 100)) {
      const start: StartTraceback = {
        v: PROTOCOL_VERSION,
        kind: 'start_traceback',
        call: callDataOf(c),
        terminatingProvider: c.terminatingProvider,
        requester: 'sim-test',
      };
      expect(decodeStartTraceback(encodeMessage(start))).toEqual(start);
    }
  });

  it('generates 100k calls with CDRs in well under a few seconds', () => {
    const t0 = performance.now();
    const big = generateCalls(generateNetwork({ seed: 3 }), { count: 100_000 });
    const cdrs = buildCdrs(generateNetwork({ seed: 3 }), big);
    const ms = performance.now() - t0;
    expect(big).toHaveLength(100_000);
    expect([...cdrs.records.values()].reduce((n, r) => n + r.length, 0)).toBeGreaterThan(400_000);
    // Typically about 2 s on one core; the bound leaves room for slow CI machines.
    expect(ms).toBeLessThan(15_000);
  });
});
