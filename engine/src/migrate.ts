import type { Snapshot } from 'xstate';
import type { ActorRecord } from './record.js';

/**
 * Traceback records of machine version 1 kept per-hop timers and reminder times in the
 * traceback itself; version 2 hands both to the provider actor. The context differs only
 * by `remindersDue` on each hop. Limitation: a hop still open in a v1 record is not asked
 * again through its provider (v1 stores only exist from pre-release builds); its old
 * `hop<n>` timer fires into an event v2 ignores, so such a traceback waits until cancelled.
 */
export function migrateTraceback(record: ActorRecord): Snapshot<unknown> {
  const snapshot = structuredClone(record.snapshot) as Snapshot<unknown> & {
    context: { hops: { remindersDue?: number[] }[] };
  };
  for (const hop of snapshot.context.hops) delete hop.remindersDue;
  return snapshot;
}
