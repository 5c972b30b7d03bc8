import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import {
  DEFAULT_FLAG_THRESHOLDS,
  PROVIDER_MACHINE_VERSION,
  TRACEBACK_MACHINE_VERSION,
  createProvider,
  createTraceback,
  deadlineFor,
  providerTimerName,
  type DeadlinePolicy,
  type DirectoryEntry,
  type FlagName,
  type ProviderActor,
  type ProviderCommand,
  type TracebackActor,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
} from '../../actors/index.js';
import { hopIdOf, type Answer, type TracebackId } from '../../protocol/index.js';
import { Access, hashPassword, parseLogins, verifyPassword } from '../server/auth.js';
import { ViewerError, ViewerErrorCode } from '../server/errors.js';
import { TracebackIndex, type IndexChange, type IndexEntry } from '../server/index-store.js';
import { decodeStoredRecord, encodeStoredRecord, hopSummaries, recordView } from '../server/records.js';
import { tracebackGraph } from '../server/statechart.js';
import { compileViewerOptions } from '../server/viewer.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0); // a Sunday
const DAY = 86_400_000;
/** The tracebacks' own deadline: their estimate until the provider actor sends the query. */
const ESTIMATE_MS = 10_000;
/** The provider actors' deadline: the real one. */
const DEADLINE_MS = 20_000;
const BUSINESS: DeadlinePolicy = {
  kind: 'business',
  deadlineMs: DAY,
  timeZone: 'America/Chicago',
  opensAt: 8,
  closesAt: 17,
  businessDays: [1, 2, 3, 4, 5],
  holidays: ['2026-11-26'],
};
let revision = 0;

function id(n: number): TracebackId {
  return `tb-${n.toString(36).padStart(9, '0')}aaaaaaaaaaa` as TracebackId;
}

const hop = (n: number, h: number) => hopIdOf(id(n), h);
const upstream = (provider: string): Answer => ({ type: 'upstream', provider });
const originator: Answer = { type: 'originator', customer: { name: 'Acme' }, action: 'warned' };

interface Start {
  terminating: string;
  campaign?: string;
  calling?: string;
}

function newTraceback(n: number, options: Start, now: number): TracebackActor {
  return createTraceback({
    tracebackId: id(n),
    call: { calling: (options.calling ?? '+12155550121') as never, called: '+12025550143' as never, time: T0 - 60_000, ...(options.campaign ? { campaign: options.campaign } : {}) },
    terminatingProvider: options.terminating,
    requester: 'test',
    now,
    policy: { deadlineMs: ESTIMATE_MS },
  });
}

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** A value of `tb_timers`, as the engine's timer service writes it. */
function timerValue(dueAt: number, payload: Record<string, string> = {}): Uint8Array {
  return packr.pack({ dueAt, payload });
}

function put(key: string, value: Uint8Array): IndexEntry {
  return { key, value, revision: ++revision, operation: 'PUT' };
}

function stored(kind: 'traceback' | 'provider', actor: TracebackActor | ProviderActor, updatedAt: number): Uint8Array {
  return encodeStoredRecord({
    kind,
    machineVersion: kind === 'traceback' ? TRACEBACK_MACHINE_VERSION : PROVIDER_MACHINE_VERSION,
    snapshot: actor.getPersistedSnapshot() as never,
    outbox: [],
    updatedAt,
  });
}

/** A traceback record alone (no provider actors), driven through `events`. */
function record(n: number, options: Start & { events?: TracebackEventIn[] }): IndexEntry {
  const actor = newTraceback(n, options, T0 + n * 1000);
  actor.start();
  for (const event of options.events ?? []) actor.send(event);
  return put(`traceback.${id(n)}`, stored('traceback', actor, T0 + n * 1000 + 500));
}

/**
 * Traceback and provider actors wired together the way the engine wires them (a miniature
 * host, synchronous, on a hand-moved clock): what it stores is what the viewer reads.
 */
class World {
  readonly tracebacks = new Map<string, TracebackActor>();
  readonly providers = new Map<string, ProviderActor>();
  /** `tb_timers`: key → due time. */
  readonly timers = new Map<string, number>();
  now = T0;
  private readonly work: (() => void)[] = [];

  constructor(private readonly setup: { maxInFlight?: Record<string, number>; directory?: Record<string, Partial<DirectoryEntry>>; clock?: Record<string, DeadlinePolicy> } = {}) {}

  provider(pid: string): ProviderActor {
    let actor = this.providers.get(pid);
    if (!actor) {
      actor = createProvider({
        id: pid,
        policy: { deadline: this.setup.clock?.[pid] ?? { kind: 'fixed', deadlineMs: DEADLINE_MS }, reminderFractions: [0.5], maxInFlight: this.setup.maxInFlight?.[pid] ?? 1000 },
        thresholds: { ...DEFAULT_FLAG_THRESHOLDS, noncooperative: { count: 1, windowMs: DAY } },
        now: this.now,
        ...(this.setup.directory?.[pid] ? { directory: this.setup.directory[pid] } : {}),
      });
      actor.on('*', (c: ProviderCommand) => this.work.push(() => this.fromProvider(pid, c)));
      actor.start();
      this.providers.set(pid, actor);
    }
    return actor;
  }

  private fromProvider(pid: string, c: ProviderCommand): void {
    if (c.type === 'cmd.scheduleTimer') this.timers.set(`provider.${pid}.${c.timer}`, c.dueAt);
    else if (c.type === 'cmd.cancelTimer') this.timers.delete(`provider.${pid}.${c.timer}`);
    else if (c.type === 'cmd.hopResult') this.tracebacks.get(c.tracebackId)?.send({ type: 'HOP_RESULT', hopId: c.hopId, result: c.result, timing: c.timing, ...(c.providerInfo ? { providerInfo: c.providerInfo } : {}), at: this.now });
  }

  private fromTraceback(tracebackId: TracebackId, c: TracebackCommand): void {
    if (c.type === 'cmd.askProvider') this.provider(c.provider).send({ type: 'ASK', query: c.query, at: this.now });
    else if (c.type === 'cmd.cancelHop') this.provider(c.provider).send({ type: 'CANCEL_HOP', hopId: c.hopId, at: this.now });
    else if (c.type === 'cmd.trailEnded') this.provider(c.provider).send({ type: 'TRAIL_ENDED', tracebackId, outcome: c.outcome, at: this.now });
  }

  private run(at: number, act: () => void): this {
    this.now = at;
    act();
    for (let next = this.work.shift(); next; next = this.work.shift()) next();
    return this;
  }

  start(n: number, options: Start, at = T0 + n * 1000): this {
    const actor = newTraceback(n, options, at);
    actor.on('*', (c: TracebackCommand) => this.work.push(() => this.fromTraceback(id(n), c)));
    this.tracebacks.set(id(n), actor);
    return this.run(at, () => actor.start());
  }

  /** The carrier asked about hop `h` of traceback `n` answers. */
  answer(n: number, h: number, answer: Answer, at: number): this {
    const context = this.tracebacks.get(id(n))?.getSnapshot().context as TracebackContext;
    const pid = context.hops[h - 1]?.provider as string;
    return this.run(at, () => this.provider(pid).send({ type: 'ANSWER', hopId: hop(n, h), answer, at }));
  }

  /** The timer of hop `h` of traceback `n` fires at `pid`'s actor. */
  fire(pid: string, n: number, h: number, at: number): this {
    return this.run(at, () => this.provider(pid).send({ type: 'TIMER_FIRED', timer: providerTimerName(hop(n, h)), at }));
  }

  cancel(n: number, at: number): this {
    return this.run(at, () => this.tracebacks.get(id(n))?.send({ type: 'CANCEL', reason: 'test', by: 'ops', at }));
  }

  clearFlag(pid: string, flag: FlagName, at: number): this {
    return this.run(at, () => this.provider(pid).send({ type: 'CLEAR_FLAG', flag, reason: 'mitigation plan filed', by: 'ops-jane', at }));
  }

  tracebackEntry(n: number): IndexEntry {
    return put(`traceback.${id(n)}`, stored('traceback', this.tracebacks.get(id(n)) as TracebackActor, this.now));
  }

  providerEntry(pid: string): IndexEntry {
    return put(`provider.${pid}`, stored('provider', this.provider(pid), this.now));
  }

  timerEntries(): IndexEntry[] {
    return [...this.timers].map(([key, dueAt]) => {
      const [, pid = '', timer = ''] = /^provider\.([^.]+)\.(.+)$/.exec(key) ?? [];
      return put(key, timerValue(dueAt, { kind: 'provider', id: pid, timer }));
    });
  }

  /** Stores every record into `index`: tracebacks first, or providers first. */
  into(index: TracebackIndex, order: 'tracebacks-first' | 'providers-first' = 'tracebacks-first'): TracebackIndex {
    const tracebacks = [...this.tracebacks.keys()].map((key) => put(`traceback.${key}`, stored('traceback', this.tracebacks.get(key) as TracebackActor, this.now)));
    const providers = [...this.providers.keys()].map((pid) => this.providerEntry(pid));
    for (const entry of order === 'tracebacks-first' ? [...tracebacks, ...providers] : [...providers, ...tracebacks]) index.applyActor(entry);
    for (const entry of this.timerEntries()) index.applyTimer(entry);
    return index;
  }
}

/**
 * 1: T1 → M1 → originator (done); 2: asking M1; 3: asking T2 (business hours, Chicago);
 * 4: T1 missed its deadline (noncooperative; T1 is flagged: one miss is the threshold here).
 */
function sampleWorld(): World {
  return new World({
    directory: { M1: { name: 'Mid Carrier LLC', frn: '0012345678', ocn: '4321', verified: true } },
    clock: { T2: BUSINESS },
  })
    .start(1, { terminating: 'T1', campaign: 'SSA-CalltheSSA' })
    .answer(1, 1, upstream('M1'), T0 + 1100)
    .answer(1, 2, originator, T0 + 1300)
    .start(2, { terminating: 'T1', campaign: 'IRS-BackTax', calling: '+13035550188' })
    .answer(2, 1, upstream('M1'), T0 + 2100)
    .start(3, { terminating: 'T2' })
    .start(4, { terminating: 'T1' })
    .fire('T1', 4, 1, T0 + 4000 + DEADLINE_MS / 2)
    .fire('T1', 4, 1, T0 + 4000 + DEADLINE_MS);
}

function sample(): TracebackIndex {
  return sampleWorld().into(new TracebackIndex());
}

describe('TracebackIndex', () => {
  it('lists, sorts, filters and pages tracebacks from stored records', () => {
    const index = sample();
    const all = index.list({}, T0);
    expect(all.total).toBe(4);
    expect(all.rows.map((r) => r.id)).toEqual([id(4), id(3), id(2), id(1)]);
    expect(all.rows[3]).toMatchObject({ state: 'origin_found', outcome: 'origin_found', active: false, currentProvider: 'M1', hops: 2, campaign: 'SSA-CalltheSSA' });
    // The real deadline: the provider actor's clock from when it sent the query.
    expect(all.rows[2]).toMatchObject({ state: 'asking', active: true, currentProvider: 'M1', deadline: T0 + 2100 + DEADLINE_MS, deadlineSource: 'provider' });
    expect(all.rows[0]).toMatchObject({ state: 'noncooperative', currentProvider: 'T1' });
    expect(all.rows[0]?.deadline).toBeUndefined();

    expect(index.list({ sort: 'startedAt', dir: 'asc', size: 2, page: 1 }, T0).rows.map((r) => r.id)).toEqual([id(3), id(4)]);
    expect(index.list({ sort: 'deadline', dir: 'asc' }, T0).rows.map((r) => r.id)).toEqual([id(2), id(3), id(1), id(4)]);
    expect(index.list({ state: 'active' }, T0).total).toBe(2);
    expect(index.list({ state: 'done' }, T0).total).toBe(2);
    expect(index.list({ outcome: 'noncooperative' }, T0).rows.map((r) => r.id)).toEqual([id(4)]);
    expect(index.list({ campaign: 'none' }, T0).total).toBe(2);
    expect(index.list({ provider: 'M1' }, T0).total).toBe(2);
    expect(index.list({ q: '303-555-0188' }, T0).rows.map((r) => r.id)).toEqual([id(2)]);
    expect(index.list({ q: `${id(3)}-h1` }, T0).rows.map((r) => r.id)).toEqual([id(3)]);
    expect(index.list({ q: 'irs-back' }, T0).rows.map((r) => r.id)).toEqual([id(2)]);
    expect(index.list({ size: 10_000 }, T0).size).toBe(200);
  });

  it('pages deep into a large index the same way as near the top', () => {
    const index = new TracebackIndex();
    for (let n = 1; n <= 3000; n++) index.applyActor(record(n, { terminating: `P${n % 7}` }));
    const deep = index.list({ sort: 'startedAt', dir: 'desc', size: 200, page: 12 }, T0);
    expect(deep.rows[0]?.id).toBe(id(3000 - 12 * 200));
    const near = index.list({ sort: 'startedAt', dir: 'desc', size: 200, page: 1 }, T0);
    expect(near.rows[0]?.id).toBe(id(3000 - 200));
    expect(near.rows.length).toBe(200);
  });

  it('keeps the start-time order through out-of-order inserts, updates and deletes', () => {
    const index = new TracebackIndex();
    const order = Array.from({ length: 300 }, (_, i) => i + 1);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const n of order) index.applyActor(record(n, { terminating: n % 3 === 0 ? 'T3' : 'T1' }));
    for (const n of order.slice(0, 40)) index.applyActor({ key: `traceback.${id(n)}`, value: new Uint8Array(), revision: ++revision, operation: 'DEL' });
    for (const n of order.slice(40, 80)) index.applyActor(record(n, { terminating: 'T3', events: [{ type: 'CANCEL', reason: 'x', by: 'y', at: T0 + n * 1000 + 5 }] }));
    const alive = order.slice(40).sort((a, b) => a - b);
    const expectPage = (query: Parameters<TracebackIndex['list']>[0], expected: number[]) =>
      expect(index.list(query, T0).rows.map((r) => r.id)).toEqual(expected.map(id));
    expectPage({ size: 7, page: 3 }, [...alive].reverse().slice(21, 28));
    expectPage({ dir: 'asc', size: 7, page: 3 }, alive.slice(21, 28));
    const t3 = alive.filter((n) => n % 3 === 0 || order.slice(40, 80).includes(n));
    expectPage({ provider: 'T3', size: 5, page: 2 }, [...t3].reverse().slice(10, 15));
    expect(index.list({ provider: 'T3' }, T0).total).toBe(t3.length);
    expect(index.list({ state: 'cancelled' }, T0).total).toBe(40);
    expect(index.list({ size: 200, page: 0 }, T0).total).toBe(260);
  });

  it("shows an open hop's estimated deadline until the provider record gives the real one, whichever record comes first", () => {
    const world = sampleWorld();
    const index = new TracebackIndex();
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    for (const n of [1, 2, 3, 4]) index.applyActor(world.tracebackEntry(n));
    // Only the tracebacks: their own estimate (hop 2 was asked when hop 1's answer arrived).
    expect(index.get(id(2))?.row).toMatchObject({ deadline: T0 + 2100 + ESTIMATE_MS, deadlineSource: 'estimate' });
    expect(index.inbox('M1')).toEqual([]);

    index.applyActor(world.providerEntry('M1'));
    expect(changes.at(-1)).toEqual({ kind: 'provider', id: 'M1', tracebacks: [id(2)] });
    expect(index.get(id(2))?.row).toMatchObject({ deadline: T0 + 2100 + DEADLINE_MS, deadlineSource: 'provider' });
    // A business-hours carrier: the query went out on a Sunday, its clock starts Monday 08:00 in Chicago.
    index.applyActor(world.providerEntry('T2'));
    const t2 = deadlineFor(BUSINESS, T0 + 3000);
    expect(t2.receivedAt).toBe(Date.UTC(2026, 10, 2, 14, 0, 0));
    expect(index.get(id(3))?.row).toMatchObject({ deadline: t2.deadline, deadlineSource: 'provider' });
    expect(index.inbox('T2')[0]).toMatchObject({ hopId: hop(3, 1), askedAt: T0 + 3000, receivedAt: t2.receivedAt, deadline: t2.deadline });

    // A newer traceback record keeps the provider's clock.
    index.applyActor(world.tracebackEntry(2));
    expect(index.get(id(2))?.row.deadline).toBe(T0 + 2100 + DEADLINE_MS);

    // Providers first (the watch delivers keys in any order): the same rows.
    const other = world.into(new TracebackIndex(), 'providers-first');
    expect(other.list({}, T0).rows).toEqual(index.list({}, T0).rows);

    // The hop timeline merges the provider's open hop into the traceback's hops.
    const context = world.tracebacks.get(id(2))?.getSnapshot().context as TracebackContext;
    const hops = hopSummaries(context, (p, h) => index.providerHop(p, h));
    expect(hops[0]).toMatchObject({ hop: 1, status: 'answered', timing: 'result', askedAt: T0 + 2000, deadline: T0 + 2000 + DEADLINE_MS, answeredAt: T0 + 2100 });
    expect(hops[1]).toMatchObject({
      hop: 2,
      status: 'open',
      timing: 'provider',
      askedAt: T0 + 2100,
      deadline: T0 + 2100 + DEADLINE_MS,
      remindersDue: [T0 + 2100 + DEADLINE_MS / 2],
      remindedAt: [],
    });
    expect(hopSummaries(context)[1]).toMatchObject({ timing: 'estimate', deadline: T0 + 2100 + ESTIMATE_MS });

    // A reminder goes out: the traceback page and M1's inbox hear of it.
    world.fire('M1', 2, 2, T0 + 2100 + DEADLINE_MS / 2);
    index.applyActor(world.providerEntry('M1'));
    expect(changes.at(-1)).toEqual({ kind: 'provider', id: 'M1', tracebacks: [id(2)] });
    expect(index.inbox('M1')[0]?.reminders).toBe(1);
  });

  it("keeps carrier inboxes from the provider actors' open hops: sent queries only, not queued ones", () => {
    const index = sample();
    expect(index.inbox('M1').map((i) => i.hopId)).toEqual([hop(2, 2)]);
    expect(index.inbox('T2').map((i) => i.hopId)).toEqual([hop(3, 1)]);
    expect(index.inbox('T1')).toEqual([]);
    expect(index.inbox('M1')[0]).toMatchObject({
      tracebackId: id(2),
      hop: 2,
      downstream: 'T1',
      askedAt: T0 + 2100,
      deadline: T0 + 2100 + DEADLINE_MS,
      reminders: 0,
      call: { calling: '+13035550188', campaign: 'IRS-BackTax' },
    });
    expect(index.openHop(id(2), 2)?.provider).toBe('M1');
    expect(index.openHop(id(2), 1)).toBeUndefined();
    expect(index.hop(id(2), 1)?.status).toBe('answered');

    // Q takes one query at a time: the second waits in its queue, unseen by the carrier.
    const world = new World({ maxInFlight: { Q: 1 } }).start(11, { terminating: 'Q' }).start(12, { terminating: 'Q' });
    const q = world.into(new TracebackIndex());
    expect(q.inbox('Q').map((i) => i.hopId)).toEqual([hop(11, 1)]);
    expect(q.openHop(id(12), 1)).toBeUndefined();
    expect(q.get(id(12))?.row).toMatchObject({ queued: true, deadlineSource: 'estimate' });
    expect(q.providerSummary('Q')).toMatchObject({ open: 1, queued: 1 });
    expect(q.providerDetail('Q', T0)?.queue).toEqual([{ hopId: hop(12, 1), tracebackId: id(12), hop: 1, requestedAt: T0 + 12_000 }]);
    // Answering the first sends the second: now it is open, on Q's clock from that moment.
    world.answer(11, 1, { type: 'not_found', reason: 'no CDR' }, T0 + 13_000);
    q.applyActor(world.providerEntry('Q'));
    expect(q.inbox('Q').map((i) => i.hopId)).toEqual([hop(12, 1)]);
    expect(q.get(id(12))?.row).toMatchObject({ deadline: T0 + 13_000 + DEADLINE_MS, deadlineSource: 'provider' });
    expect(q.get(id(12))?.row.queued).toBeUndefined();

    // The traceback moved on before the provider's record caught up: the query leaves the inbox at once.
    const lagging = world.providerEntry('Q');
    world.answer(12, 1, { type: 'dispute', reason: 'consented' }, T0 + 14_000);
    q.applyActor(lagging);
    q.applyActor(world.tracebackEntry(12));
    expect(q.inbox('Q')).toEqual([]);
    expect(q.openHop(id(12), 1)).toBeUndefined();
  });

  it('summarizes provider actors: directory, policy, scorecard, flags with evidence, cleared flags', () => {
    const world = sampleWorld();
    const index = world.into(new TracebackIndex());
    const t1 = index.providerSummary('T1');
    expect(t1).toMatchObject({
      id: 'T1',
      actor: true,
      directory: { verified: false, rmdStatus: 'unknown' },
      policy: { deadlineKind: 'fixed', deadlineMs: DEADLINE_MS, reminderFractions: [0.5], maxInFlight: 1000 },
      score: { asked: 3, answered: 2, missed: 1, late: 0, notFound: 0, p50Ms: 100, p90Ms: 100, samples: 2 },
      open: 0,
      queued: 0,
      strikes: { noncooperative: 1, high_risk_origin: 0 },
      tracebacks: { asked: 3, answered: 2, missed: 1, endedHere: { noncooperative: 1 } },
    });
    expect(t1?.score?.answerRate).toBeCloseTo(2 / 3);
    expect(t1?.flags).toEqual([
      {
        name: 'noncooperative',
        raisedAt: T0 + 4000 + DEADLINE_MS,
        reason: '1 missed traceback deadlines within 1 days (threshold 1)',
        evidence: [{ tracebackId: id(4), hopId: hop(4, 1), at: T0 + 4000 + DEADLINE_MS }],
      },
    ]);
    expect(index.providerSummary('M1')).toMatchObject({
      directory: { name: 'Mid Carrier LLC', frn: '0012345678', ocn: '4321', verified: true },
      score: { asked: 2, answered: 1, missed: 0 },
      strikes: { high_risk_origin: 1 },
      open: 1,
      flags: [],
      tracebacks: { endedHere: { origin_found: 1 } },
    });
    expect(index.providerSummary('T2')?.policy).toEqual({
      deadlineKind: 'business',
      deadlineMs: DAY,
      timeZone: 'America/Chicago',
      opensAt: 8,
      closesAt: 17,
      businessDays: [1, 2, 3, 4, 5],
      holidays: ['2026-11-26'],
      reminderFractions: [0.5],
      maxInFlight: 1000,
    });
    const page = index.providersPage(T0);
    expect(page.providers.map((p) => p.id)).toEqual(['T1', 'M1', 'T2']); // flagged first, then the busiest
    expect(page.flags).toEqual([{ provider: 'T1', flag: t1?.flags[0] }]);
    expect(index.providerCount).toBe(3);

    world.clearFlag('T1', 'noncooperative', T0 + 60_000);
    index.applyActor(world.providerEntry('T1'));
    const cleared = index.providerSummary('T1');
    expect(cleared?.flags).toEqual([]);
    expect(cleared?.strikes['noncooperative']).toBe(0);
    expect(cleared?.clearedFlags).toEqual([{ ...t1?.flags[0], clearedAt: T0 + 60_000, clearedBy: 'ops-jane', clearReason: 'mitigation plan filed' }]);
    expect(index.providersPage(T0).flags).toEqual([]);

    const detail = index.providerDetail('M1', T0);
    expect(detail?.open).toEqual([expect.objectContaining({ hopId: hop(2, 2), receivedAt: T0 + 2100, remindersDue: [T0 + 2100 + DEADLINE_MS / 2], remindedAt: [] })]);
    expect(index.providerDetail('nobody', T0)).toBeUndefined();
  });

  it('derives provider scorecards from the tracebacks and facets', () => {
    const index = sample();
    const stats = Object.fromEntries(index.providerStats().map((s) => [s.provider, s]));
    expect(stats['T1']).toMatchObject({ asked: 3, answered: 2, missed: 1, open: 0, endedHere: { noncooperative: 1 } });
    expect(stats['M1']).toMatchObject({ asked: 2, answered: 1, open: 1, endedHere: { origin_found: 1 } });
    expect(stats['T1']?.meanResponseMs).toBe(100);
    const facets = index.facets();
    expect(facets.states).toEqual([
      { value: 'asking', count: 2 },
      { value: 'noncooperative', count: 1 },
      { value: 'origin_found', count: 1 },
    ]);
    expect(facets.campaigns.find((c) => c.value === 'none')?.count).toBe(2);
  });

  it('tolerates provider records of any shape, unreadable records and deletes; reports changes', () => {
    const index = sample();
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    const odd = encodeStoredRecord({
      kind: 'provider',
      machineVersion: 1,
      snapshot: { status: 'active', value: 'listed', context: { providerId: 'X1', strikes: 2, flags: ['noncooperative'], open: { a: 1 } } },
      outbox: [],
      updatedAt: T0,
    });
    index.applyActor({ key: 'provider.X1', value: odd, revision: 99, operation: 'PUT' });
    index.applyActor({ key: 'provider.odd', value: new Uint8Array([0x93, 1, 2, 3]), revision: 100, operation: 'PUT' });
    index.applyActor({ key: 'traceback.tb-broken', value: new Uint8Array([0xc1]), revision: 101, operation: 'PUT' });
    index.applyActor({ key: `traceback.${id(3)}`, value: new Uint8Array(), revision: 102, operation: 'DEL' });
    index.applyActor({ key: 'provider.T2', value: new Uint8Array(), revision: 103, operation: 'DEL' });
    expect(index.providerSummary('X1')).toMatchObject({ id: 'X1', actor: true, open: 0, queued: 0, flags: [], clearedFlags: [], directory: { verified: false } });
    expect(index.providerSummary('odd')).toMatchObject({ actor: true, error: expect.stringMatching(/unreadable record/) });
    expect(index.unreadable).toBe(1);
    expect(index.size).toBe(3);
    expect(index.inbox('T2')).toEqual([]);
    expect(index.providerSummary('T2')).toBeUndefined();
    expect(changes.map((c) => c.kind)).toEqual(['provider', 'provider', 'traceback', 'traceback', 'provider']);
    expect(changes.at(-1)).toEqual({ kind: 'provider', id: 'T2', tracebacks: [id(3)] });
  });

  it("keeps the provider actors' hop timers with the traceback whose hop they time, and names what they are for", () => {
    const world = sampleWorld();
    const index = world.into(new TracebackIndex());
    const key = `provider.M1.h.${hop(2, 2)}`;
    expect(world.timers.get(key)).toBe(T0 + 2100 + DEADLINE_MS / 2);
    expect(index.timersOf(id(2))).toEqual([
      { timer: `h.${hop(2, 2)}`, key, dueAt: T0 + 2100 + DEADLINE_MS / 2, purpose: 'reminder', provider: 'M1', hopId: hop(2, 2) },
    ]);
    expect(index.timersOf(id(3))).toEqual([expect.objectContaining({ provider: 'T2', hopId: hop(3, 1), purpose: 'reminder' })]);
    expect(index.timersOf(id(1))).toEqual([]); // answered: its timers were cancelled
    expect(index.timersOf(id(4))).toEqual([]);

    // After the reminder the same timer carries the deadline.
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    world.fire('M1', 2, 2, T0 + 2100 + DEADLINE_MS / 2);
    index.applyActor(world.providerEntry('M1'));
    for (const entry of world.timerEntries()) index.applyTimer(entry);
    expect(index.timersOf(id(2))).toEqual([expect.objectContaining({ key, dueAt: T0 + 2100 + DEADLINE_MS, purpose: 'deadline' })]);
    expect(changes).toContainEqual({ kind: 'timer', tracebackId: id(2) });

    index.applyTimer({ key, value: new Uint8Array(), revision: ++revision, operation: 'DEL' });
    expect(index.timersOf(id(2))).toEqual([]);
    // Keys that name no hop are not timers the viewer knows.
    index.applyTimer(put('provider.M1.other', timerValue(T0)));
    index.applyTimer(put('provider.M1.h.not-a-hop', timerValue(T0)));
    expect(index.timersOf(id(2))).toEqual([]);
  });
});

describe('stored records', () => {
  it('decodes numbered outbox entries, the next command id and the evidence chain', () => {
    const value = encodeStoredRecord({
      kind: 'traceback',
      machineVersion: TRACEBACK_MACHINE_VERSION,
      snapshot: { status: 'active', value: 'asking', context: {} },
      outbox: [
        { id: 7, command: { type: 'cmd.askProvider', provider: 'T1' } },
        { id: 8, command: { type: 'cmd.audit', record: { seq: 2 } } },
      ],
      nextCommandId: 9,
      updatedAt: T0,
      extra: { head: 'ab'.repeat(32), count: 2, tracebackId: id(1) },
    });
    const record = decodeStoredRecord(value);
    expect(record.outbox.map((e) => e.id)).toEqual([7, 8]);
    expect(record.nextCommandId).toBe(9);
    const view = recordView(`traceback.${id(1)}`, 5, record);
    expect(view.outbox.map((e) => [e.id, e.type])).toEqual([
      [7, 'cmd.askProvider'],
      [8, 'cmd.audit'],
    ]);
    expect(view).toMatchObject({ revision: 5, nextCommandId: 9, extra: { count: 2 } });
  });

  it('numbers the bare commands of version-1 records', () => {
    const value = packr.pack({ kind: 'traceback', machineVersion: 1, snapshot: { status: 'done', value: 'loop', context: {} }, outbox: [{ type: 'cmd.publishTrail' }], updatedAt: T0 });
    const record = decodeStoredRecord(value);
    expect(record.outbox).toEqual([{ id: 1, command: { type: 'cmd.publishTrail' } }]);
    expect(record.nextCommandId).toBe(2);
    expect(record.extra).toBeUndefined();
  });
});

describe('statechart graph', () => {
  it('is drawn from the traceback machine definition', () => {
    const graph = tracebackGraph();
    expect(graph.version).toBe(2);
    expect(graph.initial).toBe('traceback.asking');
    expect(graph.states.map((s) => s.key)).toEqual([
      'asking',
      'origin_found',
      'foreign_entry',
      'not_found',
      'disputed',
      'noncooperative',
      'loop',
      'max_hops',
      'cancelled',
    ]);
    expect(graph.states.filter((s) => s.type === 'final')).toHaveLength(8);
    // Only the provider's HOP_RESULT (for the current hop) and CANCEL move a traceback; no timers of its own.
    expect(new Set(graph.transitions.map((t) => t.event))).toEqual(new Set(['HOP_RESULT', 'CANCEL']));
    expect(graph.transitions.every((t) => t.target !== undefined)).toBe(true);
    const byGuard = Object.fromEntries(graph.transitions.map((t) => [t.guard ?? t.event, t]));
    expect(byGuard['current ∧ answerIs(upstream)']).toMatchObject({ source: 'traceback.asking', target: 'traceback.asking', reenter: true, actions: ['recordAnswer', 'addNextHop'] });
    expect(byGuard['current ∧ answerIs(originator)']?.target).toBe('traceback.origin_found');
    expect(byGuard['current ∧ missed']).toMatchObject({ target: 'traceback.noncooperative', actions: ['markMissed'] });
    expect(byGuard['current ∧ upstreamLoops']?.target).toBe('traceback.loop');
    expect(byGuard['CANCEL']?.target).toBe('traceback.cancelled');
  });
});

describe('access', () => {
  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct hors', hash)).toBe(false);
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(hash);
  });

  it('checks the logins file and names what is wrong', async () => {
    const hash = await hashPassword('pw');
    expect(parseLogins({ logins: [{ user: 'a', role: 'carrier', provider: 'acme', passwordHash: hash }] })).toHaveLength(1);
    const bad = (logins: unknown, message: RegExp) => {
      try {
        parseLogins(logins, 'f.json');
        throw new Error('accepted');
      } catch (err) {
        expect(ViewerError.is(err) && err.code).toBe(ViewerErrorCode.InvalidConfig);
        expect((err as Error).message).toMatch(message);
      }
    };
    bad({}, /"logins" array/);
    bad({ logins: [{ user: 'a', role: 'carrier', passwordHash: hash }] }, /logins\[0\]\.provider/);
    bad({ logins: [{ user: 'a', role: 'operator', password: 'pw' }] }, /passwordHash/);
    bad({ logins: [{ user: 'a', role: 'admin', passwordHash: hash }] }, /role/);
    bad({ logins: [{ user: 'a', role: 'operator', passwordHash: hash }, { user: 'a', role: 'operator', passwordHash: hash }] }, /twice/);
  });

  it('opens sessions on login, locks out after repeated failures, expires sessions', async () => {
    let now = T0;
    const access = new Access([{ user: 'ops', role: 'operator', passwordHash: await hashPassword('pw') }], 60_000, () => now);
    const { token } = await access.login('ops', 'pw');
    expect(access.session(token)).toEqual({ user: 'ops', role: 'operator' });
    for (let i = 0; i < 5; i++) await expect(access.login('ops', 'nope')).rejects.toMatchObject({ code: ViewerErrorCode.Unauthenticated });
    await expect(access.login('ops', 'pw')).rejects.toMatchObject({ code: ViewerErrorCode.TooManyAttempts });
    await expect(access.login('nobody', 'pw')).rejects.toMatchObject({ code: ViewerErrorCode.Unauthenticated });
    now += 61_000;
    expect(access.session(token)).toBeUndefined();
    expect((await access.login('ops', 'pw')).principal.role).toBe('operator');
  });

  it('serves without login only in demo mode on loopback, and never with no way in', () => {
    expect(() => compileViewerOptions({ demo: true, host: '0.0.0.0' })).toThrow(/loopback/);
    expect(() => compileViewerOptions({ demo: true, host: '10.1.2.3' })).toThrow(expect.objectContaining({ code: ViewerErrorCode.DemoNotLoopback }));
    expect(() => compileViewerOptions({})).toThrow(expect.objectContaining({ code: ViewerErrorCode.NoLogins }));
    expect(compileViewerOptions({ demo: true, host: '::1' }).demo).toBe(true);
    expect(compileViewerOptions({ demo: true, host: 'localhost', port: 0 }).port).toBe(0);
  });
});
