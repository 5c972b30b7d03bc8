import { describe, expect, it } from 'vitest';
import { ErrorCode, hopIdOf, newTracebackId, parseHopId, parseTracebackId, tracebackIdForRequest } from '../index.js';
import { T0, TB, expectProtocolError } from './samples.js';

const FORMAT = /^tb-[0-9a-z]{20}$/;

describe('newTracebackId', () => {
  it('has the documented format: tb- + 9 base-36 time digits + 11 random', () => {
    const id = newTracebackId(T0);
    expect(id).toMatch(FORMAT);
    expect(id.slice(3, 12)).toBe(T0.toString(36).padStart(9, '0'));
    expect(parseTracebackId(id)).toBe(id);
  });

  it('is unique for the same millisecond', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newTracebackId(T0)));
    expect(ids.size).toBe(1000);
  });

  it('sorts as text in time order, across digit and length boundaries', () => {
    const times = [0, 1, 35, 36, 1295, 1296, 1e12, T0, T0 + 1, 36 ** 8 - 1, 36 ** 8, 36 ** 9 - 1];
    const ids = times.map((t) => newTracebackId(t));
    expect([...ids].sort()).toStrictEqual(ids);
  });
});

describe('tracebackIdForRequest', () => {
  it('is deterministic and well-formed', () => {
    const a = tracebackIdForRequest('nc-ag-office', 'req-1');
    expect(a).toMatch(FORMAT);
    expect(tracebackIdForRequest('nc-ag-office', 'req-1')).toBe(a);
  });

  it('differs by requester and by request id, without concatenation collisions', () => {
    const ids = [
      tracebackIdForRequest('nc-ag-office', 'req-1'),
      tracebackIdForRequest('nc-ag-office', 'req-2'),
      tracebackIdForRequest('ftc', 'req-1'),
      tracebackIdForRequest('a', 'bc'),
      tracebackIdForRequest('ab', 'c'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('parseTracebackId', () => {
  it.each(['tb-short', 'TB-0M9X8KQZ1ABCDEFGHIJK', 'tb_0m9x8kqz1abcdefghijk', `${TB}x`, `${TB}-h1`, ''])('rejects %j', (id) => {
    expectProtocolError(() => parseTracebackId(id), ErrorCode.InvalidField, 'tracebackId');
  });
});

describe('hop ids', () => {
  it('hopIdOf and parseHopId are inverse', () => {
    for (const n of [1, 2, 15, 999]) {
      const hopId = hopIdOf(TB, n);
      expect(hopId).toBe(`${TB}-h${n}`);
      expect(parseHopId(hopId)).toStrictEqual({ tracebackId: TB, hop: n, hopId });
    }
  });

  it.each([`${TB}-h0`, `${TB}-h1000`, `${TB}-h01`, `${TB}-h`, `${TB}-hx`, `${TB}-H2`, 'tb-abc-h1', TB, `${TB}-h1 `, ''])(
    'parseHopId rejects %j',
    (hopId) => {
      expectProtocolError(() => parseHopId(hopId), ErrorCode.InvalidField, 'hopId');
    },
  );
});
