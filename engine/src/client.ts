import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { ProviderContext } from '../../actors/index.js';
import { decodeRecord } from './record.js';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  Streams,
  SubjectWildcards,
  Subjects,
  Buckets,
  decodeMap,
  decodeProvidersUpserted,
  decodeProviderFlagCleared,
  type DirectoryProvider,
  type ProviderFlagName,
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

/** Directory import: creates or updates provider actors; returns how many. */
export async function upsertProviders(nc: NatsConnection, providers: DirectoryProvider[], requester: string): Promise<number> {
  let count = 0;
  // Keep each request well under the message size limit.
  for (let i = 0; i < providers.length; i += 200) {
    const reply = await nc.request(
      Subjects.upsertProviders,
      encodeMessage({ v: PROTOCOL_VERSION, kind: 'upsert_providers', providers: providers.slice(i, i + 200), requester }),
      { timeout: 30_000 },
    );
    count += decodeProvidersUpserted(unwrap(reply.data)).count;
  }
  return count;
}

export async function clearProviderFlag(nc: NatsConnection, provider: string, flag: ProviderFlagName, reason: string, requester: string): Promise<void> {
  const reply = await nc.request(
    Subjects.clearFlag,
    encodeMessage({ v: PROTOCOL_VERSION, kind: 'clear_provider_flag', provider, flag, reason, requester }),
    { timeout: 10_000 },
  );
  decodeProviderFlagCleared(unwrap(reply.data));
}

/** Every provider actor's current state, read from the actor bucket (read-only). */
export async function listProviders(nc: NatsConnection): Promise<ProviderContext[]> {
  const kv = await new Kvm(nc).open(Buckets.actors);
  const keys: string[] = [];
  for await (const key of await kv.keys('provider.>')) keys.push(key);
  const out: ProviderContext[] = [];
  for (let i = 0; i < keys.length; i += 64) {
    const entries = await Promise.all(keys.slice(i, i + 64).map((key) => kv.get(key)));
    for (const entry of entries) {
      if (entry && entry.operation === 'PUT') out.push((decodeRecord(entry.value).snapshot as unknown as { context: ProviderContext }).context);
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export async function getProvider(nc: NatsConnection, provider: string): Promise<ProviderContext | undefined> {
  const kv = await new Kvm(nc).open(Buckets.actors);
  const entry = await kv.get(`provider.${provider}`);
  if (!entry || entry.operation !== 'PUT') return undefined;
  return (decodeRecord(entry.value).snapshot as unknown as { context: ProviderContext }).context;
}
