import type { NatsConnection } from '@nats-io/transport-node';
import { RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Streams, SubjectWildcards, Subjects, encodeMessage, type Trail, type TracebackEvent } from '../../protocol/index.js';

const NANOS_PER_MS = 1_000_000;

/** `TB_TRAILS` and `TB_EVENTS` with the engine's configuration (engine/src/topology.ts). */
export async function createTrailStreams(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const base = { storage: StorageType.File, num_replicas: 1, duplicate_window: 10 * 60_000 * NANOS_PER_MS, retention: RetentionPolicy.Limits, max_age: 0 };
  await jsm.streams.add({ ...base, name: Streams.trails, subjects: [SubjectWildcards.trails] });
  await jsm.streams.add({ ...base, name: Streams.events, subjects: [SubjectWildcards.events] });
}

/** Publishes a trail as the engine does: its subject, `Nats-Msg-Id: <id>.trail`. Returns the stream sequence. */
export async function publishTrail(nc: NatsConnection, trail: Trail): Promise<number> {
  const subject = Subjects.trail(trail.outcome, trail.call.campaign, trail.endProvider, trail.tracebackId);
  const ack = await jetstream(nc).publish(subject, encodeMessage(trail), { msgID: `${trail.tracebackId}.trail` });
  return ack.seq;
}

/** Publishes audit events as the engine does. */
export async function publishEvents(nc: NatsConnection, events: readonly TracebackEvent[]): Promise<void> {
  const js = jetstream(nc);
  for (const e of events) await js.publish(Subjects.events(e.tracebackId), encodeMessage(e), { msgID: `${e.tracebackId}.e${e.seq}` });
}
