import { Packr } from 'msgpackr';
import { ErrorCode, ProtocolError } from './errors.js';
import { MAX_MESSAGE_BYTES } from './version.js';

/**
 * Standard MessagePack only: no records, no structured clone, no bundled strings,
 * maps decode to plain objects, 64-bit integers to numbers. What this writes any
 * MessagePack library reads.
 */
const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  bundleStrings: false,
  moreTypes: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  useTimestamp32: false,
});

/**
 * Prepares a value for the wire. Drops `undefined` members, which msgpackr would otherwise
 * write as a non-standard extension (0xd4 0x00 0x00). Integers outside 32 bits (every
 * ms-epoch time) become `bigint`, because msgpackr writes such numbers as float64 (0xcb)
 * and the contract promises integers (a Go `int64` field refuses a float).
 */
function toWire(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x80000000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  return value;
}

/**
 * True for a plain object as a MessagePack map decodes to. Rejects what msgpackr makes of
 * extensions and reserved bytes (`Date` from ext -1, an object for the never-used 0xc1), bin
 * (`Uint8Array`) and arrays.
 */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Encodes a protocol message; refuses to produce a message a peer would reject as too large. */
export function encodeMessage(message: object): Uint8Array {
  const bytes = packr.pack(toWire(message));
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new ProtocolError(ErrorCode.TooLarge, `message is ${bytes.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  }
  return bytes;
}

/** Decodes bytes to a plain map, without validating its fields. */
export function decodeMap(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new ProtocolError(ErrorCode.TooLarge, `message is ${bytes.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  }
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.Malformed, 'empty message');
  let value: unknown;
  try {
    const values = packr.unpackMultiple(bytes as Buffer) as unknown[];
    if (values.length !== 1) throw new Error(`expected one MessagePack value, found ${values.length}`);
    value = values[0];
  } catch (cause) {
    throw new ProtocolError(ErrorCode.Malformed, `not valid MessagePack: ${(cause as Error).message}`, { cause });
  }
  if (!isPlainMap(value)) {
    throw new ProtocolError(ErrorCode.Malformed, 'message must be a MessagePack map');
  }
  return value;
}
