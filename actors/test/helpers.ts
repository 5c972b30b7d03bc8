/**
 * Test helpers for the traceback machine (v2: hops are asked through provider actors, which
 * report each hop's end as HOP_RESULT): start it with a command recorder, drive it with
 * timestamped events, persist and restore it through a JSON round trip. No NATS, no clock.
 */
import { createActor, type Actor, type SnapshotFrom } from 'xstate';
import {
  newTracebackId,
  type Answer,
  type CallData,
  type E164,
  type HopId,
  type ProviderId,
  type TracebackId,
} from '../../protocol/index.js';
import type { HopResult, HopTiming } from '../provider/index.js';
import {
  tracebackMachine,
  type AuditRecord,
  type HopRecord,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
  type TracebackInput,
} from '../traceback/index.js';

export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;

/** Creation time of every traceback in the tests: 2025-01-15 12:00:00 UTC. */
export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A well-formed traceback id of no traceback in the tests. */
export const OTHER_TB = 'tb-000000000zzzzzzzzzzz' as TracebackId;

export const CALLING = '+12155550121' as E164;
export const CALLED = '+13125550187' as E164;

export const CALL: CallData = {
  calling: CALLING,
  called: CALLED,
  time: T0 - 2 * HOUR,
  campaign: 'SSA-CalltheSSA',
  transcript: 'This is the Social Security Administration. Your number has been suspended.',
};

/** Provider ids in trail order: `P[0]` terminates the call, `P[1]` sent it to `P[0]`, … */
export const P: readonly ProviderId[] = Array.from({ length: 20 }, (_, i) => `tsp-${String(i + 1).padStart(2, '0')}`);

/** `P[i]`, but typed as defined (the list has 20 entries). */
export function p(i: number): ProviderId {
  const provider = P[i];
  if (provider === undefined) throw new Error(`no provider ${i}`);
  return provider;
}

export function makeInput(overrides: Partial<TracebackInput> = {}): TracebackInput {
  const now = overrides.now ?? T0;
  return {
    tracebackId: newTracebackId(now),
    call: CALL,
    terminatingProvider: p(0),
    requester: 'itg-analyst-7',
    now,
    ...overrides,
  };
}

// ---------------------------------------------------------------- answers

export const upstream = (provider: ProviderId, extra: Partial<Extract<Answer, { type: 'upstream' }>> = {}): Answer => ({
  type: 'upstream',
  provider,
  ...extra,
});

export const originator = (name = 'Acme Dialer LLC', action: 'warned' | 'terminated' | 'none' = 'terminated'): Answer => ({
  type: 'originator',
  customer: { name, address: '1 Main St, Wilmington DE', accountSince: '2024-11-02' },
  action,
});

export const foreignEntry = (carrier = 'Globex Telecom', country = 'GB'): Answer => ({
  type: 'foreign_entry',
  carrier,
  country,
});

export const notFound = (reason = 'no CDR matches within 5 s'): Answer => ({ type: 'not_found', reason });

export const dispute = (reason = 'the called party consented'): Answer => ({ type: 'dispute', reason });

// ---------------------------------------------------------------- driving

export type TracebackActor = Actor<typeof tracebackMachine>;
export type TracebackSnapshot = SnapshotFrom<typeof tracebackMachine>;

/** A started actor with everything it emitted, recorded from before `start()`. */
export interface Harness {
  actor: TracebackActor;
  /** Every command emitted since creation (or restore). */
  commands: TracebackCommand[];
  /** Returns the commands emitted since the previous `take()` (or creation) and forgets them. */
  take(): TracebackCommand[];
  send(event: TracebackEventIn): TracebackCommand[];
  context(): TracebackContext;
  snapshot(): TracebackSnapshot;
}

function harness(actor: TracebackActor): Harness {
  const commands: TracebackCommand[] = [];
  let taken = 0;
  // Registered before start: the first hop's commands are emitted while the actor starts.
  actor.on('*', (command) => {
    commands.push(command);
  });
  actor.start();
  const take = (): TracebackCommand[] => {
    const out = commands.slice(taken);
    taken = commands.length;
    return out;
  };
  return {
    actor,
    commands,
    take,
    send(event) {
      take();
      actor.send(event);
      return take();
    },
    context: () => actor.getSnapshot().context,
    snapshot: () => actor.getSnapshot(),
  };
}

export function start(input: TracebackInput = makeInput()): Harness {
  return harness(createActor(tracebackMachine, { input }));
}

/** Persists the actor's snapshot, round-trips it through JSON and starts a new actor from it. */
export function restore(actor: TracebackActor): Harness {
  const persisted: unknown = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
  // XState's types demand `input` for a machine with input even when restoring; the
  // restored actor ignores it (the context comes from the snapshot).
  return harness(createActor(tracebackMachine, { snapshot: persisted as TracebackSnapshot, input: undefined }));
}

export function currentHop(context: TracebackContext): HopRecord {
  const hop = context.hops[context.hops.length - 1];
  if (hop === undefined) throw new Error('no hop');
  return hop;
}

export function hopOf(context: TracebackContext, n: number): HopRecord {
  const hop = context.hops[n - 1];
  if (hop === undefined) throw new Error(`no hop ${n}`);
  return hop;
}

/** How the provider actor timed a hop; defaults to the traceback's own estimate. */
export function timingOf(hop: HopRecord, patch: Partial<HopTiming> = {}): HopTiming {
  return { askedAt: hop.askedAt, deadline: hop.deadline, remindedAt: [...hop.remindedAt], ...patch };
}

/** A HOP_RESULT as the provider actor delivers it. */
export function hopResult(hopId: HopId | string, result: HopResult, timing: HopTiming, at: number): TracebackEventIn {
  return { type: 'HOP_RESULT', hopId: hopId as HopId, result, timing, at };
}

/**
 * The provider asked at the current hop answered at `at` (answeredAt = `at` unless given);
 * the timing defaults to the traceback's estimate, patched by `timing`.
 */
export function answerCurrent(
  context: TracebackContext,
  answer: Answer,
  at: number,
  timing: Partial<HopTiming> = {},
  answeredAt = at,
): TracebackEventIn {
  const hop = currentHop(context);
  return hopResult(hop.hopId, { kind: 'answered', answer, answeredAt }, timingOf(hop, timing), at);
}

/** An answered HOP_RESULT for any hop id (stale, foreign or garbage ones included). */
export function answerEvent(hopId: HopId | string, answer: Answer, at: number, timing?: HopTiming): TracebackEventIn {
  return hopResult(hopId, { kind: 'answered', answer, answeredAt: at }, timing ?? { askedAt: T0, deadline: T0 + DAY, remindedAt: [] }, at);
}

/** The provider asked at the current hop missed its deadline; reported at `at` (default: the deadline). */
export function missCurrent(context: TracebackContext, at?: number, timing: Partial<HopTiming> = {}): TracebackEventIn {
  const hop = currentHop(context);
  const t = timingOf(hop, timing);
  return hopResult(hop.hopId, { kind: 'missed' }, t, at ?? t.deadline);
}

/** A missed HOP_RESULT for any hop id. */
export function missEvent(hopId: HopId | string, at: number, timing?: HopTiming): TracebackEventIn {
  return hopResult(hopId, { kind: 'missed' }, timing ?? { askedAt: T0, deadline: T0 + DAY, remindedAt: [] }, at);
}

export const cancel = (at: number, reason = 'duplicate of an earlier traceback', by = 'ops-jane'): TracebackEventIn => ({
  type: 'CANCEL',
  reason,
  by,
  at,
});

/**
 * Answers `upstream` for hops 1..n-1 one hour apart, leaving hop n open. Returns the time
 * of the last answer.
 */
export function walkUpstream(h: Harness, hops: number, start = T0, step = HOUR): number {
  let at = start;
  for (let i = 1; i < hops; i++) {
    at += step;
    h.send(answerCurrent(h.context(), upstream(p(i)), at));
  }
  return at;
}

// ---------------------------------------------------------------- commands

export function audits(commands: readonly TracebackCommand[]): AuditRecord[] {
  return commands.flatMap((c) => (c.type === 'cmd.audit' ? [c.record] : []));
}

export function ofType<T extends TracebackCommand['type']>(
  commands: readonly TracebackCommand[],
  type: T,
): Extract<TracebackCommand, { type: T }>[] {
  return commands.filter((c): c is Extract<TracebackCommand, { type: T }> => c.type === type);
}

export function typesOf(commands: readonly TracebackCommand[]): string[] {
  return commands.map((c) => (c.type === 'cmd.audit' ? `cmd.audit:${c.record.type}` : c.type));
}

/** A scripted run: the input and the events to send, each computed from the context at that point. */
export interface Script {
  name: string;
  input: TracebackInput;
  steps: ((context: TracebackContext) => TracebackEventIn)[];
}

export interface RunResult {
  commands: TracebackCommand[];
  context: TracebackContext;
  status: TracebackSnapshot['status'];
  value: TracebackSnapshot['value'];
}

/**
 * Runs a script; `restoreBefore` lists the step indexes before which the actor is persisted,
 * JSON round-tripped and replaced by a restored actor. Asserts nothing itself, but throws if a
 * restore emitted anything.
 */
export function runScript(script: Script, restoreBefore: ReadonlySet<number> = new Set()): RunResult {
  let h = start(script.input);
  const commands = [...h.take()];
  script.steps.forEach((step, i) => {
    if (restoreBefore.has(i)) {
      const restored = restore(h.actor);
      h.actor.stop();
      h = restored;
      const emitted = h.take();
      if (emitted.length > 0) throw new Error(`restore before step ${i} emitted ${JSON.stringify(emitted)}`);
    }
    commands.push(...h.send(step(h.context())));
  });
  const snapshot = h.snapshot();
  return { commands, context: snapshot.context, status: snapshot.status, value: snapshot.value };
}
