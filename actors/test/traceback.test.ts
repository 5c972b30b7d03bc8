import { describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { ErrorCode, OUTCOMES, PROTOCOL_VERSION, hopIdOf, newTracebackId, type ForeignEntryAnswer, type OriginatorAnswer, type Outcome, type ProviderInfo } from '../../protocol/index.js';
import {
  DEFAULT_HOP_POLICY,
  TRACEBACK_MACHINE_VERSION,
  buildTrail,
  checkAnswer,
  restoreTraceback,
  tracebackMachine,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
} from '../traceback/index.js';
import {
  CALL,
  DAY,
  HOUR,
  OTHER_TB,
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
  missCurrent,
  missEvent,
  notFound,
  ofType,
  originator,
  p,
  restore,
  runScript,
  start,
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

/** The commands a traceback may emit in v2; it keeps no timers and sends no queries itself. */
const V2_COMMANDS = new Set(['cmd.askProvider', 'cmd.cancelHop', 'cmd.trailEnded', 'cmd.audit', 'cmd.publishTrail']);

/** Outcomes that end at a provider that originated the call or let it into the US. */
const TRAIL_ENDING = new Set<Outcome>(['origin_found', 'foreign_entry']);

// ====================================================================== creation

describe('creation', () => {
  it('is version 2 of the persisted shape', () => {
    expect(TRACEBACK_MACHINE_VERSION).toBe(2);
  });

  it('asks hop 1 of the terminating provider through its provider actor, with the estimated deadline', () => {
    const input = makeInput();
    const h = start(input);
    const id = input.tracebackId;
    expect(h.take()).toEqual<TracebackCommand[]>([
      {
        type: 'cmd.audit',
        record: { tracebackId: id, seq: 2, at: T0, type: 'asked', state: 'asking', hopId: hopIdOf(id, 1), provider: p(0) },
      },
      {
        type: 'cmd.askProvider',
        provider: p(0),
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
    ]);
  });

  it('hop ids are <tracebackId>-h<n>, the query is addressed to the provider asked and has no downstream at hop 1', () => {
    const input = makeInput();
    const h = start(input);
    const [ask] = ofType(h.commands, 'cmd.askProvider');
    expect(ask?.query.hopId).toBe(`${input.tracebackId}-h1`);
    expect(ask?.provider).toBe(ask?.query.provider);
    expect(ask?.query).not.toHaveProperty('downstream');
  });

  it('starts in asking with the default policy and one open hop, and keeps no timer of its own', () => {
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
          remindedAt: [],
          status: 'open',
        },
      ],
      eventSeq: 2,
    });
    expect(hopOf(snapshot.context, 1)).not.toHaveProperty('remindersDue');
    expect(DEFAULT_HOP_POLICY).toEqual({ deadlineMs: DAY, reminderFractions: [0.5], maxHops: 15 });
    expect(typesOf(h.commands).every((t) => V2_COMMANDS.has(t.split(':')[0] as string))).toBe(true);
  });

  it('applies a custom policy (the deadline is an estimate for the query) and merges a partial one with the defaults', () => {
    const h = start(makeInput({ policy: { deadlineMs: 4 * HOUR, reminderFractions: [0.25, 0.5, 0.75] } }));
    expect(h.context().policy).toEqual({ deadlineMs: 4 * HOUR, reminderFractions: [0.25, 0.5, 0.75], maxHops: 15 });
    expect(hopOf(h.context(), 1).deadline).toBe(T0 + 4 * HOUR);
    expect(ofType(h.commands, 'cmd.askProvider')[0]?.query).toMatchObject({ askedAt: T0, deadline: T0 + 4 * HOUR, reminder: 0 });

    const onlyMax = start(makeInput({ policy: { maxHops: 3 } }));
    expect(onlyMax.context().policy).toEqual({ ...DEFAULT_HOP_POLICY, maxHops: 3 });
  });

  it('a policy field explicitly undefined falls back to the default', () => {
    // Partial<HopPolicy> admits `undefined` values (exactOptionalPropertyTypes is off), e.g.
    // `{ deadlineMs: providerPolicy?.deadlineMs }`; they must not wipe the defaults.
    const h = start(makeInput({ policy: { deadlineMs: undefined, reminderFractions: undefined, maxHops: 4 } }));
    expect(h.context().policy).toEqual({ ...DEFAULT_HOP_POLICY, maxHops: 4 });
    expect(hopOf(h.context(), 1).deadline).toBe(T0 + DAY);
    expect(ofType(h.commands, 'cmd.askProvider')[0]?.query.deadline).toBe(T0 + DAY);
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
});

// ====================================================================== hop by hop

describe('hop by hop', () => {
  it('follows five upstream answers, asking each upstream with its downstream, then finds the origin', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    h.take();
    let at = T0;
    for (let n = 1; n <= 5; n++) {
      at += HOUR;
      const cmds = h.send(answerCurrent(h.context(), upstream(p(n), { trunk: `tg-${n}`, ip: `192.0.2.${n}` }), at));
      expect(typesOf(cmds)).toEqual(['cmd.audit:answered', 'cmd.audit:asked', 'cmd.askProvider']);
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
      expect(ofType(cmds, 'cmd.askProvider')).toEqual([
        {
          type: 'cmd.askProvider',
          provider: p(n),
          query: {
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
          },
        },
      ]);
      expect(h.snapshot().value).toBe('asking');
      expect(h.context().hops).toHaveLength(n + 1);
      expect(hopOf(h.context(), n)).toMatchObject({ status: 'answered', answeredAt: at });
      expect(hopOf(h.context(), n + 1)).toMatchObject({ status: 'open', askedAt: at, deadline: at + DAY, remindedAt: [] });
    }

    at += HOUR;
    const end = h.send(answerCurrent(h.context(), originator('Robo Dialer Inc', 'terminated'), at));
    expect(typesOf(end)).toEqual(['cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail', 'cmd.trailEnded']);
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
    expect(ofType(end, 'cmd.trailEnded')).toEqual([{ type: 'cmd.trailEnded', provider: p(5), outcome: 'origin_found', campaign: 'SSA-CalltheSSA' }]);
    expect(ofType(h.commands, 'cmd.cancelHop')).toEqual([]);
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
    const ending = TRAIL_ENDING.has(outcome);
    expect(typesOf(cmds)).toEqual(['cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail', ...(ending ? ['cmd.trailEnded'] : [])]);
    if (ending) {
      expect(cmds.at(-1)).toEqual({ type: 'cmd.trailEnded', provider: p(2), outcome, campaign: CALL.campaign });
    }
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

  it('trailEnded carries no campaign when the call has none', () => {
    const { campaign: _campaign, ...call } = CALL;
    const h = start(makeInput({ call }));
    const cmds = h.send(answerCurrent(h.context(), foreignEntry(), T0 + HOUR));
    expect(ofType(cmds, 'cmd.trailEnded')).toEqual([{ type: 'cmd.trailEnded', provider: p(0), outcome: 'foreign_entry' }]);
    expect(ofType(cmds, 'cmd.trailEnded')[0]).not.toHaveProperty('campaign');
  });

  it('the terminating provider itself may end the traceback at hop 1', () => {
    const h = start();
    h.send(answerCurrent(h.context(), notFound(), T0 + HOUR));
    expect(h.snapshot().value).toBe('not_found');
    const trail = buildTrail(h.context());
    expect(trail.hops).toHaveLength(1);
    expect(trail.hops[0]).not.toHaveProperty('downstream');
    expect(trail.endProvider).toBe(p(0));
    expect(ofType(h.commands, 'cmd.trailEnded')).toEqual([]);
  });

  it('ends with loop when the named upstream is already on the trail', () => {
    const input = makeInput();
    const h = start(input);
    const last = walkUpstream(h, 4); // hops: p0 p1 p2 p3, hop 4 open
    const cmds = h.send(answerCurrent(h.context(), upstream(p(1)), last + HOUR));
    expect(typesOf(cmds)).toEqual(['cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(ofType(cmds, 'cmd.askProvider')).toEqual([]);
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
    expect(typesOf(cmds)).toEqual(['cmd.audit:answered', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(h.snapshot().value).toBe('max_hops');
    expect(h.context().hops).toHaveLength(15);
    expect(ofType(h.commands, 'cmd.askProvider').map((c) => c.query.hop)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(ofType(h.commands, 'cmd.askProvider').map((c) => c.provider)).toEqual(Array.from({ length: 15 }, (_, i) => p(i)));
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

// ====================================================================== results from the provider actor

describe('hop results from the provider actor', () => {
  it('a missed deadline at hop 1 ends noncooperative, with the reminders and deadline the provider actor reports', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    h.take();
    const reminded = [T0 + 12 * HOUR, T0 + Math.round(0.9 * DAY)];
    const end = h.send(missCurrent(h.context(), T0 + DAY, { remindedAt: reminded }));
    expect(typesOf(end)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(audits(end)).toEqual([
      { tracebackId: id, seq: 3, at: T0 + DAY, type: 'missed', state: 'asking', hopId: hopIdOf(id, 1), provider: p(0) },
      {
        tracebackId: id,
        seq: 4,
        at: T0 + DAY,
        type: 'ended',
        state: 'noncooperative',
        outcome: 'noncooperative',
        hopId: hopIdOf(id, 1),
        provider: p(0),
      },
    ]);
    // A noncooperative end is no trail ending at the provider, and nothing is left to cancel.
    expect(ofType(end, 'cmd.trailEnded')).toEqual([]);
    expect(ofType(end, 'cmd.cancelHop')).toEqual([]);
    expect(h.snapshot().value).toBe('noncooperative');
    expect(hopOf(h.context(), 1)).toEqual({
      hop: 1,
      hopId: hopIdOf(id, 1),
      provider: p(0),
      askedAt: T0,
      deadline: T0 + DAY,
      remindedAt: reminded,
      status: 'missed',
    });
    const trail = buildTrail(h.context());
    expect(trail.hops[0]).toMatchObject({ status: 'missed', remindedAt: reminded, deadlineKept: false });
    expect(trail.hops[0]).not.toHaveProperty('answeredAt');
    expect(trail.endProvider).toBe(p(0));
    expect(trail.reason).toBe(`${p(0)} did not answer by the deadline ${new Date(T0 + DAY).toISOString()}`);
  });

  it('a missed hop 3 records the provider actor’s own timing (queued, business-hours deadline) and names its deadline', () => {
    const input = makeInput();
    const h = start(input);
    const askedAt = walkUpstream(h, 3);
    // The provider actor queued the query for 2 h and its business-hours clock started it 3 days later.
    const timing = { askedAt: askedAt + 2 * HOUR, deadline: askedAt + 3 * DAY, remindedAt: [askedAt + 2 * DAY + 12 * HOUR] };
    const cmds = h.send(missCurrent(h.context(), askedAt + 3 * DAY, timing));
    expect(typesOf(cmds)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(currentHop(h.context())).toMatchObject({ hop: 3, status: 'missed', ...timing });
    expect(h.context().reason).toBe(`${p(2)} did not answer by the deadline ${new Date(askedAt + 3 * DAY).toISOString()}`);
    const trail = buildTrail(h.context());
    expect(trail.hops[2]).toMatchObject({ ...timing, status: 'missed', deadlineKept: false });
    expect(trail.endProvider).toBe(p(2));
    expect(trail.endedAt).toBe(askedAt + 3 * DAY);
  });

  it('a miss reported long after the deadline (engine was down) ends at the report time', () => {
    const h = start();
    h.take();
    const late = T0 + 4 * DAY;
    const cmds = h.send(missCurrent(h.context(), late));
    expect(typesOf(cmds)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(audits(cmds).map((a) => a.at)).toEqual([late, late]);
    expect(hopOf(h.context(), 1)).toMatchObject({ status: 'missed', deadline: T0 + DAY, remindedAt: [] });
    expect(h.context().endedAt).toBe(late);
  });

  it('an answer records the provider actor’s timing and its answeredAt; the next hop is asked at the delivery time', () => {
    const input = makeInput();
    const h = start(input);
    // Queued for an hour, reminded once, answered at 14 h, delivered a second later.
    const timing = { askedAt: T0 + HOUR, deadline: T0 + HOUR + DAY, remindedAt: [T0 + 13 * HOUR] };
    const delivered = T0 + 14 * HOUR + 1000;
    const cmds = h.send(answerCurrent(h.context(), upstream(p(1)), delivered, timing, T0 + 14 * HOUR));
    expect(audits(cmds)[0]).toMatchObject({ type: 'answered', at: delivered });
    expect(hopOf(h.context(), 1)).toEqual({
      hop: 1,
      hopId: hopIdOf(input.tracebackId, 1),
      provider: p(0),
      ...timing,
      answeredAt: T0 + 14 * HOUR,
      status: 'answered',
      answer: upstream(p(1)),
    });
    expect(hopOf(h.context(), 2)).toMatchObject({ askedAt: delivered, deadline: delivered + DAY, status: 'open' });
    expect(ofType(cmds, 'cmd.askProvider')[0]?.query).toMatchObject({ hop: 2, askedAt: delivered, deadline: delivered + DAY });
  });

  it('an answer after reminders keeps the reminders on the trail', () => {
    const h = start();
    h.send(answerCurrent(h.context(), originator(), T0 + 20 * HOUR, { remindedAt: [T0 + 12 * HOUR] }));
    const trail = buildTrail(h.context());
    expect(trail.hops[0]).toMatchObject({ status: 'answered', remindedAt: [T0 + 12 * HOUR], answeredAt: T0 + 20 * HOUR, deadlineKept: true });
  });

  it('a late answer that beat the provider’s deadline timer is accepted, with deadlineKept false', () => {
    const h = start();
    const ctx = h.context();
    const hop = currentHop(ctx);
    expect(checkAnswer(ctx, { hopId: hop.hopId, provider: hop.provider, answer: notFound() })).toEqual({ kind: 'accept' });
    h.send(answerCurrent(ctx, notFound(), T0 + DAY + HOUR));
    expect(h.snapshot().value).toBe('not_found');
    expect(buildTrail(h.context()).hops[0]).toMatchObject({ status: 'answered', deadlineKept: false, answeredAt: T0 + DAY + HOUR });
  });

  it('ignores results for an earlier, closed hop: a duplicate answer, a different answer, a miss crossing the answer', () => {
    const input = makeInput();
    const h = start(input);
    walkUpstream(h, 2); // hop 1 answered at T0 + 1 h, hop 2 open
    const hop1 = hopIdOf(input.tracebackId, 1);
    expectIgnored(
      h,
      answerEvent(hop1, upstream(p(1)), T0 + 2 * HOUR),
      answerEvent(hop1, originator(), T0 + 2 * HOUR),
      missEvent(hop1, T0 + DAY),
      missEvent(hop1, T0 + 5 * DAY),
    );
    expect(h.snapshot().value).toBe('asking');
    expect(currentHop(h.context()).hop).toBe(2);
    // Hop 2's own result still works.
    expect(typesOf(h.send(missCurrent(h.context())))).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(h.context().hops.map((x) => x.status)).toEqual(['answered', 'missed']);
  });

  it('ignores results for a hop never asked, for another traceback, or with a garbage hop id', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    for (const hopId of [hopIdOf(id, 2), hopIdOf(id, 15), hopIdOf(OTHER_TB, 1), 'garbage', '', id, `${id}-h01`]) {
      expectIgnored(h, answerEvent(hopId, originator(), T0 + HOUR), missEvent(hopId, T0 + 2 * DAY));
    }
    expect(h.snapshot().value).toBe('asking');
  });
});

// ====================================================================== cancel

describe('cancel', () => {
  it('cancels mid-hop: the open hop is cancelled at its provider actor, the trail published', () => {
    const input = makeInput();
    const id = input.tracebackId;
    const h = start(input);
    walkUpstream(h, 2);
    const at = T0 + 14 * HOUR;
    const cmds = h.send(cancel(at, 'sent in error', 'ops-jane'));
    expect(cmds).toEqual<TracebackCommand[]>([
      { type: 'cmd.cancelHop', provider: p(1), hopId: hopIdOf(id, 2) },
      {
        type: 'cmd.audit',
        record: {
          tracebackId: id,
          seq: 5,
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
    expect(hopOf(h.context(), 2)).toMatchObject({ status: 'cancelled', askedAt: T0 + HOUR, deadline: T0 + HOUR + DAY });
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
    const input = makeInput();
    const h = start(input);
    const cmds = h.send(cancel(T0 + 1));
    expect(typesOf(cmds)).toEqual(['cmd.cancelHop', 'cmd.audit:cancelled', 'cmd.publishTrail']);
    expect(cmds[0]).toEqual({ type: 'cmd.cancelHop', provider: p(0), hopId: hopIdOf(input.tracebackId, 1) });
    expect(hopOf(h.context(), 1).status).toBe('cancelled');
  });

  it('the provider’s result for the cancelled hop, arriving after the cancel, is ignored', () => {
    const h = start();
    const hop = currentHop(h.context());
    h.send(cancel(T0 + HOUR));
    expectIgnored(
      h,
      answerEvent(hop.hopId, originator(), T0 + 2 * HOUR),
      missEvent(hop.hopId, T0 + DAY),
      cancel(T0 + 3 * HOUR),
    );
    expect(ofType(h.commands, 'cmd.cancelHop')).toHaveLength(1);
  });
});

// ====================================================================== scripts for every outcome

function script(name: string, input: Script['input'], steps: Script['steps']): Script {
  return { name, input, steps };
}

type Step = Script['steps'][number];
const toCurrent =
  (answer: Parameters<typeof answerCurrent>[1], at: number, timing: Parameters<typeof answerCurrent>[3] = {}): Step =>
  (c) =>
    answerCurrent(c, answer, at, timing);
/** Stale results (an earlier hop's, another traceback's, garbage): the machine must ignore them. */
const staleMiss: Step = (c) => missEvent(hopOf(c, 1).hopId, hopOf(c, 1).deadline);
const foreignResult =
  (at: number): Step =>
  () =>
    answerEvent(hopIdOf(OTHER_TB, 1), originator(), at);
const futureResult =
  (at: number): Step =>
  (c) =>
    answerEvent(hopIdOf(c.tracebackId, c.hops.length + 1), originator(), at);

/** One script per outcome, each with provider timing, stale and foreign results along the way. */
function scripts(): Script[] {
  const up = (n: number) => toCurrent(upstream(p(n)), T0 + n * HOUR);
  return [
    script('origin_found after 6 hops', makeInput(), [
      up(1),
      up(2),
      // Hop 3 (asked at 2 h) was queued an hour by its provider actor and reminded at 15 h.
      (c) => answerCurrent(c, upstream(p(3)), T0 + 16 * HOUR, { askedAt: T0 + 3 * HOUR, deadline: T0 + 3 * HOUR + DAY, remindedAt: [T0 + 15 * HOUR] }),
      foreignResult(T0 + 16.5 * HOUR),
      staleMiss, // hop 1's provider reports a miss for a hop it had answered
      toCurrent(upstream(p(4)), T0 + 25 * HOUR),
      futureResult(T0 + 25.5 * HOUR),
      toCurrent(upstream(p(5)), T0 + 26 * HOUR),
      toCurrent(originator(), T0 + 27 * HOUR),
    ]),
    script('foreign_entry', makeInput(), [up(1), up(2), toCurrent(foreignEntry(), T0 + 3 * HOUR)]),
    script('not_found', makeInput(), [up(1), toCurrent(notFound(), T0 + 2 * HOUR)]),
    script('disputed', makeInput(), [up(1), up(2), up(3), toCurrent(dispute(), T0 + 4 * HOUR)]),
    script('loop', makeInput(), [up(1), up(2), toCurrent(upstream(p(0)), T0 + 3 * HOUR)]),
    script('max_hops (3)', makeInput({ policy: { maxHops: 3 } }), [up(1), up(2), toCurrent(upstream(p(3)), T0 + 3 * HOUR)]),
    script('max_hops (15)', makeInput(), [...Array.from({ length: 14 }, (_, i) => up(i + 1)), toCurrent(upstream(p(15)), T0 + 15 * HOUR)]),
    script('noncooperative with two reminders', makeInput(), [
      up(1),
      foreignResult(T0 + 23 * HOUR),
      staleMiss,
      (c) => missCurrent(c, undefined, { remindedAt: [T0 + HOUR + 12 * HOUR, T0 + HOUR + Math.round(0.9 * DAY)] }),
    ]),
    script('noncooperative after downtime', makeInput(), [up(1), (c) => missCurrent(c, currentHop(c).deadline + 3 * DAY)]),
    script('cancelled', makeInput(), [up(1), staleMiss, () => cancel(T0 + 20 * HOUR)]),
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

  it.each(scripts().map((s) => [s.name, s] as const))(
    '%s: exactly one end audit and one publishTrail, then trailEnded only at an origin or point of entry',
    (name, s) => {
      const { commands, context, status, value } = runScript(s);
      const outcome = endOutcome[name] as Outcome;
      expect(status).toBe('done');
      expect(value).toBe(outcome);
      expect(context.outcome).toBe(outcome);
      expect(typesOf(commands).every((t) => V2_COMMANDS.has(t.split(':')[0] as string))).toBe(true);
      expect(ofType(commands, 'cmd.publishTrail')).toHaveLength(1);
      const last = context.hops.at(-1);
      if (TRAIL_ENDING.has(outcome)) {
        expect(commands.slice(-2)).toEqual([
          { type: 'cmd.publishTrail' },
          { type: 'cmd.trailEnded', provider: last?.provider, outcome, campaign: CALL.campaign },
        ]);
      } else {
        expect(commands.at(-1)).toEqual({ type: 'cmd.publishTrail' });
        expect(ofType(commands, 'cmd.trailEnded')).toEqual([]);
      }
      const ends = audits(commands).filter((a) => a.type === 'ended' || a.type === 'cancelled');
      expect(ends).toHaveLength(1);
      expect(ends[0]).toEqual(audits(commands).at(-1));
      expect(ends[0]?.type).toBe(outcome === 'cancelled' ? 'cancelled' : 'ended');
      expect(ends[0]).toMatchObject({ state: outcome, outcome, at: context.endedAt });
      // No hop is left open: every hop asked was answered, missed, or cancelled at its provider actor.
      expect(context.hops.filter((x) => x.status === 'open')).toEqual([]);
      expect(ofType(commands, 'cmd.askProvider').map((c) => c.query.hopId)).toEqual(context.hops.map((x) => x.hopId));
      expect(ofType(commands, 'cmd.cancelHop')).toEqual(
        outcome === 'cancelled' ? [{ type: 'cmd.cancelHop', provider: last?.provider, hopId: last?.hopId }] : [],
      );
      expect(buildTrail(context).outcome).toBe(outcome);
    },
  );

  it.each(scripts().map((s) => [s.name, s] as const))('%s: events after the end do nothing', (_name, s) => {
    let h = start(s.input);
    for (const step of s.steps) h.send(step(h.context()));
    expect(h.snapshot().status).toBe('done');
    const ctx = h.context();
    const last = currentHop(ctx);
    const after = [
      answerCurrent(ctx, originator(), T0 + 30 * DAY),
      answerCurrent(ctx, last.answer ?? notFound(), T0 + 30 * DAY),
      missCurrent(ctx, T0 + 30 * DAY),
      missCurrent(ctx),
      answerEvent(hopIdOf(ctx.tracebackId, ctx.hops.length + 1), notFound(), T0 + 30 * DAY),
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
    // One 'asked' audit and one ask of a provider actor per hop.
    expect(audits(commands).filter((a) => a.type === 'asked')).toHaveLength(context.hops.length);
    expect(ofType(commands, 'cmd.askProvider')).toHaveLength(context.hops.length);
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

  it('the same answer again for an answered hop is a duplicate, and the machine ignores its result', () => {
    const { h, id } = twoHops();
    const again = { hopId: hopIdOf(id, 1), provider: p(0), answer: upstream(p(1), { trunk: 'tg-7' }) };
    expect(checkAnswer(h.context(), again)).toEqual({ kind: 'duplicate' });
    // Key order does not matter.
    expect(checkAnswer(h.context(), { ...again, answer: { trunk: 'tg-7', provider: p(1), type: 'upstream' } })).toEqual({ kind: 'duplicate' });
    expectIgnored(h, answerEvent(again.hopId, again.answer, T0 + 2 * HOUR));
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
    const hop = currentHop(h.context());
    h.send(answerCurrent(h.context(), originator(), T0 + HOUR));
    expect(h.snapshot().status).toBe('done');
    expect(checkAnswer(h.context(), { hopId: hop.hopId, provider: hop.provider, answer: originator() })).toEqual({ kind: 'duplicate' });
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
    expectIgnored(h, answerEvent(other.hopId, other.answer, T0 + 2 * HOUR));
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
      expectIgnored(h, answerEvent(hopId, originator(), T0 + 2 * HOUR));
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
      expectIgnored(h, answerEvent(hopId, originator(), T0 + 2 * HOUR));
    }
  });

  it('an answer for a missed hop is HOP_CLOSED', () => {
    const input = makeInput();
    const h = start(input);
    h.send(missCurrent(h.context(), T0 + 2 * DAY));
    expect(h.snapshot().value).toBe('noncooperative');
    const late = { hopId: hopIdOf(input.tracebackId, 1), provider: p(0), answer: originator() };
    expect(checkAnswer(h.context(), late)).toEqual({
      kind: 'reject',
      code: ErrorCode.HopClosed,
      message: `hop ${hopIdOf(input.tracebackId, 1)} is missed`,
    });
    expectIgnored(h, answerEvent(late.hopId, late.answer, T0 + 3 * DAY));
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

  it('the machine ignores every result checkAnswer would refuse while asking, then accepts the right one', () => {
    const { h, id } = twoHops();
    expectIgnored(
      h,
      answerEvent(hopIdOf(id, 1), upstream(p(1), { trunk: 'tg-7' }), T0 + 2 * HOUR),
      answerEvent(hopIdOf(id, 1), notFound(), T0 + 2 * HOUR),
      missEvent(hopIdOf(id, 1), T0 + 2 * DAY),
      answerEvent(hopIdOf(id, 3), originator(), T0 + 2 * HOUR),
      answerEvent('garbage', originator(), T0 + 2 * HOUR),
    );
    h.send(answerEvent(hopIdOf(id, 2), originator(), T0 + 3 * HOUR));
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
    expect(run.context).toEqual(baseline.context);
    expect(buildTrail(run.context)).toEqual(buildTrail(baseline.context));
  });

  it('restores a snapshot taken with a hop open and takes its result correctly', () => {
    const h = start();
    walkUpstream(h, 2);
    const r = restore(h.actor);
    expect(r.take()).toEqual([]);
    expect(currentHop(r.context())).toMatchObject({ hop: 2, status: 'open' });
    const cmds = r.send(missCurrent(r.context(), undefined, { remindedAt: [T0 + 13 * HOUR] }));
    expect(typesOf(cmds)).toEqual(['cmd.audit:missed', 'cmd.audit:ended', 'cmd.publishTrail']);
    expect(r.snapshot().value).toBe('noncooperative');
    expect(currentHop(r.context()).remindedAt).toEqual([T0 + 13 * HOUR]);
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
    missed.send(missCurrent(missed.context()));
    expect(buildTrail(missed.context()).hops[0]?.deadlineKept).toBe(false);

    const cancelled = start();
    cancelled.send(cancel(T0 + HOUR));
    expect(buildTrail(cancelled.context()).hops[0]?.deadlineKept).toBe(false);
  });

  it('deadlineKept follows the deadline the provider actor reported, not the traceback’s 24 h estimate', () => {
    // Business hours: the provider's clock started on Monday, so 40 h after the ask is on time.
    const weekend = start();
    weekend.send(answerCurrent(weekend.context(), originator(), T0 + 40 * HOUR, { deadline: T0 + 3 * DAY }));
    expect(buildTrail(weekend.context()).hops[0]).toMatchObject({ deadline: T0 + 3 * DAY, answeredAt: T0 + 40 * HOUR, deadlineKept: true });

    // A provider with a 4 h deadline: 5 h is late although within the estimate.
    const strict = start();
    strict.send(answerCurrent(strict.context(), originator(), T0 + 5 * HOUR, { deadline: T0 + 4 * HOUR }));
    expect(buildTrail(strict.context()).hops[0]).toMatchObject({ deadline: T0 + 4 * HOUR, deadlineKept: false });

    // deadlineKept compares the provider's answeredAt, not the delivery time of the result.
    const slowDelivery = start();
    slowDelivery.send(answerCurrent(slowDelivery.context(), originator(), T0 + DAY + HOUR, {}, T0 + DAY - HOUR));
    expect(buildTrail(slowDelivery.context()).hops[0]).toMatchObject({ answeredAt: T0 + DAY - HOUR, deadlineKept: true });
  });

  it('the trail shows when the provider actor actually sent a queued query', () => {
    const h = start();
    h.send(answerCurrent(h.context(), foreignEntry(), T0 + 30 * HOUR, { askedAt: T0 + 8 * HOUR, deadline: T0 + 32 * HOUR }));
    expect(buildTrail(h.context()).hops[0]).toMatchObject({ askedAt: T0 + 8 * HOUR, deadline: T0 + 32 * HOUR, deadlineKept: true });
  });

  it('mixes kept and broken deadlines along one trail', () => {
    const h = start();
    h.send(answerCurrent(h.context(), upstream(p(1)), T0 + 2 * DAY)); // late but before the provider's timer ran
    h.send(answerCurrent(h.context(), upstream(p(2)), T0 + 2 * DAY + HOUR));
    h.send(missCurrent(h.context(), T0 + 4 * DAY));
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
    h.send(answerCurrent(h.context(), dispute(), T0 + 13 * HOUR, { remindedAt: [T0 + 12 * HOUR] }));
    const ctx = h.context();
    const a = buildTrail(ctx);
    expect(buildTrail(ctx)).toEqual(a);
    expect(buildTrail(JSON.parse(JSON.stringify(ctx)) as TracebackContext)).toEqual(a);
    a.hops[0]?.remindedAt.push(0);
    expect(hopOf(ctx, 1).remindedAt).toEqual([T0 + 12 * HOUR]);
  });
});

describe('provider snapshots and STIR/SHAKEN in the trail', () => {
  const info = (name: string, flags: ProviderInfo['flags'] = []): ProviderInfo => ({ name, frn: '0012345678', ocn: '123A', rmdStatus: 'certified', verified: true, flags });
  const withInfo = (event: TracebackEventIn, providerInfo: ProviderInfo): TracebackEventIn => ({ ...event, providerInfo }) as TracebackEventIn;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const ORIGID = '3f1c2a9e-8b7d-4c6e-9a5f-0e1d2c3b4a59';
  function identity(patch: Record<string, unknown> = {}): string {
    const header = { alg: 'ES256', typ: 'passport', ppt: 'shaken', x5u: 'https://cert.example.org/sti.pem' };
    const claims = { attest: 'A', dest: { tn: [CALL.called.slice(1)] }, iat: Math.floor(CALL.time / 1000) + 1, orig: { tn: CALL.calling.slice(1) }, origid: ORIGID, ...patch };
    return `${b64(header)}.${b64(claims)}.${Buffer.alloc(64, 1).toString('base64url')}`;
  }

  it('stores the snapshot of every answered and missed hop and copies it into the trail hop', () => {
    const flagged = info('Silent Wholesale Inc', [{ name: 'noncooperative', raisedAt: T0 + 3 * HOUR, reason: '3 missed traceback deadlines within 30 days (threshold 3)' }]);
    const h = start();
    h.send(withInfo(answerCurrent(h.context(), upstream(p(1)), T0 + HOUR), info('Terminating Co')));
    h.send(withInfo(missCurrent(h.context()), flagged));
    expect(h.context().hops.map((x) => x.providerInfo)).toEqual([info('Terminating Co'), flagged]);
    const trail = buildTrail(h.context());
    expect(trail.outcome).toBe('noncooperative');
    expect(trail.hops.map((x) => x.providerInfo)).toEqual([info('Terminating Co'), flagged]);
    // The end provider's flags at the time are the last hop's.
    expect(trail.hops.at(-1)?.providerInfo?.flags.map((f) => f.name)).toEqual(['noncooperative']);
    // A copy: changing the trail does not change the actor's context.
    trail.hops[1]!.providerInfo!.flags[0]!.reason = 'changed';
    expect(hopOf(h.context(), 2).providerInfo?.flags[0]?.reason).toBe(flagged.flags[0]!.reason);
  });

  it('a result without a snapshot (an older provider outbox) leaves the field out', () => {
    const h = start();
    h.send(answerCurrent(h.context(), originator(), T0 + HOUR));
    expect(hopOf(h.context(), 1)).not.toHaveProperty('providerInfo');
    expect(buildTrail(h.context()).hops[0]).not.toHaveProperty('providerInfo');
    expect(buildTrail(h.context()).hops[0]).not.toHaveProperty('stirShaken');
  });

  it('a snapshot persisted before these fields existed restores and ends with a trail that has them only where given', () => {
    const h = start();
    h.send(answerCurrent(h.context(), upstream(p(1)), T0 + HOUR));
    const old = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot())) as { context: { hops: Record<string, unknown>[] } };
    for (const hop of old.context.hops) delete hop['providerInfo'];
    const restored = restore(restoreTraceback(old as never));
    restored.send(withInfo(answerCurrent(restored.context(), originator(), T0 + 2 * HOUR), info('Origin VoIP')));
    const trail = buildTrail(restored.context());
    expect(trail.outcome).toBe('origin_found');
    expect(trail.hops[0]).not.toHaveProperty('providerInfo');
    expect(trail.hops[1]?.providerInfo).toEqual(info('Origin VoIP'));
  });

  it('puts the declared STIR/SHAKEN data, the PASSporT claims and the checks against the call on the hop', () => {
    const h = start();
    const signedBy = { attestation: 'A' as const, origId: ORIGID, identity: identity() };
    h.send(answerCurrent(h.context(), upstream(p(1), { stirShaken: { attestation: 'A', origId: ORIGID } }), T0 + HOUR));
    h.send(answerCurrent(h.context(), { ...(originator() as OriginatorAnswer), stirShaken: signedBy }, T0 + 2 * HOUR));
    const [first, second] = buildTrail(h.context()).hops;
    expect(first?.stirShaken).toEqual({ attestation: 'A', origId: ORIGID, findings: [] });
    expect(second?.stirShaken).toMatchObject({
      attestation: 'A',
      origId: ORIGID,
      passport: { alg: 'ES256', x5u: 'https://cert.example.org/sti.pem', attest: 'A', origid: ORIGID, origTn: CALL.calling.slice(1), destTn: [CALL.called.slice(1)], signatureVerified: false },
    });
    expect(second?.stirShaken?.findings.map((f) => [f.check, f.ok])).toEqual([
      ['attest', true],
      ['origid', true],
      ['orig_tn', true],
      ['dest_tn', true],
      ['iat', true],
    ]);
    // The answer is kept verbatim, Identity header included; the trail does not repeat the header.
    expect(second?.answer).toEqual({ ...(originator() as OriginatorAnswer), stirShaken: signedBy });
    expect(second?.stirShaken).not.toHaveProperty('identity');
  });

  it('flags a PASSporT that does not fit the call: another caller ID, signed long before the call, attested B', () => {
    const h = start();
    const stirShaken = { attestation: 'A' as const, origId: ORIGID, identity: identity({ attest: 'B', orig: { tn: '12025550199' }, iat: Math.floor(CALL.time / 1000) - 3600 }) };
    h.send(answerCurrent(h.context(), { ...(foreignEntry() as ForeignEntryAnswer), stirShaken }, T0 + HOUR));
    const findings = buildTrail(h.context()).hops[0]?.stirShaken?.findings ?? [];
    expect(findings.filter((f) => !f.ok).map((f) => f.check)).toEqual(['attest', 'orig_tn', 'iat']);
  });
});
