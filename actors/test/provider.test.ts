/**
 * The provider actor: `reduceProvider` and `providerMachine` driven with injected times (no
 * sleeping, no clock): the 24-hour rule, the business-hours clock, reminders, strikes and
 * flags, the in-flight limit, and persistence. The last section wires provider actors to
 * traceback actors through a miniature host to check the contract between them.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { PROTOCOL_VERSION, hopIdOf, type Answer, type HopId, type HopQuery, type Outcome, type ProviderId, type TracebackId } from '../../protocol/index.js';
import {
  DEFAULT_FLAG_THRESHOLDS,
  DEFAULT_PROVIDER_POLICY,
  FLAGS,
  PROVIDER_MACHINE_VERSION,
  answerPercentile,
  createProvider,
  deadlineFor,
  policyProblems,
  providerMachine,
  providerInfo,
  providerTimerName,
  receivedAt,
  reduceProvider,
  restoreProvider,
  zonedTime,
  type DeadlinePolicy,
  type Flag,
  type FlagName,
  type FlagThresholds,
  type ProviderActor,
  type ProviderAudit,
  type ProviderCommand,
  type ProviderContext,
  type ProviderEventIn,
  type ProviderPolicy,
} from '../provider/index.js';
import { buildTrail, createTraceback, type TracebackActor, type TracebackCommand } from '../traceback/index.js';
import { CALL, DAY, HOUR, T0, foreignEntry, notFound, originator, upstream } from './helpers.js';

const MINUTE = 60_000;
const PID = 'tsp-carrier' as ProviderId;

/** A deterministic, well-formed traceback id per number. */
function tb(n: number): TracebackId {
  return `tb-${String(n).padStart(9, '0')}aaaaaaaaaaa` as TracebackId;
}

/** The query a traceback sends with `cmd.askProvider`: its own estimate of askedAt and deadline. */
function query(n: number, hop = 1, provider: ProviderId = PID, askedAt = T0): HopQuery {
  return {
    v: PROTOCOL_VERSION,
    kind: 'hop_query',
    tracebackId: tb(n),
    hopId: hopIdOf(tb(n), hop),
    hop,
    provider,
    call: CALL,
    askedAt,
    deadline: askedAt + DAY,
    reminder: 0,
  };
}

const hid = (n: number, hop = 1): HopId => hopIdOf(tb(n), hop);

/** The snapshot of the test provider's directory entry (see `input`) that every hop result carries. */
const INFO = { name: 'Carrier Inc', rmdStatus: 'certified' as const, verified: true, flags: [] };

// ---------------------------------------------------------------- events

const ask = (n: number, at: number, hop = 1): ProviderEventIn => ({ type: 'ASK', query: query(n, hop, PID, at), at });
const answer = (n: number, a: Answer, at: number, hop = 1): ProviderEventIn => ({ type: 'ANSWER', hopId: hid(n, hop), answer: a, at });
const fire = (n: number, at: number, hop = 1): ProviderEventIn => ({ type: 'TIMER_FIRED', timer: providerTimerName(hid(n, hop)), at });
const cancelHop = (n: number, at: number, hop = 1): ProviderEventIn => ({ type: 'CANCEL_HOP', hopId: hid(n, hop), at });
const trailEnded = (n: number, outcome: Outcome, at: number, campaign?: string): ProviderEventIn =>
  campaign === undefined ? { type: 'TRAIL_ENDED', tracebackId: tb(n), outcome, at } : { type: 'TRAIL_ENDED', tracebackId: tb(n), outcome, campaign, at };
const clearFlag = (flag: FlagName, at: number, reason = 'provider filed a mitigation plan', by = 'ops-jane'): ProviderEventIn => ({
  type: 'CLEAR_FLAG',
  flag,
  reason,
  by,
  at,
});

// ---------------------------------------------------------------- driving the reducer

interface Setup {
  policy?: Partial<ProviderPolicy>;
  thresholds?: Partial<FlagThresholds>;
}

function input(setup: Setup = {}) {
  return {
    id: PID,
    directory: { name: 'Carrier Inc', rmdStatus: 'certified' as const, roles: ['wholesale'], verified: true },
    policy: { ...DEFAULT_PROVIDER_POLICY, ...setup.policy },
    thresholds: { ...DEFAULT_FLAG_THRESHOLDS, ...setup.thresholds },
    now: T0,
  };
}

/** The machine's initial context, through the public constructor. */
function initial(setup: Setup = {}): ProviderContext {
  const actor = createProvider(input(setup));
  const context = actor.getSnapshot().context;
  actor.stop();
  return context;
}

/** Drives `reduceProvider`, keeping the context and every command. */
class Driver {
  context: ProviderContext;
  readonly log: ProviderCommand[] = [];
  constructor(setup: Setup = {}) {
    this.context = initial(setup);
  }
  send(event: ProviderEventIn): ProviderCommand[] {
    const before = structuredClone(this.context);
    const { context, commands } = reduceProvider(this.context, event);
    // The reducer never mutates its input.
    expect(this.context).toEqual(before);
    this.context = context;
    this.log.push(...commands);
    return commands;
  }
  /** Sends an event that must change nothing. */
  ignored(event: ProviderEventIn): void {
    const before = structuredClone(this.context);
    expect(this.send(event), JSON.stringify(event)).toEqual([]);
    expect(this.context).toEqual(before);
  }
}

function ofType<T extends ProviderCommand['type']>(commands: readonly ProviderCommand[], type: T): Extract<ProviderCommand, { type: T }>[] {
  return commands.filter((c): c is Extract<ProviderCommand, { type: T }> => c.type === type);
}

function audits(commands: readonly ProviderCommand[]): ProviderAudit[] {
  return ofType(commands, 'cmd.providerAudit').map((c) => c.record);
}

function typesOf(commands: readonly ProviderCommand[]): string[] {
  return commands.map((c) => (c.type === 'cmd.providerAudit' ? `audit:${c.record.type}` : c.type));
}

function raised(commands: readonly ProviderCommand[], name?: FlagName): Flag[] {
  return ofType(commands, 'cmd.publishFlag')
    .filter((c) => c.state === 'raised' && (name === undefined || c.flag.name === name))
    .map((c) => c.flag);
}

/** Asks hop 1 of traceback `n` at `at` and lets it run to its deadline (default policy: 24 h). */
function miss(d: Driver, n: number, at: number): ProviderCommand[] {
  d.send(ask(n, at));
  const open = d.context.open[hid(n)];
  if (!open) throw new Error(`hop of ${n} is not open`);
  return d.send(fire(n, open.deadline));
}

// ====================================================================== policy

describe('policy and defaults', () => {
  it('documents its defaults: 24 h, reminders at 50 % and 90 %, and the flag thresholds', () => {
    expect(DEFAULT_PROVIDER_POLICY).toEqual({ deadline: { kind: 'fixed', deadlineMs: DAY }, reminderFractions: [0.5, 0.9], maxInFlight: 1000 });
    expect(DEFAULT_FLAG_THRESHOLDS).toEqual({
      noncooperative: { count: 3, windowMs: 30 * DAY },
      high_risk_origin: { count: 3, windowMs: 60 * DAY },
      high_risk_entry: { count: 3, windowMs: 60 * DAY },
      insufficient_records: { count: 5, windowMs: 30 * DAY },
    });
    expect([...FLAGS]).toEqual(['noncooperative', 'high_risk_origin', 'high_risk_entry', 'insufficient_records']);
    expect(PROVIDER_MACHINE_VERSION).toBe(1);
    expect(providerTimerName(hid(1))).toBe(`h.${tb(1)}-h1`);
    expect(policyProblems(DEFAULT_PROVIDER_POLICY)).toEqual([]);
  });

  it('policyProblems explains what is wrong', () => {
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, maxInFlight: 0 })).toEqual(['maxInFlight must be a positive integer']);
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, reminderFractions: [0.9, 0.5] })).toEqual(['reminderFractions must be ascending fractions in (0, 1)']);
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, reminderFractions: [0.5, 1] })).toHaveLength(1);
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, deadline: { kind: 'fixed', deadlineMs: 10 } })).toEqual(['deadline must be at least 100 ms']);
    const business: DeadlinePolicy = { kind: 'business', deadlineMs: DAY, timeZone: 'Mars/Olympus', opensAt: 18, closesAt: 8, businessDays: [0, 8], holidays: ['25.12.2024'] };
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, deadline: business })).toEqual([
      'unknown time zone Mars/Olympus',
      'business hours must satisfy 0 ≤ opensAt < closesAt ≤ 24',
      'businessDays must be ISO weekdays 1–7',
      'holidays must be YYYY-MM-DD',
    ]);
    expect(policyProblems({ ...DEFAULT_PROVIDER_POLICY, deadline: CHICAGO })).toEqual([]);
  });

  it('a new provider starts empty, with its directory entry, policy and thresholds', () => {
    const c = initial({ policy: { maxInFlight: 2 } });
    expect(c).toEqual<ProviderContext>({
      id: PID,
      directory: { id: PID, name: 'Carrier Inc', rmdStatus: 'certified', roles: ['wholesale'], verified: true },
      policy: { ...DEFAULT_PROVIDER_POLICY, maxInFlight: 2 },
      thresholds: DEFAULT_FLAG_THRESHOLDS,
      open: {},
      queue: [],
      stats: { asked: 0, answered: 0, late: 0, missed: 0, notFound: 0, answerMs: [] },
      strikes: { noncooperative: [], high_risk_origin: [], high_risk_entry: [], insufficient_records: [] },
      clearedUntil: {},
      flags: {},
      clearedFlags: [],
      recent: {},
      eventSeq: 0,
    });
    // A provider first named in an answer: unverified, unknown RMD status.
    const bare = createProvider({ id: 'tsp-new' as ProviderId, policy: DEFAULT_PROVIDER_POLICY, thresholds: DEFAULT_FLAG_THRESHOLDS, now: T0 });
    expect(bare.getSnapshot().context.directory).toEqual({ id: 'tsp-new', rmdStatus: 'unknown', roles: [], verified: false });
  });

  it('the context does not alias the input policy, thresholds or the defaults', () => {
    const policy = structuredClone(DEFAULT_PROVIDER_POLICY);
    const thresholds = structuredClone(DEFAULT_FLAG_THRESHOLDS);
    const actor = createProvider({ id: PID, policy, thresholds, now: T0 });
    policy.reminderFractions.push(0.95);
    policy.maxInFlight = 1;
    thresholds.noncooperative.count = 1;
    expect(actor.getSnapshot().context.policy).toEqual(DEFAULT_PROVIDER_POLICY);
    expect(actor.getSnapshot().context.thresholds).toEqual(DEFAULT_FLAG_THRESHOLDS);
    const plain = createProvider({ id: PID, policy: DEFAULT_PROVIDER_POLICY, thresholds: DEFAULT_FLAG_THRESHOLDS, now: T0 });
    expect(plain.getSnapshot().context.policy).not.toBe(DEFAULT_PROVIDER_POLICY);
    expect(plain.getSnapshot().context.thresholds).not.toBe(DEFAULT_FLAG_THRESHOLDS);
  });
});

// ====================================================================== 24-hour rule

describe('the 24-hour rule', () => {
  it('sends the query with its deadline 24 h after sending and schedules the 50 % reminder', () => {
    const d = new Driver();
    // The traceback's estimate (askedAt a minute earlier) is replaced by the provider's own.
    const q = { ...query(1), askedAt: T0 - MINUTE, deadline: T0 - MINUTE + DAY };
    const cmds = d.send({ type: 'ASK', query: q, at: T0 });
    expect(cmds).toEqual<ProviderCommand[]>([
      { type: 'cmd.hopQuery', query: { ...q, askedAt: T0, deadline: T0 + DAY, reminder: 0 } },
      { type: 'cmd.scheduleTimer', timer: `h.${hid(1)}`, dueAt: T0 + 12 * HOUR },
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 1, at: T0, type: 'asked', hopId: hid(1), tracebackId: tb(1) } },
    ]);
    expect(d.context.open[hid(1)]).toEqual({
      hopId: hid(1),
      tracebackId: tb(1),
      // The kept copy drops the transcript: it is rewritten with every provider record.
      query: { ...q, call: (({ transcript: _t, ...rest }) => rest)(q.call), askedAt: T0, deadline: T0 + DAY, reminder: 0 },
      sentAt: T0,
      receivedAt: T0,
      deadline: T0 + DAY,
      remindersDue: [T0 + 12 * HOUR, T0 + Math.round(0.9 * DAY)],
      remindedAt: [],
    });
    expect(d.context.stats.asked).toBe(1);
    expect(deadlineFor(DEFAULT_PROVIDER_POLICY.deadline, T0)).toEqual({ receivedAt: T0, deadline: T0 + DAY });
  });

  it('reminds at 50 % and 90 %, then misses the deadline at 24 h', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    const r90 = T0 + Math.round(0.9 * DAY);
    const first = d.send(fire(1, T0 + 12 * HOUR));
    expect(typesOf(first)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'audit:reminded']);
    expect(ofType(first, 'cmd.hopQuery')[0]?.query).toMatchObject({ hopId: hid(1), reminder: 1, askedAt: T0, deadline: T0 + DAY });
    expect(ofType(first, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: providerTimerName(hid(1)), dueAt: r90 }]);
    expect(audits(first)).toEqual([{ provider: PID, seq: 2, at: T0 + 12 * HOUR, type: 'reminded', hopId: hid(1), tracebackId: tb(1) }]);

    const second = d.send(fire(1, r90));
    expect(ofType(second, 'cmd.hopQuery')[0]?.query).toMatchObject({ reminder: 2, askedAt: T0, deadline: T0 + DAY });
    expect(ofType(second, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: providerTimerName(hid(1)), dueAt: T0 + DAY }]);
    expect(d.context.open[hid(1)]).toMatchObject({ remindersDue: [], remindedAt: [T0 + 12 * HOUR, r90] });

    const end = d.send(fire(1, T0 + DAY));
    expect(ofType(end, 'cmd.hopResult')).toEqual([
      {
        type: 'cmd.hopResult',
        tracebackId: tb(1),
        hopId: hid(1),
        result: { kind: 'missed' },
        timing: { askedAt: T0, deadline: T0 + DAY, remindedAt: [T0 + 12 * HOUR, r90] },
        providerInfo: INFO,
      },
    ]);
    expect(ofType(d.log, 'cmd.hopQuery').map((c) => c.query.reminder)).toEqual([0, 1, 2]);
  });

  it('an answer before the deadline goes back to the traceback with the timing, and cancels the timer', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    d.send(fire(1, T0 + 12 * HOUR));
    const at = T0 + 14 * HOUR;
    const cmds = d.send(answer(1, upstream('tsp-up' as ProviderId), at));
    expect(cmds).toEqual<ProviderCommand[]>([
      { type: 'cmd.cancelTimer', timer: providerTimerName(hid(1)) },
      {
        type: 'cmd.hopResult',
        tracebackId: tb(1),
        hopId: hid(1),
        result: { kind: 'answered', answer: upstream('tsp-up' as ProviderId), answeredAt: at },
        timing: { askedAt: T0, deadline: T0 + DAY, remindedAt: [T0 + 12 * HOUR] },
        providerInfo: INFO,
      },
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 3, at, type: 'answered', hopId: hid(1), tracebackId: tb(1), detail: 'upstream' } },
    ]);
    expect(d.context.open).toEqual({});
    expect(d.context.stats).toEqual({ asked: 1, answered: 1, late: 0, missed: 0, notFound: 0, answerMs: [14 * HOUR] });
    expect(d.context.recent[hid(1)]).toBe(at);
    expect(d.context.strikes.noncooperative).toEqual([]);
    // The durable timer the engine may not have cancelled in time fires: nothing happens.
    d.ignored(fire(1, T0 + DAY));
  });

  it('an answer exactly at the deadline is on time; one after it that beats the timer is accepted but late, without a strike', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    d.send(ask(2, T0));
    d.send(answer(1, originator(), T0 + DAY));
    const late = d.send(answer(2, originator(), T0 + DAY + 1));
    expect(ofType(late, 'cmd.hopResult')[0]?.result).toEqual({ kind: 'answered', answer: originator(), answeredAt: T0 + DAY + 1 });
    expect(d.context.stats).toMatchObject({ answered: 2, late: 1, missed: 0 });
    expect(d.context.strikes.noncooperative).toEqual([]);
  });

  it('a custom fixed deadline with three reminders', () => {
    const d = new Driver({ policy: { deadline: { kind: 'fixed', deadlineMs: 4 * HOUR }, reminderFractions: [0.25, 0.5, 0.75] } });
    const cmds = d.send(ask(1, T0));
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.deadline).toBe(T0 + 4 * HOUR);
    expect(d.context.open[hid(1)]?.remindersDue).toEqual([T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
    expect(ofType(cmds, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + HOUR);
  });

  it('ignores a timer that fires before anything is due, a timer of a closed or unknown hop, and foreign timer names', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    d.ignored(fire(1, T0));
    d.ignored(fire(1, T0 + 12 * HOUR - 1));
    d.ignored(fire(2, T0 + 2 * DAY));
    for (const timer of ['', 'h.', `hop1`, hid(1), `x.${hid(1)}`, `H.${hid(1)}`]) d.ignored({ type: 'TIMER_FIRED', timer, at: T0 + 2 * DAY });
    d.send(fire(1, T0 + 12 * HOUR));
    d.send(fire(1, T0 + Math.round(0.9 * DAY)));
    // All reminders sent: an early firing before the deadline changes nothing.
    d.ignored(fire(1, T0 + DAY - 1));
    d.send(fire(1, T0 + DAY));
    d.ignored(fire(1, T0 + DAY));
    d.ignored(fire(1, T0 + 3 * DAY));
  });

  it('reminder fractions given out of order are still sent earliest first', () => {
    const d = new Driver({ policy: { deadline: { kind: 'fixed', deadlineMs: 10 * HOUR }, reminderFractions: [0.9, 0.5] } });
    const cmds = d.send(ask(1, T0));
    expect(d.context.open[hid(1)]?.remindersDue).toEqual([T0 + 5 * HOUR, T0 + 9 * HOUR]);
    expect(ofType(cmds, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 5 * HOUR);
    const first = d.send(fire(1, T0 + 5 * HOUR));
    expect(ofType(first, 'cmd.hopQuery')[0]?.query.reminder).toBe(1);
    expect(ofType(first, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 9 * HOUR);
    expect(ofType(d.send(fire(1, T0 + 9 * HOUR)), 'cmd.hopQuery')[0]?.query.reminder).toBe(2);
  });

  it('a reminder at or beyond the deadline (fraction 0, 1 or more) is dropped and never delays the deadline', () => {
    const d = new Driver({ policy: { deadline: { kind: 'fixed', deadlineMs: 10 * HOUR }, reminderFractions: [0, 1, 1.5] } });
    const cmds = d.send(ask(1, T0));
    expect(d.context.open[hid(1)]?.remindersDue).toEqual([]);
    expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: providerTimerName(hid(1)), dueAt: T0 + 10 * HOUR }]);
    expect(ofType(d.send(fire(1, T0 + 10 * HOUR)), 'cmd.hopResult')[0]?.result).toEqual({ kind: 'missed' });
  });
});

// ====================================================================== business hours

const TZ = 'America/Chicago';
/** A small carrier in Chicago: Mon–Fri 08:00–17:00, closed on Memorial Day, July 4th and Christmas 2024. */
const CHICAGO: DeadlinePolicy = {
  kind: 'business',
  deadlineMs: DAY,
  timeZone: TZ,
  opensAt: 8,
  closesAt: 17,
  businessDays: [1, 2, 3, 4, 5],
  holidays: ['2024-05-27', '2024-07-04', '2024-12-25'],
};

/** Local wall-clock time in Chicago, minutes allowed. */
const chi = (y: number, m: number, d: number, h: number, min = 0) => zonedTime(y, m, d, h, TZ) + min * MINUTE;

describe('business-hours clock (America/Chicago)', () => {
  it('zonedTime knows the UTC offset on both sides of a DST change', () => {
    // DST began on Sunday 10 March 2024: CST is UTC-6 before, CDT UTC-5 after.
    expect(zonedTime(2024, 3, 8, 18, TZ)).toBe(Date.UTC(2024, 2, 9, 0));
    expect(zonedTime(2024, 3, 11, 8, TZ)).toBe(Date.UTC(2024, 2, 11, 13));
    // DST ended on Sunday 3 November 2024.
    expect(zonedTime(2024, 11, 1, 8, TZ)).toBe(Date.UTC(2024, 10, 1, 13));
    expect(zonedTime(2024, 11, 4, 8, TZ)).toBe(Date.UTC(2024, 10, 4, 14));
    // East of UTC, where the local date runs ahead: Auckland left DST on 7 April 2024 (NZST, UTC+12).
    expect(zonedTime(2024, 4, 8, 8, 'Pacific/Auckland')).toBe(Date.UTC(2024, 3, 7, 20));
  });

  type Case = { label: string; sent: number; received: number };
  const cases: Case[] = [
    { label: 'Wednesday 10:00 is inside business hours', sent: chi(2024, 5, 22, 10), received: chi(2024, 5, 22, 10) },
    { label: 'Wednesday 08:00 sharp is inside', sent: chi(2024, 5, 22, 8), received: chi(2024, 5, 22, 8) },
    { label: 'Wednesday 16:59 is inside', sent: chi(2024, 5, 22, 16, 59), received: chi(2024, 5, 22, 16, 59) },
    { label: 'Wednesday 17:00 sharp counts from Thursday 08:00', sent: chi(2024, 5, 22, 17), received: chi(2024, 5, 23, 8) },
    { label: 'Tuesday 06:00 counts from the same day at 08:00', sent: chi(2024, 5, 21, 6), received: chi(2024, 5, 21, 8) },
    { label: 'Thursday 20:00 local (already Friday in UTC) counts from Friday 08:00', sent: chi(2024, 5, 23, 20), received: chi(2024, 5, 24, 8) },
    { label: 'Friday 18:00 counts from Monday 08:00', sent: chi(2024, 5, 17, 18), received: chi(2024, 5, 20, 8) },
    { label: 'Saturday noon counts from Monday 08:00', sent: chi(2024, 5, 18, 12), received: chi(2024, 5, 20, 8) },
    { label: 'Sunday 23:59 counts from Monday 08:00', sent: chi(2024, 5, 19, 23, 59), received: chi(2024, 5, 20, 8) },
    { label: 'Friday 18:00 before Memorial Day counts from Tuesday 08:00', sent: chi(2024, 5, 24, 18), received: chi(2024, 5, 28, 8) },
    { label: 'Memorial Day itself, mid-morning, counts from Tuesday 08:00', sent: chi(2024, 5, 27, 10), received: chi(2024, 5, 28, 8) },
    { label: 'Memorial Day 06:00 counts from Tuesday, not the holiday', sent: chi(2024, 5, 27, 6), received: chi(2024, 5, 28, 8) },
    { label: 'Wednesday 3 July 23:30 skips July 4th to Friday', sent: chi(2024, 7, 3, 23, 30), received: chi(2024, 7, 5, 8) },
    { label: 'Christmas Eve 18:00 skips Christmas to Thursday', sent: chi(2024, 12, 24, 18), received: chi(2024, 12, 26, 8) },
  ];

  it.each(cases)('$label', ({ sent, received }) => {
    expect(receivedAt(CHICAGO, sent)).toBe(received);
    expect(deadlineFor(CHICAGO, sent)).toEqual({ receivedAt: received, deadline: received + DAY });
  });

  it('a query sent Friday 18:00 CST before the spring DST change counts from Monday 08:00 CDT (13:00 UTC, not 14:00)', () => {
    const sent = Date.UTC(2024, 2, 9, 0); // Friday 8 March 2024, 18:00 CST
    expect(receivedAt(CHICAGO, sent)).toBe(Date.UTC(2024, 2, 11, 13));
    expect(deadlineFor(CHICAGO, sent).deadline).toBe(Date.UTC(2024, 2, 12, 13)); // Tuesday 08:00 CDT
  });

  it('a query sent on the Sunday DST ends counts from Monday 08:00 CST (14:00 UTC)', () => {
    expect(receivedAt(CHICAGO, Date.UTC(2024, 10, 3, 15))).toBe(Date.UTC(2024, 10, 4, 14));
  });

  it('a Monday holiday in a DST week: Friday evening counts from Tuesday 08:00 CDT', () => {
    const policy: DeadlinePolicy = { ...CHICAGO, holidays: ['2024-03-11'] };
    expect(receivedAt(policy, Date.UTC(2024, 2, 9, 0))).toBe(Date.UTC(2024, 2, 12, 13));
  });

  it('another zone, east of UTC: Friday 18:00 in Auckland counts from Monday 08:00 there', () => {
    const auckland: DeadlinePolicy = { ...CHICAGO, timeZone: 'Pacific/Auckland', holidays: [] };
    expect(receivedAt(auckland, zonedTime(2024, 4, 5, 18, 'Pacific/Auckland'))).toBe(zonedTime(2024, 4, 8, 8, 'Pacific/Auckland'));
    expect(receivedAt(auckland, zonedTime(2024, 4, 5, 18, 'Pacific/Auckland'))).toBe(Date.UTC(2024, 3, 7, 20));
  });

  it('a fixed policy starts the clock on receipt, weekends and holidays included', () => {
    for (const sent of [chi(2024, 5, 25, 12), chi(2024, 5, 27, 3), chi(2024, 12, 25, 23)]) {
      expect(receivedAt({ kind: 'fixed', deadlineMs: DAY }, sent)).toBe(sent);
    }
  });

  it('the provider actor: Friday 18:00 query, reminders from Monday 08:00, answer Monday afternoon on time', () => {
    const d = new Driver({ policy: { deadline: CHICAGO } });
    const sent = chi(2024, 3, 8, 18);
    const monday = Date.UTC(2024, 2, 11, 13);
    const cmds = d.send(ask(1, sent));
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query).toMatchObject({ askedAt: sent, deadline: monday + DAY, reminder: 0 });
    expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: providerTimerName(hid(1)), dueAt: monday + 12 * HOUR }]);
    expect(d.context.open[hid(1)]).toMatchObject({
      sentAt: sent,
      receivedAt: monday,
      deadline: monday + DAY,
      remindersDue: [monday + 12 * HOUR, monday + Math.round(0.9 * DAY)],
    });
    // 24 h after sending is Saturday evening: nothing is due yet.
    d.ignored(fire(1, sent + DAY));
    const at = chi(2024, 3, 11, 15); // Monday 15:00 CDT
    const result = ofType(d.send(answer(1, notFound(), at)), 'cmd.hopResult')[0];
    expect(result?.timing).toEqual({ askedAt: sent, deadline: monday + DAY, remindedAt: [] });
    expect(result && result.result.kind === 'answered' && result.result.answeredAt <= result.timing.deadline).toBe(true);
    // Answer time counts from when the clock started, not from Friday.
    expect(d.context.stats.answerMs).toEqual([7 * HOUR]);
    expect(d.context.stats.late).toBe(0);
  });

  it('the provider actor: a query sent Friday before Memorial Day is missed on Wednesday 08:00, not Saturday', () => {
    const d = new Driver({ policy: { deadline: CHICAGO } });
    const sent = chi(2024, 5, 24, 18);
    const tuesday = chi(2024, 5, 28, 8);
    d.send(ask(1, sent));
    d.ignored(fire(1, sent + DAY));
    d.send(fire(1, tuesday + 12 * HOUR));
    d.send(fire(1, tuesday + Math.round(0.9 * DAY)));
    d.ignored(fire(1, tuesday + DAY - 1));
    const end = d.send(fire(1, tuesday + DAY));
    expect(ofType(end, 'cmd.hopResult')).toEqual([
      {
        type: 'cmd.hopResult',
        tracebackId: tb(1),
        hopId: hid(1),
        result: { kind: 'missed' },
        timing: { askedAt: sent, deadline: chi(2024, 5, 29, 8), remindedAt: [tuesday + 12 * HOUR, tuesday + Math.round(0.9 * DAY)] },
        providerInfo: INFO,
      },
    ]);
  });

  it('an answer before the clock even started counts as answered in no time', () => {
    const d = new Driver({ policy: { deadline: CHICAGO } });
    d.send(ask(1, chi(2024, 5, 25, 9))); // Saturday
    d.send(answer(1, originator(), chi(2024, 5, 25, 10)));
    expect(d.context.stats.answerMs).toEqual([0]);
  });
});

// ====================================================================== reminders

describe('reminders', () => {
  it('two reminders overdue at once (engine was down) collapse into one, and the next timer is the deadline', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    const at = T0 + Math.round(0.95 * DAY);
    const cmds = d.send(fire(1, at));
    expect(typesOf(cmds)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'audit:reminded']);
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.reminder).toBe(1);
    expect(ofType(cmds, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + DAY);
    expect(d.context.open[hid(1)]).toMatchObject({ remindersDue: [], remindedAt: [at] });
    const end = d.send(fire(1, T0 + DAY));
    expect(ofType(end, 'cmd.hopResult')[0]?.timing.remindedAt).toEqual([at]);
  });

  it('overdue reminders collapse but later ones stay scheduled', () => {
    const d = new Driver({ policy: { deadline: { kind: 'fixed', deadlineMs: 4 * HOUR }, reminderFractions: [0.25, 0.5, 0.75] } });
    d.send(ask(1, T0));
    const cmds = d.send(fire(1, T0 + 2.5 * HOUR));
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.reminder).toBe(1);
    expect(ofType(cmds, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 3 * HOUR);
    const next = d.send(fire(1, T0 + 3 * HOUR));
    expect(ofType(next, 'cmd.hopQuery')[0]?.query.reminder).toBe(2);
    expect(ofType(next, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 4 * HOUR);
  });

  it('a timer long after the deadline goes straight to missed, without a reminder', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    const cmds = d.send(fire(1, T0 + 4 * DAY));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.hopResult', 'audit:missed']);
    expect(ofType(cmds, 'cmd.hopResult')[0]?.timing).toEqual({ askedAt: T0, deadline: T0 + DAY, remindedAt: [] });
  });

  it('reminders repeat the original query without the transcript; only the reminder number changes', () => {
    const d = new Driver();
    const first = ofType(d.send(ask(1, T0)), 'cmd.hopQuery')[0]!.query;
    const again = ofType(d.send(fire(1, T0 + 12 * HOUR)), 'cmd.hopQuery')[0]?.query;
    const { transcript: _transcript, ...call } = first.call;
    expect(first.call.transcript).toBeDefined();
    expect(again).toEqual({ ...first, call, reminder: 1 });
  });
});

// ====================================================================== missed deadlines and strikes

describe('missed deadlines', () => {
  it('a missed deadline gives the traceback its missed result and the provider a noncooperative strike', () => {
    const d = new Driver();
    d.send(ask(1, T0));
    const cmds = d.send(fire(1, T0 + DAY + 5 * MINUTE));
    expect(cmds).toEqual<ProviderCommand[]>([
      { type: 'cmd.cancelTimer', timer: providerTimerName(hid(1)) },
      {
        type: 'cmd.hopResult',
        tracebackId: tb(1),
        hopId: hid(1),
        result: { kind: 'missed' },
        timing: { askedAt: T0, deadline: T0 + DAY, remindedAt: [] },
        providerInfo: INFO,
      },
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 2, at: T0 + DAY + 5 * MINUTE, type: 'missed', hopId: hid(1), tracebackId: tb(1) } },
    ]);
    expect(d.context.strikes.noncooperative).toEqual([{ tracebackId: tb(1), hopId: hid(1), at: T0 + DAY + 5 * MINUTE }]);
    expect(d.context.stats).toMatchObject({ asked: 1, answered: 0, missed: 1 });
    expect(d.context.open).toEqual({});
    expect(d.context.recent[hid(1)]).toBe(T0 + DAY + 5 * MINUTE);
    // The carrier's answer arriving after the miss is not routed: the hop is closed.
    d.ignored(answer(1, originator(), T0 + DAY + HOUR));
    expect(d.context.flags).toEqual({});
  });

  it('answers other than not_found, and answered hops, make no strike', () => {
    const d = new Driver();
    [upstream('tsp-x' as ProviderId), originator(), foreignEntry(), { type: 'dispute', reason: 'consent' } as Answer].forEach((a, i) => {
      d.send(ask(i + 1, T0));
      d.send(answer(i + 1, a, T0 + HOUR));
    });
    expect(Object.values(d.context.strikes).flat()).toEqual([]);
  });
});

describe('strike windows slide', () => {
  it('old misses stop counting: day 0, 20 and 35 make no flag; a fourth at day 41 does, with only the recent three', () => {
    const d = new Driver();
    miss(d, 1, T0);
    miss(d, 2, T0 + 20 * DAY);
    const third = miss(d, 3, T0 + 35 * DAY);
    // The day-1 strike (deadline of the first) is 35 days old: outside the 30-day window, and dropped.
    expect(raised(third)).toEqual([]);
    expect(d.context.strikes.noncooperative.map((s) => s.tracebackId)).toEqual([tb(2), tb(3)]);
    const fourth = miss(d, 4, T0 + 40 * DAY);
    const flags = raised(fourth, 'noncooperative');
    expect(flags).toHaveLength(1);
    expect(flags[0]?.evidence).toEqual([
      { tracebackId: tb(2), hopId: hid(2), at: T0 + 21 * DAY },
      { tracebackId: tb(3), hopId: hid(3), at: T0 + 36 * DAY },
      { tracebackId: tb(4), hopId: hid(4), at: T0 + 41 * DAY },
    ]);
    expect(flags[0]?.raisedAt).toBe(T0 + 41 * DAY);
  });

  it('a strike exactly one window old no longer counts; one a millisecond younger does', () => {
    const thresholds = { insufficient_records: { count: 2, windowMs: 10 * DAY } };
    const out = new Driver({ thresholds });
    out.send(ask(1, T0));
    out.send(answer(1, notFound(), T0));
    out.send(ask(2, T0 + 10 * DAY));
    expect(raised(out.send(answer(2, notFound(), T0 + 10 * DAY)))).toEqual([]);
    expect(out.context.strikes.insufficient_records.map((s) => s.tracebackId)).toEqual([tb(2)]);

    const inside = new Driver({ thresholds });
    inside.send(ask(1, T0));
    inside.send(answer(1, notFound(), T0));
    inside.send(ask(2, T0 + 10 * DAY - 1));
    expect(raised(inside.send(answer(2, notFound(), T0 + 10 * DAY - 1)), 'insufficient_records')).toHaveLength(1);
  });

  it('the window is per flag: 3 trails in 60 days raise high_risk_origin where 30 days would not', () => {
    const d = new Driver();
    d.send(trailEnded(1, 'origin_found', T0));
    d.send(trailEnded(2, 'origin_found', T0 + 25 * DAY));
    expect(raised(d.send(trailEnded(3, 'origin_found', T0 + 55 * DAY)), 'high_risk_origin')).toHaveLength(1);
  });
});

// ====================================================================== flags

describe('flags', () => {
  it('noncooperative: raised once at the third miss in 30 days, with its evidence, published and audited', () => {
    const d = new Driver();
    expect(raised(miss(d, 1, T0))).toEqual([]);
    expect(raised(miss(d, 2, T0 + 3 * DAY))).toEqual([]);
    const cmds = miss(d, 3, T0 + 6 * DAY);
    const flag: Flag = {
      name: 'noncooperative',
      raisedAt: T0 + 7 * DAY,
      reason: '3 missed traceback deadlines within 30 days (threshold 3)',
      evidence: [
        { tracebackId: tb(1), hopId: hid(1), at: T0 + DAY },
        { tracebackId: tb(2), hopId: hid(2), at: T0 + 4 * DAY },
        { tracebackId: tb(3), hopId: hid(3), at: T0 + 7 * DAY },
      ],
    };
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.hopResult', 'audit:missed', 'cmd.publishFlag', 'audit:flag_raised']);
    expect(ofType(cmds, 'cmd.publishFlag')).toEqual([{ type: 'cmd.publishFlag', flag, state: 'raised' }]);
    expect(audits(cmds)[1]).toEqual({ provider: PID, seq: d.context.eventSeq, at: T0 + 7 * DAY, type: 'flag_raised', flag: 'noncooperative', detail: flag.reason });
    expect(d.context.flags).toEqual({ noncooperative: flag });

    // A fourth miss keeps the flag (and its evidence current) without publishing it again.
    expect(raised(miss(d, 4, T0 + 8 * DAY))).toEqual([]);
    expect(d.context.flags.noncooperative?.raisedAt).toBe(T0 + 7 * DAY);
    expect(d.context.flags.noncooperative?.evidence.map((e) => e.tracebackId)).toEqual([tb(1), tb(2), tb(3), tb(4)]);
    expect(ofType(d.log, 'cmd.publishFlag')).toHaveLength(1);
    expect(audits(d.log).filter((a) => a.type === 'flag_raised')).toHaveLength(1);
    // Only this flag.
    expect(Object.keys(d.context.flags)).toEqual(['noncooperative']);
  });

  it('high_risk_origin: three trails ending at the provider as origin, each named with its campaign', () => {
    const d = new Driver();
    const first = d.send(trailEnded(1, 'origin_found', T0, 'SSA-CalltheSSA'));
    expect(first).toEqual<ProviderCommand[]>([
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 1, at: T0, type: 'strike', flag: 'high_risk_origin', tracebackId: tb(1), detail: 'origin_found' } },
    ]);
    // The same trail reported again (redelivery) is one strike, not two.
    d.ignored(trailEnded(1, 'origin_found', T0 + HOUR, 'SSA-CalltheSSA'));
    // Outcomes that do not end at an origin or point of entry make no strike.
    for (const outcome of ['not_found', 'noncooperative', 'disputed', 'loop', 'max_hops', 'cancelled'] as const) d.ignored(trailEnded(9, outcome, T0 + HOUR));
    d.send(trailEnded(2, 'origin_found', T0 + 10 * DAY, 'Amazon-Impers-P2'));
    const cmds = d.send(trailEnded(3, 'origin_found', T0 + 20 * DAY));
    expect(raised(cmds)).toEqual<Flag[]>([
      {
        name: 'high_risk_origin',
        raisedAt: T0 + 20 * DAY,
        reason: '3 trails of illegal calls originated by this provider within 60 days (threshold 3)',
        evidence: [
          { tracebackId: tb(1), at: T0, campaign: 'SSA-CalltheSSA' },
          { tracebackId: tb(2), at: T0 + 10 * DAY, campaign: 'Amazon-Impers-P2' },
          { tracebackId: tb(3), at: T0 + 20 * DAY },
        ],
      },
    ]);
    expect(Object.keys(d.context.flags)).toEqual(['high_risk_origin']);
  });

  it('high_risk_entry: three trails entering the US through the provider; origin trails do not count toward it', () => {
    const d = new Driver();
    d.send(trailEnded(1, 'foreign_entry', T0, 'Utility-30MinDisconnect'));
    d.send(trailEnded(2, 'origin_found', T0 + DAY));
    d.send(trailEnded(3, 'foreign_entry', T0 + 2 * DAY));
    expect(d.context.flags).toEqual({});
    const cmds = d.send(trailEnded(4, 'foreign_entry', T0 + 3 * DAY));
    const [flag] = raised(cmds);
    expect(flag).toMatchObject({
      name: 'high_risk_entry',
      raisedAt: T0 + 3 * DAY,
      reason: '3 trails of illegal calls that entered the US through this provider within 60 days (threshold 3)',
    });
    expect(flag?.evidence.map((e) => e.tracebackId)).toEqual([tb(1), tb(3), tb(4)]);
    expect(d.context.strikes.high_risk_origin.map((e) => e.tracebackId)).toEqual([tb(2)]);
  });

  it('insufficient_records: the fifth "no record" answer within 30 days', () => {
    const d = new Driver();
    for (let n = 1; n <= 4; n++) {
      d.send(ask(n, T0 + n * DAY));
      expect(raised(d.send(answer(n, notFound(), T0 + n * DAY + HOUR)))).toEqual([]);
    }
    d.send(ask(5, T0 + 5 * DAY));
    const cmds = d.send(answer(5, notFound(), T0 + 5 * DAY + HOUR));
    // The answer still goes back to the traceback first.
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.hopResult', 'audit:answered', 'cmd.publishFlag', 'audit:flag_raised']);
    const [flag] = raised(cmds);
    expect(flag).toMatchObject({ name: 'insufficient_records', raisedAt: T0 + 5 * DAY + HOUR, reason: '5 hop queries answered "no record" within 30 days (threshold 5)' });
    expect(flag?.evidence).toEqual([1, 2, 3, 4, 5].map((n) => ({ tracebackId: tb(n), hopId: hid(n), at: T0 + n * DAY + HOUR })));
    expect(d.context.stats.notFound).toBe(5);
  });

  it('a standing flag is not lowered when its strikes slide out of the window; only an operator clears it', () => {
    const d = new Driver();
    for (let n = 1; n <= 3; n++) miss(d, n, T0 + n * HOUR);
    const flag = d.context.flags.noncooperative;
    expect(flag).toBeDefined();
    d.send(trailEnded(9, 'origin_found', T0 + 90 * DAY)); // any event that produces commands re-evaluates
    expect(d.context.strikes.noncooperative).toEqual([]);
    expect(d.context.flags.noncooperative).toEqual(flag);
  });
});

describe('clearing a flag', () => {
  function flagged(): Driver {
    const d = new Driver();
    for (let n = 1; n <= 3; n++) miss(d, n, T0 + n * DAY);
    expect(d.context.flags.noncooperative).toBeDefined();
    return d;
  }

  it('is published and audited, and kept in the cleared history', () => {
    const d = flagged();
    const flag = d.context.flags.noncooperative as Flag;
    const at = T0 + 5 * DAY;
    const cmds = d.send(clearFlag('noncooperative', at, 'outage confirmed by the carrier', 'ops-jane'));
    const cleared = { ...flag, clearedAt: at, clearedBy: 'ops-jane', clearReason: 'outage confirmed by the carrier' };
    expect(cmds).toEqual<ProviderCommand[]>([
      { type: 'cmd.publishFlag', flag, state: 'cleared', cleared },
      {
        type: 'cmd.providerAudit',
        record: { provider: PID, seq: d.context.eventSeq, at, type: 'flag_cleared', flag: 'noncooperative', detail: 'by ops-jane: outage confirmed by the carrier' },
      },
    ]);
    expect(d.context.flags).toEqual({});
    expect(d.context.clearedFlags).toEqual([cleared]);
    expect(d.context.clearedUntil).toEqual({ noncooperative: at });
  });

  it('does not re-raise from the strikes it cleared; three NEW misses raise it again, with only them as evidence', () => {
    const d = flagged();
    d.send(clearFlag('noncooperative', T0 + 5 * DAY));
    // Old strikes are still inside the window, but one new miss must not bring the flag back.
    expect(raised(miss(d, 4, T0 + 6 * DAY))).toEqual([]);
    expect(d.context.strikes.noncooperative).toHaveLength(4);
    expect(raised(miss(d, 5, T0 + 7 * DAY))).toEqual([]);
    expect(d.context.flags).toEqual({});
    const again = raised(miss(d, 6, T0 + 8 * DAY), 'noncooperative');
    expect(again).toHaveLength(1);
    expect(again[0]?.raisedAt).toBe(T0 + 9 * DAY);
    expect(again[0]?.evidence.map((e) => e.tracebackId)).toEqual([tb(4), tb(5), tb(6)]);
    expect(again[0]?.reason).toBe('3 missed traceback deadlines within 30 days (threshold 3)');
    expect(d.context.clearedFlags).toHaveLength(1);
    expect(ofType(d.log, 'cmd.publishFlag').map((c) => c.state)).toEqual(['raised', 'cleared', 'raised']);
  });

  it('clearing a flag that is not raised (or twice) does nothing', () => {
    const d = flagged();
    d.ignored(clearFlag('high_risk_origin', T0 + 5 * DAY));
    d.send(clearFlag('noncooperative', T0 + 5 * DAY));
    d.ignored(clearFlag('noncooperative', T0 + 6 * DAY));
    expect(d.context.clearedFlags).toHaveLength(1);
  });

  it('clearing one flag leaves the others standing', () => {
    const d = flagged();
    for (let n = 11; n <= 13; n++) d.send(trailEnded(n, 'foreign_entry', T0 + n * HOUR));
    expect(Object.keys(d.context.flags).sort()).toEqual(['high_risk_entry', 'noncooperative']);
    d.send(clearFlag('high_risk_entry', T0 + 5 * DAY));
    expect(Object.keys(d.context.flags)).toEqual(['noncooperative']);
    expect(d.context.clearedUntil).toEqual({ high_risk_entry: T0 + 5 * DAY });
  });
});

// ====================================================================== in-flight limit

describe('in-flight limit', () => {
  it('maxInFlight 2: the third query waits; it is sent when one is answered, with its deadline from then', () => {
    const d = new Driver({ policy: { maxInFlight: 2 } });
    d.send(ask(1, T0));
    d.send(ask(2, T0 + MINUTE));
    const third = d.send(ask(3, T0 + 2 * MINUTE));
    expect(third).toEqual<ProviderCommand[]>([
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 3, at: T0 + 2 * MINUTE, type: 'queued', hopId: hid(3), tracebackId: tb(3), detail: '1 waiting' } },
    ]);
    expect(Object.keys(d.context.open)).toEqual([hid(1), hid(2)]);
    expect(d.context.queue).toEqual([{ hopId: hid(3), tracebackId: tb(3), query: query(3, 1, PID, T0 + 2 * MINUTE), requestedAt: T0 + 2 * MINUTE }]);
    expect(d.context.stats.asked).toBe(3);

    const at = T0 + 5 * HOUR;
    const cmds = d.send(answer(1, originator(), at));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.hopResult', 'audit:answered', 'cmd.hopQuery', 'cmd.scheduleTimer', 'audit:asked']);
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query).toMatchObject({ hopId: hid(3), askedAt: at, deadline: at + DAY, reminder: 0 });
    expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: providerTimerName(hid(3)), dueAt: at + 12 * HOUR }]);
    expect(d.context.queue).toEqual([]);
    expect(d.context.open[hid(3)]).toMatchObject({ sentAt: at, deadline: at + DAY });

    // Its result reports when it was actually sent.
    const result = ofType(d.send(answer(3, notFound(), at + 2 * HOUR)), 'cmd.hopResult')[0];
    expect(result?.timing).toEqual({ askedAt: at, deadline: at + DAY, remindedAt: [] });
    expect(d.context.stats.answerMs).toEqual([5 * HOUR, 2 * HOUR]);
  });

  it('a queued query is sent when an open one is missed or cancelled, first come first served', () => {
    const d = new Driver({ policy: { maxInFlight: 2 } });
    for (let n = 1; n <= 5; n++) d.send(ask(n, T0 + n * MINUTE));
    expect(audits(d.log).filter((a) => a.type === 'queued').map((a) => a.detail)).toEqual(['1 waiting', '2 waiting', '3 waiting']);
    expect(d.context.queue.map((q) => q.hopId)).toEqual([hid(3), hid(4), hid(5)]);

    const missedAt = T0 + MINUTE + DAY;
    const onMiss = d.send(fire(1, missedAt));
    expect(ofType(onMiss, 'cmd.hopResult')[0]).toMatchObject({ hopId: hid(1), result: { kind: 'missed' } });
    expect(ofType(onMiss, 'cmd.hopQuery')[0]?.query).toMatchObject({ hopId: hid(3), askedAt: missedAt, deadline: missedAt + DAY });

    const cancelAt = missedAt + HOUR;
    const onCancel = d.send(cancelHop(2, cancelAt));
    expect(typesOf(onCancel)).toEqual(['cmd.cancelTimer', 'audit:hop_cancelled', 'cmd.hopQuery', 'cmd.scheduleTimer', 'audit:asked']);
    expect(ofType(onCancel, 'cmd.hopResult')).toEqual([]);
    expect(ofType(onCancel, 'cmd.hopQuery')[0]?.query).toMatchObject({ hopId: hid(4), askedAt: cancelAt });
    expect(Object.keys(d.context.open).sort()).toEqual([hid(3), hid(4)].sort());
    expect(d.context.queue.map((q) => q.hopId)).toEqual([hid(5)]);
    // A cancelled hop cannot strike: its timer is gone and a late firing is ignored.
    d.ignored(fire(2, T0 + 2 * MINUTE + DAY));
    expect(d.context.strikes.noncooperative.map((s) => s.tracebackId)).toEqual([tb(1)]);
  });

  it('cancelling a queued query removes it for good: it is never sent, even if its ASK is redelivered', () => {
    const d = new Driver({ policy: { maxInFlight: 1 } });
    d.send(ask(1, T0));
    d.send(ask(2, T0 + MINUTE));
    const cmds = d.send(cancelHop(2, T0 + 2 * MINUTE));
    expect(cmds).toEqual<ProviderCommand[]>([
      { type: 'cmd.providerAudit', record: { provider: PID, seq: 3, at: T0 + 2 * MINUTE, type: 'hop_cancelled', hopId: hid(2), tracebackId: tb(2) } },
    ]);
    expect(d.context.queue).toEqual([]);
    d.ignored(ask(2, T0 + 3 * MINUTE));
    const next = d.send(answer(1, originator(), T0 + HOUR));
    expect(ofType(next, 'cmd.hopQuery')).toEqual([]);
    expect(d.context.open).toEqual({});
  });

  it('raising maxInFlight sends the waiting queries at once', () => {
    const d = new Driver({ policy: { maxInFlight: 1 } });
    for (let n = 1; n <= 4; n++) d.send(ask(n, T0));
    const cmds = d.send({ type: 'UPDATE_POLICY', policy: { maxInFlight: 3 }, at: T0 + HOUR });
    expect(typesOf(cmds)).toEqual([
      'audit:policy_updated',
      ...['cmd.hopQuery', 'cmd.scheduleTimer', 'audit:asked'],
      ...['cmd.hopQuery', 'cmd.scheduleTimer', 'audit:asked'],
    ]);
    expect(ofType(cmds, 'cmd.hopQuery').map((c) => [c.query.hopId, c.query.askedAt])).toEqual([
      [hid(2), T0 + HOUR],
      [hid(3), T0 + HOUR],
    ]);
    expect(d.context.queue.map((q) => q.hopId)).toEqual([hid(4)]);
  });

  it('the default limit (1,000) lets a burst of hops through without queueing', () => {
    const d = new Driver();
    for (let n = 1; n <= 50; n++) d.send(ask(n, T0));
    expect(Object.keys(d.context.open)).toHaveLength(50);
    expect(d.context.queue).toEqual([]);
  });
});

// ====================================================================== duplicates and strays

describe('duplicates and strays', () => {
  it('a duplicate ASK is ignored while open, while queued, and after the hop was answered, missed or cancelled', () => {
    const d = new Driver({ policy: { maxInFlight: 1 } });
    d.send(ask(1, T0));
    d.send(ask(2, T0));
    d.ignored(ask(1, T0 + MINUTE));
    d.ignored(ask(2, T0 + MINUTE));
    d.send(answer(1, originator(), T0 + HOUR)); // sends 2
    d.ignored(ask(1, T0 + 2 * HOUR));
    d.send(fire(2, T0 + HOUR + DAY)); // 2 missed
    d.ignored(ask(2, T0 + 2 * DAY));
    d.send(ask(3, T0 + 2 * DAY));
    d.send(cancelHop(3, T0 + 2 * DAY + HOUR));
    d.ignored(ask(3, T0 + 3 * DAY));
    expect(d.context.stats.asked).toBe(3);
    // The same hop number of another traceback is a different hop.
    expect(ofType(d.send(ask(4, T0 + 3 * DAY)), 'cmd.hopQuery')).toHaveLength(1);
  });

  it('an ANSWER for an unknown, queued, closed or cancelled hop is ignored', () => {
    const d = new Driver({ policy: { maxInFlight: 1 } });
    d.ignored(answer(7, originator(), T0));
    d.send(ask(1, T0));
    d.send(ask(2, T0));
    d.ignored(answer(2, originator(), T0 + MINUTE)); // queued: the carrier was never asked
    d.send(answer(1, originator(), T0 + HOUR));
    d.ignored(answer(1, originator(), T0 + 2 * HOUR)); // second answer
    d.ignored(answer(1, notFound(), T0 + 2 * HOUR));
    d.send(cancelHop(2, T0 + 3 * HOUR));
    d.ignored(answer(2, originator(), T0 + 4 * HOUR));
    d.ignored(cancelHop(2, T0 + 5 * HOUR));
    d.ignored(cancelHop(9, T0 + 5 * HOUR));
    expect(ofType(d.log, 'cmd.hopResult').map((c) => c.hopId)).toEqual([hid(1)]);
  });
});

// ====================================================================== statistics and directory

describe('statistics and directory', () => {
  it('answerPercentile gives p50 and p90 of recent answer times', () => {
    const d = new Driver();
    expect(answerPercentile(d.context, 50)).toBeUndefined();
    for (let n = 1; n <= 10; n++) {
      d.send(ask(n, T0));
      d.send(answer(n, upstream('tsp-x' as ProviderId), T0 + n * 10 * MINUTE));
    }
    expect(answerPercentile(d.context, 50)).toBe(60 * MINUTE);
    expect(answerPercentile(d.context, 90)).toBe(100 * MINUTE);
    expect(answerPercentile(d.context, 0)).toBe(10 * MINUTE);
  });

  it('keeps at most 256 answer times', () => {
    let c = initial();
    for (let n = 1; n <= 300; n++) {
      c = reduceProvider(c, ask(n, T0)).context;
      c = reduceProvider(c, answer(n, upstream('tsp-x' as ProviderId), T0 + n)).context;
    }
    expect(c.stats.answerMs).toHaveLength(256);
    expect(c.stats.answerMs[0]).toBe(45);
    expect(c.stats.answered).toBe(300);
  });

  it('UPDATE_DIRECTORY merges the entry, keeps the id, and is audited only when something changed', () => {
    const d = new Driver();
    const cmds = d.send({ type: 'UPDATE_DIRECTORY', entry: { frn: '0012345678', id: 'tsp-other' as ProviderId, rmdStatus: 'removed' }, at: T0 });
    expect(typesOf(cmds)).toEqual(['audit:directory_updated']);
    expect(d.context.directory).toEqual({ id: PID, name: 'Carrier Inc', frn: '0012345678', rmdStatus: 'removed', roles: ['wholesale'], verified: true });
    d.ignored({ type: 'UPDATE_DIRECTORY', entry: { frn: '0012345678' }, at: T0 + 1 });
  });
});

// ====================================================================== the machine and persistence

/** A started provider actor with everything it emitted. */
function startMachine(setup: Setup = {}) {
  const actor = createProvider(input(setup));
  const commands: ProviderCommand[] = [];
  actor.on('*', (c) => commands.push(c));
  actor.start();
  return { actor, commands };
}

/** Persists, JSON round-trips and restores an actor; the restored one records its commands. */
function restored(actor: ProviderActor) {
  const persisted: unknown = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
  const next = restoreProvider(persisted as never);
  const commands: ProviderCommand[] = [];
  next.on('*', (c) => commands.push(c));
  next.start();
  return { actor: next, commands };
}

/** A run touching every part of the context: queue, reminders, answers, misses, strikes, flags, a clear. */
function providerScript(): ProviderEventIn[] {
  const events: ProviderEventIn[] = [];
  for (let n = 1; n <= 4; n++) events.push(ask(n, T0 + n * MINUTE));
  events.push(fire(1, T0 + MINUTE + 12 * HOUR));
  events.push(answer(1, notFound(), T0 + 13 * HOUR));
  events.push(cancelHop(4, T0 + 14 * HOUR));
  events.push(fire(2, T0 + 2 * MINUTE + DAY + 1));
  events.push(trailEnded(7, 'origin_found', T0 + DAY + HOUR, 'SSA-CalltheSSA'));
  events.push({ type: 'UPDATE_DIRECTORY', entry: { ocn: '1234' }, at: T0 + DAY + 2 * HOUR });
  for (let n = 5; n <= 6; n++) events.push(ask(n, T0 + 2 * DAY));
  events.push(fire(3, T0 + 3 * DAY));
  events.push(fire(5, T0 + 3 * DAY + HOUR));
  events.push(clearFlag('noncooperative', T0 + 4 * DAY));
  events.push(answer(6, foreignEntry(), T0 + 4 * DAY + HOUR));
  events.push(ask(8, T0 + 5 * DAY));
  return events;
}

describe('providerMachine', () => {
  it('emits exactly what reduceProvider returns and holds the same context', () => {
    const { actor, commands } = startMachine({ policy: { maxInFlight: 2 } });
    const d = new Driver({ policy: { maxInFlight: 2 } });
    for (const event of providerScript()) {
      const before = commands.length;
      actor.send(event);
      expect(commands.slice(before), JSON.stringify(event)).toEqual(d.send(event));
      expect(actor.getSnapshot().context).toEqual(d.context);
    }
    // The script did what it claims: a flag raised and cleared, strikes, a queue, open hops.
    expect(ofType(commands, 'cmd.publishFlag').map((c) => c.state)).toEqual(['raised', 'cleared']);
    expect(d.context.clearedFlags).toHaveLength(1);
    expect(d.context.strikes.high_risk_origin).toHaveLength(1);
    expect(Object.keys(d.context.open)).toEqual([hid(8)]);
    expect(actor.getSnapshot().status).toBe('active');
    actor.stop();
  });

  it('an event that changes nothing emits nothing and leaves the snapshot as it was', () => {
    const { actor, commands } = startMachine();
    actor.send(ask(1, T0));
    const before = structuredClone(actor.getSnapshot().context);
    const n = commands.length;
    for (const event of [ask(1, T0 + 1), answer(9, originator(), T0 + 1), fire(1, T0 + 1), cancelHop(9, T0 + 1), clearFlag('noncooperative', T0 + 1)]) {
      actor.send(event);
    }
    expect(commands.length).toBe(n);
    expect(actor.getSnapshot().context).toEqual(before);
    actor.stop();
  });

  it('the persisted snapshot survives JSON and restores into an actor that continues identically', () => {
    const events = providerScript();
    const { actor } = startMachine({ policy: { maxInFlight: 2, deadline: CHICAGO } });
    for (const event of events.slice(0, 10)) actor.send(event);
    const persisted = actor.getPersistedSnapshot();
    expect(JSON.parse(JSON.stringify(persisted))).toEqual(persisted);
    const r = restored(actor);
    expect(r.commands).toEqual([]);
    expect(r.actor.getSnapshot().context).toEqual(actor.getSnapshot().context);
    expect(r.actor.getSnapshot().context.policy.deadline).toEqual(CHICAGO);
    const original: ProviderCommand[] = [];
    actor.on('*', (c) => original.push(c));
    for (const event of events.slice(10)) {
      actor.send(event);
      r.actor.send(event);
    }
    expect(r.commands).toEqual(original);
    expect(r.commands.length).toBeGreaterThan(0);
    expect(r.actor.getSnapshot().context).toEqual(actor.getSnapshot().context);
    actor.stop();
    r.actor.stop();
  });

  it('restoring before every step gives the same run as the uninterrupted one', () => {
    const events = providerScript();
    const baseline = startMachine({ policy: { maxInFlight: 2 } });
    for (const event of events) baseline.actor.send(event);

    let current = startMachine({ policy: { maxInFlight: 2 } });
    const all: ProviderCommand[] = [];
    for (const event of events) {
      const next = restored(current.actor);
      current.actor.stop();
      current = next;
      current.actor.send(event);
      all.push(...current.commands.splice(0));
    }
    expect(all).toEqual(baseline.commands);
    expect(current.actor.getSnapshot().context).toEqual(baseline.actor.getSnapshot().context);
    // Strikes, flags, the queue and open hops with their timers all came through.
    expect(current.actor.getSnapshot().context.clearedFlags).toHaveLength(1);
  });

  it('a restored actor with open, reminded and queued hops carries on: reminders, the deadline, the queue', () => {
    const { actor } = startMachine({ policy: { maxInFlight: 1 } });
    actor.send(ask(1, T0));
    actor.send(ask(2, T0 + MINUTE));
    actor.send(fire(1, T0 + 12 * HOUR));
    const r = restored(actor);
    actor.stop();
    r.actor.send(fire(1, T0 + Math.round(0.9 * DAY)));
    r.actor.send(fire(1, T0 + DAY));
    expect(typesOf(r.commands)).toEqual([
      'cmd.hopQuery',
      'cmd.scheduleTimer',
      'audit:reminded',
      'cmd.cancelTimer',
      'cmd.hopResult',
      'audit:missed',
      'cmd.hopQuery',
      'cmd.scheduleTimer',
      'audit:asked',
    ]);
    expect(ofType(r.commands, 'cmd.hopResult')[0]?.timing.remindedAt).toEqual([T0 + 12 * HOUR, T0 + Math.round(0.9 * DAY)]);
    expect(ofType(r.commands, 'cmd.hopQuery')[1]?.query).toMatchObject({ hopId: hid(2), askedAt: T0 + DAY, reminder: 0 });
    // Audit sequence numbers continue without a gap across the restore.
    expect(audits(r.commands).map((a) => a.seq)).toEqual([4, 5, 6]);
    r.actor.stop();
  });

  it('the machine is a single active state that accepts every provider event', () => {
    const actor = createActor(providerMachine, { input: input() });
    actor.start();
    expect(actor.getSnapshot().value).toBe('active');
    actor.stop();
  });
});

// ====================================================================== with traceback actors

/**
 * A miniature engine: traceback and provider actors in memory, commands delivered in order,
 * durable timers kept in a map and fired by `advance`, carriers answering by hand. Every
 * event carries the simulated clock `now`.
 */
class Network {
  now: number;
  readonly tracebacks = new Map<TracebackId, TracebackActor>();
  readonly providers = new Map<ProviderId, ProviderActor>();
  readonly timers = new Map<string, { provider: ProviderId; timer: string; dueAt: number }>();
  /** Queries (and reminders) each carrier received. */
  readonly inbox = new Map<ProviderId, HopQuery[]>();
  readonly published: { provider: ProviderId; flag: Flag; state: 'raised' | 'cleared' }[] = [];
  readonly tracebackCommands: TracebackCommand[] = [];
  private readonly pending: (() => void)[] = [];
  private draining = false;

  constructor(
    start: number,
    private readonly policies: Partial<Record<ProviderId, Partial<ProviderPolicy>>> = {},
  ) {
    this.now = start;
  }

  private post(task: () => void): void {
    this.pending.push(task);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) next();
    } finally {
      this.draining = false;
    }
  }

  provider(id: ProviderId): ProviderActor {
    let actor = this.providers.get(id);
    if (!actor) {
      actor = createProvider({ id, policy: { ...DEFAULT_PROVIDER_POLICY, ...this.policies[id] }, thresholds: DEFAULT_FLAG_THRESHOLDS, now: this.now });
      actor.on('*', (c) => this.post(() => this.onProvider(id, c)));
      actor.start();
      this.providers.set(id, actor);
    }
    return actor;
  }

  private onProvider(id: ProviderId, c: ProviderCommand): void {
    switch (c.type) {
      case 'cmd.hopQuery':
        this.inbox.set(id, [...(this.inbox.get(id) ?? []), c.query]);
        break;
      case 'cmd.scheduleTimer':
        this.timers.set(`${id} ${c.timer}`, { provider: id, timer: c.timer, dueAt: c.dueAt });
        break;
      case 'cmd.cancelTimer':
        this.timers.delete(`${id} ${c.timer}`);
        break;
      case 'cmd.hopResult':
        this.tracebacks.get(c.tracebackId)?.send({ type: 'HOP_RESULT', hopId: c.hopId, result: c.result, timing: c.timing, ...(c.providerInfo ? { providerInfo: c.providerInfo } : {}), at: this.now });
        break;
      case 'cmd.publishFlag':
        this.published.push({ provider: id, flag: c.flag, state: c.state });
        break;
      case 'cmd.providerAudit':
        break;
    }
  }

  private onTraceback(tracebackId: TracebackId, c: TracebackCommand): void {
    this.tracebackCommands.push(c);
    switch (c.type) {
      case 'cmd.askProvider':
        this.provider(c.provider).send({ type: 'ASK', query: c.query, at: this.now });
        break;
      case 'cmd.cancelHop':
        this.provider(c.provider).send({ type: 'CANCEL_HOP', hopId: c.hopId, at: this.now });
        break;
      case 'cmd.trailEnded': {
        const event: ProviderEventIn = { type: 'TRAIL_ENDED', tracebackId, outcome: c.outcome, at: this.now };
        if (c.campaign !== undefined) event.campaign = c.campaign;
        this.provider(c.provider).send(event);
        break;
      }
      default:
        break;
    }
  }

  trace(n: number, terminating: ProviderId): TracebackId {
    const id = tb(n);
    const actor = createTraceback({ tracebackId: id, call: CALL, terminatingProvider: terminating, requester: 'itg', now: this.now });
    this.tracebacks.set(id, actor);
    actor.on('*', (c) => this.post(() => this.onTraceback(id, c)));
    this.post(() => actor.start());
    return id;
  }

  /** The carrier answers its newest first query for traceback `id`. */
  answer(provider: ProviderId, id: TracebackId, a: Answer): void {
    const q = (this.inbox.get(provider) ?? []).filter((x) => x.tracebackId === id && x.reminder === 0).at(-1);
    if (!q) throw new Error(`${provider} was not asked about ${id}`);
    this.post(() => this.provider(provider).send({ type: 'ANSWER', hopId: q.hopId, answer: a, at: this.now }));
  }

  cancel(id: TracebackId): void {
    const actor = this.tracebacks.get(id);
    this.post(() => actor?.send({ type: 'CANCEL', reason: 'sent in error', by: 'ops-jane', at: this.now }));
  }

  /** Moves the clock to `to`, firing due timers in time order. */
  advance(to: number): void {
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.dueAt <= to).sort((a, b) => a.dueAt - b.dueAt)[0];
      if (!due) break;
      this.now = Math.max(this.now, due.dueAt);
      this.timers.delete(`${due.provider} ${due.timer}`);
      this.post(() => this.provider(due.provider).send({ type: 'TIMER_FIRED', timer: due.timer, at: this.now }));
    }
    this.now = Math.max(this.now, to);
  }

  context(id: TracebackId) {
    const actor = this.tracebacks.get(id);
    if (!actor) throw new Error(`no traceback ${id}`);
    return actor.getSnapshot().context;
  }
}

const TERM = 'tsp-term' as ProviderId;
const SMALL = 'tsp-chicago' as ProviderId;
const SILENT = 'tsp-silent' as ProviderId;
const HOT = 'tsp-hot' as ProviderId;

describe('with traceback actors', () => {
  it('hop by hop through provider actors: a business-hours provider over a DST weekend, then a silent one', () => {
    const friday = chi(2024, 3, 8, 17, 30);
    const net = new Network(friday, { [SMALL]: { deadline: CHICAGO } });
    const id = net.trace(1, TERM);
    expect(net.inbox.get(TERM)?.map((q) => [q.hop, q.askedAt, q.deadline])).toEqual([[1, friday, friday + DAY]]);

    net.advance(friday + 30 * MINUTE); // Friday 18:00 CST, after hours in Chicago
    net.answer(TERM, id, upstream(SMALL));
    const monday = Date.UTC(2024, 2, 11, 13); // 08:00 CDT
    expect(net.inbox.get(SMALL)?.[0]).toMatchObject({ hop: 2, downstream: TERM, askedAt: friday + 30 * MINUTE, deadline: monday + DAY });

    net.advance(chi(2024, 3, 11, 15)); // Monday 15:00 CDT: no reminder yet (due 20:00)
    expect(net.inbox.get(SMALL)).toHaveLength(1);
    net.answer(SMALL, id, upstream(SILENT));
    const askedSilent = net.now;

    net.advance(askedSilent + 3 * DAY);
    expect(net.inbox.get(SILENT)?.map((q) => q.reminder)).toEqual([0, 1, 2]);
    const ctx = net.context(id);
    expect(ctx.outcome).toBe('noncooperative');
    const trail = buildTrail(ctx);
    expect(trail.hops.map((h) => [h.provider, h.status, h.deadlineKept])).toEqual([
      [TERM, 'answered', true],
      [SMALL, 'answered', true],
      [SILENT, 'missed', false],
    ]);
    // The trail carries the provider actors' clocks: Tuesday 08:00 CDT for the Chicago carrier.
    expect(trail.hops[1]).toMatchObject({ askedAt: friday + 30 * MINUTE, deadline: monday + DAY, answeredAt: chi(2024, 3, 11, 15) });
    expect(trail.hops[2]).toMatchObject({
      askedAt: askedSilent,
      deadline: askedSilent + DAY,
      remindedAt: [askedSilent + 12 * HOUR, askedSilent + Math.round(0.9 * DAY)],
    });
    expect(trail.endedAt).toBe(askedSilent + DAY);
    expect(net.provider(SILENT).getSnapshot().context.strikes.noncooperative).toEqual([
      { tracebackId: id, hopId: hopIdOf(id, 3), at: askedSilent + DAY },
    ]);
    expect(net.timers.size).toBe(0);
  });

  it('providers that never answer end up flagged noncooperative; responsive ones do not', () => {
    const net = new Network(T0);
    for (let n = 1; n <= 4; n++) {
      const id = net.trace(n, TERM);
      net.advance(net.now + HOUR);
      net.answer(TERM, id, upstream(SILENT));
      net.advance(net.now + 2 * DAY);
      expect(net.context(id).outcome).toBe('noncooperative');
    }
    expect(net.published.map((p) => [p.provider, p.flag.name, p.state])).toEqual([[SILENT, 'noncooperative', 'raised']]);
    expect(net.published[0]?.flag.evidence.map((e) => e.tracebackId)).toEqual([tb(1), tb(2), tb(3)]);
    expect(net.provider(TERM).getSnapshot().context.flags).toEqual({});
    expect(net.provider(SILENT).getSnapshot().context.stats).toMatchObject({ asked: 4, missed: 4, answered: 0 });
  });

  it('trails ending at a provider as origin are strikes toward high_risk_origin', () => {
    const net = new Network(T0);
    for (let n = 1; n <= 3; n++) {
      const id = net.trace(n, TERM);
      net.advance(net.now + HOUR);
      net.answer(TERM, id, upstream(HOT));
      net.answer(HOT, id, originator());
      expect(net.context(id).outcome).toBe('origin_found');
    }
    expect(net.published.map((p) => [p.provider, p.flag.name])).toEqual([[HOT, 'high_risk_origin']]);
    expect(net.published[0]?.flag.evidence).toEqual([1, 2, 3].map((n) => ({ tracebackId: tb(n), at: T0 + n * HOUR, campaign: CALL.campaign })));
  });

  it('a hot provider with maxInFlight 2 queues the third traceback without holding up the rest of the network', () => {
    const net = new Network(T0, { [HOT]: { maxInFlight: 2 } });
    const ids = [1, 2, 3].map((n) => net.trace(n, HOT));
    expect(net.inbox.get(HOT)?.map((q) => q.tracebackId)).toEqual([ids[0], ids[1]]);
    // Another traceback through another provider goes ahead at once.
    const other = net.trace(4, TERM);
    expect(net.inbox.get(TERM)?.map((q) => q.tracebackId)).toEqual([other]);
    net.answer(TERM, other, notFound());
    expect(net.context(other).outcome).toBe('not_found');

    net.advance(T0 + 3 * HOUR);
    net.answer(HOT, ids[0] as TracebackId, foreignEntry());
    expect(net.inbox.get(HOT)?.map((q) => [q.tracebackId, q.askedAt, q.deadline])).toEqual([
      [ids[0], T0, T0 + DAY],
      [ids[1], T0, T0 + DAY],
      [ids[2], T0 + 3 * HOUR, T0 + 3 * HOUR + DAY],
    ]);
    // The queued hop's deadline started when it was sent: at T0 + 24 h it is still open.
    net.advance(T0 + DAY);
    expect(net.context(ids[1] as TracebackId).outcome).toBe('noncooperative');
    expect(net.context(ids[2] as TracebackId).outcome).toBeUndefined();
    net.advance(T0 + 3 * HOUR + DAY);
    const third = buildTrail(net.context(ids[2] as TracebackId));
    expect(third.outcome).toBe('noncooperative');
    expect(third.hops[0]).toMatchObject({ askedAt: T0 + 3 * HOUR, deadline: T0 + 3 * HOUR + DAY });
  });

  it('cancelling a traceback cancels its hop at the provider actor: no reminder, no miss, no strike', () => {
    const net = new Network(T0);
    const id = net.trace(1, SILENT);
    net.advance(T0 + HOUR);
    net.cancel(id);
    expect(net.timers.size).toBe(0);
    net.advance(T0 + 5 * DAY);
    expect(net.inbox.get(SILENT)).toHaveLength(1);
    expect(net.context(id).outcome).toBe('cancelled');
    expect(net.provider(SILENT).getSnapshot().context.strikes.noncooperative).toEqual([]);
    expect(net.provider(SILENT).getSnapshot().context.open).toEqual({});
  });
});

// ====================================================================== provider snapshot in hop results

describe('the provider snapshot in hop results (for trails)', () => {
  it('carries the directory entry and the flags standing when the hop closed, including one this hop raised', () => {
    const d = new Driver();
    miss(d, 1, T0);
    miss(d, 2, T0 + 3 * DAY);
    const third = ofType(miss(d, 3, T0 + 6 * DAY), 'cmd.hopResult')[0];
    const flag = { name: 'noncooperative' as const, raisedAt: T0 + 7 * DAY, reason: '3 missed traceback deadlines within 30 days (threshold 3)' };
    expect(third?.providerInfo).toEqual({ ...INFO, flags: [flag] });
    // Later hops keep showing it while it stands; the evidence list is not copied into the snapshot.
    d.send(ask(4, T0 + 8 * DAY));
    const answered = ofType(d.send(answer(4, originator(), T0 + 8 * DAY + HOUR)), 'cmd.hopResult')[0];
    expect(answered?.providerInfo).toEqual({ ...INFO, flags: [flag] });
    // Once cleared, it is gone from the next snapshot.
    d.send(clearFlag('noncooperative', T0 + 9 * DAY));
    d.send(ask(5, T0 + 9 * DAY));
    expect(ofType(d.send(answer(5, originator(), T0 + 9 * DAY + HOUR)), 'cmd.hopResult')[0]?.providerInfo).toEqual(INFO);
  });

  it('lists flags in flag order with FRN, OCN and RMD status; a provider only named by another is unverified', () => {
    const named = createProvider({ id: 'tsp-named', policy: DEFAULT_PROVIDER_POLICY, thresholds: DEFAULT_FLAG_THRESHOLDS, now: T0 });
    const context = named.getSnapshot().context;
    expect(providerInfo(context)).toEqual({ verified: false, rmdStatus: 'unknown', flags: [] });
    const flagged: ProviderContext = {
      ...context,
      directory: { ...context.directory, name: 'Shady VoIP LLC', frn: '0012345678', ocn: '123A', rmdStatus: 'removed', verified: true },
      flags: {
        insufficient_records: { name: 'insufficient_records', raisedAt: T0 + 2, reason: 'r2', evidence: [] },
        noncooperative: { name: 'noncooperative', raisedAt: T0 + 1, reason: 'r1', evidence: [{ tracebackId: tb(1), at: T0 }] },
      },
    };
    expect(providerInfo(flagged)).toEqual({
      name: 'Shady VoIP LLC',
      frn: '0012345678',
      ocn: '123A',
      rmdStatus: 'removed',
      verified: true,
      flags: [
        { name: 'noncooperative', raisedAt: T0 + 1, reason: 'r1' },
        { name: 'insufficient_records', raisedAt: T0 + 2, reason: 'r2' },
      ],
    });
    // A copy: changing the context later does not change a snapshot already taken.
    const info = providerInfo(flagged);
    flagged.flags.noncooperative!.reason = 'changed';
    expect(info.flags[0]?.reason).toBe('r1');
  });

  it('each hop of a trail keeps the entry as it was when that hop closed, across a directory update and a miss', () => {
    const net = new Network(T0);
    net.provider(TERM).send({ type: 'UPDATE_DIRECTORY', entry: { name: 'Old Name Telecom', frn: '0000000001', verified: true, rmdStatus: 'certified' }, at: T0 });
    const id = net.trace(1, TERM);
    net.advance(T0 + HOUR);
    net.answer(TERM, id, upstream(SILENT));
    // The directory changes after the first hop closed: the trail must still show the old name.
    net.provider(TERM).send({ type: 'UPDATE_DIRECTORY', entry: { name: 'New Name Telecom' }, at: net.now });
    net.advance(net.now + 2 * DAY);
    const context = net.context(id);
    expect(context.outcome).toBe('noncooperative');
    const trail = buildTrail(context);
    expect(trail.hops.map((h) => h.providerInfo)).toEqual([
      { name: 'Old Name Telecom', frn: '0000000001', rmdStatus: 'certified', verified: true, flags: [] },
      // The non-responder: a snapshot too, taken when its deadline passed.
      { rmdStatus: 'unknown', verified: false, flags: [] },
    ]);
    // Rebuilding (as a replay re-signs) gives the same trail.
    expect(buildTrail(structuredClone(context))).toEqual(trail);
  });
});
