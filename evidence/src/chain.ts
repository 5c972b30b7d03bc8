import { createHash } from 'node:crypto';
import { canonicalBytes } from './canonical.js';
import { EvidenceError, EvidenceErrorCode } from './errors.js';
import type { ChainCheck, ChainState } from './types.js';

/** The hash a chain starts from: 64 zeros. */
export const GENESIS = '0'.repeat(64);

const HASH = /^[0-9a-f]{64}$/;

/** True for 64 lowercase hex digits. */
export function isChainHash(value: unknown): value is string {
  return typeof value === 'string' && HASH.test(value);
}

/**
 * One link: lowercase hex SHA-256 of the 64 ASCII characters of `prevHash` followed by the
 * canonical JSON bytes of `event`.
 */
export function chainHash(prevHash: string, event: object): string {
  if (!isChainHash(prevHash)) throw new EvidenceError(EvidenceErrorCode.BadHash, `previous hash must be 64 lowercase hex digits, got ${JSON.stringify(prevHash)}`);
  return createHash('sha256').update(prevHash, 'latin1').update(canonicalBytes(event)).digest('hex');
}

/** The empty chain: `{ head: GENESIS, count: 0 }`. */
export function emptyChain(): ChainState {
  return { head: GENESIS, count: 0 };
}

/**
 * Appends audit events to a chain and returns the new state (the input is not changed). Each
 * event's `seq` must be the chain's `count + 1`, and every event must name the same traceback.
 *
 * @throws EvidenceError `CHAIN_ORDER` when an event is out of order; `NOT_CANONICAL` when an event
 *   holds a value canonical JSON refuses.
 */
export function extendChain(state: ChainState, ...events: readonly object[]): ChainState {
  let { head, count } = state;
  let tracebackId = state.tracebackId;
  for (const event of events) {
    const e = event as { seq?: unknown; tracebackId?: unknown };
    if (e.seq !== count + 1) {
      throw new EvidenceError(EvidenceErrorCode.ChainOrder, `event seq ${String(e.seq)} cannot follow ${count} events: expected seq ${count + 1}`);
    }
    if (typeof e.tracebackId !== 'string' || (tracebackId !== undefined && e.tracebackId !== tracebackId)) {
      throw new EvidenceError(EvidenceErrorCode.ChainOrder, `event seq ${count + 1} belongs to ${String(e.tracebackId)}, not ${String(tracebackId)}`);
    }
    tracebackId = e.tracebackId;
    head = chainHash(head, event);
    count++;
  }
  return tracebackId === undefined ? { head, count } : { head, count, tracebackId };
}

/**
 * Recomputes the chain over one traceback's events, given in stream order, and optionally compares
 * it with what a trail claims. Detects a removed event (a gap in `seq`, or a count that falls
 * short), reordered events (`seq` out of order), an event of another traceback, and — with
 * `expected` — any edited event (the head differs).
 */
export function verifyChain(events: readonly unknown[], expected?: { chainHead: string; eventCount: number }): ChainCheck {
  let state = emptyChain();
  for (const [index, event] of events.entries()) {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      return { ok: false, index, reason: `event ${index + 1} is not a map` };
    }
    try {
      state = extendChain(state, event);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const reason = EvidenceError.is(err) && err.code === EvidenceErrorCode.ChainOrder ? `event removed, reordered or foreign at position ${index + 1}: ${message}` : message;
      return { ok: false, index, reason };
    }
  }
  if (expected !== undefined) {
    if (state.count !== expected.eventCount) {
      return { ok: false, index: state.count, reason: `the trail counts ${expected.eventCount} events, the history has ${state.count}`, head: state.head, count: state.count };
    }
    if (state.head !== expected.chainHead) {
      return { ok: false, index: -1, reason: `chain head ${state.head} differs from the trail's ${expected.chainHead}: an event was edited`, head: state.head, count: state.count };
    }
  }
  return { ok: true, head: state.head, count: state.count };
}
