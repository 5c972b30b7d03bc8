import { isDeepStrictEqual } from 'node:util';
import type { HopId, HopQuery, ProviderInfo } from '../../protocol/index.js';
import { deadlineFor } from './policy.js';
import {
  FLAGS,
  type Evidence,
  type Flag,
  type FlagName,
  type HopResult,
  type OpenHop,
  type ProviderAudit,
  type ProviderCommand,
  type ProviderContext,
  type ProviderEventIn,
} from './types.js';

const RECENT_LIMIT = 1000;
const ANSWER_SAMPLES = 256;
const STRIKES_LIMIT = 500;
const CLEARED_LIMIT = 50;

/** Name of the durable timer that carries one open hop's reminders and then its deadline. */
export function providerTimerName(hopId: string): string {
  return `h.${hopId}`;
}

/** A mutable working copy of the context plus the commands one event produces. */
class Step {
  readonly commands: ProviderCommand[] = [];
  constructor(readonly context: ProviderContext) {}

  audit(record: Omit<ProviderAudit, 'provider' | 'seq'>): void {
    this.context.eventSeq += 1;
    this.commands.push({ type: 'cmd.providerAudit', record: { provider: this.context.id, seq: this.context.eventSeq, ...record } });
  }
}

function clone(context: ProviderContext): ProviderContext {
  return structuredClone(context);
}

function dispatch(step: Step, query: HopQuery, at: number): void {
  const c = step.context;
  const { receivedAt, deadline } = deadlineFor(c.policy.deadline, at);
  const span = deadline - receivedAt;
  // Ascending, so the timer always carries the earliest pending reminder (a policy may list
  // the fractions in any order); strictly between sending and the deadline.
  const remindersDue = c.policy.reminderFractions
    .map((f) => receivedAt + Math.round(span * f))
    .filter((t) => t > at && t < deadline)
    .sort((a, b) => a - b);
  const sent: HopQuery = { ...query, askedAt: at, deadline, reminder: 0 };
  // Reminders repeat the query without the transcript: the carrier has it, and this copy is
  // rewritten with the provider's record on every event.
  const { transcript: _transcript, ...call } = sent.call;
  const open: OpenHop = { hopId: query.hopId, tracebackId: query.tracebackId, query: { ...sent, call }, sentAt: at, receivedAt, deadline, remindersDue, remindedAt: [] };
  c.open[query.hopId] = open;
  step.commands.push({ type: 'cmd.hopQuery', query: sent });
  step.commands.push({ type: 'cmd.scheduleTimer', timer: providerTimerName(query.hopId), dueAt: remindersDue[0] ?? deadline });
  step.audit({ at, type: 'asked', hopId: query.hopId, tracebackId: query.tracebackId });
}

/** Sends queued queries while there is room under the in-flight limit. */
function dispatchQueued(step: Step, at: number): void {
  const c = step.context;
  while (c.queue.length > 0 && Object.keys(c.open).length < c.policy.maxInFlight) {
    const next = c.queue.shift();
    if (next) dispatch(step, next.query, at);
  }
}

function remember(c: ProviderContext, hopId: HopId, closedAt: number): void {
  c.recent[hopId] = closedAt;
  const keys = Object.keys(c.recent);
  for (let i = 0; i < keys.length - RECENT_LIMIT; i++) delete c.recent[keys[i] as string];
}

function strike(c: ProviderContext, flag: FlagName, evidence: Evidence): void {
  const list = c.strikes[flag];
  list.push(evidence);
  if (list.length > STRIKES_LIMIT) list.splice(0, list.length - STRIKES_LIMIT);
}

const FLAG_REASONS: Record<FlagName, string> = {
  noncooperative: 'missed traceback deadlines',
  high_risk_origin: 'trails of illegal calls originated by this provider',
  high_risk_entry: 'trails of illegal calls that entered the US through this provider',
  insufficient_records: 'hop queries answered "no record"',
};

function days(ms: number): string {
  return `${Math.round(ms / 86_400_000)} days`;
}

/** Raises every flag whose threshold is now met; strikes outside every window are dropped. */
function evaluateFlags(step: Step, at: number): void {
  const c = step.context;
  for (const name of FLAGS) {
    const { count, windowMs } = c.thresholds[name];
    const floor = Math.max(at - windowMs, c.clearedUntil[name] ?? -Infinity);
    c.strikes[name] = c.strikes[name].filter((s) => s.at > at - windowMs);
    const counted = c.strikes[name].filter((s) => s.at > floor);
    const current = c.flags[name];
    if (current) {
      // Keep the evidence current while the flag stands; it was published when raised.
      current.evidence = counted.length > 0 ? counted.slice(-50) : current.evidence;
      continue;
    }
    if (counted.length >= count) {
      const flag: Flag = {
        name,
        raisedAt: at,
        reason: `${counted.length} ${FLAG_REASONS[name]} within ${days(windowMs)} (threshold ${count})`,
        evidence: counted.slice(-50),
      };
      c.flags[name] = flag;
      step.commands.push({ type: 'cmd.publishFlag', flag, state: 'raised' });
      step.audit({ at, type: 'flag_raised', flag: name, detail: flag.reason });
    }
  }
}

/**
 * The provider as the directory and its flags describe it now, for the trail. A copy built only
 * from the context, in a fixed order, so the same context always gives the same snapshot.
 */
export function providerInfo(c: ProviderContext): ProviderInfo {
  const d = c.directory;
  const info: ProviderInfo = { verified: d.verified, flags: [] };
  if (d.name !== undefined) info.name = d.name;
  if (d.frn !== undefined) info.frn = d.frn;
  if (d.ocn !== undefined) info.ocn = d.ocn;
  info.rmdStatus = d.rmdStatus;
  for (const name of FLAGS) {
    const flag = c.flags[name];
    if (flag) info.flags.push({ name, raisedAt: flag.raisedAt, reason: flag.reason });
  }
  return info;
}

/** Hands a closed hop's result, with its real timing, back to the traceback. */
function report(step: Step, open: OpenHop, result: HopResult, at: number): void {
  remember(step.context, open.hopId, at);
  step.commands.push({
    type: 'cmd.hopResult',
    tracebackId: open.tracebackId,
    hopId: open.hopId,
    result,
    timing: { askedAt: open.sentAt, deadline: open.deadline, remindedAt: open.remindedAt },
  });
}

function closeHop(step: Step, open: OpenHop): void {
  delete step.context.open[open.hopId];
  step.commands.push({ type: 'cmd.cancelTimer', timer: providerTimerName(open.hopId) });
}

/**
 * The provider's whole behaviour as a pure function: the next context and the commands
 * to carry out. The XState machine applies it; tests can call it directly.
 */
export function reduceProvider(previous: ProviderContext, event: ProviderEventIn): { context: ProviderContext; commands: ProviderCommand[] } {
  const step = new Step(clone(previous));
  const c = step.context;
  switch (event.type) {
    case 'ASK': {
      const hopId = event.query.hopId;
      if (c.open[hopId] || c.recent[hopId] || c.queue.some((q) => q.hopId === hopId)) break; // redelivered
      c.stats.asked += 1;
      if (Object.keys(c.open).length < c.policy.maxInFlight) dispatch(step, event.query, event.at);
      else {
        c.queue.push({ hopId, tracebackId: event.query.tracebackId, query: event.query, requestedAt: event.at });
        step.audit({ at: event.at, type: 'queued', hopId, tracebackId: event.query.tracebackId, detail: `${c.queue.length} waiting` });
      }
      break;
    }
    case 'ANSWER': {
      const open = c.open[event.hopId];
      if (!open) break;
      closeHop(step, open);
      c.stats.answered += 1;
      if (event.at > open.deadline) c.stats.late += 1;
      c.stats.answerMs.push(Math.max(0, event.at - open.receivedAt));
      if (c.stats.answerMs.length > ANSWER_SAMPLES) c.stats.answerMs.splice(0, c.stats.answerMs.length - ANSWER_SAMPLES);
      if (event.answer.type === 'not_found') {
        c.stats.notFound += 1;
        strike(c, 'insufficient_records', { tracebackId: open.tracebackId, hopId: open.hopId, at: event.at });
      }
      report(step, open, { kind: 'answered', answer: event.answer, answeredAt: event.at }, event.at);
      step.audit({ at: event.at, type: 'answered', hopId: open.hopId, tracebackId: open.tracebackId, detail: event.answer.type });
      dispatchQueued(step, event.at);
      break;
    }
    case 'TIMER_FIRED': {
      const hopId = event.timer.startsWith('h.') ? event.timer.slice(2) : '';
      const open = c.open[hopId];
      if (!open) break;
      if (event.at >= open.deadline) {
        closeHop(step, open);
        c.stats.missed += 1;
        strike(c, 'noncooperative', { tracebackId: open.tracebackId, hopId: open.hopId, at: event.at });
        report(step, open, { kind: 'missed' }, event.at);
        step.audit({ at: event.at, type: 'missed', hopId: open.hopId, tracebackId: open.tracebackId });
        dispatchQueued(step, event.at);
      } else if (open.remindersDue[0] !== undefined && event.at >= open.remindersDue[0]) {
        // Reminders that fell due while the engine was down collapse into one.
        open.remindersDue = open.remindersDue.filter((t) => t > event.at);
        open.remindedAt = [...open.remindedAt, event.at];
        step.commands.push({ type: 'cmd.hopQuery', query: { ...open.query, reminder: open.remindedAt.length } });
        step.commands.push({ type: 'cmd.scheduleTimer', timer: providerTimerName(hopId), dueAt: open.remindersDue[0] ?? open.deadline });
        step.audit({ at: event.at, type: 'reminded', hopId: open.hopId, tracebackId: open.tracebackId });
      }
      break;
    }
    case 'CANCEL_HOP': {
      const open = c.open[event.hopId];
      if (open) {
        closeHop(step, open);
        remember(c, open.hopId, event.at);
        step.audit({ at: event.at, type: 'hop_cancelled', hopId: open.hopId, tracebackId: open.tracebackId });
        dispatchQueued(step, event.at);
      } else {
        const queued = c.queue.find((q) => q.hopId === event.hopId);
        if (queued) {
          c.queue = c.queue.filter((q) => q.hopId !== event.hopId);
          // Remembered like a closed hop, so a redelivered ASK cannot queue it again.
          remember(c, queued.hopId, event.at);
          step.audit({ at: event.at, type: 'hop_cancelled', hopId: queued.hopId, tracebackId: queued.tracebackId });
        }
      }
      break;
    }
    case 'TRAIL_ENDED': {
      const flag: FlagName | undefined =
        event.outcome === 'origin_found' ? 'high_risk_origin' : event.outcome === 'foreign_entry' ? 'high_risk_entry' : undefined;
      if (!flag || c.strikes[flag].some((s) => s.tracebackId === event.tracebackId)) break;
      const evidence: Evidence = { tracebackId: event.tracebackId, at: event.at };
      if (event.campaign !== undefined) evidence.campaign = event.campaign;
      strike(c, flag, evidence);
      step.audit({ at: event.at, type: 'strike', flag, tracebackId: event.tracebackId, detail: event.outcome });
      break;
    }
    case 'CLEAR_FLAG': {
      const flag = c.flags[event.flag];
      if (!flag) break;
      delete c.flags[event.flag];
      c.clearedUntil[event.flag] = event.at;
      const cleared = { ...flag, clearedAt: event.at, clearedBy: event.by, clearReason: event.reason };
      c.clearedFlags.push(cleared);
      if (c.clearedFlags.length > CLEARED_LIMIT) c.clearedFlags.splice(0, c.clearedFlags.length - CLEARED_LIMIT);
      step.commands.push({ type: 'cmd.publishFlag', flag, state: 'cleared', cleared });
      step.audit({ at: event.at, type: 'flag_cleared', flag: event.flag, detail: `by ${event.by}: ${event.reason}` });
      break;
    }
    case 'UPDATE_DIRECTORY': {
      const merged = { ...c.directory, ...event.entry, id: c.id };
      if (!isDeepStrictEqual(merged, c.directory)) {
        c.directory = merged;
        step.audit({ at: event.at, type: 'directory_updated' });
      }
      break;
    }
    case 'UPDATE_POLICY': {
      c.policy = { ...c.policy, ...event.policy };
      step.audit({ at: event.at, type: 'policy_updated' });
      dispatchQueued(step, event.at);
      break;
    }
    default:
      return event satisfies never;
  }
  if (step.commands.length > 0) evaluateFlags(step, event.at);
  // After the flags: a trail shows a flag this very hop's strike raised (its raisedAt says so).
  for (const command of step.commands) if (command.type === 'cmd.hopResult') command.providerInfo = providerInfo(c);
  return { context: c, commands: step.commands };
}

/** p-th percentile of a provider's recent answer times, ms; undefined without answers. */
export function answerPercentile(c: ProviderContext, p: number): number | undefined {
  if (c.stats.answerMs.length === 0) return undefined;
  const sorted = [...c.stats.answerMs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
