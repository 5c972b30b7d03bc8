import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EvidenceError, EvidenceErrorCode, canonicalBytes, canonicalJson } from '../index.js';

describe('canonicalJson', () => {
  it('sorts keys at every level, drops undefined members and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: true, y: null }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });

  it('sorts keys by UTF-16 code units (RFC 8785), so uppercase before lowercase and astral before U+FFFD', () => {
    expect(canonicalJson({ b: 0, B: 0, a: 0, '\u{1F600}': 0, '\uFFFD': 0, _: 0 })).toBe('{"B":0,"_":0,"a":0,"b":0,"😀":0,"�":0}');
  });

  it('escapes strings exactly as JSON.stringify does and leaves other characters literal', () => {
    const s = 'quote " backslash \\ nl \n cr \r tab \t bs \b ff \f nul \u0000 us \u001f del \u007f ls \u2028 é 😀 <&>';
    const out = canonicalJson(s);
    expect(out).toBe(JSON.stringify(s));
    expect(out).toContain('\\u0000');
    expect(out).toContain('\\u001f');
    expect(out).toContain('\u007f');
    expect(out).toContain('\u2028');
    expect(out).toContain('😀');
  });

  it('writes integers in plain decimal, -0 as 0, up to ±(2^53-1)', () => {
    expect(canonicalJson([0, -0, 1, -1, 1746108187250, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER])).toBe(
      '[0,0,1,-1,1746108187250,9007199254740991,-9007199254740991]',
    );
  });

  it.each([
    ['a float', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['a bigint', 10n],
    ['a Date', new Date(0)],
    ['bytes', new Uint8Array([1])],
    ['a lone surrogate', 'a\uD800b'],
    ['a lone surrogate in a key', { 'k\uDC00': 1 }],
    ['undefined in an array', [1, undefined]],
    ['a function', () => 1],
    ['a class instance', new (class X {})()],
    ['a Map', new Map()],
  ])('refuses %s with NOT_CANONICAL', (_name, value) => {
    let error: unknown;
    try {
      canonicalJson({ nested: { value } });
    } catch (err) {
      error = err;
    }
    expect(EvidenceError.is(error)).toBe(true);
    expect((error as EvidenceError).code).toBe(EvidenceErrorCode.NotCanonical);
    expect((error as Error).message).toMatch(/\$\.nested\.value/);
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o['b'] = 1;
    o['a'] = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });

  it('matches the test vector in protocol/README.md (computed with Python json.dumps)', () => {
    const value = { v: 1, kind: 'traceback_event', tracebackId: 'tb-0m9x8kqz1abcdefghijk', seq: 1, at: 1746108187250, type: 'started', state: 'asking', note: 'é "q"\n' };
    const text = canonicalJson(value);
    expect(text).toBe('{"at":1746108187250,"kind":"traceback_event","note":"é \\"q\\"\\n","seq":1,"state":"asking","tracebackId":"tb-0m9x8kqz1abcdefghijk","type":"started","v":1}');
    expect(createHash('sha256').update(canonicalBytes(value)).digest('hex')).toBe('add631b9673c21dcc7b7437734186d75a47433bf1f00d3ee2320572623e78c2c');
  });
});
