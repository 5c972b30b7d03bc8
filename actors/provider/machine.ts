import { createActor, enqueueActions, setup, type Actor, type Snapshot } from 'xstate';
import { DEFAULT_FLAG_THRESHOLDS, DEFAULT_PROVIDER_POLICY } from './policy.js';
import { reduceProvider } from './reduce.js';
import type { ProviderCommand, ProviderContext, ProviderEventIn, ProviderInput } from './types.js';

function initialContext(input: ProviderInput): ProviderContext {
  return {
    id: input.id,
    directory: { rmdStatus: 'unknown', roles: [], verified: false, ...input.directory, id: input.id },
    // Copies: the context must not share objects with the caller or the defaults.
    policy: structuredClone(input.policy ?? DEFAULT_PROVIDER_POLICY),
    thresholds: structuredClone(input.thresholds ?? DEFAULT_FLAG_THRESHOLDS),
    open: {},
    queue: [],
    stats: { asked: 0, answered: 0, late: 0, missed: 0, notFound: 0, answerMs: [] },
    strikes: { noncooperative: [], high_risk_origin: [], high_risk_entry: [], insufficient_records: [] },
    clearedUntil: {},
    flags: {},
    clearedFlags: [],
    recent: {},
    eventSeq: 0,
  };
}

/**
 * One actor per carrier: sends it hop queries under its in-flight limit, keeps its
 * deadline clock (24 h or business hours) and reminders, hands each hop's result back to
 * the traceback, and turns missed deadlines, not-found answers and trails that end at it
 * into strikes and flags. No I/O, no clock: the logic is `reduceProvider`.
 */
export const providerMachine = setup({
  types: {
    context: {} as ProviderContext,
    events: {} as ProviderEventIn,
    input: {} as ProviderInput,
    emitted: {} as ProviderCommand,
  },
  actions: {
    reduce: enqueueActions(({ context, event, enqueue }) => {
      const { context: next, commands } = reduceProvider(context, event);
      if (commands.length === 0) return;
      enqueue.assign(() => next);
      for (const command of commands) enqueue.emit(command);
    }),
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => initialContext(input),
  initial: 'active',
  states: {
    active: {
      on: {
        ASK: { actions: 'reduce' },
        ANSWER: { actions: 'reduce' },
        TIMER_FIRED: { actions: 'reduce' },
        CANCEL_HOP: { actions: 'reduce' },
        TRAIL_ENDED: { actions: 'reduce' },
        CLEAR_FLAG: { actions: 'reduce' },
        UPDATE_DIRECTORY: { actions: 'reduce' },
        UPDATE_POLICY: { actions: 'reduce' },
      },
    },
  },
});

export type ProviderActor = Actor<typeof providerMachine>;

export function createProvider(input: ProviderInput): ProviderActor {
  return createActor(providerMachine, { input });
}

export function restoreProvider(snapshot: Snapshot<unknown>): ProviderActor {
  return createActor(providerMachine, { snapshot, input: undefined as unknown as ProviderInput } as never);
}
