/**
 * Interop: the bytes robotrace writes are plain MessagePack that any library reads, and
 * the bytes a Go or Python client writes are accepted. The decoder below is written from
 * the MessagePack spec and knows only the types the protocol uses; it throws on bin, ext
 * (including msgpackr's records and `undefined`) and the reserved byte 0xc1.
 */
import { describe, expect, it } from 'vitest';
import { decodeHopAnswer, encodeMessage } from '../index.js';
import { SAMPLES, T0, TB, answers, hex } from './samples.js';

class MiniMsgpack {
  private pos = 0;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  /** Float values seen: the protocol has none, so this must stay 0. */
  floats = 0;

  private constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  static decode(bytes: Uint8Array): { value: unknown; floats: number } {
    const d = new MiniMsgpack(bytes);
    const value = d.read();
    if (d.pos !== bytes.length) throw new Error(`${bytes.length - d.pos} trailing bytes`);
    return { value, floats: d.floats };
  }

  /** Reserves n bytes and returns their offset. */
  private take(n: number): number {
    if (this.pos + n > this.bytes.length) throw new Error('truncated');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private str(n: number): string {
    const at = this.take(n);
    return this.utf8.decode(this.bytes.subarray(at, at + n));
  }

  private array(n: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.read());
    return out;
  }

  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.read();
      if (typeof key !== 'string') throw new Error(`map key ${String(key)} is not a string`);
      if (Object.hasOwn(out, key)) throw new Error(`duplicate key ${key}`);
      out[key] = this.read();
    }
    return out;
  }

  private int64(value: bigint): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error('int64 beyond 2^53');
    return Number(value);
  }

  private read(): unknown {
    const v = this.view;
    const b = v.getUint8(this.take(1));
    if (b <= 0x7f) return b; // positive fixint
    if (b >= 0xe0) return b - 0x100; // negative fixint
    if (b <= 0x8f) return this.map(b & 0x0f); // fixmap
    if (b <= 0x9f) return this.array(b & 0x0f); // fixarray
    if (b <= 0xbf) return this.str(b & 0x1f); // fixstr
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xca: this.floats++; return v.getFloat32(this.take(4));
      case 0xcb: this.floats++; return v.getFloat64(this.take(8));
      case 0xcc: return v.getUint8(this.take(1));
      case 0xcd: return v.getUint16(this.take(2));
      case 0xce: return v.getUint32(this.take(4));
      case 0xcf: return this.int64(v.getBigUint64(this.take(8)));
      case 0xd0: return v.getInt8(this.take(1));
      case 0xd1: return v.getInt16(this.take(2));
      case 0xd2: return v.getInt32(this.take(4));
      case 0xd3: return this.int64(v.getBigInt64(this.take(8)));
      case 0xd9: return this.str(v.getUint8(this.take(1)));
      case 0xda: return this.str(v.getUint16(this.take(2)));
      case 0xdb: return this.str(v.getUint32(this.take(4)));
      case 0xdc: return this.array(v.getUint16(this.take(2)));
      case 0xdd: return this.array(v.getUint32(this.take(4)));
      case 0xde: return this.map(v.getUint16(this.take(2)));
      case 0xdf: return this.map(v.getUint32(this.take(4)));
      default: throw new Error(`type byte 0x${b.toString(16)} (bin, ext or reserved) is outside the protocol`);
    }
  }
}

const mini = (bytes: Uint8Array) => MiniMsgpack.decode(bytes);

/** MessagePack fixstr (strings under 32 bytes), the way every encoder writes short strings. */
const fixstr = (s: string) => {
  const utf8 = Buffer.from(s, 'utf8');
  if (utf8.length > 31) throw new Error('not a fixstr');
  return [0xa0 | utf8.length, ...utf8];
};

describe('the independent decoder', () => {
  it('reads a known vector from the MessagePack spec', () => {
    // {"compact": true, "schema": 0}
    expect(mini(hex('82 a7 636f6d70616374 c3 a6 736368656d61 00'))).toStrictEqual({ value: { compact: true, schema: 0 }, floats: 0 });
  });
  it('refuses what it does not know', () => {
    expect(() => mini(hex('d4 00 00'))).toThrow(/outside the protocol/);
    expect(() => mini(hex('c4 01 00'))).toThrow(/outside the protocol/);
    expect(() => mini(hex('c1'))).toThrow(/outside the protocol/);
    expect(() => mini(hex('92 01'))).toThrow(/truncated/);
    expect(() => mini(hex('01 02'))).toThrow(/trailing/);
  });
});

describe('robotrace writes standard MessagePack', () => {
  it.each(SAMPLES)('%s decodes with an independent decoder to the same value, with no floats or extensions', (_name, message) => {
    const { value, floats } = mini(encodeMessage(message));
    expect(value).toStrictEqual(message);
    expect(floats).toBe(0);
  });

  it('writes every kind of integer the protocol uses as a MessagePack integer', () => {
    const ints = { zero: 0, small: 127, byte: 255, short: 65_535, word: 2 ** 32 - 1, time: T0, big: Number.MAX_SAFE_INTEGER, neg: -1, neg32: -(2 ** 31), neg64: -T0 };
    expect(mini(encodeMessage(ints))).toStrictEqual({ value: ints, floats: 0 });
  });

  it('omits undefined members instead of writing ext 0xd4', () => {
    const withUndefined = { ...answers.notFound, answeredAt: undefined, answer: { ...answers.notFound.answer, extra: undefined } };
    const bytes = encodeMessage(withUndefined);
    const { value } = mini(bytes); // would throw on any ext byte
    expect(value).toStrictEqual(answers.notFound);
    expect(Object.hasOwn(value as object, 'answeredAt')).toBe(false);
    // Exact bytes for a message too small to hide anything.
    const tiny = encodeMessage({ v: 1, kind: 'status_request', gone: undefined });
    expect(mini(tiny).value).toStrictEqual({ v: 1, kind: 'status_request' });
    expect([...tiny].includes(0xd4)).toBe(false);
  });
});

describe('robotrace reads what a Go or Python client writes', () => {
  const hopId = `${TB}-h2`;
  const expected = {
    v: 1,
    kind: 'hop_answer',
    hopId,
    provider: 'acme-voice',
    answer: { type: 'upstream', provider: 'wholesale-7', trunk: 'TG-12' },
    answeredAt: T0,
  };

  it('accepts a HopAnswer as Python msgpack.packb writes it (fixmap, fixstr, uint64)', () => {
    // msgpack.packb({"v": 1, "kind": "hop_answer", "hopId": "tb-…-h2", "provider": "acme-voice",
    //                "answer": {"type": "upstream", "provider": "wholesale-7", "trunk": "TG-12"},
    //                "answeredAt": 1746108187250})
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(T0));
    const bytes = Uint8Array.from([
      0x86, // fixmap, 6 entries
      ...fixstr('v'), 0x01,
      ...fixstr('kind'), ...fixstr('hop_answer'),
      ...fixstr('hopId'), 0xd9, hopId.length, ...Buffer.from(hopId), // 26 bytes: str8
      ...fixstr('provider'), ...fixstr('acme-voice'),
      ...fixstr('answer'),
      0x83, // fixmap, 3 entries
      ...fixstr('type'), ...fixstr('upstream'),
      ...fixstr('provider'), ...fixstr('wholesale-7'),
      ...fixstr('trunk'), ...fixstr('TG-12'),
      ...fixstr('answeredAt'), 0xcf, ...time, // uint 64
    ]);
    expect(hopId.length).toBe(26);
    expect(mini(bytes).value).toStrictEqual(expected);
    expect(decodeHopAnswer(bytes)).toStrictEqual(expected);
  });

  it('accepts the same answer as a Go encoder might write it (map16, str8, int64, nil optional fields)', () => {
    const str8 = (s: string) => [0xd9, Buffer.byteLength(s), ...Buffer.from(s)];
    const time = Buffer.alloc(8);
    time.writeBigInt64BE(BigInt(T0));
    const bytes = Uint8Array.from([
      0xde, 0x00, 0x06, // map16, 6 entries, keys in another order
      ...str8('answeredAt'), 0xd3, ...time, // int 64
      ...str8('answer'),
      0xde, 0x00, 0x05,
      ...str8('type'), ...str8('upstream'),
      ...str8('provider'), ...str8('wholesale-7'),
      ...str8('trunk'), ...str8('TG-12'),
      ...str8('ip'), 0xc0, // nil: a Go pointer field without omitempty
      ...str8('hopTime'), 0xc0,
      ...str8('provider'), ...str8('acme-voice'),
      ...str8('hopId'), ...str8(hopId),
      ...str8('kind'), ...str8('hop_answer'),
      ...str8('v'), 0xcc, 0x01, // uint 8
    ]);
    expect(decodeHopAnswer(bytes)).toStrictEqual(expected);
  });
});
