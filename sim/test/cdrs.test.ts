import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trailStirShaken, validateAnswer, type Answer } from '../../protocol/index.js';
import { answerFromCdr, formatCdrCsv, parseCdrCsv, parseCustomersCsv } from '../../carrier/src/cdr.js';
import { DIRECTORY_FILE, buildCdrIndexes, buildCdrs, expectTraceback, generateCalls, generateNetwork, supportsShaken, writeNetworkFiles } from '../index.js';

const DAY_MS = 86_400_000;

describe('buildCdrs', () => {
  const net = generateNetwork({ seed: 21 });
  const calls = generateCalls(net, { count: 2000 });
  const cdrs = buildCdrs(net, calls);
  const indexes = buildCdrIndexes(cdrs);
  const byId = new Map(net.providers.map((p) => [p.id, p]));
  const foreign = new Map(net.foreignCarriers.map((f) => [f.id, f]));

  it('is deterministic', () => {
    const again = buildCdrs(net, calls);
    expect(again.asOf).toBe(cdrs.asOf);
    expect(again.purged).toBe(cdrs.purged);
    expect([...again.records]).toEqual([...cdrs.records]);
    expect([...again.customers]).toEqual([...cdrs.customers]);
  });

  it('keeps records sorted, within the lookup skew of the call, and purges by retention', () => {
    expect(cdrs.asOf).toBe(Math.max(...calls.map((c) => c.time)));
    expect(cdrs.records.size).toBe(net.providers.length);
    for (const [id, list] of cdrs.records) {
      const p = byId.get(id)!;
      for (let i = 1; i < list.length; i++) expect(list[i]!.startUtc).toBeGreaterThanOrEqual(list[i - 1]!.startUtc);
      for (const r of list) expect(cdrs.asOf - r.startUtc).toBeLessThanOrEqual(p.retentionDays * DAY_MS);
    }
    expect(cdrs.purged).toBeGreaterThan(0);
  });

  it('lets every provider on a path name the next hop upstream, or the origin at the start', () => {
    let missing = 0;
    let checked = 0;
    for (const call of calls) {
      for (let k = call.path.length - 1; k >= 0; k--) {
        const id = call.path[k]!;
        const p = byId.get(id)!;
        const downstream = call.path[k + 1];
        const query = { call: { calling: call.calling, called: call.called, time: call.time }, ...(downstream === undefined ? {} : { downstream }) };
        const full = answerFromCdr(indexes.get(id)!, query, { retentionMs: p.retentionDays * DAY_MS, now: cdrs.asOf });
        expect(validateAnswer(full)).toEqual(full);
        // STIR/SHAKEN data is checked in its own test below.
        const { stirShaken: _stirShaken, ...answer } = full as Extract<Answer, { type: 'upstream' }>;
        checked++;
        const stored = cdrs.records.get(id)!.some((r) => r.calling === call.calling && r.called === call.called && Math.abs(r.startUtc - call.time) <= 5000);
        if (!stored) {
          missing++;
          expect(answer.type).toBe('not_found');
          continue;
        }
        if (k > 0) {
          expect(answer).toMatchObject({ type: 'upstream', provider: call.path[k - 1] });
          const link = net.links.find((l) => l.from === call.path[k - 1] && l.to === id);
          expect(answer.type === 'upstream' && answer.trunk).toBe(link?.trunk);
        } else if (call.origin.kind === 'customer') {
          const customer = net.customers[id]!.find((c) => c.account === (call.origin as { account: string }).account)!;
          expect(answer).toEqual({
            type: 'originator',
            customer: { name: customer.name, address: customer.address, contact: customer.contact, accountSince: customer.accountSince },
            action: customer.action,
          });
        } else {
          const carrier = foreign.get(call.origin.carrier)!;
          expect(answer).toEqual({ type: 'foreign_entry', carrier: carrier.name, country: carrier.country });
        }
      }
    }
    // Realism: a few calls are older than some provider's retention, but only a few.
    expect(missing).toBeGreaterThan(0);
    expect(missing / checked).toBeLessThan(0.05);
  });

  it('carries STIR/SHAKEN: the originator attests A or B, a gateway C, and the Identity header reaches each provider up to one without SHAKEN', () => {
    const attestations = { A: 0, B: 0, C: 0 };
    let signedCalls = 0;
    let recordsWithShaken = 0;
    let recordsWithout = 0;
    for (const call of calls) {
      const first = byId.get(call.path[0]!)!;
      const records = call.path.map((id) => cdrs.records.get(id)!.find((r) => r.calling === call.calling && r.called === call.called && r.egressId === call.path[call.path.indexOf(id) + 1] && Math.abs(r.startUtc - call.time) <= 5000));
      const shaken = records.map((r) => r?.stirShaken);
      if (shaken[0] === undefined) {
        if (records[0] !== undefined) expect(supportsShaken(first)).toBe(false);
        continue;
      }
      signedCalls++;
      const s = shaken[0];
      attestations[s.attestation]++;
      expect(s.attestation).toBe(call.origin.kind === 'foreign' ? 'C' : s.attestation === 'B' ? 'B' : 'A');
      // The PASSporT fits the call it signed: every check passes.
      expect(trailStirShaken(s, call).findings.filter((f) => !f.ok)).toEqual([]);
      // A prefix of the path has it (the same header everywhere); after a provider without SHAKEN, nobody does.
      const reach = call.path.findIndex((id) => !supportsShaken(byId.get(id)!));
      call.path.forEach((_, k) => {
        if (records[k] === undefined) return;
        if (reach === -1 || k < reach) {
          expect(shaken[k]).toEqual(s);
          recordsWithShaken++;
        } else {
          expect(shaken[k]).toBeUndefined();
          recordsWithout++;
        }
      });
    }
    expect(signedCalls / calls.length).toBeGreaterThan(0.8);
    expect(attestations.A).toBeGreaterThan(attestations.B);
    expect(attestations.B).toBeGreaterThan(0);
    expect(attestations.C).toBeGreaterThan(0);
    expect(recordsWithShaken).toBeGreaterThan(recordsWithout);
    expect(recordsWithout).toBeGreaterThan(0);
    // The answer built from a record carries it, and the CSV form keeps it.
    const some = [...cdrs.records.values()].flat().filter((r) => r.stirShaken !== undefined).slice(0, 50);
    expect(parseCdrCsv(formatCdrCsv(some))).toEqual(some);
  });

  it('adds look-alike decoys at terminating providers without confusing the lookup', () => {
    const real = calls.reduce((n, c) => n + c.path.length, 0);
    const stored = [...cdrs.records.values()].reduce((n, l) => n + l.length, 0);
    expect(stored + cdrs.purged - real).toBeGreaterThan(2000 * 0.02);
    const none = buildCdrs(net, calls, { decoyShare: 0 });
    expect([...none.records.values()].reduce((n, l) => n + l.length, 0) + none.purged).toBe(real);
  });

  it('predicts the outcome of a correct traceback', () => {
    const counts: Record<string, number> = {};
    for (const call of calls) {
      const e = expectTraceback(net, indexes, call, { asOf: cdrs.asOf });
      counts[e.outcome] = (counts[e.outcome] ?? 0) + 1;
      const silentAt = [...call.path].reverse().findIndex((id) => byId.get(id)!.behaviour.kind === 'silent');
      if (e.outcome === 'origin_found' || e.outcome === 'foreign_entry') {
        expect(e.hops).toBe(call.path.length);
        expect(e.endProvider).toBe(call.path[0]);
        expect(e.outcome).toBe(call.origin.kind === 'customer' ? 'origin_found' : 'foreign_entry');
        expect(silentAt).toBe(-1);
      }
      if (e.outcome === 'noncooperative') expect(e.hops).toBe(silentAt + 1);
    }
    expect(counts['origin_found']! + counts['foreign_entry']!).toBeGreaterThan(calls.length / 2);
    expect(counts['noncooperative']).toBeGreaterThan(0);
    expect(counts['not_found']).toBeGreaterThan(0);
  });
});

describe('writeNetworkFiles', () => {
  it('writes per-provider CSV files that parse back, and a provider directory', async () => {
    const net = generateNetwork({ seed: 5, providers: 40 });
    const calls = generateCalls(net, { count: 300 });
    const cdrs = buildCdrs(net, calls);
    const dir = await mkdtemp(join(tmpdir(), 'robotrace-sim-'));
    try {
      const written = await writeNetworkFiles(net, cdrs, join(dir, 'net'));
      const names = await readdir(join(dir, 'net'));
      expect(names.length).toBe(written.length);
      expect(names).toContain(DIRECTORY_FILE);
      for (const p of net.providers) {
        const text = await readFile(join(dir, 'net', `cdr-${p.id}.csv`), 'utf8');
        expect(parseCdrCsv(text, { source: `cdr-${p.id}.csv` })).toEqual(cdrs.records.get(p.id));
        const customers = cdrs.customers.get(p.id);
        if (customers !== undefined) {
          const ctext = await readFile(join(dir, 'net', `customers-${p.id}.csv`), 'utf8');
          expect(parseCustomersCsv(ctext)).toEqual(customers);
        }
      }
      const directory = JSON.parse(await readFile(join(dir, 'net', DIRECTORY_FILE), 'utf8')) as {
        providers: { id: string; name: string; frn: string; cdrFile: string; sim: { behaviour: { kind: string } } }[];
        foreignCarriers: unknown[];
      };
      expect(directory.providers.map((p) => p.id)).toEqual(net.providers.map((p) => p.id));
      expect(directory.providers[0]).toMatchObject({ name: net.providers[0]!.name, frn: net.providers[0]!.frn, cdrFile: `cdr-${net.providers[0]!.id}.csv` });
      expect(directory.foreignCarriers).toEqual(net.foreignCarriers);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
