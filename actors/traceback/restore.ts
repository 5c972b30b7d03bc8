import { createActor, type Actor, type Snapshot } from 'xstate';
import { tracebackMachine } from './machine.js';
import type { TracebackInput } from './types.js';

export type TracebackActor = Actor<typeof tracebackMachine>;

/** A new traceback actor (not started). */
export function createTraceback(input: TracebackInput): TracebackActor {
  return createActor(tracebackMachine, { input });
}

/**
 * Re-creates an actor from `getPersistedSnapshot()` output. Input is only read when a
 * machine starts fresh, so a restored actor needs none; XState's types still ask for it.
 */
export function restoreTraceback(snapshot: Snapshot<unknown>): TracebackActor {
  return createActor(tracebackMachine, { snapshot, input: undefined as unknown as TracebackInput } as never);
}
