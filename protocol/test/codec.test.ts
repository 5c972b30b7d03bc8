import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  MAX_MESSAGE_BYTES,
  ProtocolError,
  decodeHopAnswer,
  decodeMap,
  decodeStartTraceback,
  decodeStatusReply,
  decodeStatusRequest,
  encodeMessage,
} from '../index.js';
import { SAMPLES, T0, answers, expectProtocolError, hex, hopQuery, startTraceback, statusReply, withField } from './samples.js';

describe('round trips', () => {
  it.each(SAMPLES)('%s survives encodeMessage → decode', (_name, message, decode) => {
    const bytes = encodeMessage(message);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decode(bytes)).toStrictEqual(message);
  });

  it('decodes from a view with a non-zero byteOffset (as a NATS message payload may be)', () => {
    const bytes = encodeMessage(answers.upstream);
    const backing = new Uint8Array(bytes.length + 10);
    backing.set(bytes, 7);
    expect(decodeHopAnswer(backing.subarray(7, 7 + bytes.length))).toStrictEqual(answers.upstream);
  });

  it('normalises phone numbers on decode', () => {
    const msg = withField(withField(startTraceback, 'call.calling', '+1 (215) 555-0121'), 'call.called', '12155550131');
    const decoded = decodeStartTraceback(encodeMessage(msg));
    expect(decoded.call.calling).toBe('+12155550121');
    expect(decoded.call.called).toBe('+12155550131');
  });

  it('ignores unknown fields (forward compatibility) and drops them', () => {
    const decoded = decodeHopAnswer(encodeMessage({ ...answers.notFound, extra: 'x', answer: { ...answers.notFound.answer, more: 1 } }));
    expect(decoded).toStrictEqual(answers.notFound);
  });

  it('treats nil optional fields as absent', () => {
    const decoded = decodeHopAnswer(encodeMessage({ ...answers.upstreamMinimal, answeredAt: null, answer: { ...answers.upstreamMinimal.answer, trunk: null } }));
    expect(decoded).toStrictEqual(answers.upstreamMinimal);
  });

  it('fills outcomes missing from a StatusReply with 0', () => {
    const decoded = decodeStatusReply(encodeMessage({ ...statusReply, byOutcome: { origin_found: 4 } }));
    expect(decoded.byOutcome.origin_found).toBe(4);
    expect(decoded.byOutcome.noncooperative).toBe(0);
    expect(Object.keys(decoded.byOutcome)).toHaveLength(8);
  });

  it('decodeMap returns the plain map without validating', () => {
    expect(decodeMap(encodeMessage({ a: 1, b: ['x'] }))).toStrictEqual({ a: 1, b: ['x'] });
  });
});

describe('malformed bytes → MALFORMED', () => {
  const malformed = (bytes: Uint8Array) => expectProtocolError(() => decodeHopAnswer(bytes), ErrorCode.Malformed, undefined);

  it('rejects empty input', () => {
    malformed(new Uint8Array(0));
  });

  it('rejects garbage bytes', () => {
    malformed(hex('c1')); // the one byte MessagePack never uses
    malformed(hex('c1 00 ff'));
    malformed(hex('ff 13 37')); // three values, none a map
    malformed(hex('c7 00 0c')); // ext of an unknown type
    malformed(hex('d6 ff 00 00 00 01')); // timestamp extension: a Date, not a map
    malformed(hex('d4 00 00')); // msgpackr's `undefined` extension
    malformed(Uint8Array.from(Buffer.from('{"v":1,"kind":"hop_answer"}'))); // JSON is not MessagePack
  });

  it('gives a ProtocolError, never another exception, for 1000 pseudo-random inputs', () => {
    let seed = 0x2545f491;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const codes = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 64) }, () => Math.floor(next() * 256));
      try {
        decodeHopAnswer(bytes);
        expect.unreachable('random bytes decoded as a HopAnswer');
      } catch (err) {
        expect(ProtocolError.is(err), String(err)).toBe(true);
        codes.add((err as ProtocolError).code);
      }
    }
    expect(codes.has(ErrorCode.Malformed)).toBe(true);
  });

  it('rejects every truncation of a valid message', () => {
    const bytes = encodeMessage(answers.originator);
    for (let n = 1; n < bytes.length; n++) malformed(bytes.slice(0, n));
  });

  it('rejects trailing bytes', () => {
    const bytes = encodeMessage(answers.notFound);
    malformed(Uint8Array.from([...bytes, 0x00]));
    malformed(Uint8Array.from([...bytes, ...bytes]));
  });

  it('rejects a top-level value that is not a map', () => {
    malformed(encodeMessage([1, 'kind', 'hop_answer'])); // array
    malformed(hex('a5 68 65 6c 6c 6f')); // "hello"
    malformed(hex('c0')); // nil
    malformed(hex('2a')); // 42
    malformed(hex('c3')); // true
    malformed(hex('c4 02 81 a1')); // bin 8
  });
});

describe('versions → UNSUPPORTED_VERSION at path v', () => {
  it.each([
    ['missing', undefined],
    ['nil', null],
    ['2', 2],
    ['0', 0],
    ['"1"', '1'],
    ['1.5', 1.5],
    ['true', true],
  ])('rejects v %s', (_name, v) => {
    expectProtocolError(() => decodeHopAnswer(encodeMessage(withField(answers.dispute, 'v', v))), ErrorCode.UnsupportedVersion, 'v');
  });

  it('checks the version before the kind', () => {
    expectProtocolError(() => decodeHopAnswer(encodeMessage({ v: 2, kind: 'something_new' })), ErrorCode.UnsupportedVersion, 'v');
  });
});

describe('kind → UNKNOWN_KIND at path kind', () => {
  it('rejects a message of another kind', () => {
    expectProtocolError(() => decodeHopAnswer(encodeMessage(hopQuery)), ErrorCode.UnknownKind, 'kind');
  });
  it('rejects a missing or misspelt kind', () => {
    expectProtocolError(() => decodeHopAnswer(encodeMessage(withField(answers.dispute, 'kind', undefined))), ErrorCode.UnknownKind, 'kind');
    expectProtocolError(() => decodeHopAnswer(encodeMessage(withField(answers.dispute, 'kind', 'HopAnswer'))), ErrorCode.UnknownKind, 'kind');
  });
});

describe('size → TOO_LARGE', () => {
  /** `{v: 1, kind: "status_request", pad: <str32 of padLength>}`, hand-encoded. */
  function statusRequestOfSize(total: number): Uint8Array {
    const head = hex('83 a1 76 01 a4 6b696e64 ae 7374617475735f72657175657374 a3 706164 db');
    const padLength = total - head.length - 4;
    const bytes = new Uint8Array(total);
    bytes.set(head);
    new DataView(bytes.buffer).setUint32(head.length, padLength);
    bytes.fill(0x78, head.length + 4);
    return bytes;
  }

  it('accepts exactly MAX_MESSAGE_BYTES and rejects one byte more', () => {
    expect(MAX_MESSAGE_BYTES).toBe(65_536);
    expect(decodeStatusRequest(statusRequestOfSize(MAX_MESSAGE_BYTES))).toStrictEqual({ v: 1, kind: 'status_request' });
    expectProtocolError(() => decodeStatusRequest(statusRequestOfSize(MAX_MESSAGE_BYTES + 1)), ErrorCode.TooLarge, undefined);
  });

  it('rejects oversize input before parsing it', () => {
    expectProtocolError(() => decodeMap(new Uint8Array(MAX_MESSAGE_BYTES + 1)), ErrorCode.TooLarge, undefined);
  });

  it('refuses to encode an oversize message', () => {
    const big = withField(startTraceback, 'call.transcript', 'x'.repeat(MAX_MESSAGE_BYTES));
    expectProtocolError(() => encodeMessage(big), ErrorCode.TooLarge, undefined);
  });
});

describe('encoding details', () => {
  it('writes ms-epoch times as 64-bit integers, not floats', () => {
    const bytes = encodeMessage({ t: T0 });
    const int64 = Buffer.alloc(9);
    int64[0] = 0xd3;
    int64.writeBigInt64BE(BigInt(T0), 1);
    expect(Buffer.from(bytes).includes(int64)).toBe(true);
    expect(decodeMap(bytes)).toStrictEqual({ t: T0 });
  });

  it('omits undefined members instead of writing an extension', () => {
    const bytes = encodeMessage({ v: 1, kind: 'status_request', gone: undefined });
    expect(decodeMap(bytes)).toStrictEqual({ v: 1, kind: 'status_request' });
    expect(Buffer.from(bytes).includes(Buffer.from([0xd4, 0x00, 0x00]))).toBe(false);
  });
});
