import { describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { ErrorCode, OUTCOMES, PROTOCOL_VERSION, hopIdOf, newTracebackId, type Outcome } from '../../protocol/index.js';
import {
  DEFAULT_HOP_POLICY,
  buildTrail,
  checkAnswer,
  hopTimerName,
  tracebackMachine,
  type TracebackCommand,
  type TracebackContext,
} from '../traceback/index.js';
import {
  CALL,
  DAY,
  HOUR,
  T0,
  answerCurrent,
  answerEvent,
  audits,
  cancel,
  currentHop,
  dispute,
  foreignEntry,
  hopOf,
  makeInput,
  notFound,
  ofType,
  originator,
  p,
  restore,
  runScript,
  start,
  timer,
  typesOf,
  upstream,
  walkUpstream,
  type Harness,
  type Script,
} from './helpers.js';

/**
 * Sends events that must change nothing: no commands, same state, same context. XState warns
 * (console.warn, development build) about events sent to a finished actor; that warning is
 * expected here and checked, not printed.
 */
function expectIgnored(h: Harness, ...events: Parameters<Harness['send']>[0][]): void {
  for (const event of events) {
    const snap = h.snapshot();
    const before = { value: snap.value, status: snap.status, context: structuredClone(snap.context) };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(h.send(event), JSON.stringify(event)).toEqual([]);
      if (before.status === 'done') {
        for (const [message] of warn.mock.calls) expect(String(message)).toMatch(/already reached its final state/);
      } else {
        expect(warn).not.toHaveBeenCalled();
      }
    } finally {
      warn.mockRestore();
    }
    const after = h.snapshot();
    expect(after.value).toEqual(before.value);
    expect(after.status).toBe(before.status);
    expect(after.context).toEqual(before.context);
  }
}

// ====================================================================== creation

describe('creation', () => {
  it('asks hop 1 of the terminating provider and schedules its first reminder', () => {
    const input = makeInput();
    const h = start(input);
    const id = input.tracebackId;
    expect(h.take()).toEqual<TracebackCommand[]>([
      {
        type: 'cmd.audit',
        record: { tracebackId: id, seq: 2, at: T0, type: 'asked', state: 'asking', hopId: hopIdOf(id, 1), provider: p(0) },
      },
      {
        type: 'cmd.hopQuery',
        query: {
          v: PROTOCOL_VERSION,
          kind: 'hop_query',
          tracebackId: id,
          hopId: hopIdOf(id, 1),
          hop: 1,
          provider: p(0),
          call: CALL,
          askedAt: T0,
          deadline: T0 + DAY,
          reminder: 0,
        },
      },
      { type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + DAY / 2 },
    ]);
  });

  it('hop ids are <tracebackId>-h<n> and the first query has no downstream', () => {
    const input = makeInput();
    const h = start(input);
    const [query] = ofType(h.commands, 'cmd.hopQuery');
    expect(query?.query.hopId).toBe(`${input.tracebackId}-h1`);
    expect(query?.query).not.toHaveProperty('downstream');
    expect(hopTimerName(1)).toBe('hop1');
    expect(hopTimerName(12)).toBe('hop12');
  });

  it('starts in asking with the default policy and one open hop', () => {
    const input = makeInput();
    const h = start(input);
    const snapshot = h.snapshot();
    expect(snapshot.value).toBe('asking');
    expect(snapshot.status).toBe('active');
    expect(snapshot.context).toEqual<TracebackContext>({
      tracebackId: input.tracebackId,
      call: CALL,
      terminatingProvider: p(0),
      requester: 'itg-analyst-7',
      policy: DEFAULT_HOP_POLICY,
      startedAt: T0,
      hops: [
        {
          hop: 1,
          hopId: hopIdOf(input.tracebackId, 1),
          provider: p(0),
          askedAt: T0,
          deadline: T0 + DAY,
          remindersDue: [T0 + 12 * HOUR],
          remindedAt: [],
          status: 'open',
        },
      ],
      eventSeq: 2,
    });
    expect(DEFAULT_HOP_POLICY).toEqual({ deadlineMs: DAY, reminderFractions: [0.5], maxHops: 15 });
  });

  it('applies a custom policy and merges a partial one with the defaults', () => {
    const h = start(makeInput({ policy: { deadlineMs: 4 * HOUR, reminderFractions: [0.25, 0.5, 0.75] } }));
    expect(h.context().policy).toEqual({ deadlineMs: 4 * HOUR, reminderFractions: [0.25, 0.5, 0.75], maxHops: 15 });
    expect(hopOf(h.context(), 1).remindersDue).toEqual([T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
    expect(ofType(h.commands, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + HOUR }]);
    expect(ofType(h.commands, 'cmd.hopQuery')[0]?.query.deadline).toBe(T0 + 4 * HOUR);

    const onlyMax = start(makeInput({ policy: { maxHops: 3 } }));
    expect(onlyMax.context().policy).toEqual({ ...DEFAULT_HOP_POLICY, maxHops: 3 });
  });

  it('with no reminders the first timer is the deadline', () => {
    const h = start(makeInput({ policy: { reminderFractions: [] } }));
    expect(ofType(h.commands, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + DAY }]);
  });

  it('a policy field explicitly undefined falls back to the default', () => {
    // Partial<HopPolicy> admits `undefined` values (exactOptionalPropertyTypes is off), e.g.
    // `{ deadlineMs: providerPolicy?.deadlineMs }`; they must not wipe the defaults.
    const h = start(makeInput({ policy: { deadlineMs: undefined, reminderFractions: undefined, maxHops: 4 } }));
    expect(h.context().policy).toEqual({ ...DEFAULT_HOP_POLICY, maxHops: 4 });
    expect(hopOf(h.context(), 1).deadline).toBe(T0 + DAY);
    expect(ofType(h.commands, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + DAY / 2);
  });

  it('does not alias DEFAULT_HOP_POLICY or the input policy', () => {
    const fractions = [0.5, 0.75];
    const a = start(makeInput({ policy: { reminderFractions: fractions } }));
    fractions.push(0.9);
    expect(a.context().policy.reminderFractions).toEqual([0.5, 0.75]);
    const b = start(makeInput());
    expect(b.context().policy.reminderFractions).not.toBe(DEFAULT_HOP_POLICY.reminderFractions);
    expect(a.context().tracebackId).not.toBe(b.context().tracebackId);
  });

  it('reminders given out of order are still sent earliest first', () => {
    const h = start(makeInput({ policy: { deadlineMs: 10 * HOUR, reminderFractions: [0.9, 0.5] } }));
    expect(hopOf(h.context(), 1).remindersDue).toEqual([T0 + 5 * HOUR, T0 + 9 * HOUR]);
    expect(ofType(h.commands, 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 5 * HOUR);
    expect(ofType(h.send(timer('hop1', T0 + 5 * HOUR)), 'cmd.scheduleTimer')[0]?.dueAt).toBe(T0 + 9 * HOUR);
  });

  it('a reminder at or beyond the deadline (fraction >= 1, or 0) is dropped and never delays the deadline', () => {
    const h = start(makeInput({ policy: { deadlineMs: 10 * HOUR, reminderFractions: [0, 1, 1.5] } }));
    expect(hopOf(h.context(), 1).remindersDue).toEqual([]);
    expect(ofType(h.commands, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + 10 * HOUR }]);
    h.send(timer('hop1', T0 + 10 * HOUR));
    expect(h.snapshot().value).toBe('noncooperative');
  });
});

// ====================================================================== hop by hop

describe('hop by hop', () => {
  it('follows six upstream answers, asking each upstream with its downstream, then finds the origin', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    h.take();
    let at = T0;
    for (let n = 1; n <= 5; n++) {
      at += HOUR;
      const cmds = h.send(answerCurrent(h.context(), upstream(p(n), { trunk: `tg-${n}`, ip: `192.0.2.${n}` }), at));
      expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.audit:answered', 'cmd.audit:asked', 'cmd.hopQuery', 'cmd.scheduleTimer']);
      expect(cmds[0]).toEqual({ type: 'cmd.cancelTimer', timer: `hop${n}` });
      expect(audits(cmds)[0]).toEqual({
        tracebackId: id,
        seq: 2 * n + 1,
        at,
        type: 'answered',
        state: 'asking',
        hopId: hopIdOf(id, n),
        provider: p(n - 1),
        answer: upstream(p(n), { trunk: `tg-${n}`, ip: `192.0.2.${n}` }),
      });
      expect(audits(cmds)[1]).toEqual({
        tracebackId: id,
        seq: 2 * n + 2,
        at,
        type: 'asked',
        state: 'asking',
        hopId: hopIdOf(id, n + 1),
        provider: p(n),
      });
      expect(ofType(cmds, 'cmd.hopQuery')[0]?.query).toEqual({
        v: PROTOCOL_VERSION,
        kind: 'hop_query',
        tracebackId: id,
        hopId: hopIdOf(id, n + 1),
        hop: n + 1,
        provider: p(n),
        downstream: p(n - 1),
        call: CALL,
        askedAt: at,
        deadline: at + DAY,
        reminder: 0,
      });
      expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: `hop${n + 1}`, dueAt: at + DAY / 2 }]);
      expect(h.snapshot().value).toBe('asking');
      expect(h.context().hops).toHaveLength(n + 1);
      expect(hopOf(h.context(), n)).toMatchObject({ status: 'answered', answeredAt: at, remindersDue: [] });
    }

    at += HOUR;
    const end = h.send(answerCurrent(h.context(), originator('Robo Dialer Inc', 'terminated'), at));
    expect(typesOf(end)).toEqual(['cmd.cancelTimer', 'cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(end[0]).toEqual({ type: 'cmd.cancelTimer', timer: 'hop6' });
    expect(audits(end)[1]).toEqual({
      tracebackId: id,
      seq: 14,
      at,
      type: 'ended',
      state: 'origin_found',
      outcome: 'origin_found',
      hopId: hopIdOf(id, 6),
      provider: p(5),
    });
    expect(h.snapshot().status).toBe('done');
    expect(h.snapshot().value).toBe('origin_found');

    const trail = buildTrail(h.context());
    expect(trail.outcome).toBe('origin_found');
    expect(trail.hops.map((x) => x.provider)).toEqual([p(0), p(1), p(2), p(3), p(4), p(5)]);
    expect(trail.endProvider).toBe(p(5));
    expect(trail.origin).toEqual({
      provider: p(5),
      customer: { name: 'Robo Dialer Inc', address: '1 Main St, Wilmington DE', accountSince: '2024-11-02' },
      action: 'terminated',
    });
    expect(trail).not.toHaveProperty('entry');
    expect(trail.reason).toBe(`${p(5)} named its customer "Robo Dialer Inc" as the caller (action: terminated)`);
    expect(trail.startedAt).toBe(T0);
    expect(trail.endedAt).toBe(at);
  });

  type Terminal = { outcome: Outcome; answer: ReturnType<typeof originator>; reason: string };
  const terminals: Terminal[] = [
    { outcome: 'origin_found', answer: originator('Acme Dialer LLC', 'warned'), reason: 'named its customer "Acme Dialer LLC" as the caller (action: warned)' },
    { outcome: 'foreign_entry', answer: foreignEntry('Globex Telecom', 'GB'), reason: 'is the US point of entry; the call came from Globex Telecom (GB)' },
    { outcome: 'not_found', answer: notFound('no CDR in window'), reason: 'has no record of the call: no CDR in window' },
    { outcome: 'disputed', answer: dispute('customer has consent records'), reason: 'disputes the traceback: customer has consent records' },
  ];

  it.each(terminals)('ends with $outcome when hop 3 answers that way', ({ outcome, answer, reason }) => {
    const input = makeInput();
    const h = start(input);
    const at = walkUpstream(h, 3) + 30 * 60 * 1000;
    const cmds = h.send(answerCurrent(h.context(), answer, at));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(audits(cmds)[0]?.answer).toEqual(answer);
    expect(audits(cmds)[1]).toMatchObject({ type: 'ended', state: outcome, outcome, hopId: hopIdOf(input.tracebackId, 3), provider: p(2), at });
    expect(h.snapshot().value).toBe(outcome);
    expect(h.snapshot().status).toBe('done');
    const ctx = h.context();
    expect(ctx.outcome).toBe(outcome);
    expect(ctx.endedAt).toBe(at);
    expect(ctx.reason).toBe(`${p(2)} ${reason}`);

    const trail = buildTrail(ctx);
    expect(trail.outcome).toBe(outcome);
    expect(trail.endProvider).toBe(p(2));
    expect(trail.reason).toContain(p(2));
    expect(trail.hops).toHaveLength(3);
    expect(trail.hops.every((x) => x.status === 'answered' && x.deadlineKept)).toBe(true);
    if (outcome === 'origin_found') {
      expect(trail.origin).toEqual({ provider: p(2), customer: (answer as Extract<typeof answer, { type: 'originator' }>).customer, action: 'warned' });
    } else {
      expect(trail).not.toHaveProperty('origin');
    }
    if (outcome === 'foreign_entry') {
      expect(trail.entry).toEqual({ provider: p(2), foreignCarrier: 'Globex Telecom', country: 'GB' });
    } else {
      expect(trail).not.toHaveProperty('entry');
    }
  });

  it('the terminating provider itself may end the traceback at hop 1', () => {
    const h = start();
    h.send(answerCurrent(h.context(), notFound(), T0 + HOUR));
    expect(h.snapshot().value).toBe('not_found');
    const trail = buildTrail(h.context());
    expect(trail.hops).toHaveLength(1);
    expect(trail.hops[0]).not.toHaveProperty('downstream');
    expect(trail.endProvider).toBe(p(0));
  });

  it('ends with loop when the named upstream is already on the trail', () => {
    const input = makeInput();
    const h = start(input);
    const last = walkUpstream(h, 4); // hops: p0 p1 p2 p3, hop 4 open
    const cmds = h.send(answerCurrent(h.context(), upstream(p(1)), last + HOUR));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(ofType(cmds, 'cmd.hopQuery')).toEqual([]);
    expect(h.snapshot().value).toBe('loop');
    expect(h.context().hops).toHaveLength(4);
    const trail = buildTrail(h.context());
    expect(trail.outcome).toBe('loop');
    expect(trail.endProvider).toBe(p(3));
    expect(trail.reason).toBe(`${p(3)} named ${p(1)} as upstream, already on the trail at hop 2`);
    expect(trail.hops[3]?.answer).toEqual(upstream(p(1)));
  });

  it('a provider naming itself as upstream is a loop', () => {
    const h = start();
    walkUpstream(h, 2);
    h.send(answerCurrent(h.context(), upstream(p(1)), T0 + 2 * HOUR));
    expect(h.snapshot().value).toBe('loop');
    expect(h.context().reason).toBe(`${p(1)} named ${p(1)} as upstream, already on the trail at hop 2`);
  });

  it('a provider naming the terminating provider is a loop', () => {
    const h = start();
    walkUpstream(h, 3);
    h.send(answerCurrent(h.context(), upstream(p(0)), T0 + 3 * HOUR));
    expect(h.snapshot().value).toBe('loop');
    expect(h.context().reason).toContain('at hop 1');
  });

  it('ends with max_hops when hop 15 names yet another upstream (default policy)', () => {
    const h = start();
    const last = walkUpstream(h, 15);
    expect(h.context().hops).toHaveLength(15);
    expect(h.snapshot().value).toBe('asking');
    const cmds = h.send(answerCurrent(h.context(), upstream(p(15)), last + HOUR));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(h.snapshot().value).toBe('max_hops');
    expect(h.context().hops).toHaveLength(15);
    expect(ofType(h.commands, 'cmd.hopQuery').map((c) => c.query.hop)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    const trail = buildTrail(h.context());
    expect(trail.outcome).toBe('max_hops');
    expect(trail.endProvider).toBe(p(14));
    expect(trail.reason).toBe(`${p(14)} named ${p(15)} as upstream, beyond the limit of 15 hops`);
  });

  it('ends with max_hops after 3 hops with maxHops 3', () => {
    const h = start(makeInput({ policy: { maxHops: 3 } }));
    const last = walkUpstream(h, 3);
    h.send(answerCurrent(h.context(), upstream(p(3)), last + HOUR));
    expect(h.snapshot().value).toBe('max_hops');
    expect(h.context().hops).toHaveLength(3);
    expect(h.context().reason).toBe(`${p(2)} named ${p(3)} as upstream, beyond the limit of 3 hops`);
  });

  it('with maxHops 1 the first upstream answer ends the traceback', () => {
    const h = start(makeInput({ policy: { maxHops: 1 } }));
    h.send(answerCurrent(h.context(), upstream(p(1)), T0 + HOUR));
    expect(h.snapshot().value).toBe('max_hops');
    expect(h.context().hops).toHaveLength(1);
  });

  it('at the last allowed hop a non-upstream answer still ends normally', () => {
    const h = start(makeInput({ policy: { maxHops: 3 } }));
    walkUpstream(h, 3);
    h.send(answerCurrent(h.context(), foreignEntry(), T0 + 4 * HOUR));
    expect(h.snapshot().value).toBe('foreign_entry');
  });

  it('loop wins over max_hops when both apply', () => {
    const h = start(makeInput({ policy: { maxHops: 3 } }));
    walkUpstream(h, 3);
    h.send(answerCurrent(h.context(), upstream(p(0)), T0 + 4 * HOUR));
    expect(h.snapshot().value).toBe('loop');
  });
});

// ====================================================================== deadlines and reminders

describe('deadline and reminders', () => {
  it('with the default policy: reminder at 12 h, then noncooperative at 24 h', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    h.take();
    const r = h.send(timer('hop1', T0 + 12 * HOUR));
    expect(typesOf(r)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'cmd.audit:reminded']);
    expect(ofType(r, 'cmd.hopQuery')[0]?.query).toMatchObject({ hopId: hopIdOf(id, 1), reminder: 1, askedAt: T0, deadline: T0 + DAY });
    expect(ofType(r, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + DAY }]);
    expect(audits(r)).toEqual([
      { tracebackId: id, seq: 3, at: T0 + 12 * HOUR, type: 'reminded', state: 'asking', hopId: hopIdOf(id, 1), provider: p(0) },
    ]);

    const end = h.send(timer('hop1', T0 + DAY));
    expect(typesOf(end)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(audits(end)).toEqual([
      { tracebackId: id, seq: 4, at: T0 + DAY, type: 'missed', state: 'asking', hopId: hopIdOf(id, 1), provider: p(0) },
      {
        tracebackId: id,
        seq: 5,
        at: T0 + DAY,
        type: 'ended',
        state: 'noncooperative',
        outcome: 'noncooperative',
        hopId: hopIdOf(id, 1),
        provider: p(0),
      },
    ]);
    expect(h.snapshot().value).toBe('noncooperative');
    const trail = buildTrail(h.context());
    expect(trail.hops[0]).toMatchObject({ status: 'missed', remindedAt: [T0 + 12 * HOUR], deadlineKept: false });
    expect(trail.hops[0]).not.toHaveProperty('answeredAt');
    expect(trail.endProvider).toBe(p(0));
    expect(trail.reason).toBe(`${p(0)} did not answer by the deadline ${new Date(T0 + DAY).toISOString()}`);
  });

  it('reminders at 50 % and 90 %, then the deadline, at hop 3', () => {
    const input = makeInput({ policy: { reminderFractions: [0.5, 0.9], deadlineMs: 10 * HOUR } });
    const id = input.tracebackId;
    const h = start(input);
    const askedAt = walkUpstream(h, 3);
    const hop3 = currentHop(h.context());
    expect(hop3).toMatchObject({ hop: 3, askedAt, deadline: askedAt + 10 * HOUR, remindersDue: [askedAt + 5 * HOUR, askedAt + 9 * HOUR] });
    expect(ofType(h.commands, 'cmd.scheduleTimer').at(-1)).toEqual({ type: 'cmd.scheduleTimer', timer: 'hop3', dueAt: askedAt + 5 * HOUR });

    const first = h.send(timer('hop3', askedAt + 5 * HOUR));
    expect(typesOf(first)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'cmd.audit:reminded']);
    expect(ofType(first, 'cmd.hopQuery')[0]?.query).toEqual({
      v: PROTOCOL_VERSION,
      kind: 'hop_query',
      tracebackId: id,
      hopId: hopIdOf(id, 3),
      hop: 3,
      provider: p(2),
      downstream: p(1),
      call: CALL,
      askedAt,
      deadline: askedAt + 10 * HOUR,
      reminder: 1,
    });
    expect(ofType(first, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop3', dueAt: askedAt + 9 * HOUR }]);
    expect(currentHop(h.context())).toMatchObject({ remindersDue: [askedAt + 9 * HOUR], remindedAt: [askedAt + 5 * HOUR], status: 'open' });

    const second = h.send(timer('hop3', askedAt + 9 * HOUR));
    expect(typesOf(second)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'cmd.audit:reminded']);
    expect(ofType(second, 'cmd.hopQuery')[0]?.query.reminder).toBe(2);
    expect(ofType(second, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop3', dueAt: askedAt + 10 * HOUR }]);
    expect(currentHop(h.context())).toMatchObject({ remindersDue: [], remindedAt: [askedAt + 5 * HOUR, askedAt + 9 * HOUR] });

    const end = h.send(timer('hop3', askedAt + 10 * HOUR));
    expect(typesOf(end)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(h.snapshot().value).toBe('noncooperative');
    const trail = buildTrail(h.context());
    expect(trail.hops[2]).toMatchObject({ status: 'missed', remindedAt: [askedAt + 5 * HOUR, askedAt + 9 * HOUR], deadlineKept: false });
    expect(trail.endProvider).toBe(p(2));
    expect(trail.reason).toContain(p(2));
    expect(trail.endedAt).toBe(askedAt + 10 * HOUR);
  });

  it('a timer long after the deadline (engine was down) goes straight to noncooperative', () => {
    const input = makeInput({ policy: { reminderFractions: [0.5, 0.9] } });
    const h = start(input);
    h.take();
    const late = T0 + 4 * DAY;
    const cmds = h.send(timer('hop1', late));
    expect(typesOf(cmds)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(ofType(cmds, 'cmd.hopQuery')).toEqual([]);
    expect(audits(cmds).map((a) => a.at)).toEqual([late, late]);
    expect(h.snapshot().value).toBe('noncooperative');
    expect(hopOf(h.context(), 1)).toMatchObject({ status: 'missed', remindedAt: [], remindersDue: [] });
    expect(h.context().endedAt).toBe(late);
  });

  it('two reminders overdue at once collapse into one', () => {
    const h = start(makeInput({ policy: { reminderFractions: [0.5, 0.9] } }));
    h.take();
    const at = T0 + Math.round(0.95 * DAY);
    const cmds = h.send(timer('hop1', at));
    expect(typesOf(cmds)).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'cmd.audit:reminded']);
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.reminder).toBe(1);
    expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + DAY }]);
    expect(hopOf(h.context(), 1)).toMatchObject({ remindersDue: [], remindedAt: [at] });
    // The next firing is the deadline.
    expect(typesOf(h.send(timer('hop1', T0 + DAY)))).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
  });

  it('overdue reminders collapse but later ones stay scheduled', () => {
    const h = start(makeInput({ policy: { deadlineMs: 4 * HOUR, reminderFractions: [0.25, 0.5, 0.75] } }));
    h.take();
    const cmds = h.send(timer('hop1', T0 + 2.5 * HOUR));
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.reminder).toBe(1);
    expect(ofType(cmds, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + 3 * HOUR }]);
    const next = h.send(timer('hop1', T0 + 3 * HOUR));
    expect(ofType(next, 'cmd.hopQuery')[0]?.query.reminder).toBe(2);
    expect(ofType(next, 'cmd.scheduleTimer')).toEqual([{ type: 'cmd.scheduleTimer', timer: 'hop1', dueAt: T0 + 4 * HOUR }]);
  });

  it('a reminder fires exactly at its due time and the deadline exactly at the deadline', () => {
    const h = start();
    expect(typesOf(h.send(timer('hop1', T0 + 12 * HOUR)))).toContain('cmd.hopQuery');
    expect(h.snapshot().value).toBe('asking');
    h.send(timer('hop1', T0 + DAY));
    expect(h.snapshot().value).toBe('noncooperative');
  });

  it('ignores a stale timer of an earlier hop', () => {
    const h = start();
    walkUpstream(h, 2); // hop 2 asked at T0 + 1 h
    expectIgnored(h, timer('hop1', T0 + 12 * HOUR), timer('hop1', T0 + DAY), timer('hop1', T0 + 5 * DAY));
    expect(h.snapshot().value).toBe('asking');
    expect(currentHop(h.context()).hop).toBe(2);
    // hop 2's own timer still works.
    expect(typesOf(h.send(timer('hop2', T0 + HOUR + 12 * HOUR)))).toEqual(['cmd.hopQuery', 'cmd.scheduleTimer', 'cmd.audit:reminded']);
  });

  it('ignores a timer of a future hop or a foreign timer name', () => {
    const h = start();
    expectIgnored(h, timer('hop2', T0 + 2 * DAY), timer('cleanup', T0 + 2 * DAY), timer('', T0 + 2 * DAY), timer('HOP1', T0 + 2 * DAY));
  });

  it('ignores a timer that fires before anything is due', () => {
    const h = start(makeInput({ policy: { reminderFractions: [0.5, 0.9] } }));
    expectIgnored(h, timer('hop1', T0), timer('hop1', T0 + 12 * HOUR - 1));
    h.send(timer('hop1', T0 + 12 * HOUR));
    h.send(timer('hop1', Math.round(T0 + 0.9 * DAY)));
    // All reminders sent: an early firing before the deadline changes nothing.
    expectIgnored(h, timer('hop1', T0 + DAY - 1));
    expect(h.snapshot().value).toBe('asking');
  });

  it('an answer after a reminder closes the hop and keeps the reminder on the trail', () => {
    const h = start();
    h.send(timer('hop1', T0 + 12 * HOUR));
    const cmds = h.send(answerCurrent(h.context(), originator(), T0 + 20 * HOUR));
    expect(cmds[0]).toEqual({ type: 'cmd.cancelTimer', timer: 'hop1' });
    const trail = buildTrail(h.context());
    expect(trail.hops[0]).toMatchObject({ status: 'answered', remindedAt: [T0 + 12 * HOUR], answeredAt: T0 + 20 * HOUR, deadlineKept: true });
    // The timer the engine may not have cancelled in time fires: nothing happens.
    expectIgnored(h, timer('hop1', T0 + DAY));
  });

  it('a late answer that beats the deadline timer is accepted, with deadlineKept false', () => {
    const h = start();
    const ctx = h.context();
    const late = answerCurrent(ctx, notFound(), T0 + DAY + HOUR);
    expect(checkAnswer(ctx, late as Extract<typeof late, { type: 'ANSWER' }>)).toEqual({ kind: 'accept' });
    h.send(late);
    expect(h.snapshot().value).toBe('not_found');
    expect(buildTrail(h.context()).hops[0]).toMatchObject({ status: 'answered', deadlineKept: false, answeredAt: T0 + DAY + HOUR });
  });
});

// ====================================================================== cancel

describe('cancel', () => {
  it('cancels mid-hop: the open hop is cancelled, its timer cancelled, the trail published', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    walkUpstream(h, 2);
    h.send(timer('hop2', T0 + 13 * HOUR));
    const at = T0 + 14 * HOUR;
    const cmds = h.send(cancel(at, 'sent in error', 'ops-jane'));
    expect(cmds).toEqual<TracebackCommand[]>([
      { type: 'cmd.cancelTimer', timer: 'hop2' },
      {
        type: 'cmd.audit',
        record: {
          tracebackId: id,
          seq: 6,
          at,
          type: 'cancelled',
          state: 'cancelled',
          outcome: 'cancelled',
          hopId: hopIdOf(id, 2),
          provider: p(1),
        },
      },
      { type: 'cmd.publishTrail' },
    ]);
    expect(h.snapshot().value).toBe('cancelled');
    expect(h.snapshot().status).toBe('done');
    expect(hopOf(h.context(), 2)).toMatchObject({ status: 'cancelled', remindersDue: [], remindedAt: [T0 + 13 * HOUR] });
    expect(hopOf(h.context(), 1).status).toBe('answered');
    const trail = buildTrail(h.context());
    expect(trail.outcome).toBe('cancelled');
    expect(trail.reason).toBe('cancelled by ops-jane: sent in error');
    expect(trail.endProvider).toBe(p(1));
    expect(trail.endedAt).toBe(at);
    expect(trail.hops.map((x) => [x.status, x.deadlineKept])).toEqual([
      ['answered', true],
      ['cancelled', false],
    ]);
  });

  it('cancels at hop 1 right after creation', () => {
    const h = start();
    const cmds = h.send(cancel(T0 + 1));
    expect(typesOf(cmds)).toEqual(['cmd.cancelTimer', 'cmd.audit:cancelled', 'cmd.publishTrail']);
    expect(hopOf(h.context(), 1).status).toBe('cancelled');
  });
});

// ====================================================================== scripts for every outcome

function script(name: string, input: Script['input'], steps: Script['steps']): Script {
  return { name, input, steps };
}

const toCurrent = (answer: Parameters<typeof answerCurrent>[1], at: number) => (c: TracebackContext) => answerCurrent(c, answer, at);
const fireCurrent = (at: (c: TracebackContext) => number) => (c: TracebackContext) => timer(hopTimerName(currentHop(c).hop), at(c));
const wrongProvider = (at: number) => (c: TracebackContext) => answerEvent(currentHop(c).hopId, 'tsp-intruder', originator(), at);

/** One script per outcome, each with reminders, stale events and rejected answers along the way. */
function scripts(): Script[] {
  const up = (n: number) => toCurrent(upstream(p(n)), T0 + n * HOUR);
  return [
    script('origin_found after 6 hops', makeInput(), [
      up(1),
      up(2),
      fireCurrent((c) => currentHop(c).remindersDue[0] ?? 0), // hop 3 asked at 2 h: reminder at 14 h
      toCurrent(upstream(p(3)), T0 + 15 * HOUR),
      wrongProvider(T0 + 15.5 * HOUR),
      (c) => timer('hop1', hopOf(c, 1).deadline), // stale, past hop 1's deadline (24 h)
      toCurrent(upstream(p(4)), T0 + 25 * HOUR),
      toCurrent(upstream(p(5)), T0 + 26 * HOUR),
      toCurrent(originator(), T0 + 27 * HOUR),
    ]),
    script('foreign_entry', makeInput(), [up(1), up(2), toCurrent(foreignEntry(), T0 + 3 * HOUR)]),
    script('not_found', makeInput(), [up(1), toCurrent(notFound(), T0 + 2 * HOUR)]),
    script('disputed', makeInput(), [up(1), up(2), up(3), toCurrent(dispute(), T0 + 4 * HOUR)]),
    script('loop', makeInput(), [up(1), up(2), toCurrent(upstream(p(0)), T0 + 3 * HOUR)]),
    script('max_hops (3)', makeInput({ policy: { maxHops: 3 } }), [up(1), up(2), toCurrent(upstream(p(3)), T0 + 3 * HOUR)]),
    script('max_hops (15)', makeInput(), [...Array.from({ length: 14 }, (_, i) => up(i + 1)), toCurrent(upstream(p(15)), T0 + 15 * HOUR)]),
    script('noncooperative with two reminders', makeInput({ policy: { reminderFractions: [0.5, 0.9] } }), [
      up(1),
      fireCurrent((c) => currentHop(c).remindersDue[0] ?? 0),
      fireCurrent((c) => currentHop(c).remindersDue[0] ?? 0),
      wrongProvider(T0 + 23 * HOUR),
      fireCurrent((c) => currentHop(c).deadline),
    ]),
    script('noncooperative after downtime', makeInput(), [up(1), fireCurrent((c) => currentHop(c).deadline + 3 * DAY)]),
    script('cancelled', makeInput(), [up(1), fireCurrent((c) => currentHop(c).remindersDue[0] ?? 0), () => cancel(T0 + 20 * HOUR)]),
  ];
}

const endOutcome: Record<string, Outcome> = {
  'origin_found after 6 hops': 'origin_found',
  foreign_entry: 'foreign_entry',
  not_found: 'not_found',
  disputed: 'disputed',
  loop: 'loop',
  'max_hops (3)': 'max_hops',
  'max_hops (15)': 'max_hops',
  'noncooperative with two reminders': 'noncooperative',
  'noncooperative after downtime': 'noncooperative',
  cancelled: 'cancelled',
};

describe('final states', () => {
  it('the scripts cover every outcome', () => {
    const reached = new Set(scripts().map((s) => runScript(s).context.outcome));
    expect([...reached].sort()).toEqual([...OUTCOMES].sort());
  });

  it.each(scripts().map((s) => [s.name, s] as const))('%s: exactly one end audit and one publishTrail, last', (name, s) => {
    const { commands, context, status, value } = runScript(s);
    const outcome = endOutcome[name];
    expect(status).toBe('done');
    expect(value).toBe(outcome);
    expect(context.outcome).toBe(outcome);
    expect(ofType(commands, 'cmd.publishTrail')).toHaveLength(1);
    expect(commands.at(-1)).toEqual({ type: 'cmd.publishTrail' });
    const ends = audits(commands).filter((a) => a.type === 'ended' || a.type === 'cancelled');
    expect(ends).toHaveLength(1);
    expect(ends[0]).toEqual(audits(commands).at(-1));
    expect(ends[0]?.type).toBe(outcome === 'cancelled' ? 'cancelled' : 'ended');
    expect(ends[0]).toMatchObject({ state: outcome, outcome, at: context.endedAt });
    // No hop is left open, so no timer is left behind for the engine to fire.
    expect(context.hops.filter((x) => x.status === 'open')).toEqual([]);
    // Every scheduled timer was either cancelled or fired for the final time.
    expect(buildTrail(context).outcome).toBe(outcome);
  });

  it.each(scripts().map((s) => [s.name, s] as const))('%s: events after the end do nothing', (_name, s) => {
    let h = start(s.input);
    for (const step of s.steps) h.send(step(h.context()));
    expect(h.snapshot().status).toBe('done');
    const ctx = h.context();
    const last = currentHop(ctx);
    const after = [
      answerCurrent(ctx, originator(), T0 + 30 * DAY),
      answerCurrent(ctx, last.answer ?? notFound(), T0 + 30 * DAY),
      answerEvent(hopIdOf(ctx.tracebackId, ctx.hops.length + 1), p(19), notFound(), T0 + 30 * DAY),
      timer(hopTimerName(last.hop), T0 + 30 * DAY),
      timer(hopTimerName(last.hop), last.deadline),
      cancel(T0 + 30 * DAY),
    ];
    expectIgnored(h, ...after);
    // Same after a restore of the finished actor.
    h = restore(h.actor);
    expect(h.take()).toEqual([]);
    expect(h.snapshot().status).toBe('done');
    expectIgnored(h, ...after);
  });
});

// ====================================================================== audit sequence

describe('audit sequence numbers', () => {
  it.each(scripts().map((s) => [s.name, s] as const))('%s: gap-free from 2, matching context.eventSeq', (_name, s) => {
    const { commands, context } = runScript(s);
    const seqs = audits(commands).map((a) => a.seq);
    expect(seqs[0]).toBe(2);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 2));
    expect(context.eventSeq).toBe(seqs.at(-1));
    for (const a of audits(commands)) expect(a.tracebackId).toBe(s.input.tracebackId);
    // One 'asked' audit and one first query per hop.
    expect(audits(commands).filter((a) => a.type === 'asked')).toHaveLength(context.hops.length);
    expect(ofType(commands, 'cmd.hopQuery').filter((c) => c.query.reminder === 0)).toHaveLength(context.hops.length);
  });

  it('the audit times never go backwards', () => {
    for (const s of scripts()) {
      const times = audits(runScript(s).commands).map((a) => a.at);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });
});

// ====================================================================== checkAnswer

describe('checkAnswer', () => {
  function twoHops() {
    const input = makeInput();
    const h = start(input);
    h.send(answerCurrent(h.context(), upstream(p(1), { trunk: 'tg-7' }), T0 + HOUR));
    return { h, id: input.tracebackId };
  }

  it('accepts the answer of the provider asked at the open hop', () => {
    const { h, id } = twoHops();
    expect(checkAnswer(h.context(), { hopId: hopIdOf(id, 2), provider: p(1), answer: originator() })).toEqual({ kind: 'accept' });
  });

  it('the same answer again for an answered hop is a duplicate, and the machine ignores it', () => {
    const { h, id } = twoHops();
    const again = { hopId: hopIdOf(id, 1), provider: p(0), answer: upstream(p(1), { trunk: 'tg-7' }) };
    expect(checkAnswer(h.context(), again)).toEqual({ kind: 'duplicate' });
    // Key order does not matter.
    expect(checkAnswer(h.context(), { ...again, answer: { trunk: 'tg-7', provider: p(1), type: 'upstream' } })).toEqual({ kind: 'duplicate' });
    expectIgnored(h, { type: 'ANSWER', ...again, at: T0 + 2 * HOUR });
  });

  it('an undefined optional field equals an absent one, before and after a restore', () => {
    const input = makeInput();
    const h = start(input);
    // An in-process caller may leave `trunk: undefined`; the wire and JSON snapshots drop it.
    h.send(answerCurrent(h.context(), upstream(p(1), { trunk: undefined, hopTime: T0 - 2 * HOUR }), T0 + HOUR));
    const fromWire = { hopId: hopIdOf(input.tracebackId, 1), provider: p(0), answer: upstream(p(1), { hopTime: T0 - 2 * HOUR }) };
    expect(checkAnswer(h.context(), fromWire)).toEqual({ kind: 'duplicate' });
    const r = restore(h.actor);
    expect(checkAnswer(r.context(), fromWire)).toEqual({ kind: 'duplicate' });
    expect(checkAnswer(r.context(), { ...fromWire, answer: upstream(p(1), { trunk: undefined, hopTime: T0 - 2 * HOUR }) })).toEqual({
      kind: 'duplicate',
    });
  });

  it('a duplicate is still a duplicate after the traceback ended', () => {
    const h = start();
    const ans = answerCurrent(h.context(), originator(), T0 + HOUR);
    h.send(ans);
    expect(h.snapshot().status).toBe('done');
    if (ans.type !== 'ANSWER') throw new Error('unreachable');
    expect(checkAnswer(h.context(), ans)).toEqual({ kind: 'duplicate' });
  });

  it('a different answer for an answered hop is HOP_CLOSED', () => {
    const { h, id } = twoHops();
    const other = { hopId: hopIdOf(id, 1), provider: p(0), answer: upstream(p(9)) };
    expect(checkAnswer(h.context(), other)).toEqual({
      kind: 'reject',
      code: ErrorCode.HopClosed,
      message: `hop ${hopIdOf(id, 1)} was already answered differently`,
    });
    // Dropping an optional field also makes it different.
    expect(checkAnswer(h.context(), { ...other, answer: upstream(p(1)) })).toMatchObject({ kind: 'reject', code: ErrorCode.HopClosed });
    expectIgnored(h, { type: 'ANSWER', ...other, at: T0 + 2 * HOUR });
  });

  it('an answer from another provider than the one asked is WRONG_PROVIDER', () => {
    const { h, id } = twoHops();
    const wrong = { hopId: hopIdOf(id, 2), provider: p(7), answer: originator() };
    expect(checkAnswer(h.context(), wrong)).toEqual({
      kind: 'reject',
      code: ErrorCode.WrongProvider,
      message: `hop ${hopIdOf(id, 2)} was asked of ${p(1)}, not ${p(7)}`,
    });
    // Also for an answered hop: provider is checked before status.
    expect(checkAnswer(h.context(), { hopId: hopIdOf(id, 1), provider: p(1), answer: upstream(p(1), { trunk: 'tg-7' }) })).toMatchObject({
      code: ErrorCode.WrongProvider,
    });
    expectIgnored(h, { type: 'ANSWER', ...wrong, at: T0 + 2 * HOUR });
  });

  it('an answer for a hop never asked, or for another traceback, is UNKNOWN_HOP', () => {
    const { h, id } = twoHops();
    const other = newTracebackId(T0);
    const cases = [hopIdOf(id, 3), hopIdOf(id, 15), hopIdOf(id, 999), hopIdOf(other, 1), hopIdOf(other, 2)];
    for (const hopId of cases) {
      expect(checkAnswer(h.context(), { hopId, provider: p(1), answer: originator() })).toEqual({
        kind: 'reject',
        code: ErrorCode.UnknownHop,
        message: `hop ${hopId} was never asked`,
      });
      expectIgnored(h, answerEvent(hopId, p(1), originator(), T0 + 2 * HOUR));
    }
  });

  it('a garbage hop id is UNKNOWN_HOP', () => {
    const { h, id } = twoHops();
    const garbage = ['', 'nonsense', `${id}-h0`, `${id}-h01`, `${id}-h1000`, `${id}-h2 `, `${id}h2`, id, 'tb-short-h1', `${id.toUpperCase()}-h2`];
    for (const hopId of garbage) {
      expect(checkAnswer(h.context(), { hopId, provider: p(1), answer: originator() })).toEqual({
        kind: 'reject',
        code: ErrorCode.UnknownHop,
        message: `${hopId} is not a hop id`,
      });
      expectIgnored(h, answerEvent(hopId, p(1), originator(), T0 + 2 * HOUR));
    }
  });

  it('an answer for a missed hop is HOP_CLOSED', () => {
    const input = makeInput();
    const h = start(input);
    h.send(timer('hop1', T0 + 2 * DAY));
    expect(h.snapshot().value).toBe('noncooperative');
    const late = { hopId: hopIdOf(input.tracebackId, 1), provider: p(0), answer: originator() };
    expect(checkAnswer(h.context(), late)).toEqual({
      kind: 'reject',
      code: ErrorCode.HopClosed,
      message: `hop ${hopIdOf(input.tracebackId, 1)} is missed`,
    });
    expectIgnored(h, { type: 'ANSWER', ...late, at: T0 + 3 * DAY });
  });

  it('an answer for a cancelled hop is HOP_CLOSED', () => {
    const input = makeInput();
    const h = start(input);
    h.send(cancel(T0 + HOUR));
    expect(checkAnswer(h.context(), { hopId: hopIdOf(input.tracebackId, 1), provider: p(0), answer: originator() })).toEqual({
      kind: 'reject',
      code: ErrorCode.HopClosed,
      message: `hop ${hopIdOf(input.tracebackId, 1)} is cancelled`,
    });
  });

  it('an open hop of an ended traceback is HOP_CLOSED (defensive: the machine never leaves one)', () => {
    const h = start();
    const ctx: TracebackContext = { ...h.context(), outcome: 'cancelled', endedAt: T0 + 1 };
    const hop = currentHop(ctx);
    expect(checkAnswer(ctx, { hopId: hop.hopId, provider: hop.provider, answer: originator() })).toEqual({
      kind: 'reject',
      code: ErrorCode.HopClosed,
      message: 'traceback ended: cancelled',
    });
  });

  it('the machine ignores every rejected answer while asking, then accepts the right one', () => {
    const { h, id } = twoHops();
    expectIgnored(
      h,
      answerEvent(hopIdOf(id, 2), p(0), originator(), T0 + 2 * HOUR),
      answerEvent(hopIdOf(id, 1), p(0), upstream(p(1), { trunk: 'tg-7' }), T0 + 2 * HOUR),
      answerEvent(hopIdOf(id, 1), p(0), notFound(), T0 + 2 * HOUR),
      answerEvent(hopIdOf(id, 3), p(2), originator(), T0 + 2 * HOUR),
      answerEvent('garbage', p(1), originator(), T0 + 2 * HOUR),
    );
    h.send(answerEvent(hopIdOf(id, 2), p(1), originator(), T0 + 3 * HOUR));
    expect(h.snapshot().value).toBe('origin_found');
  });
});

// ====================================================================== persistence

describe('persistence', () => {
  it('restoring right after creation emits nothing and continues identically', () => {
    const input = makeInput();
    const original = start(input);
    const restored = restore(original.actor);
    expect(restored.take()).toEqual([]);
    expect(restored.snapshot().value).toBe('asking');
    expect(restored.context()).toEqual(original.context());
    const event = answerCurrent(original.context(), upstream(p(1)), T0 + HOUR);
    expect(restored.send(event)).toEqual(original.send(event));
    expect(restored.context()).toEqual(original.context());
  });

  it('the persisted snapshot survives JSON unchanged', () => {
    const h = start();
    walkUpstream(h, 3);
    h.send(timer('hop3', currentHop(h.context()).remindersDue[0] ?? 0));
    const persisted = h.actor.getPersistedSnapshot();
    expect(JSON.parse(JSON.stringify(persisted))).toEqual(persisted);
  });

  it('a restore chain (restore of a restore) keeps working', () => {
    let h = start();
    for (let n = 1; n <= 4; n++) {
      h = restore(h.actor);
      expect(h.take()).toEqual([]);
      h.send(answerCurrent(h.context(), upstream(p(n)), T0 + n * HOUR));
    }
    h = restore(h.actor);
    h.send(answerCurrent(h.context(), foreignEntry(), T0 + 5 * HOUR));
    expect(h.snapshot().value).toBe('foreign_entry');
    expect(h.context().hops).toHaveLength(5);
  });

  it.each(scripts().map((s) => [s.name, s] as const))(
    '%s: restoring before any single step gives the same commands and trail',
    (_name, s) => {
      const baseline = runScript(s);
      const trail = buildTrail(baseline.context);
      for (let k = 0; k <= s.steps.length; k++) {
        const run = runScript(s, new Set([k]));
        expect(run.commands, `restore before step ${k}`).toEqual(baseline.commands);
        expect(run.context).toEqual(baseline.context);
        expect(run.value).toEqual(baseline.value);
        expect(run.status).toBe('done');
        expect(buildTrail(run.context)).toEqual(trail);
      }
    },
  );

  it.each(scripts().map((s) => [s.name, s] as const))('%s: restoring before every step gives the same run', (_name, s) => {
    const baseline = runScript(s);
    const run = runScript(s, new Set(s.steps.map((_, i) => i)));
    expect(run.commands).toEqual(baseline.commands);
    expect(buildTrail(run.context)).toEqual(buildTrail(baseline.context));
  });

  it('restores a snapshot taken with a reminder pending and fires the deadline correctly', () => {
    const h = start(makeInput({ policy: { reminderFractions: [0.5, 0.9] } }));
    h.send(timer('hop1', T0 + 12 * HOUR));
    const r = restore(h.actor);
    expect(r.take()).toEqual([]);
    expect(currentHop(r.context()).remindersDue).toEqual([T0 + Math.round(0.9 * DAY)]);
    const cmds = r.send(timer('hop1', T0 + Math.round(0.9 * DAY)));
    expect(ofType(cmds, 'cmd.hopQuery')[0]?.query.reminder).toBe(2);
    r.send(timer('hop1', T0 + DAY));
    expect(r.snapshot().value).toBe('noncooperative');
  });

  it('a restored actor ignores its input: the context comes from the snapshot', () => {
    const h = start();
    const persisted: unknown = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    const other = makeInput({ terminatingProvider: p(9), now: T0 + DAY });
    const actor = createActor(tracebackMachine, { snapshot: persisted as ReturnType<typeof h.snapshot>, input: other });
    const seen: unknown[] = [];
    actor.on('*', (c) => seen.push(c));
    actor.start();
    expect(seen).toEqual([]);
    expect(actor.getSnapshot().context).toEqual(h.context());
    actor.stop();
  });
});

// ====================================================================== buildTrail

describe('buildTrail', () => {
  it('refuses a traceback that has not ended', () => {
    const h = start();
    expect(() => buildTrail(h.context())).toThrow(/has not ended/);
  });

  it('refuses an ended context with no hops', () => {
    const h = start();
    const ctx: TracebackContext = { ...h.context(), hops: [], outcome: 'cancelled', endedAt: T0 };
    expect(() => buildTrail(ctx)).toThrow(/has no hops/);
  });

  it('lists the hops in order, each with the downstream it handed the call to', () => {
    const input = makeInput();
    const h = start(input);
    const last = walkUpstream(h, 5);
    h.send(answerCurrent(h.context(), notFound('CDRs purged'), last + HOUR));
    const trail = buildTrail(h.context());
    expect(trail).toMatchObject({
      v: PROTOCOL_VERSION,
      kind: 'trail',
      tracebackId: input.tracebackId,
      call: CALL,
      requester: 'itg-analyst-7',
      terminatingProvider: p(0),
      startedAt: T0,
      endedAt: last + HOUR,
      outcome: 'not_found',
      endProvider: p(4),
      reason: `${p(4)} has no record of the call: CDRs purged`,
    });
    expect(trail.hops.map((x) => x.hop)).toEqual([1, 2, 3, 4, 5]);
    expect(trail.hops.map((x) => x.hopId)).toEqual([1, 2, 3, 4, 5].map((n) => hopIdOf(input.tracebackId, n)));
    expect(trail.hops[0]).not.toHaveProperty('downstream');
    expect(trail.hops.slice(1).map((x) => x.downstream)).toEqual([p(0), p(1), p(2), p(3)]);
    expect(trail.hops.map((x) => x.answer?.type)).toEqual(['upstream', 'upstream', 'upstream', 'upstream', 'not_found']);
    expect(trail.hops[2]).toEqual({
      hop: 3,
      hopId: hopIdOf(input.tracebackId, 3),
      provider: p(2),
      downstream: p(1),
      askedAt: T0 + 2 * HOUR,
      deadline: T0 + 2 * HOUR + DAY,
      remindedAt: [],
      answeredAt: T0 + 3 * HOUR,
      status: 'answered',
      deadlineKept: true,
      answer: upstream(p(3)),
    });
  });

  it('deadlineKept: true on time and exactly at the deadline, false late, missed or cancelled', () => {
    const onTime = start();
    onTime.send(answerCurrent(onTime.context(), originator(), T0 + DAY));
    expect(buildTrail(onTime.context()).hops[0]?.deadlineKept).toBe(true);

    const late = start();
    late.send(answerCurrent(late.context(), originator(), T0 + DAY + 1));
    expect(buildTrail(late.context()).hops[0]?.deadlineKept).toBe(false);

    const missed = start();
    missed.send(timer('hop1', T0 + DAY));
    expect(buildTrail(missed.context()).hops[0]?.deadlineKept).toBe(false);

    const cancelled = start();
    cancelled.send(cancel(T0 + HOUR));
    expect(buildTrail(cancelled.context()).hops[0]?.deadlineKept).toBe(false);
  });

  it('mixes kept and broken deadlines along one trail', () => {
    const h = start();
    h.send(answerCurrent(h.context(), upstream(p(1)), T0 + 2 * DAY)); // late but before the timer ran
    h.send(answerCurrent(h.context(), upstream(p(2)), T0 + 2 * DAY + HOUR));
    h.send(timer('hop3', T0 + 4 * DAY));
    const trail = buildTrail(h.context());
    expect(trail.hops.map((x) => [x.status, x.deadlineKept])).toEqual([
      ['answered', false],
      ['answered', true],
      ['missed', false],
    ]);
    expect(trail.outcome).toBe('noncooperative');
    expect(trail.endProvider).toBe(p(2));
  });

  it('the reason names the end provider for every outcome', () => {
    for (const s of scripts()) {
      const { context } = runScript(s);
      const trail = buildTrail(context);
      if (trail.outcome === 'cancelled') {
        expect(trail.reason).toMatch(/^cancelled by ops-jane: /);
      } else {
        expect(trail.reason, s.name).toContain(trail.endProvider);
      }
      expect(trail.endProvider).toBe(currentHop(context).provider);
    }
  });

  it('falls back to the outcome when the context has no reason', () => {
    const h = start();
    h.send(cancel(T0 + 5));
    const { reason: _reason, ...ctx } = h.context();
    expect(buildTrail(ctx).reason).toBe('cancelled');
  });

  it('is deterministic and does not alias the context', () => {
    const h = start();
    h.send(timer('hop1', T0 + 12 * HOUR));
    h.send(answerCurrent(h.context(), dispute(), T0 + 13 * HOUR));
    const ctx = h.context();
    const a = buildTrail(ctx);
    expect(buildTrail(ctx)).toEqual(a);
    expect(buildTrail(JSON.parse(JSON.stringify(ctx)) as TracebackContext)).toEqual(a);
    a.hops[0]?.remindedAt.push(0);
    expect(hopOf(ctx, 1).remindedAt).toEqual([T0 + 12 * HOUR]);
  });
});
