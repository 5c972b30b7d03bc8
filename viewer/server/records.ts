import { Packr } from 'msgpackr';
import { TRACEBACK_MACHINE_VERSION, type HopRecord, type TracebackContext } from '../../actors/index.js';
import type { HopSummary, PendingTimer, TracebackRow } from '../shared/api.js';

/**
 * Reading the engine's KV records without importing the engine: they are standard
 * MessagePack maps `{ kind, machineVersion, snapshot, outbox, updatedAt }`, where
 * `snapshot` is XState's persisted snapshot (`{ status, value, context, … }`).
 */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

export interface StoredRecord {
  kind: string;
  machineVersion: number;
  snapshot: { status: string; value: unknown; context: unknown; [k: string]: unknown };
  outbox: unknown[];
  updatedAt: number;
}

/** Decodes any actor record; throws on bytes that are not a MessagePack map. */
export function decodeStoredRecord(bytes: Uint8Array): StoredRecord {
  const value = packr.unpack(bytes) as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('record is not a MessagePack map');
  const record = value as Partial<StoredRecord>;
  const snapshot = (record.snapshot ?? {}) as StoredRecord['snapshot'];
  return {
    kind: typeof record.kind === 'string' ? record.kind : 'unknown',
    machineVersion: typeof record.machineVersion === 'number' ? record.machineVersion : 0,
    snapshot,
    outbox: Array.isArray(record.outbox) ? record.outbox : [],
    updatedAt: typeof record.updatedAt === 'number' ? record.updatedAt : 0,
  };
}

/** Encodes a value the way the engine stores records (tests and the benchmark write records with it). */
export function encodeStoredRecord(record: StoredRecord): Uint8Array {
  return packr.pack(JSON.parse(JSON.stringify(record)) as unknown);
}

export function decodeTimer(bytes: Uint8Array): { dueAt: number; payload: { tracebackId?: string; timer?: string } } | undefined {
  try {
    const value = packr.unpack(bytes) as { dueAt?: unknown; payload?: { tracebackId?: unknown; timer?: unknown } };
    if (typeof value?.dueAt !== 'number') return undefined;
    const payload: { tracebackId?: string; timer?: string } = {};
    if (typeof value.payload?.tracebackId === 'string') payload.tracebackId = value.payload.tracebackId;
    if (typeof value.payload?.timer === 'string') payload.timer = value.payload.timer;
    return { dueAt: value.dueAt, payload };
  } catch {
    return undefined;
  }
}

/** The state a snapshot is in, as one string (`asking`, `origin_found`, …). */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => (v === null || (typeof v === 'object' && Object.keys(v).length === 0) ? k : `${k}.${stateName(v)}`))
      .join(',');
  }
  return 'unknown';
}

/** Every hop of a context as the detail page shows it. */
export function hopSummaries(context: TracebackContext): HopSummary[] {
  return context.hops.map((h: HopRecord) => {
    const hop: HopSummary = {
      hop: h.hop,
      hopId: h.hopId,
      provider: h.provider,
      status: h.status,
      askedAt: h.askedAt,
      deadline: h.deadline,
      remindedAt: Array.isArray(h.remindedAt) ? h.remindedAt : [],
    };
    if (h.downstream !== undefined) hop.downstream = h.downstream;
    if (h.answeredAt !== undefined) hop.answeredAt = h.answeredAt;
    if (h.answer !== undefined) hop.answerType = h.answer.type;
    return hop;
  });
}

/** One letter per hop status, so a traceback's hop statuses are one short string. */
const STATUS_LETTER: Record<HopSummary['status'], string> = { open: 'o', answered: 'a', missed: 'm', cancelled: 'c' };
export const LETTER_STATUS: Record<string, HopSummary['status']> = { o: 'open', a: 'answered', m: 'missed', c: 'cancelled' };

/**
 * What the index keeps per traceback, kept small (100,000 of them live in memory): the list
 * row, and per hop only its provider, status and response time. Strings that repeat across
 * tracebacks (providers, campaigns, states) are interned.
 */
export interface IndexedTraceback {
  row: TracebackRow;
  /** Provider of each hop, in order. */
  hopProviders: string[];
  /** One letter per hop: `o`pen, `a`nswered, `m`issed, `c`ancelled. */
  hopStatus: string;
  /** Answer time minus ask time per hop in ms, -1 when not answered. */
  hopResponseMs: number[];
  /** The last hop: what a carrier inbox shows while it is open. */
  current: { askedAt: number; deadline: number; downstream?: string; reminders: number };
  revision: number;
}

const identity = (s: string) => s;

/** Builds the index entry of a traceback record; throws when the record lacks what a traceback has. */
export function indexTraceback(
  id: string,
  record: StoredRecord,
  revision: number,
  options: { intern?: (s: string) => string; reason?: boolean } = {},
): IndexedTraceback {
  const intern = options.intern ?? identity;
  const context = record.snapshot.context as TracebackContext | undefined;
  if (!context || typeof context !== 'object' || !Array.isArray(context.hops) || context.call === undefined) {
    throw new Error(`record traceback.${id} has no traceback context`);
  }
  const hops = context.hops;
  const last = hops[hops.length - 1];
  const active = record.snapshot.status === 'active';
  const hopProviders: string[] = [];
  const hopResponseMs: number[] = [];
  let hopStatus = '';
  for (const h of hops) {
    hopProviders.push(intern(h.provider));
    hopStatus += STATUS_LETTER[h.status] ?? 'o';
    hopResponseMs.push(h.status === 'answered' && h.answeredAt !== undefined ? Math.max(0, h.answeredAt - h.askedAt) : -1);
  }
  const currentProvider = hopProviders[hopProviders.length - 1] ?? intern(context.terminatingProvider);
  const row: TracebackRow = {
    id,
    state: intern(stateName(record.snapshot.value)),
    active,
    calling: context.call.calling,
    called: context.call.called,
    callTime: context.call.time,
    requester: intern(context.requester),
    terminatingProvider: intern(context.terminatingProvider),
    currentProvider,
    currentHopId: last?.hopId ?? '',
    hops: hops.length,
    startedAt: context.startedAt,
    updatedAt: record.updatedAt,
  };
  if (context.outcome !== undefined) row.outcome = intern(context.outcome);
  if (options.reason && context.reason !== undefined) row.reason = context.reason;
  if (context.call.campaign !== undefined) row.campaign = intern(context.call.campaign);
  if (context.endedAt !== undefined) row.endedAt = context.endedAt;
  if (active && last?.status === 'open') row.deadline = last.deadline;
  if (record.machineVersion !== TRACEBACK_MACHINE_VERSION) row.versionMismatch = true;
  const current: IndexedTraceback['current'] = {
    askedAt: last?.askedAt ?? context.startedAt,
    deadline: last?.deadline ?? context.startedAt,
    reminders: Array.isArray(last?.remindedAt) ? last.remindedAt.length : 0,
  };
  if (last?.downstream !== undefined) current.downstream = intern(last.downstream);
  return { row, hopProviders, hopStatus, hopResponseMs, current, revision };
}

/** Names what a pending timer is for: timers belong to the current hop (`hop<n>`). */
export function timerPurpose(timer: string, dueAt: number, currentHop: number, currentDeadline: number): PendingTimer['purpose'] {
  const m = /^hop(\d+)$/.exec(timer);
  if (!m || Number(m[1]) !== currentHop) return 'unknown';
  return dueAt >= currentDeadline ? 'deadline' : 'reminder';
}
