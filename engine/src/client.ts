import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  Streams,
  SubjectWildcards,
  Subjects,
  decodeMap,
  decodeProtocolError,
  decodeStatusReply,
  decodeTracebackCancelled,
  decodeTracebackStarted,
  decodeTrail,
  encodeMessage,
  type CallData,
  type StatusReply,
  type TracebackId,
  type TracebackStarted,
  type Trail,
} from '../../protocol/index.js';

/** Throws the engine's error reply as a `ProtocolError`; otherwise returns the bytes. */
function unwrap(data: Uint8Array): Uint8Array {
  const map = decodeMap(data);
  if (map['kind'] === 'error') {
    const err = decodeProtocolError(data);
    throw new ProtocolError(err.code, err.message, err.path === undefined ? {} : { path: err.path });
  }
  return data;
}

export interface StartRequest {
  call: Omit<CallData, 'calling' | 'called'> & { calling: string; called: string };
  terminatingProvider: string;
  requester: string;
  requestId?: string;
}

/** Operator API: starts a traceback and returns its id once the engine has stored it. */
export async function startTraceback(nc: NatsConnection, request: StartRequest, timeoutMs = 10_000): Promise<TracebackStarted> {
  const reply = await nc.request(Subjects.start, encodeMessage({ v: PROTOCOL_VERSION, kind: 'start_traceback', ...request }), {
    timeout: timeoutMs,
  });
  return decodeTracebackStarted(unwrap(reply.data));
}

export async function cancelTraceback(nc: NatsConnection, tracebackId: TracebackId, reason: string, requester: string): Promise<void> {
  const reply = await nc.request(
    Subjects.cancel,
    encodeMessage({ v: PROTOCOL_VERSION, kind: 'cancel_traceback', tracebackId, reason, requester }),
    { timeout: 10_000 },
  );
  decodeTracebackCancelled(unwrap(reply.data));
}

export async function getStatus(nc: NatsConnection): Promise<StatusReply> {
  const reply = await nc.request(Subjects.status, encodeMessage({ v: PROTOCOL_VERSION, kind: 'status_request' }), { timeout: 10_000 });
  return decodeStatusReply(unwrap(reply.data));
}

export interface WatchOptions {
  /** Subject filter below `tb.trail.`, e.g. `origin_found.>`. @default ">" */
  filter?: string;
  /** Replay trails stored since this time; without it only new trails arrive. */
  since?: Date;
  /** Replay every stored trail. */
  all?: boolean;
}

/** Iterates completed trails (an ordered, ephemeral consumer: nothing to clean up). */
export async function watchTrails(nc: NatsConnection, options: WatchOptions = {}): Promise<AsyncIterable<Trail> & { close(): Promise<void> }> {
  const js = jetstream(nc);
  const filter = options.filter ? `tb.trail.${options.filter}` : SubjectWildcards.trails;
  const deliver =
    options.since !== undefined
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
      : options.all
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.New };
  const consumer = await js.consumers.get(Streams.trails, { filter_subjects: filter, ...deliver });
  const messages: ConsumerMessages = await consumer.consume();
  return {
    async *[Symbol.asyncIterator]() {
      for await (const m of messages) yield decodeTrail(m.data);
    },
    close: async () => {
      await messages.close();
    },
  };
}
