import { Packr } from 'msgpackr';
import { parseHopId } from '../../protocol/index.js';
import { TRACEBACK_MACHINE_VERSION, answerPercentile, type HopRecord, type ProviderContext, type TracebackContext } from '../../actors/index.js';
import type {
  ClearedFlagView,
  EvidenceView,
  FlagView,
  HopSummary,
  InboxItem,
  OutboxEntryView,
  PendingTimer,
  ProviderDirectory,
  ProviderPolicyView,
  ProviderScore,
  ProviderSummary,
  RecordView,
  TracebackRow,
} from '../shared/api.js';

/**
 * Reading the engine's KV records without importing the engine: they are standard
 * MessagePack maps `{ kind, machineVersion, snapshot, outbox, nextCommandId, updatedAt, extra? }`,
 * where `snapshot` is XState's persisted snapshot (`{ status, value, context, … }`) and
 * `outbox` lists `{ id, command }` (records of machine version 1 stored bare commands).
 */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

/** One command of an outbox, numbered. */
export interface StoredOutboxEntry {
  id: number;
  command: unknown;
}

export interface StoredRecord {
  kind: string;
  machineVersion: number;
  snapshot: { status: string; value: unknown; context: unknown; [k: string]: unknown };
  outbox: StoredOutboxEntry[];
  nextCommandId: number;
  updatedAt: number;
  /** Kind-specific state beside the snapshot (a traceback's evidence hash chain). */
  extra?: unknown;
}

function isEntry(value: unknown): value is StoredOutboxEntry {
  return value !== null && typeof value === 'object' && 'command' in value && typeof (value as { id?: unknown }).id === 'number';
}

/** Decodes any actor record; throws on bytes that are not a MessagePack map. */
export function decodeStoredRecord(bytes: Uint8Array): StoredRecord {
  const value = packr.unpack(bytes) as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('record is not a MessagePack map');
  const record = value as Partial<Omit<StoredRecord, 'outbox'>> & { outbox?: unknown };
  const snapshot = (record.snapshot ?? {}) as StoredRecord['snapshot'];
  const raw: unknown[] = Array.isArray(record.outbox) ? record.outbox : [];
  // Bare commands (machine version 1) are numbered in order, as the engine does.
  const outbox = raw.map((entry, i) => (isEntry(entry) ? entry : { id: i + 1, command: entry }));
  const decoded: StoredRecord = {
    kind: typeof record.kind === 'string' ? record.kind : 'unknown',
    machineVersion: typeof record.machineVersion === 'number' ? record.machineVersion : 0,
    snapshot,
    outbox,
    nextCommandId: typeof record.nextCommandId === 'number' ? record.nextCommandId : (outbox[outbox.length - 1]?.id ?? 0) + 1,
    updatedAt: typeof record.updatedAt === 'number' ? record.updatedAt : 0,
  };
  if (record.extra !== undefined) decoded.extra = record.extra;
  return decoded;
}

/** Encodes a value the way the engine stores records (tests and the benchmark write records with it). */
export function encodeStoredRecord(record: Omit<StoredRecord, 'nextCommandId'> & { nextCommandId?: number }): Uint8Array {
  const full = { ...record, nextCommandId: record.nextCommandId ?? (record.outbox[record.outbox.length - 1]?.id ?? 0) + 1 };
  return packr.pack(JSON.parse(JSON.stringify(full)) as unknown);
}

/** The outbox with each command's `type` pulled out, for display. */
export function outboxView(record: StoredRecord): OutboxEntryView[] {
  return record.outbox.map((e) => {
    const type = (e.command as { type?: unknown } | null)?.type;
    return { id: e.id, type: typeof type === 'string' ? type : 'unknown', command: e.command };
  });
}

/** A stored record as the API shows it. */
export function recordView(key: string, revision: number, record: StoredRecord): RecordView {
  const view: RecordView = {
    key,
    revision,
    kind: record.kind,
    machineVersion: record.machineVersion,
    updatedAt: record.updatedAt,
    status: record.snapshot.status,
    value: record.snapshot.value,
    context: (record.snapshot.context ?? {}) as Record<string, unknown>,
    outbox: outboxView(record),
    nextCommandId: record.nextCommandId,
  };
  if (record.extra !== undefined) view.extra = record.extra;
  return view;
}

/** Whose clock a stored timer keeps: a provider actor's timer of one hop, or (version 1) a traceback's own. */
export interface TimerRef {
  tracebackId: string;
  timer: string;
  provider?: string;
  hopId?: string;
}

/**
 * Reads a key of `tb_timers`: `provider.<provider>.h.<hopId>` (a provider actor's clock for
 * one hop; the hop id names its traceback) or, from machine version 1, `traceback.<id>.hop<n>`.
 */
export function timerRef(key: string): TimerRef | undefined {
  const first = key.indexOf('.');
  const second = first < 0 ? -1 : key.indexOf('.', first + 1);
  if (second < 0) return undefined;
  const kind = key.slice(0, first);
  const id = key.slice(first + 1, second);
  const timer = key.slice(second + 1);
  if (kind === 'traceback') return { tracebackId: id, timer };
  if (kind !== 'provider' || !timer.startsWith('h.')) return undefined;
  const hopId = timer.slice(2);
  try {
    return { tracebackId: parseHopId(hopId).tracebackId, timer, provider: id, hopId };
  } catch {
    return undefined;
  }
}

export function decodeTimer(bytes: Uint8Array): { dueAt: number } | undefined {
  try {
    const value = packr.unpack(bytes) as { dueAt?: unknown };
    return typeof value?.dueAt === 'number' ? { dueAt: value.dueAt } : undefined;
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

/** What the provider actor knows of one hop: sent and open (with its real clock), or queued. */
export interface ProviderHopState {
  open?: ProviderOpenHop;
  queued: boolean;
}

/**
 * Every hop of a context as the detail page shows it. An open hop's `askedAt`, `deadline` and
 * reminders are the traceback's estimates until the provider reports the result; `atProvider`
 * supplies the provider actor's real ones meanwhile.
 */
export function hopSummaries(context: TracebackContext, atProvider: (provider: string, hopId: string) => ProviderHopState = () => ({ queued: false })): HopSummary[] {
  return context.hops.map((h: HopRecord) => {
    const hop: HopSummary = {
      hop: h.hop,
      hopId: h.hopId,
      provider: h.provider,
      status: h.status,
      askedAt: h.askedAt,
      deadline: h.deadline,
      remindedAt: Array.isArray(h.remindedAt) ? h.remindedAt : [],
      timing: h.status === 'answered' || h.status === 'missed' ? 'result' : 'estimate',
    };
    if (h.status === 'open') {
      const state = atProvider(h.provider, h.hopId);
      if (state.open) {
        const o = state.open;
        Object.assign(hop, { askedAt: o.sentAt, deadline: o.deadline, remindedAt: o.remindedAt, remindersDue: o.remindersDue, receivedAt: o.receivedAt, timing: 'provider' });
      } else if (state.queued) {
        hop.queued = true;
      }
    }
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
  /** The traceback's own estimate of the open hop's deadline (the provider actor's replaces it in the row). */
  estimatedDeadline?: number;
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
  if (record.machineVersion !== TRACEBACK_MACHINE_VERSION) row.versionMismatch = true;
  const indexed: IndexedTraceback = { row, hopProviders, hopStatus, hopResponseMs, revision };
  if (active && last?.status === 'open') {
    row.deadline = last.deadline;
    row.deadlineSource = 'estimate';
    indexed.estimatedDeadline = last.deadline;
  }
  return indexed;
}

/** True when the traceback is asking and its current hop is open. */
export function isAsking(t: IndexedTraceback | undefined): t is IndexedTraceback {
  return t !== undefined && t.row.active && t.hopStatus.endsWith('o');
}

/** Names what a pending timer is for, given the deadline of the hop it belongs to (when known). */
export function timerPurpose(dueAt: number, deadline: number | undefined): PendingTimer['purpose'] {
  if (deadline === undefined) return 'unknown';
  return dueAt >= deadline ? 'deadline' : 'reminder';
}

// ---- provider actors ----

/** A hop query open at a carrier, as its provider actor sent it (the part the viewer keeps). */
export interface ProviderOpenHop {
  hopId: string;
  tracebackId: string;
  hop: number;
  downstream?: string;
  call: { calling: string; called: string; time: number; campaign?: string };
  sentAt: number;
  receivedAt: number;
  deadline: number;
  remindersDue: number[];
  remindedAt: number[];
}

export interface ProviderQueued {
  hopId: string;
  tracebackId: string;
  hop: number;
  requestedAt: number;
}

/** What the index keeps per provider actor record. */
export interface IndexedProvider {
  summary: ProviderSummary;
  open: Map<string, ProviderOpenHop>;
  queue: ProviderQueued[];
  queued: Set<string>;
  revision: number;
}

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const nums = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);

function hopNumber(hopId: string, fallback: unknown): number {
  const n = num(fallback);
  if (n !== undefined) return n;
  const m = /-h(\d+)$/.exec(hopId);
  return m ? Number(m[1]) : 0;
}

function evidenceOf(raw: unknown): EvidenceView[] {
  if (!Array.isArray(raw)) return [];
  const out: EvidenceView[] = [];
  for (const item of raw) {
    const e = obj(item);
    const tracebackId = str(e['tracebackId']);
    const at = num(e['at']);
    if (tracebackId === undefined || at === undefined) continue;
    const view: EvidenceView = { tracebackId, at };
    const hopId = str(e['hopId']);
    const campaign = str(e['campaign']);
    if (hopId !== undefined) view.hopId = hopId;
    if (campaign !== undefined) view.campaign = campaign;
    out.push(view);
  }
  return out;
}

function flagOf(raw: unknown, name?: string): FlagView | undefined {
  const f = obj(raw);
  const flagName = str(f['name']) ?? name;
  const raisedAt = num(f['raisedAt']);
  if (flagName === undefined || raisedAt === undefined) return undefined;
  return { name: flagName, raisedAt, reason: str(f['reason']) ?? '', evidence: evidenceOf(f['evidence']) };
}

function openHopOf(raw: unknown): ProviderOpenHop | undefined {
  const o = obj(raw);
  const query = obj(o['query']);
  const call = obj(query['call']);
  const hopId = str(o['hopId']) ?? str(query['hopId']);
  const tracebackId = str(o['tracebackId']) ?? str(query['tracebackId']);
  const deadline = num(o['deadline']);
  if (hopId === undefined || tracebackId === undefined || deadline === undefined) return undefined;
  const sentAt = num(o['sentAt']) ?? num(query['askedAt']) ?? 0;
  const hop: ProviderOpenHop = {
    hopId,
    tracebackId,
    hop: hopNumber(hopId, query['hop']),
    call: { calling: str(call['calling']) ?? '', called: str(call['called']) ?? '', time: num(call['time']) ?? 0 },
    sentAt,
    receivedAt: num(o['receivedAt']) ?? sentAt,
    deadline,
    remindersDue: nums(o['remindersDue']),
    remindedAt: nums(o['remindedAt']),
  };
  const downstream = str(query['downstream']);
  const campaign = str(call['campaign']);
  if (downstream !== undefined) hop.downstream = downstream;
  if (campaign !== undefined) hop.call.campaign = campaign;
  return hop;
}

function directoryOf(raw: unknown): ProviderDirectory {
  const d = obj(raw);
  const directory: ProviderDirectory = {
    rmdStatus: str(d['rmdStatus']) ?? 'unknown',
    roles: Array.isArray(d['roles']) ? d['roles'].filter((r): r is string => typeof r === 'string') : [],
    verified: d['verified'] === true,
  };
  for (const key of ['name', 'frn', 'ocn', 'contact'] as const) {
    const value = str(d[key]);
    if (value !== undefined) directory[key] = value;
  }
  return directory;
}

function policyOf(raw: unknown): ProviderPolicyView {
  const p = obj(raw);
  const d = obj(p['deadline']);
  const policy: ProviderPolicyView = {
    deadlineKind: str(d['kind']) ?? 'fixed',
    deadlineMs: num(d['deadlineMs']) ?? 0,
    reminderFractions: nums(p['reminderFractions']),
    maxInFlight: num(p['maxInFlight']) ?? 0,
  };
  if (policy.deadlineKind === 'business') {
    const timeZone = str(d['timeZone']);
    if (timeZone !== undefined) policy.timeZone = timeZone;
    const opensAt = num(d['opensAt']);
    const closesAt = num(d['closesAt']);
    if (opensAt !== undefined) policy.opensAt = opensAt;
    if (closesAt !== undefined) policy.closesAt = closesAt;
    policy.businessDays = nums(d['businessDays']);
    policy.holidays = Array.isArray(d['holidays']) ? d['holidays'].filter((h): h is string => typeof h === 'string') : [];
  }
  return policy;
}

function scoreOf(raw: unknown): ProviderScore {
  const s = obj(raw);
  const answerMs = nums(s['answerMs']);
  const score: ProviderScore = {
    asked: num(s['asked']) ?? 0,
    answered: num(s['answered']) ?? 0,
    missed: num(s['missed']) ?? 0,
    late: num(s['late']) ?? 0,
    notFound: num(s['notFound']) ?? 0,
    samples: answerMs.length,
  };
  if (score.answered + score.missed > 0) score.answerRate = score.answered / (score.answered + score.missed);
  // The provider actor's own percentile rule, so the viewer and the engine agree.
  const stats = { stats: { answerMs } } as unknown as ProviderContext;
  const p50 = answerPercentile(stats, 50);
  const p90 = answerPercentile(stats, 90);
  if (p50 !== undefined) score.p50Ms = p50;
  if (p90 !== undefined) score.p90Ms = p90;
  return score;
}

/**
 * Reads a provider actor record (`provider.<id>`, context = ProviderContext) into what the
 * providers page and the carrier inboxes show. Tolerant: missing parts are left empty.
 */
export function indexProvider(id: string, record: StoredRecord, revision: number): IndexedProvider {
  const c = obj(record.snapshot.context);
  const open = new Map<string, ProviderOpenHop>();
  for (const raw of Object.values(obj(c['open']))) {
    const hop = openHopOf(raw);
    if (hop) open.set(hop.hopId, hop);
  }
  const queue: ProviderQueued[] = [];
  for (const raw of Array.isArray(c['queue']) ? c['queue'] : []) {
    const q = obj(raw);
    const hopId = str(q['hopId']);
    const tracebackId = str(q['tracebackId']);
    if (hopId === undefined || tracebackId === undefined) continue;
    queue.push({ hopId, tracebackId, hop: hopNumber(hopId, obj(q['query'])['hop']), requestedAt: num(q['requestedAt']) ?? 0 });
  }
  const clearedUntil = obj(c['clearedUntil']);
  const strikes: Record<string, number> = {};
  for (const [name, list] of Object.entries(obj(c['strikes']))) {
    const floor = num(clearedUntil[name]) ?? -Infinity;
    strikes[name] = evidenceOf(list).filter((e) => e.at > floor).length;
  }
  const flags: FlagView[] = [];
  for (const [name, raw] of Object.entries(obj(c['flags']))) {
    const flag = flagOf(raw, name);
    if (flag) flags.push(flag);
  }
  const clearedFlags: ClearedFlagView[] = [];
  for (const raw of Array.isArray(c['clearedFlags']) ? c['clearedFlags'] : []) {
    const flag = flagOf(raw);
    const f = obj(raw);
    const clearedAt = num(f['clearedAt']);
    if (!flag || clearedAt === undefined) continue;
    clearedFlags.push({ ...flag, clearedAt, clearedBy: str(f['clearedBy']) ?? '', clearReason: str(f['clearReason']) ?? '' });
  }
  const thresholds: Record<string, { count: number; windowMs: number }> = {};
  for (const [name, raw] of Object.entries(obj(c['thresholds']))) {
    const t = obj(raw);
    const count = num(t['count']);
    const windowMs = num(t['windowMs']);
    if (count !== undefined && windowMs !== undefined) thresholds[name] = { count, windowMs };
  }
  const summary: ProviderSummary = {
    id,
    actor: true,
    revision,
    machineVersion: record.machineVersion,
    directory: directoryOf(c['directory']),
    policy: policyOf(c['policy']),
    score: scoreOf(c['stats']),
    open: open.size,
    queued: queue.length,
    strikes,
    thresholds,
    flags: flags.sort((a, b) => b.raisedAt - a.raisedAt),
    clearedFlags,
  };
  if (record.updatedAt) summary.updatedAt = record.updatedAt;
  return { summary, open, queue, queued: new Set(queue.map((q) => q.hopId)), revision };
}

/** An open hop as a carrier inbox lists it. */
export function inboxItem(provider: string, o: ProviderOpenHop): InboxItem {
  const item: InboxItem = {
    hopId: o.hopId,
    tracebackId: o.tracebackId,
    hop: o.hop,
    provider,
    call: { ...o.call },
    askedAt: o.sentAt,
    deadline: o.deadline,
    reminders: o.remindedAt.length,
    receivedAt: o.receivedAt,
  };
  if (o.downstream !== undefined) item.downstream = o.downstream;
  return item;
}
