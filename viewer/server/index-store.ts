import type {
  Facets,
  FacetCount,
  HopSummary,
  InboxItem,
  ListPage,
  ListQuery,
  PendingTimer,
  ProviderRecord,
  ProviderStats,
  SortKey,
  TracebackRow,
} from '../shared/api.js';
import { LETTER_STATUS, decodeStoredRecord, decodeTimer, indexTraceback, stateName, timerPurpose, type IndexedTraceback } from './records.js';

/** A change the index has applied, for live updates. */
export type IndexChange =
  | { kind: 'traceback'; id: string; before: IndexedTraceback | undefined; after: IndexedTraceback | undefined }
  | { kind: 'timer'; tracebackId: string }
  | { kind: 'provider'; id: string };

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

/** Splits `traceback.<id>.<timer>` (timers bucket) or `traceback.<id>` / `provider.<id>` (actors bucket). */
function splitKey(key: string): [kind: string, id: string, rest: string | undefined] {
  const first = key.indexOf('.');
  if (first < 0) return [key, '', undefined];
  const second = key.indexOf('.', first + 1);
  return second < 0 ? [key.slice(0, first), key.slice(first + 1), undefined] : [key.slice(0, first), key.slice(first + 1, second), key.slice(second + 1)];
}

/**
 * Everything the viewer lists, in memory: one small entry per traceback, fed by watches on
 * the actor and timer buckets. Listing, filtering, sorting and paging 100,000 tracebacks is
 * a scan of this map; facet counts and provider scorecards are kept up to date change by
 * change, so they cost nothing to read. Nothing here goes to NATS.
 */
export class TracebackIndex {
  private readonly tracebacks = new Map<string, IndexedTraceback>();
  private readonly providerRecords = new Map<string, ProviderRecord>();
  private readonly timers = new Map<string, Map<string, number>>();
  /** Open hops by the provider asked: the carrier inboxes. */
  private readonly openByProvider = new Map<string, Set<string>>();
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
          after = indexTraceback(id, decodeStoredRecord(entry.value), entry.revision, { intern: this.intern });
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
      if (deleted) this.providerRecords.delete(id);
      else this.providerRecords.set(id, this.providerRecord(entry, id));
      this.emit({ kind: 'provider', id });
    }
  }

  /** Adds (`sign` 1) or removes (-1) a traceback's share of the inboxes, facets and scorecards. */
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
    const open = row.active && t.hopStatus.endsWith('o');
    if (open) {
      let set = this.openByProvider.get(row.currentProvider);
      if (sign > 0) {
        if (!set) this.openByProvider.set(row.currentProvider, (set = new Set()));
        set.add(row.id);
      } else if (set) {
        set.delete(row.id);
        if (set.size === 0) this.openByProvider.delete(row.currentProvider);
      }
    }
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

  private providerRecord(entry: IndexEntry, id: string): ProviderRecord {
    const base = { key: entry.key, id, revision: entry.revision };
    try {
      const record = decodeStoredRecord(entry.value);
      const snapshot = record.snapshot as { value?: unknown; context?: unknown } | undefined;
      const hasContext = snapshot !== undefined && snapshot.context !== undefined;
      const result: ProviderRecord = { ...base, kind: record.kind, context: hasContext ? snapshot.context : record };
      if (record.updatedAt) result.updatedAt = record.updatedAt;
      if (snapshot?.value !== undefined) result.state = stateName(snapshot.value);
      return result;
    } catch (err) {
      return { ...base, context: null, error: `unreadable record: ${(err as Error).message}` };
    }
  }

  /** Applies one entry of the timers bucket (`traceback.<id>.<timer>`). */
  applyTimer(entry: IndexEntry): void {
    const [kind, id, timer] = splitKey(entry.key);
    if (kind !== 'traceback' || timer === undefined) return;
    const timers = this.timers.get(id) ?? new Map<string, number>();
    const decoded = entry.operation === 'PUT' ? decodeTimer(entry.value) : undefined;
    if (decoded) timers.set(timer, decoded.dueAt);
    else timers.delete(timer);
    if (timers.size === 0) this.timers.delete(id);
    else this.timers.set(id, timers);
    this.emit({ kind: 'timer', tracebackId: id });
  }

  get(id: string): IndexedTraceback | undefined {
    return this.tracebacks.get(id);
  }

  timersOf(id: string): PendingTimer[] {
    const timers = this.timers.get(id);
    if (!timers) return [];
    const t = this.tracebacks.get(id);
    return [...timers]
      .map(([timer, dueAt]) => ({
        timer,
        key: `traceback.${id}.${timer}`,
        dueAt,
        purpose: t ? timerPurpose(timer, dueAt, t.row.hops, t.current.deadline) : ('unknown' as const),
      }))
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

  /** Scorecards derived from the tracebacks' hops, busiest first. */
  providerStats(): ProviderStats[] {
    const stats: ProviderStats[] = [];
    for (const [provider, t] of this.tallies) {
      if (t.asked === 0) continue;
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
      stats.push(s);
    }
    return stats.sort((a, b) => b.asked - a.asked || (a.provider < b.provider ? -1 : 1));
  }

  providerRecordList(): ProviderRecord[] {
    return [...this.providerRecords.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Open hop queries of one provider, soonest deadline first. */
  inbox(provider: string): InboxItem[] {
    const items: InboxItem[] = [];
    for (const id of this.openByProvider.get(provider) ?? []) {
      const t = this.tracebacks.get(id);
      if (t) items.push(inboxItem(t));
    }
    return items.sort((a, b) => a.deadline - b.deadline || (a.hopId < b.hopId ? -1 : 1));
  }

  /** The open query behind a hop, if that hop is the current, open hop of an active traceback. */
  openHop(tracebackId: string, hopNumber: number): InboxItem | undefined {
    const t = this.tracebacks.get(tracebackId);
    if (!t || !t.row.active || t.row.hops !== hopNumber || !t.hopStatus.endsWith('o')) return undefined;
    return inboxItem(t);
  }

  /** Provider and status of any hop of any traceback (to tell "closed" from "never existed"). */
  hop(tracebackId: string, hopNumber: number): Pick<HopSummary, 'provider' | 'status'> | undefined {
    const t = this.tracebacks.get(tracebackId);
    const provider = t?.hopProviders[hopNumber - 1];
    if (!t || provider === undefined) return undefined;
    return { provider, status: LETTER_STATUS[t.hopStatus[hopNumber - 1] ?? 'o'] ?? 'open' };
  }
}

function inboxItem(t: IndexedTraceback): InboxItem {
  const { row, current } = t;
  const item: InboxItem = {
    hopId: row.currentHopId,
    tracebackId: row.id,
    hop: row.hops,
    provider: row.currentProvider,
    call: { calling: row.calling, called: row.called, time: row.callTime },
    askedAt: current.askedAt,
    deadline: current.deadline,
    reminders: current.reminders,
  };
  if (row.campaign !== undefined) item.call.campaign = row.campaign;
  if (current.downstream !== undefined) item.downstream = current.downstream;
  return item;
}
