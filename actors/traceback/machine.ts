import { and, enqueueActions, setup } from 'xstate';
import {
  PROTOCOL_VERSION,
  hopIdOf,
  type Answer,
  type AnswerType,
  type HopQuery,
  type Outcome,
  type ProviderId,
} from '../../protocol/index.js';
import { checkAnswer } from './answers.js';
import {
  DEFAULT_HOP_POLICY,
  type AuditRecord,
  type HopPolicy,
  type HopRecord,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
  type TracebackInput,
} from './types.js';

/** Name of the single durable timer that carries hop n's reminders and then its deadline. */
export function hopTimerName(hop: number): string {
  return `hop${hop}`;
}

function currentHop(context: TracebackContext): HopRecord {
  const hop = context.hops[context.hops.length - 1];
  if (hop === undefined) throw new Error(`traceback ${context.tracebackId} has no hop`);
  return hop;
}

function newHop(context: TracebackContext, provider: ProviderId, downstream: ProviderId | undefined, at: number): HopRecord {
  const hop = context.hops.length + 1;
  const { deadlineMs, reminderFractions } = context.policy;
  const record: HopRecord = {
    hop,
    hopId: hopIdOf(context.tracebackId, hop),
    provider,
    askedAt: at,
    deadline: at + deadlineMs,
    // Ascending and strictly inside (askedAt, deadline): the timer always carries the
    // earliest pending reminder, and a fraction >= 1 must not push the deadline back.
    remindersDue: reminderFractions
      .map((f) => at + Math.round(deadlineMs * f))
      .filter((due) => due > at && due < at + deadlineMs)
      .sort((a, b) => a - b),
    remindedAt: [],
    status: 'open',
  };
  if (downstream !== undefined) record.downstream = downstream;
  return record;
}

/** The defaults overridden by the fields of `partial` that are set; `undefined` keeps the default. */
function resolvePolicy(partial: Partial<HopPolicy> | undefined): HopPolicy {
  const policy: HopPolicy = { ...DEFAULT_HOP_POLICY, reminderFractions: [...DEFAULT_HOP_POLICY.reminderFractions] };
  if (partial?.deadlineMs !== undefined) policy.deadlineMs = partial.deadlineMs;
  if (partial?.reminderFractions !== undefined) policy.reminderFractions = [...partial.reminderFractions];
  if (partial?.maxHops !== undefined) policy.maxHops = partial.maxHops;
  return policy;
}

function hopQuery(context: TracebackContext, hop: HopRecord, reminder: number): HopQuery {
  const query: HopQuery = {
    v: PROTOCOL_VERSION,
    kind: 'hop_query',
    tracebackId: context.tracebackId,
    hopId: hop.hopId,
    hop: hop.hop,
    provider: hop.provider,
    call: context.call,
    askedAt: hop.askedAt,
    deadline: hop.deadline,
    reminder,
  };
  if (hop.downstream !== undefined) query.downstream = hop.downstream;
  return query;
}

function nextDue(hop: HopRecord): number {
  return hop.remindersDue[0] ?? hop.deadline;
}

function withCurrentHop(context: TracebackContext, patch: Partial<HopRecord>): HopRecord[] {
  const hops = context.hops.slice();
  hops[hops.length - 1] = { ...currentHop(context), ...patch };
  return hops;
}

function reasonFor(outcome: Outcome, context: TracebackContext, event: TracebackEventIn): string {
  const hop = currentHop(context);
  const answer = hop.answer;
  switch (outcome) {
    case 'origin_found':
      return answer?.type === 'originator'
        ? `${hop.provider} named its customer "${answer.customer.name}" as the caller (action: ${answer.action})`
        : `${hop.provider} originated the call`;
    case 'foreign_entry':
      return answer?.type === 'foreign_entry'
        ? `${hop.provider} is the US point of entry; the call came from ${answer.carrier} (${answer.country})`
        : `${hop.provider} is the US point of entry`;
    case 'not_found':
      return `${hop.provider} has no record of the call${answer?.type === 'not_found' ? `: ${answer.reason}` : ''}`;
    case 'disputed':
      return `${hop.provider} disputes the traceback${answer?.type === 'dispute' ? `: ${answer.reason}` : ''}`;
    case 'noncooperative':
      return `${hop.provider} did not answer by the deadline ${new Date(hop.deadline).toISOString()}`;
    case 'loop': {
      const upstream = answer?.type === 'upstream' ? answer.provider : '?';
      const earlier = context.hops.find((h) => h.provider === upstream);
      return `${hop.provider} named ${upstream} as upstream, already on the trail at hop ${earlier?.hop ?? '?'}`;
    }
    case 'max_hops':
      return `${hop.provider} named ${answer?.type === 'upstream' ? answer.provider : '?'} as upstream, beyond the limit of ${context.policy.maxHops} hops`;
    case 'cancelled':
      return event.type === 'CANCEL' ? `cancelled by ${event.by}: ${event.reason}` : 'cancelled';
    default:
      return outcome satisfies never;
  }
}

/**
 * The traceback: asks one provider at a time "who sent you this call?" until an
 * outcome. It performs no I/O and reads no clock: every event carries the host's time,
 * and every effect leaves as an emitted `TracebackCommand` that the host persists with
 * the snapshot before carrying it out. Deadlines are durable timers owned by the host,
 * never `after` delays, which XState does not restore from a persisted snapshot.
 */
export const tracebackMachine = setup({
  types: {
    context: {} as TracebackContext,
    events: {} as TracebackEventIn,
    input: {} as TracebackInput,
    emitted: {} as TracebackCommand,
  },
  guards: {
    acceptable: ({ context, event }) => event.type === 'ANSWER' && checkAnswer(context, event).kind === 'accept',
    answerIs: ({ event }, params: { type: AnswerType }) => event.type === 'ANSWER' && event.answer.type === params.type,
    upstreamLoops: ({ context, event }) =>
      event.type === 'ANSWER' &&
      event.answer.type === 'upstream' &&
      context.hops.some((h) => h.provider === (event.answer as Extract<Answer, { type: 'upstream' }>).provider),
    upstreamBeyondMaxHops: ({ context, event }) =>
      event.type === 'ANSWER' && event.answer.type === 'upstream' && context.hops.length >= context.policy.maxHops,
    deadlinePassed: ({ context, event }) => {
      if (event.type !== 'TIMER_FIRED') return false;
      const hop = currentHop(context);
      return event.timer === hopTimerName(hop.hop) && hop.status === 'open' && event.at >= hop.deadline;
    },
    reminderDue: ({ context, event }) => {
      if (event.type !== 'TIMER_FIRED') return false;
      const hop = currentHop(context);
      const due = hop.remindersDue[0];
      return event.timer === hopTimerName(hop.hop) && hop.status === 'open' && due !== undefined && event.at >= due;
    },
  },
  actions: {
    askCurrentHop: enqueueActions(({ context, enqueue }) => {
      const hop = currentHop(context);
      const seq = context.eventSeq + 1;
      enqueue.assign({ eventSeq: seq });
      enqueue.emit({
        type: 'cmd.audit',
        record: { tracebackId: context.tracebackId, seq, at: hop.askedAt, type: 'asked', state: 'asking', hopId: hop.hopId, provider: hop.provider },
      });
      enqueue.emit({ type: 'cmd.hopQuery', query: hopQuery(context, hop, 0) });
      enqueue.emit({ type: 'cmd.scheduleTimer', timer: hopTimerName(hop.hop), dueAt: nextDue(hop) });
    }),
    recordAnswer: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ANSWER') return;
      const hop = currentHop(context);
      const seq = context.eventSeq + 1;
      enqueue.assign({
        eventSeq: seq,
        hops: withCurrentHop(context, { status: 'answered', answeredAt: event.at, answer: event.answer, remindersDue: [] }),
      });
      enqueue.emit({ type: 'cmd.cancelTimer', timer: hopTimerName(hop.hop) });
      enqueue.emit({
        type: 'cmd.audit',
        record: {
          tracebackId: context.tracebackId,
          seq,
          at: event.at,
          type: 'answered',
          state: 'asking',
          hopId: hop.hopId,
          provider: hop.provider,
          answer: event.answer,
        },
      });
    }),
    addNextHop: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ANSWER' || event.answer.type !== 'upstream') return;
      enqueue.assign({ hops: [...context.hops, newHop(context, event.answer.provider, currentHop(context).provider, event.at)] });
    }),
    sendReminder: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'TIMER_FIRED') return;
      const hop = currentHop(context);
      // Reminders that fell due while the host was down collapse into one.
      const remindersDue = hop.remindersDue.filter((due) => due > event.at);
      const remindedAt = [...hop.remindedAt, event.at];
      const updated: HopRecord = { ...hop, remindersDue, remindedAt };
      const seq = context.eventSeq + 1;
      enqueue.assign({ eventSeq: seq, hops: withCurrentHop(context, { remindersDue, remindedAt }) });
      enqueue.emit({ type: 'cmd.hopQuery', query: hopQuery(context, updated, remindedAt.length) });
      enqueue.emit({ type: 'cmd.scheduleTimer', timer: hopTimerName(hop.hop), dueAt: nextDue(updated) });
      enqueue.emit({
        type: 'cmd.audit',
        record: { tracebackId: context.tracebackId, seq, at: event.at, type: 'reminded', state: 'asking', hopId: hop.hopId, provider: hop.provider },
      });
    }),
    markMissed: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'TIMER_FIRED') return;
      const hop = currentHop(context);
      const seq = context.eventSeq + 1;
      enqueue.assign({ eventSeq: seq, hops: withCurrentHop(context, { status: 'missed', remindersDue: [] }) });
      enqueue.emit({
        type: 'cmd.audit',
        record: { tracebackId: context.tracebackId, seq, at: event.at, type: 'missed', state: 'asking', hopId: hop.hopId, provider: hop.provider },
      });
    }),
    markCancelled: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CANCEL') return;
      const hop = currentHop(context);
      if (hop.status === 'open') {
        enqueue.assign({ hops: withCurrentHop(context, { status: 'cancelled', remindersDue: [] }) });
        enqueue.emit({ type: 'cmd.cancelTimer', timer: hopTimerName(hop.hop) });
      }
    }),
    finish: enqueueActions(({ context, event, enqueue }, params: { outcome: Outcome }) => {
      const seq = context.eventSeq + 1;
      const reason = reasonFor(params.outcome, context, event);
      const record: AuditRecord = {
        tracebackId: context.tracebackId,
        seq,
        at: event.at,
        type: params.outcome === 'cancelled' ? 'cancelled' : 'ended',
        state: params.outcome,
        outcome: params.outcome,
        hopId: currentHop(context).hopId,
        provider: currentHop(context).provider,
      };
      enqueue.assign({ eventSeq: seq, outcome: params.outcome, reason, endedAt: event.at });
      enqueue.emit({ type: 'cmd.audit', record });
      enqueue.emit({ type: 'cmd.publishTrail' });
    }),
  },
}).createMachine({
  id: 'traceback',
  context: ({ input }) => {
    const policy = resolvePolicy(input.policy);
    const context: TracebackContext = {
      tracebackId: input.tracebackId,
      call: input.call,
      terminatingProvider: input.terminatingProvider,
      requester: input.requester,
      policy,
      startedAt: input.now,
      hops: [],
      eventSeq: 1,
    };
    context.hops.push(newHop(context, input.terminatingProvider, undefined, input.now));
    return context;
  },
  initial: 'asking',
  states: {
    asking: {
      entry: 'askCurrentHop',
      on: {
        ANSWER: [
          { guard: and(['acceptable', 'upstreamLoops']), target: 'loop', actions: 'recordAnswer' },
          { guard: and(['acceptable', 'upstreamBeyondMaxHops']), target: 'max_hops', actions: 'recordAnswer' },
          {
            guard: and(['acceptable', { type: 'answerIs', params: { type: 'upstream' as const } }]),
            target: 'asking',
            reenter: true,
            actions: ['recordAnswer', 'addNextHop'],
          },
          { guard: and(['acceptable', { type: 'answerIs', params: { type: 'originator' as const } }]), target: 'origin_found', actions: 'recordAnswer' },
          { guard: and(['acceptable', { type: 'answerIs', params: { type: 'foreign_entry' as const } }]), target: 'foreign_entry', actions: 'recordAnswer' },
          { guard: and(['acceptable', { type: 'answerIs', params: { type: 'not_found' as const } }]), target: 'not_found', actions: 'recordAnswer' },
          { guard: and(['acceptable', { type: 'answerIs', params: { type: 'dispute' as const } }]), target: 'disputed', actions: 'recordAnswer' },
        ],
        TIMER_FIRED: [
          { guard: 'deadlinePassed', target: 'noncooperative', actions: 'markMissed' },
          { guard: 'reminderDue', actions: 'sendReminder' },
        ],
        CANCEL: { target: 'cancelled', actions: 'markCancelled' },
      },
    },
    origin_found: { type: 'final', entry: { type: 'finish', params: { outcome: 'origin_found' } } },
    foreign_entry: { type: 'final', entry: { type: 'finish', params: { outcome: 'foreign_entry' } } },
    not_found: { type: 'final', entry: { type: 'finish', params: { outcome: 'not_found' } } },
    disputed: { type: 'final', entry: { type: 'finish', params: { outcome: 'disputed' } } },
    noncooperative: { type: 'final', entry: { type: 'finish', params: { outcome: 'noncooperative' } } },
    loop: { type: 'final', entry: { type: 'finish', params: { outcome: 'loop' } } },
    max_hops: { type: 'final', entry: { type: 'finish', params: { outcome: 'max_hops' } } },
    cancelled: { type: 'final', entry: { type: 'finish', params: { outcome: 'cancelled' } } },
  },
});

export type TracebackMachine = typeof tracebackMachine;
