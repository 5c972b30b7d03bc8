import { PROTOCOL_VERSION, trailStirShaken, type CallData, type ProviderInfo, type Trail, type TrailHop } from '../../protocol/index.js';
import type { HopRecord, TracebackContext } from './types.js';

function copyInfo(info: ProviderInfo): ProviderInfo {
  return { ...info, flags: info.flags.map((f) => ({ ...f })) };
}

function trailHop(h: HopRecord, call: CallData): TrailHop {
  const hop: TrailHop = {
    hop: h.hop,
    hopId: h.hopId,
    provider: h.provider,
    askedAt: h.askedAt,
    deadline: h.deadline,
    remindedAt: [...h.remindedAt],
    status: h.status,
    deadlineKept: h.status === 'answered' && h.answeredAt !== undefined && h.answeredAt <= h.deadline,
  };
  if (h.downstream !== undefined) hop.downstream = h.downstream;
  if (h.answeredAt !== undefined) hop.answeredAt = h.answeredAt;
  if (h.answer !== undefined) hop.answer = h.answer;
  if (h.providerInfo !== undefined) hop.providerInfo = copyInfo(h.providerInfo);
  // Derived from the stored answer and call, so a rebuilt trail carries the same claims and findings.
  if (h.answer !== undefined && h.answer.type !== 'not_found' && h.answer.stirShaken !== undefined) {
    hop.stirShaken = trailStirShaken(h.answer.stirShaken, call);
  }
  return hop;
}

/** Builds the trail of a finished traceback. Deterministic: the same context gives the same trail. */
export function buildTrail(context: TracebackContext): Trail {
  if (context.outcome === undefined || context.endedAt === undefined) {
    throw new Error(`traceback ${context.tracebackId} has not ended`);
  }
  const last = context.hops[context.hops.length - 1];
  if (last === undefined) throw new Error(`traceback ${context.tracebackId} has no hops`);
  const trail: Trail = {
    v: PROTOCOL_VERSION,
    kind: 'trail',
    tracebackId: context.tracebackId,
    call: context.call,
    requester: context.requester,
    terminatingProvider: context.terminatingProvider,
    startedAt: context.startedAt,
    endedAt: context.endedAt,
    outcome: context.outcome,
    reason: context.reason ?? context.outcome,
    hops: context.hops.map((h) => trailHop(h, context.call)),
    endProvider: last.provider,
  };
  if (last.answer?.type === 'originator') {
    trail.origin = { provider: last.provider, customer: last.answer.customer, action: last.answer.action };
  }
  if (last.answer?.type === 'foreign_entry') {
    trail.entry = { provider: last.provider, foreignCarrier: last.answer.carrier, country: last.answer.country };
  }
  return trail;
}
