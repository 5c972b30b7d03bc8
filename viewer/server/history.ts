import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { buildTrail, type TracebackContext } from '../../actors/index.js';
import { Streams, Subjects, decodeTracebackEvent, decodeTrail, type Trail } from '../../protocol/index.js';
import type { TimelineEvent } from '../shared/api.js';

/**
 * One traceback's audit history from `TB_EVENTS` (`tb.events.<id>`), in `seq` order, read
 * with an ordered consumer that ends when nothing is pending.
 */
export async function readEvents(js: JetStreamClient, tracebackId: string, timeoutMs = 5_000): Promise<TimelineEvent[]> {
  const consumer = await js.consumers.get(Streams.events, { filter_subjects: Subjects.events(tracebackId), deliver_policy: DeliverPolicy.All });
  const info = await consumer.info(true);
  if (info.num_pending === 0) return [];
  const events: TimelineEvent[] = [];
  const messages = await consumer.consume();
  const timer = setTimeout(() => void messages.close(), timeoutMs);
  try {
    for await (const m of messages) {
      try {
        const e = decodeTracebackEvent(m.data);
        const event: TimelineEvent = { seq: e.seq, at: e.at, type: e.type, state: e.state };
        if (e.hopId !== undefined) event.hopId = e.hopId;
        if (e.provider !== undefined) event.provider = e.provider;
        if (e.outcome !== undefined) event.outcome = e.outcome;
        if (e.answer !== undefined) event.answer = { ...e.answer };
        events.push(event);
      } catch {
        // An unreadable event is left out of the timeline; the audit stream keeps it.
      }
      if (m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close();
  }
  return events.sort((a, b) => a.seq - b.seq);
}

/**
 * The trail the engine published for a finished traceback. Its subject is computed from the
 * stored context the same way the engine computes it, then fetched with a direct get.
 */
export async function readTrail(jsm: JetStreamManager, context: TracebackContext): Promise<{ subject: string; trail: Trail | undefined }> {
  const expected = buildTrail(context);
  const subject = Subjects.trail(expected.outcome, expected.call.campaign, expected.endProvider, expected.tracebackId);
  try {
    const msg = await jsm.streams.getMessage(Streams.trails, { last_by_subj: subject });
    return { subject, trail: msg ? decodeTrail(msg.data) : undefined };
  } catch {
    return { subject, trail: undefined };
  }
}
