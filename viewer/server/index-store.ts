import type {
  Facets,
  FacetCount,
  HopSummary,
  InboxItem,
  ListPage,
  ListQuery,
  OpenHopView,
  PendingTimer,
  ProviderDetail,
  ProvidersPage,
  ProviderStats,
  ProviderSummary,
  SortKey,
  TracebackRow,
} from '../shared/api.js';
import {
  LETTER_STATUS,
  decodeStoredRecord,
  decodeTimer,
  inboxItem,
  indexProvider,
  indexTraceback,
  isAsking,
  timerPurpose,
  timerRef,
  type IndexedProvider,
  type IndexedTraceback,
  type ProviderHopState,
  type ProviderOpenHop,
  type TimerRef,
} from './records.js';

/** A change the index has applied, for live updates. */
export type IndexChange =
  | { kind: 'traceback'; id: string; before: IndexedTraceback | undefined; after: IndexedTraceback | undefined }
  | { kind: 'timer'; tracebackId: string }
  /** A provider actor record changed; `tracebacks` are those whose open or queued hop at it changed. */
  | { kind: 'provider'; id: string; tracebacks: string[] };

/** The part of a KV entry the index reads (a `KvWatchEntry` fits). */
export interface IndexEntry {
  key: string;
  value: Uint8Array;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
}

const SORT_KEYS: readonly SortKey[] = ['startedAt', 'updatedAt', 'deadline', 'hops', 'state', 'outcome', 'campaign', 'currentProvider', 'id'];
export const MAX_PAGE_SIZE = 200;
/** Pages up to this depth are cut from the full set by selection instead of a full sort. */
const SELECT_LIMIT = 2_000;

export function isSortKey(value: string): value is SortKey {
  return (SORT_KEYS as readonly string[]).includes(value);
}

type Compare = (a: TracebackRow, b: TracebackRow) => number;

function comparator(key: SortKey, dir: 'asc' | 'desc'): Compare {
  const sign = dir === 'asc' ? 1 : -1;
  const byId: Compare = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
  switch (key) {
    case 'id':
      return byId;
    case 'startedAt':
    case 'updatedAt':
    case 'hops':
      return (a, b) => (a[key] - b[key]) * sign || byId(a, b);
    case 'deadline':
      // Rows without a deadline (done, or between hops) go last in either direction.
      return (a, b) => {
        if (a.deadline === undefined || b.deadline === undefined) {
          return a.deadline === b.deadline ? byId(a, b) : a.deadline === undefined ? 1 : -1;
        }
        return (a.deadline - b.deadline) * sign || byId(a, b);
      };
    case 'state':
    case 'outcome':
    case 'campaign':
    case 'currentProvider':
      return (a, b) => {
        const x = a[key] ?? '';
        const y = b[key] ?? '';
        return (x < y ? -1 : x > y ? 1 : 0) * sign || byId(a, b);
      };
    default:
      return key satisfies never;
  }
}

/** The first `k` rows of `rows` in `compare` order, without sorting all of them. */
function selectFirst(rows: Iterable<TracebackRow>, k: number, compare: Compare): TracebackRow[] {
  const top: TracebackRow[] = [];
  for (const row of rows) {
    if (top.length === k) {
      const last = top[k - 1] as TracebackRow;
      if (compare(row, last) >= 0) continue;
      top.pop();
    }
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(top[mid] as TracebackRow, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, row);
  }
  return top;
}

/** Ascending (startedAt, id): the order of {@link TracebackIndex.byStart}. */
function startOrder(a: TracebackRow, b: TracebackRow): number {
  return a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

type Matcher = (t: IndexedTraceback) => boolean;

function searchMatcher(raw: string): Matcher | undefined {
  const q = raw.trim().toLowerCase();
  if (q === '') return undefined;
  const hop = /^(tb-[0-9a-z]{1,20})(-h\d+)?$/.exec(q);
  if (hop) {
    const prefix = hop[1] as string;
    return (t) => t.row.id.startsWith(prefix);
  }
  const digits = q.replace(/\D/g, '');
  if (digits.length >= 3 && /^[+\d\s().-]+$/.test(q)) {
    return (t) => t.row.calling.includes(digits) || t.row.called.includes(digits);
  }
  return (t) => t.row.id.includes(q) || (t.row.campaign?.toLowerCase().includes(q) ?? false);
}

function matcher(query: ListQuery): Matcher {
  const tests: Matcher[] = [];
  const search = query.q === undefined ? undefined : searchMatcher(query.q);
  if (search) tests.push(search);
  const { state, outcome, campaign, provider } = query;
  if (state === 'active') tests.push((t) => t.row.active);
  else if (state === 'done') tests.push((t) => !t.row.active);
  else if (state) tests.push((t) => t.row.state === state);
  if (outcome) tests.push((t) => t.row.outcome === outcome);
  if (campaign === 'none') tests.push((t) => t.row.campaign === undefined);
  else if (campaign) tests.push((t) => t.row.campaign === campaign);
  if (provider) tests.push((t) => t.hopProviders.includes(provider));
  return (t) => tests.every((test) => test(t));
}

function countsOf(map: Map<string, number>, limit = Infinity): FacetCount[] {
  return [...map]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
    .slice(0, limit);
}

function add(map: Map<string, number>, key: string, delta: number): void {
  const count = (map.get(key) ?? 0) + delta;
  if (count === 0) map.delete(key);
  else map.set(key, count);
}

interface ProviderTally {
  asked: number;
  open: number;
  answered: number;
  missed: number;
  cancelled: number;
  responseSum: number;
  endedHere: Map<string, number>;
}

/** Splits a key of the actors bucket: `traceback.<id>` or `provider.<id>`. */
function splitKey(key: string): [kind: string, id: string] {
  const first = key.indexOf('.');
  return first < 0 ? [key, ''] : [key.slice(0, first), key.slice(first + 1)];
}

interface IndexedTimer extends TimerRef {
  key: string;
  dueAt: number;
}

/** Same open hop, same clock (what the traceback page and inbox show of it). */
function sameClock(a: ProviderOpenHop, b: ProviderOpenHop | undefined): boolean {
  return b !== undefined && a.deadline === b.deadline && a.sentAt === b.sentAt && a.remindedAt.length === b.remindedAt.length && a.remindersDue.length === b.remindersDue.length;
}

/** Flagged providers first (most flags), then the busiest. */
function providerOrder(a: ProviderSummary, b: ProviderSummary): number {
  const asked = (p: ProviderSummary) => Math.max(p.score?.asked ?? 0, p.tracebacks?.asked ?? 0);
  return b.flags.length - a.flags.length || asked(b) - asked(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Everything the viewer lists, in memory: one small entry per traceback and one per provider
 * actor, fed by watches on the actor and timer buckets. Listing, filtering, sorting and paging
 * 100,000 tracebacks is a scan of this map; facet counts and hop tallies are kept up to date
 * change by change, so they cost nothing to read. The provider actors' records supply the
 * carrier inboxes (the queries they sent), the real clock of open hops, scorecards and flags.
 * Nothing here goes to NATS.
 */
export class TracebackIndex {
  private readonly tracebacks = new Map<string, IndexedTraceback>();
  /** Provider actor records: directory, policy, scorecard, flags, and the hops open at (or queued for) the carrier. */
  private readonly providers = new Map<string, IndexedProvider>();
  /** Provider records that could not be read, with why. */
  private readonly unreadableProviders = new Map<string, { revision: number; error: string }>();
  /** Pending timers by the traceback whose hop they keep the clock of. */
  private readonly timers = new Map<string, Map<string, IndexedTimer>>();
  private readonly listeners = new Set<(change: IndexChange) => void>();
  private readonly strings = new Map<string, string>();
  private readonly counts = {
    states: new Map<string, number>(),
    outcomes: new Map<string, number>(),
    campaigns: new Map<string, number>(),
    providers: new Map<string, number>(),
  };
  private readonly tallies = new Map<string, ProviderTally>();
  /**
   * Ids in (startedAt, id) order. New tracebacks almost always start last, so keeping it is an
   * append, and the default view (newest first) reads a page straight off its end.
   */
  private readonly byStart: IndexedTraceback[] = [];
  /** Grows with every applied change; clients use it to tell whether to refetch. */
  version = 0;
  private actorsReady = false;
  private timersReady = false;
  private readonly readyWaiters: (() => void)[] = [];
  /** Records that could not be decoded (kept out of the list). */
  unreadable = 0;

  get size(): number {
    return this.tracebacks.size;
  }

  /** True once every stored traceback record has been read (changes keep coming after). */
  get ready(): boolean {
    return this.actorsReady;
  }

  get timersLoaded(): boolean {
    return this.timersReady;
  }

  /** Called by the feeding watch when a bucket's stored values are all in. */
  markLoaded(bucket: 'actors' | 'timers'): void {
    if (bucket === 'timers') {
      this.timersReady = true;
      return;
    }
    this.actorsReady = true;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  /** Resolves when {@link ready} becomes true. */
  whenReady(): Promise<void> {
    return this.actorsReady ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  onChange(listener: (change: IndexChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: IndexChange): void {
    this.version++;
    for (const listener of this.listeners) listener(change);
  }

  /** One copy of each repeating string (provider ids, campaigns, states) for 100,000 rows. */
  private readonly intern = (value: string): string => {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  };

  /** Applies one entry of the actors bucket. */
  applyActor(entry: IndexEntry): void {
    const [kind, id] = splitKey(entry.key);
    const deleted = entry.operation !== 'PUT';
    if (kind === 'traceback') {
      const before = this.tracebacks.get(id);
      let after: IndexedTraceback | undefined;
      if (!deleted) {
        try {
          after = this.withProviderTiming(indexTraceback(id, decodeStoredRecord(entry.value), entry.revision, { intern: this.intern }));
        } catch {
          this.unreadable++;
        }
      }
      if (before) this.account(before, -1);
      if (after) {
        this.tracebacks.set(id, after);
        this.account(after, 1);
      } else {
        this.tracebacks.delete(id);
      }
      this.order(before, after);
      this.emit({ kind: 'traceback', id, before, after });
    } else if (kind === 'provider') {
      const before = this.providers.get(id);
      let after: IndexedProvider | undefined;
      this.unreadableProviders.delete(id);
      if (!deleted) {
        try {
          after = indexProvider(id, decodeStoredRecord(entry.value), entry.revision);
        } catch (err) {
          this.unreadableProviders.set(id, { revision: entry.revision, error: `unreadable record: ${(err as Error).message}` });
        }
      }
      if (after) this.providers.set(id, after);
      else this.providers.delete(id);
      this.emit({ kind: 'provider', id, tracebacks: this.applyProviderTiming(id, before, after) });
    }
  }

  /**
   * An open hop's real clock (sent at, deadline) is the provider actor's until the hop's result
   * reaches the traceback; the traceback holds estimates meanwhile. Puts the provider's into
   * the row when the provider record has the hop, and marks a hop still in the provider's queue.
   */
  withProviderTiming(t: IndexedTraceback): IndexedTraceback {
    if (!isAsking(t)) return t;
    const { row } = t;
    const provider = this.providers.get(row.currentProvider);
    const open = provider?.open.get(row.currentHopId);
    if (open) {
      row.deadline = open.deadline;
      row.deadlineSource = 'provider';
      delete row.queued;
    } else {
      if (t.estimatedDeadline !== undefined) row.deadline = t.estimatedDeadline;
      row.deadlineSource = 'estimate';
      if (provider?.queued.has(row.currentHopId)) row.queued = true;
      else delete row.queued;
    }
    return t;
  }

  /** After a provider record changed: updates the rows of tracebacks whose hop at it changed; returns their ids. */
  private applyProviderTiming(provider: string, before: IndexedProvider | undefined, after: IndexedProvider | undefined): string[] {
    const changed = new Set<string>();
    const hopIds = new Set<string>([...(before?.open.keys() ?? []), ...(after?.open.keys() ?? []), ...(before?.queued ?? []), ...(after?.queued ?? [])]);
    for (const hopId of hopIds) {
      const was = before?.open.get(hopId);
      const is = after?.open.get(hopId);
      const same = is ? sameClock(is, was) : was === undefined && Boolean(before?.queued.has(hopId)) === Boolean(after?.queued.has(hopId));
      if (same) continue;
      const tracebackId = is?.tracebackId ?? was?.tracebackId ?? after?.queue.find((q) => q.hopId === hopId)?.tracebackId ?? before?.queue.find((q) => q.hopId === hopId)?.tracebackId;
      if (tracebackId === undefined) continue;
      changed.add(tracebackId);
      const t = this.tracebacks.get(tracebackId);
      // A hop that left the provider's open set keeps its last known clock until the traceback's record catches up.
      if (t && t.row.currentProvider === provider && t.row.currentHopId === hopId && (is || !was)) this.withProviderTiming(t);
    }
    return [...changed];
  }

  /** Adds (`sign` 1) or removes (-1) a traceback's share of the facets and hop tallies. */
  private account(t: IndexedTraceback, sign: 1 | -1): void {
    const { row } = t;
    add(this.counts.states, row.state, sign);
    if (row.outcome) add(this.counts.outcomes, row.outcome, sign);
    add(this.counts.campaigns, row.campaign ?? 'none', sign);
    const seen = new Set<string>();
    for (let i = 0; i < t.hopProviders.length; i++) {
      const provider = t.hopProviders[i] as string;
      if (!seen.has(provider)) {
        seen.add(provider);
        add(this.counts.providers, provider, sign);
      }
      const tally = this.tally(provider);
      const status = LETTER_STATUS[t.hopStatus[i] ?? 'o'] ?? 'open';
      tally.asked += sign;
      tally[status] += sign;
      const response = t.hopResponseMs[i] ?? -1;
      if (response >= 0) tally.responseSum += sign * response;
    }
    if (row.outcome) add(this.tally(row.currentProvider).endedHere, row.outcome, sign);
  }

  /** Keeps {@link byStart} in step: replace in place, append, or insert/remove by binary search. */
  private order(before: IndexedTraceback | undefined, after: IndexedTraceback | undefined): void {
    const list = this.byStart;
    if (before) {
      const at = this.position(before.row);
      if (after && after.row.startedAt === before.row.startedAt && list[at]?.row.id === before.row.id) {
        list[at] = after;
        return;
      }
      if (list[at]?.row.id === before.row.id) list.splice(at, 1);
    }
    if (!after) return;
    const last = list[list.length - 1];
    if (!last || startOrder(last.row, after.row) < 0) list.push(after);
    else list.splice(this.position(after.row), 0, after);
  }

  /** First index in {@link byStart} whose row does not sort before `row`. */
  private position(row: TracebackRow): number {
    let lo = 0;
    let hi = this.byStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (startOrder((this.byStart[mid] as IndexedTraceback).row, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private tally(provider: string): ProviderTally {
    let tally = this.tallies.get(provider);
    if (!tally) {
      tally = { asked: 0, open: 0, answered: 0, missed: 0, cancelled: 0, responseSum: 0, endedHere: new Map() };
      this.tallies.set(provider, tally);
    }
    return tally;
  }

  /**
   * Applies one entry of the timers bucket. Provider actors keep the hop clocks
   * (`provider.<provider>.h.<hopId>`); the hop id names the traceback the timer is shown with.
   */
  applyTimer(entry: IndexEntry): void {
    const ref = timerRef(entry.key);
    if (!ref) return;
    const timers = this.timers.get(ref.tracebackId) ?? new Map<string, IndexedTimer>();
    const decoded = entry.operation === 'PUT' ? decodeTimer(entry.value) : undefined;
    if (decoded) timers.set(entry.key, { ...ref, key: entry.key, dueAt: decoded.dueAt });
    else timers.delete(entry.key);
    if (timers.size === 0) this.timers.delete(ref.tracebackId);
    else this.timers.set(ref.tracebackId, timers);
    this.emit({ kind: 'timer', tracebackId: ref.tracebackId });
  }

  get(id: string): IndexedTraceback | undefined {
    return this.tracebacks.get(id);
  }

  /** What the provider actor knows of a hop: open at the carrier (with its real clock), queued, or nothing. */
  providerHop(provider: string, hopId: string): ProviderHopState {
    const p = this.providers.get(provider);
    const open = p?.open.get(hopId);
    return open ? { open, queued: false } : { queued: Boolean(p?.queued.has(hopId)) };
  }

  /** The pending timers of a traceback's hops, soonest first. */
  timersOf(id: string): PendingTimer[] {
    const timers = this.timers.get(id);
    if (!timers) return [];
    const t = this.tracebacks.get(id);
    return [...timers.values()]
      .map((timer) => {
        let deadline: number | undefined;
        if (timer.provider !== undefined && timer.hopId !== undefined) {
          deadline = this.providers.get(timer.provider)?.open.get(timer.hopId)?.deadline;
          if (deadline === undefined && t?.row.currentHopId === timer.hopId) deadline = t.row.deadline;
        } else if (t && timer.timer === `hop${t.row.hops}`) {
          deadline = t.row.deadline; // a version-1 traceback's own timer for its current hop
        }
        const pending: PendingTimer = { timer: timer.timer, key: timer.key, dueAt: timer.dueAt, purpose: timerPurpose(timer.dueAt, deadline) };
        if (timer.provider !== undefined) pending.provider = timer.provider;
        if (timer.hopId !== undefined) pending.hopId = timer.hopId;
        return pending;
      })
      .sort((a, b) => a.dueAt - b.dueAt);
  }

  /** One page of the list, filtered and sorted. */
  list(query: ListQuery, now: number): ListPage {
    const size = Math.min(Math.max(1, Math.floor(query.size ?? 50)), MAX_PAGE_SIZE);
    const page = Math.max(0, Math.floor(query.page ?? 0));
    const sort = query.sort ?? 'startedAt';
    const dir = query.dir ?? 'desc';
    const filtered = Boolean(query.q?.trim() || query.state || query.outcome || query.campaign || query.provider);
    const test = filtered ? matcher(query) : undefined;
    const start = page * size;
    const end = start + size;
    let rows: TracebackRow[];
    let total: number;
    if (sort === 'startedAt') {
      // Already in order: walk it, counting matches and keeping the requested slice.
      const list = this.byStart;
      if (!test) {
        total = list.length;
        const slice = dir === 'desc' ? list.slice(Math.max(0, total - end), Math.max(0, total - start)).reverse() : list.slice(start, end);
        rows = slice.map((t) => t.row);
      } else {
        rows = [];
        total = 0;
        for (let k = 0; k < list.length; k++) {
          const t = list[dir === 'desc' ? list.length - 1 - k : k] as IndexedTraceback;
          if (!test(t)) continue;
          if (total >= start && total < end) rows.push(t.row);
          total++;
        }
      }
    } else {
      const compare = comparator(sort, dir);
      const matching: TracebackRow[] = [];
      for (const t of this.tracebacks.values()) if (!test || test(t)) matching.push(t.row);
      total = matching.length;
      rows = (end <= SELECT_LIMIT ? selectFirst(matching, end, compare) : matching.sort(compare)).slice(start, end);
    }
    return {
      rows,
      total,
      indexed: this.tracebacks.size,
      page,
      size,
      version: this.version,
      ready: this.ready,
      now,
    };
  }

  /** Values to filter by, with counts (campaigns and providers: the 500 most frequent). */
  facets(): Facets {
    return {
      states: countsOf(this.counts.states),
      outcomes: countsOf(this.counts.outcomes),
      campaigns: countsOf(this.counts.campaigns, 500),
      providers: countsOf(this.counts.providers, 500),
    };
  }

  /** Per provider, what the traceback records show: hops asked, answered, missed; where trails ended. */
  private tracebackStats(provider: string): ProviderStats | undefined {
    const t = this.tallies.get(provider);
    if (!t || t.asked === 0) return undefined;
    const s: ProviderStats = {
      provider,
      asked: t.asked,
      open: t.open,
      answered: t.answered,
      missed: t.missed,
      cancelled: t.cancelled,
      endedHere: Object.fromEntries(t.endedHere),
    };
    if (t.answered > 0) s.meanResponseMs = Math.round(t.responseSum / t.answered);
    return s;
  }

  /** Scorecards derived from the tracebacks' hops, busiest first. */
  providerStats(): ProviderStats[] {
    const stats: ProviderStats[] = [];
    for (const provider of this.tallies.keys()) {
      const s = this.tracebackStats(provider);
      if (s) stats.push(s);
    }
    return stats.sort((a, b) => b.asked - a.asked || (a.provider < b.provider ? -1 : 1));
  }

  /** Number of providers known from actor records or traceback hops. */
  get providerCount(): number {
    let n = this.providers.size;
    for (const provider of this.tallies.keys()) if (!this.providers.has(provider) && (this.tallies.get(provider)?.asked ?? 0) > 0) n++;
    return n;
  }

  /** One provider: its actor record's summary (if any) and its traceback hop tally (if any). */
  providerSummary(id: string): ProviderSummary | undefined {
    const p = this.providers.get(id);
    const tracebacks = this.tracebackStats(id);
    const unreadable = this.unreadableProviders.get(id);
    if (!p && !tracebacks && !unreadable) return undefined;
    const summary: ProviderSummary = p
      ? { ...p.summary }
      : { id, actor: unreadable !== undefined, open: 0, queued: 0, strikes: {}, flags: [], clearedFlags: [] };
    if (unreadable) Object.assign(summary, unreadable);
    if (tracebacks) summary.tracebacks = tracebacks;
    return summary;
  }

  /** The providers page: every provider (flagged first) and every raised flag (newest first). */
  providersPage(now: number): ProvidersPage {
    const ids = new Set<string>([...this.providers.keys(), ...this.unreadableProviders.keys()]);
    for (const [provider, t] of this.tallies) if (t.asked > 0) ids.add(provider);
    const providers: ProviderSummary[] = [];
    for (const id of ids) {
      const s = this.providerSummary(id);
      if (s) providers.push(s);
    }
    const flags = providers.flatMap((p) => p.flags.map((flag) => ({ provider: p.id, flag }))).sort((a, b) => b.flag.raisedAt - a.flag.raisedAt);
    return { providers: providers.sort(providerOrder), flags, version: this.version, now };
  }

  /** One provider with its open and queued hops, soonest deadline first. */
  providerDetail(id: string, now: number): ProviderDetail | undefined {
    const summary = this.providerSummary(id);
    if (!summary) return undefined;
    const p = this.providers.get(id);
    const open: OpenHopView[] = [...(p?.open.values() ?? [])]
      .map((o) => ({ ...inboxItem(id, o), receivedAt: o.receivedAt, remindersDue: o.remindersDue, remindedAt: o.remindedAt }))
      .sort((a, b) => a.deadline - b.deadline || (a.hopId < b.hopId ? -1 : 1));
    return { summary, open, queue: p?.queue.map((q) => ({ ...q })) ?? [], now };
  }

  /**
   * A carrier's inbox: the queries its provider actor has sent and that are still open, soonest
   * deadline first. Queries waiting in the provider's queue are not shown: the carrier has not
   * got them yet. A query whose traceback has already moved past it is left out.
   */
  inbox(provider: string): InboxItem[] {
    const items: InboxItem[] = [];
    for (const o of this.providers.get(provider)?.open.values() ?? []) {
      if (this.stillAsked(o.tracebackId, o.hopId)) items.push(inboxItem(provider, o));
    }
    return items.sort((a, b) => a.deadline - b.deadline || (a.hopId < b.hopId ? -1 : 1));
  }

  /** False when the traceback's record shows the hop closed (the provider's record lags a moment). */
  private stillAsked(tracebackId: string, hopId: string): boolean {
    const t = this.tracebacks.get(tracebackId);
    if (!t) return true;
    const m = /-h(\d+)$/.exec(hopId);
    const status = m ? t.hopStatus[Number(m[1]) - 1] : undefined;
    return status === undefined || (status === 'o' && t.row.active);
  }

  /** The open query behind a hop, if the provider actor asked has sent it and it is still open. */
  openHop(tracebackId: string, hopNumber: number): InboxItem | undefined {
    const t = this.tracebacks.get(tracebackId);
    const provider = t?.hopProviders[hopNumber - 1];
    if (!t || provider === undefined) return undefined;
    const hopId = `${tracebackId}-h${hopNumber}`;
    const open = this.providers.get(provider)?.open.get(hopId);
    return open && this.stillAsked(tracebackId, hopId) ? inboxItem(provider, open) : undefined;
  }

  /** Provider and status of any hop of any traceback (to tell "closed" from "never existed"). */
  hop(tracebackId: string, hopNumber: number): Pick<HopSummary, 'provider' | 'status'> | undefined {
    const t = this.tracebacks.get(tracebackId);
    const provider = t?.hopProviders[hopNumber - 1];
    if (!t || provider === undefined) return undefined;
    return { provider, status: LETTER_STATUS[t.hopStatus[hopNumber - 1] ?? 'o'] ?? 'open' };
  }
}
