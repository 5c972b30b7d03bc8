import { randomBytes, createHash } from 'node:crypto';
import { ErrorCode, ProtocolError } from './errors.js';
import type { HopId, TracebackId } from './messages.js';

const TRACEBACK_ID = /^tb-[0-9a-z]{20}$/;
const HOP_ID = /^(tb-[0-9a-z]{20})-h([1-9][0-9]{0,2})$/;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function base36(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[(bytes[i] ?? 0) % 36];
  return out;
}

/**
 * A new time-ordered traceback id: 9 base-36 digits of milliseconds (sortable until
 * the year 5188) and 11 random characters.
 */
export function newTracebackId(nowMs: number): TracebackId {
  const time = Math.floor(nowMs).toString(36).padStart(9, '0').slice(-9);
  return `tb-${time}${base36(randomBytes(11), 11)}` as TracebackId;
}

/**
 * The id a retried start maps to: derived from requester and request id, so two
 * engines (or one engine after a crash) name the same traceback for the same request.
 */
export function tracebackIdForRequest(requester: string, requestId: string): TracebackId {
  const digest = createHash('sha256').update(`${requester}\u0000${requestId}`).digest();
  return `tb-${base36(digest, 20)}` as TracebackId;
}

export function parseTracebackId(value: string): TracebackId {
  if (!TRACEBACK_ID.test(value)) {
    throw new ProtocolError(ErrorCode.InvalidField, `not a traceback id: ${JSON.stringify(value)}`, {
      path: 'tracebackId',
    });
  }
  return value as TracebackId;
}

export function hopIdOf(tracebackId: TracebackId, hop: number): HopId {
  return `${tracebackId}-h${hop}` as HopId;
}

/** Splits a hop id into its traceback and 1-based hop number. */
export function parseHopId(value: string): { tracebackId: TracebackId; hop: number; hopId: HopId } {
  const m = HOP_ID.exec(value);
  if (!m) throw new ProtocolError(ErrorCode.InvalidField, `not a hop id: ${JSON.stringify(value)}`, { path: 'hopId' });
  return { tracebackId: m[1] as TracebackId, hop: Number(m[2]), hopId: value as HopId };
}
