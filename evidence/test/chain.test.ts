import { describe, expect, it } from 'vitest';
import { EvidenceError, EvidenceErrorCode, GENESIS, chainHash, emptyChain, extendChain, verifyChain } from '../index.js';
import { sampleEvents, sampleTrail } from './samples.js';

const TID = 'tb-0m9x8kqz1abcdefghijk';
/** The two-event vector of protocol/README.md, computed independently with Python's hashlib and json. */
const E1 = { v: 1, kind: 'traceback_event', tracebackId: TID, seq: 1, at: 1746108187250, type: 'started', state: 'asking' };
const E2 = {
  v: 1,
  kind: 'traceback_event',
  tracebackId: TID,
  seq: 2,
  at: 1746108190000,
  type: 'answered',
  state: 'asking',
  hopId: `${TID}-h1`,
  provider: 'acme-voice',
  answer: { type: 'not_found', reason: 'no CDR — "±5 s"\n' },
};

describe('hash chain', () => {
  it('reproduces the README test vector', () => {
    expect(GENESIS).toBe('0'.repeat(64));
    const h1 = chainHash(GENESIS, E1);
    expect(h1).toBe('89cd86dbb4410824611eb9974b00358cab82ad6cc23fed393464244f98be2a61');
    expect(chainHash(h1, E2)).toBe('8ac0e95f3bd0e6e68791e11a352637baf7de14a2a44d5ed449d3e1000205a1e5');
    expect(extendChain(emptyChain(), E1, E2)).toEqual({
      head: '8ac0e95f3bd0e6e68791e11a352637baf7de14a2a44d5ed449d3e1000205a1e5',
      count: 2,
      tracebackId: TID,
    });
  });

  it('ignores key order and undefined members, as the wire does', () => {
    const reordered = { state: 'asking', type: 'started', at: 1746108187250, seq: 1, tracebackId: TID, kind: 'traceback_event', v: 1, hopId: undefined };
    expect(chainHash(GENESIS, reordered)).toBe(chainHash(GENESIS, E1));
  });

  it('refuses a malformed previous hash', () => {
    expect(() => chainHash('ABC', E1)).toThrow(expect.objectContaining({ code: EvidenceErrorCode.BadHash }) as Error);
    expect(() => chainHash(GENESIS.toUpperCase().replace(/0/g, 'A'), E1)).toThrow(EvidenceError);
  });

  it('extends one event at a time to the same head as all at once, without changing its input', () => {
    const events = sampleEvents(sampleTrail());
    let state = emptyChain();
    for (const e of events) state = extendChain(state, e);
    const empty = emptyChain();
    expect(extendChain(empty, ...events)).toEqual(state);
    expect(empty).toEqual({ head: GENESIS, count: 0 });
    expect(state.count).toBe(events.length);
  });

  it('refuses to append out of order or across tracebacks', () => {
    const events = sampleEvents(sampleTrail());
    const after1 = extendChain(emptyChain(), events[0]!);
    expect(() => extendChain(after1, events[2]!)).toThrow(expect.objectContaining({ code: EvidenceErrorCode.ChainOrder }) as Error);
    expect(() => extendChain(emptyChain(), events[1]!)).toThrow(/expected seq 1/);
    const other = sampleEvents(sampleTrail());
    expect(() => extendChain(after1, other[1]!)).toThrow(/belongs to/);
  });
});

describe('verifyChain', () => {
  const trail = sampleTrail();
  const events = sampleEvents(trail);
  const good = extendChain(emptyChain(), ...events);
  const expected = { chainHead: good.head, eventCount: good.count };

  it('accepts the history as published', () => {
    expect(verifyChain(events, expected)).toEqual({ ok: true, head: good.head, count: events.length });
    expect(verifyChain([])).toEqual({ ok: true, head: GENESIS, count: 0 });
  });

  it('detects a removed event in the middle', () => {
    const check = verifyChain([...events.slice(0, 3), ...events.slice(4)], expected);
    expect(check).toMatchObject({ ok: false, index: 3 });
    expect(!check.ok && check.reason).toMatch(/removed, reordered/);
  });

  it('detects a removed last event', () => {
    const check = verifyChain(events.slice(0, -1), expected);
    expect(check).toMatchObject({ ok: false });
    expect(!check.ok && check.reason).toMatch(/counts \d+ events, the history has \d+/);
  });

  it('detects two events swapped', () => {
    const swapped = [...events];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect(verifyChain(swapped, expected)).toMatchObject({ ok: false, index: 2 });
  });

  it('detects swapped events even when their seq fields were swapped too', () => {
    const swapped = events.map((e) => ({ ...e }));
    const [a, b] = [swapped[2]!, swapped[3]!];
    [swapped[2], swapped[3]] = [{ ...b, seq: 3 }, { ...a, seq: 4 }];
    const check = verifyChain(swapped, expected);
    expect(check).toMatchObject({ ok: false, index: -1 });
    expect(!check.ok && check.reason).toMatch(/was edited/);
  });

  it.each([
    ['time', (e: Record<string, unknown>) => ({ ...e, at: (e['at'] as number) + 1 })],
    ['provider', (e: Record<string, unknown>) => ({ ...e, provider: 'someone-else' })],
    ['answer', (e: Record<string, unknown>) => ({ ...e, answer: { type: 'not_found', reason: 'no record' } })],
    ['an added field', (e: Record<string, unknown>) => ({ ...e, note: 'x' })],
  ])('detects an edited %s', (_what, edit) => {
    for (const index of [0, 3, events.length - 1]) {
      const edited: unknown[] = events.map((e, i) => (i === index ? edit(e as unknown as Record<string, unknown>) : e));
      expect(verifyChain(edited, expected)).toMatchObject({ ok: false, index: -1 });
    }
  });

  it('reports an event of another traceback and a non-map', () => {
    const other = sampleEvents(sampleTrail());
    expect(verifyChain([events[0], other[1]], expected)).toMatchObject({ ok: false, index: 1 });
    expect(verifyChain([events[0], 'x'], expected)).toMatchObject({ ok: false, index: 1, reason: 'event 2 is not a map' });
  });
});
