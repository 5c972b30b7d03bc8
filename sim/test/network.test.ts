import { describe, expect, it } from 'vitest';
import { isSubjectToken } from '../../protocol/index.js';
import { compileNetworkOptions, generateNetwork, summarizeNetwork, generateCalls } from '../index.js';

describe('generateNetwork', () => {
  const net = generateNetwork({ seed: 42 });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateNetwork({ seed: 42 })).toEqual(net);
    expect(generateNetwork({ seed: 'robotrace' })).toEqual(generateNetwork({ seed: 'robotrace' }));
    const other = generateNetwork({ seed: 43 });
    expect(other.providers.map((p) => p.name)).not.toEqual(net.providers.map((p) => p.name));
    expect(other.links).not.toEqual(net.links);
  });

  it('has 200 providers by default with unique, well-formed ids, names, OCNs and FRNs', () => {
    expect(net.providers).toHaveLength(200);
    const unique = (values: string[]): number => new Set(values).size;
    for (const p of net.providers) {
      expect(p.id).toMatch(/^p\d{4}$/);
      expect(isSubjectToken(p.id)).toBe(true);
      expect(p.ocn).toMatch(/^[0-9A-Z]{4}$/);
      expect(p.frn).toMatch(/^\d{10}$/);
      expect(p.name).toMatch(/ (LLC|Inc|Corp|Co|LP|Company)$/);
      expect(p.roles[0]).toBe(p.role);
      expect(p.contact).toMatch(/^traceback@[a-z0-9]+\.example$/);
    }
    expect(unique(net.providers.map((p) => p.id))).toBe(200);
    expect(unique(net.providers.map((p) => p.name))).toBe(200);
    expect(unique(net.providers.map((p) => p.ocn))).toBe(200);
    expect(unique(net.providers.map((p) => p.frn))).toBe(200);
  });

  it('has few, large terminating carriers and a heavy-tailed size distribution', () => {
    const total = net.providers.reduce((a, p) => a + p.size, 0);
    expect(total).toBeCloseTo(1, 9);
    const terminating = net.providers.filter((p) => p.role === 'terminating');
    expect(terminating.length).toBeGreaterThanOrEqual(3);
    expect(terminating.length).toBeLessThanOrEqual(10);
    const smallestNational = Math.min(...terminating.map((p) => p.size));
    for (const p of net.providers) if (p.role !== 'terminating') expect(p.size).toBeLessThanOrEqual(smallestNational);
    expect(terminating.reduce((a, p) => a + p.size, 0)).toBeGreaterThan(0.3);
    const summary = summarizeNetwork(net, []);
    expect(summary.sizeTop10Share).toBeGreaterThan(0.5);
    expect(summary.byRole.gateway).toBeGreaterThanOrEqual(2);
    expect(summary.byRole.originating).toBeGreaterThan(summary.byRole.intermediate);
  });

  it('makes about 12% of providers silent and 10% slow, never a national carrier', () => {
    for (const seed of [1, 2, 3]) {
      const s = summarizeNetwork(generateNetwork({ seed }), []);
      expect(Math.abs(s.silentShare - 0.12)).toBeLessThanOrEqual(0.03);
      expect(Math.abs(s.slowShare - 0.1)).toBeLessThanOrEqual(0.03);
    }
    const deadline = net.options.deadlineMs;
    for (const p of net.providers) {
      if (p.role === 'terminating') expect(p.behaviour.kind).not.toBe('silent');
      if (p.behaviour.kind === 'responsive') expect(p.behaviour.answerDelayMs).toBeGreaterThanOrEqual(5);
      if (p.behaviour.kind === 'responsive') expect(p.behaviour.answerDelayMs).toBeLessThanOrEqual(50);
      if (p.behaviour.kind === 'slow') {
        expect(p.behaviour.answerDelayMs).toBe(Math.round(deadline * p.behaviour.deadlineFraction));
        expect(p.behaviour.answerDelayMs).toBeLessThan(deadline);
      }
    }
    const custom = summarizeNetwork(generateNetwork({ seed: 5, providers: 100, silentShare: 0.2, slowShare: 0 }), []);
    expect(custom.silentShare).toBe(0.2);
    expect(custom.slowShare).toBe(0);
  });

  it('keeps short retention for a few providers only', () => {
    const short = net.providers.filter((p) => p.retentionDays < 90);
    expect(short.length).toBe(Math.round(200 * 0.05));
    for (const p of short) expect(p.retentionDays).toBeGreaterThanOrEqual(7);
  });

  it('links every provider towards a national carrier and foreign carriers only to gateways', () => {
    const byId = new Map(net.providers.map((p) => [p.id, p]));
    for (const l of net.links) {
      expect(byId.has(l.from) && byId.has(l.to)).toBe(true);
      expect(l.from).not.toBe(l.to);
    }
    for (const p of net.providers) {
      if (p.role === 'terminating') continue;
      expect(net.links.some((l) => l.from === p.id && byId.get(l.to)?.role === 'terminating')).toBe(true);
    }
    expect(net.foreignCarriers.length).toBeGreaterThanOrEqual(4);
    for (const f of net.foreignCarriers) {
      expect(f.country).toMatch(/^[A-Z]{2}$/);
      expect(f.entries.length).toBeGreaterThan(0);
      for (const e of f.entries) expect(byId.get(e.gateway)?.roles).toContain('gateway');
    }
  });

  it('gives customers to originating providers and sources to every campaign', () => {
    const byId = new Map(net.providers.map((p) => [p.id, p]));
    for (const [id, list] of Object.entries(net.customers)) {
      expect(byId.get(id)?.roles).toContain('originating');
      expect(new Set(list.map((c) => c.account)).size).toBe(list.length);
      for (const c of list) {
        expect(c.accountSince).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        if (!c.robocaller) expect(c.action).toBe('none');
      }
    }
    for (const c of net.campaigns) {
      expect(c.sources.some((s) => s.kind === 'customer')).toBe(true);
      expect(c.sources.some((s) => s.kind === 'foreign')).toBe(true);
      for (const s of c.sources) {
        if (s.kind === 'customer') expect(net.customers[s.provider]?.find((x) => x.account === s.account)?.robocaller).toBe(true);
        if (s.kind === 'customer') expect(byId.get(s.provider)?.role).not.toBe('terminating');
      }
    }
  });

  it('scales to small and large networks', () => {
    for (const providers of [20, 1000]) {
      const n = generateNetwork({ seed: 9, providers });
      expect(n.providers).toHaveLength(providers);
      const calls = generateCalls(n, { count: 200 });
      expect(calls.every((c) => n.providers.find((p) => p.id === c.terminatingProvider)?.role === 'terminating')).toBe(true);
    }
  });

  it('rejects impossible options', () => {
    expect(() => compileNetworkOptions({ providers: 5 })).toThrow(RangeError);
    expect(() => compileNetworkOptions({ silentShare: 1.5 })).toThrow(RangeError);
    expect(() => compileNetworkOptions({ silentShare: 0.6, slowShare: 0.5 })).toThrow(RangeError);
    expect(() => compileNetworkOptions({ meanHops: 20 })).toThrow(RangeError);
    expect(() => compileNetworkOptions({ slowDeadlineFraction: [0.5, 1.2] })).toThrow(RangeError);
    expect(() => compileNetworkOptions({ campaigns: ['No-Such-Campaign'] })).toThrow(RangeError);
    expect(compileNetworkOptions()).toMatchObject({ seed: 1, providers: 200, silentShare: 0.12, slowShare: 0.1, foreignOriginShare: 0.6, retentionDays: 90 });
  });
});
