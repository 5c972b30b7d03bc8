import { and, enqueueActions, setup } from 'xstate';
import {
  PROTOCOL_VERSION,
  hopIdOf,
  type AnswerType,
  type HopQuery,
  type Outcome,
  type ProviderId,
} from '../../protocol/index.js';
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

function currentHop(context: TracebackContext): HopRecord {
  const hop = context.hops[context.hops.length - 1];
  if (hop === undefined) throw new Error(`traceback ${context.tracebackId} has no hop`);
  return hop;
}

function newHop(context: TracebackContext, provider: ProviderId, downstream: ProviderId | undefined, at: number): HopRecord {
  const hop = context.hops.length + 1;
  const record: HopRecord = {
    hop,
    hopId: hopIdOf(context.tracebackId, hop),
    provider,
    askedAt: at,
    deadline: at + context.policy.deadlineMs,
    remindedAt: [],
    status: 'open',
  };
  if (downstream !== undefined) record.downstream = downstream;
  return record;
}

function resolvePolicy(partial: Partial<HopPolicy> | undefined): HopPolicy {
  const policy: HopPolicy = { ...DEFAULT_HOP_POLICY, reminderFractions: [...DEFAULT_HOP_POLICY.reminderFractions] };
  if (partial?.deadlineMs !== undefined) policy.deadlineMs = partial.deadlineMs;
  if (partial?.reminderFractions !== undefined) policy.reminderFractions = [...partial.reminderFractions];
  if (partial?.maxHops !== undefined) policy.maxHops = partial.maxHops;
  return policy;
}

function hopQuery(context: TracebackContext, hop: HopRecord): HopQuery {
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
    reminder: 0,
  };
  if (hop.downstream !== undefined) query.downstream = hop.downstream;
  return query;
}

function upstreamOf(event: TracebackEventIn): ProviderId | undefined {
  if (event.type !== 'HOP_RESULT' || event.result.kind !== 'answered' || event.result.answer.type !== 'upstream') return undefined;
  return event.result.answer.provider;
}

/** The provider snapshot of a result, as a patch that leaves the field out when there is none. */
function providerOf(event: TracebackEventIn): Pick<HopRecord, 'providerInfo'> {
  return event.type === 'HOP_RESULT' && event.providerInfo !== undefined ? { providerInfo: event.providerInfo } : {};
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
 * the snapshot before carrying it out. Each hop is asked through the provider's actor,
 * which owns the carrier's deadline clock and reminders and reports the hop's result.
 */
export const tracebackMachine = setup({
  types: {
    context: {} as TracebackContext,
    events: {} as TracebackEventIn,
    input: {} as TracebackInput,
    emitted: {} as TracebackCommand,
  },
  guards: {
    /** The result is for the hop being asked and that hop is still open. */
    current: ({ context, event }) => {
      if (event.type !== 'HOP_RESULT') return false;
      const hop = currentHop(context);
      return hop.hopId === event.hopId && hop.status === 'open';
    },
    missed: ({ event }) => event.type === 'HOP_RESULT' && event.result.kind === 'missed',
    answerIs: ({ event }, params: { type: AnswerType }) =>
      event.type === 'HOP_RESULT' && event.result.kind === 'answered' && event.result.answer.type === params.type,
    upstreamLoops: ({ context, event }) => {
      const upstream = upstreamOf(event);
      return upstream !== undefined && context.hops.some((h) => h.provider === upstream);
    },
    upstreamBeyondMaxHops: ({ context, event }) => upstreamOf(event) !== undefined && context.hops.length >= context.policy.maxHops,
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
      enqueue.emit({ type: 'cmd.askProvider', provider: hop.provider, query: hopQuery(context, hop) });
    }),
    recordAnswer: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'HOP_RESULT' || event.result.kind !== 'answered') return;
      const hop = currentHop(context);
      const seq = context.eventSeq + 1;
      const answer = event.result.answer;
      enqueue.assign({
        eventSeq: seq,
        hops: withCurrentHop(context, { ...event.timing, status: 'answered', answeredAt: event.result.answeredAt, answer, ...providerOf(event) }),
      });
      enqueue.emit({
        type: 'cmd.audit',
        record: { tracebackId: context.tracebackId, seq, at: event.at, type: 'answered', state: 'asking', hopId: hop.hopId, provider: hop.provider, answer },
      });
    }),
    addNextHop: enqueueActions(({ context, event, enqueue }) => {
      const upstream = upstreamOf(event);
      if (upstream === undefined) return;
      enqueue.assign({ hops: [...context.hops, newHop(context, upstream, currentHop(context).provider, event.at)] });
    }),
    markMissed: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'HOP_RESULT') return;
      const hop = currentHop(context);
      const seq = context.eventSeq + 1;
      enqueue.assign({ eventSeq: seq, hops: withCurrentHop(context, { ...event.timing, status: 'missed', ...providerOf(event) }) });
      enqueue.emit({
        type: 'cmd.audit',
        record: { tracebackId: context.tracebackId, seq, at: event.at, type: 'missed', state: 'asking', hopId: hop.hopId, provider: hop.provider },
      });
    }),
    markCancelled: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CANCEL') return;
      const hop = currentHop(context);
      if (hop.status === 'open') {
        enqueue.assign({ hops: withCurrentHop(context, { status: 'cancelled' }) });
        enqueue.emit({ type: 'cmd.cancelHop', provider: hop.provider, hopId: hop.hopId });
      }
    }),
    finish: enqueueActions(({ context, event, enqueue }, params: { outcome: Outcome }) => {
      const seq = context.eventSeq + 1;
      const reason = reasonFor(params.outcome, context, event);
      const hop = currentHop(context);
      const record: AuditRecord = {
        tracebackId: context.tracebackId,
        seq,
        at: event.at,
        type: params.outcome === 'cancelled' ? 'cancelled' : 'ended',
        state: params.outcome,
        outcome: params.outcome,
        hopId: hop.hopId,
        provider: hop.provider,
      };
      enqueue.assign({ eventSeq: seq, outcome: params.outcome, reason, endedAt: event.at });
      enqueue.emit({ type: 'cmd.audit', record });
      enqueue.emit({ type: 'cmd.publishTrail' });
      if (params.outcome === 'origin_found' || params.outcome === 'foreign_entry') {
        const ended: TracebackCommand = { type: 'cmd.trailEnded', provider: hop.provider, outcome: params.outcome };
        if (context.call.campaign !== undefined) ended.campaign = context.call.campaign;
        enqueue.emit(ended);
      }
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
        HOP_RESULT: [
          { guard: and(['current', 'missed']), target: 'noncooperative', actions: 'markMissed' },
          { guard: and(['current', 'upstreamLoops']), target: 'loop', actions: 'recordAnswer' },
          { guard: and(['current', 'upstreamBeyondMaxHops']), target: 'max_hops', actions: 'recordAnswer' },
          {
            guard: and(['current', { type: 'answerIs', params: { type: 'upstream' as const } }]),
            target: 'asking',
            reenter: true,
            actions: ['recordAnswer', 'addNextHop'],
          },
          { guard: and(['current', { type: 'answerIs', params: { type: 'originator' as const } }]), target: 'origin_found', actions: 'recordAnswer' },
          { guard: and(['current', { type: 'answerIs', params: { type: 'foreign_entry' as const } }]), target: 'foreign_entry', actions: 'recordAnswer' },
          { guard: and(['current', { type: 'answerIs', params: { type: 'not_found' as const } }]), target: 'not_found', actions: 'recordAnswer' },
          { guard: and(['current', { type: 'answerIs', params: { type: 'dispute' as const } }]), target: 'disputed', actions: 'recordAnswer' },
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
