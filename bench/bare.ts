/**
 * The bare pipeline, run as a child process by `bench/run.ts` in place of the engine: per hop
 * it performs the platform operations the engine performs, with no engine logic (no actor,
 * no snapshot, no outbox bookkeeping, no validation beyond reading the fields it needs):
 *
 * - `minimal`: consume + ack the answer, KV update with expected revision of the traceback's
 *   state, JetStream publish of the next query (or the trail) with a `Nats-Msg-Id`;
 * - `matched`: the engine's whole per-hop write set (as of the provider-actor engine): three
 *   KV writes (the traceback's state with expected revision, plus the answering and the next
 *   provider's records, here plain puts of 2 KB, without the per-provider serialisation the
 *   engine's provider actors impose), two traceback audit events, two provider audit events,
 *   the query, and the hop timer deleted and the next one put.
 *
 * It uses the engine's streams, subjects, consumer settings and wire codec, so the same
 * carriers answer it, and the same trail watcher counts its tracebacks.
 */
import { connect, type Msg } from '@nats-io/transport-node';
import { AckPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JsMsg, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Packr } from 'msgpackr';
import {
  PROTOCOL_VERSION,
  Streams,
  SubjectWildcards,
  Subjects,
  decodeMap,
  encodeMessage,
  newTracebackId,
  parseHopId,
  type CallData,
  type HopQuery,
} from '../protocol/index.js';
import { configFromArgv, runWorker, serveWorker } from './src/children.js';
import { BARE_START_SUBJECT, BARE_STATE_BUCKET, BARE_TIMER_BUCKET, type BareTake } from './src/names.js';
import { nowMs } from './src/stats.js';

export interface BareConfig {
  url: string;
  concurrency: number;
  matched: boolean;
  /** The state record is padded to this many bytes (the engine's mean record size). */
  stateBytes: number;
  hopDeadlineMs: number;
}


const NANOS = 1_000_000;
const DAY_MS = 86_400_000;
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

interface Hop {
  hop: number;
  hopId: string;
  provider: string;
  downstream?: string;
  askedAt: number;
  deadline: number;
  status: string;
  answeredAt?: number;
  answer?: unknown;
}

interface State {
  tracebackId: string;
  call: CallData;
  requester: string;
  startedAt: number;
  hops: Hop[];
  revision: number;
  lastAt: number;
  seq: number;
}

async function ensureStreams(url: string, concurrency: number): Promise<void> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const base = { storage: StorageType.File, num_replicas: 1, duplicate_window: 10 * 60_000 * NANOS };
  const configs: (Partial<StreamConfig> & { name: string })[] = [
    { ...base, name: Streams.hopQueries, subjects: [SubjectWildcards.hopQueries], retention: RetentionPolicy.Workqueue, max_age: 30 * DAY_MS * NANOS },
    { ...base, name: Streams.hopAnswers, subjects: [SubjectWildcards.hopAnswers], retention: RetentionPolicy.Workqueue, max_age: 30 * DAY_MS * NANOS },
    { ...base, name: Streams.trails, subjects: [SubjectWildcards.trails], retention: RetentionPolicy.Limits, max_age: 0, discard: DiscardPolicy.Old },
    { ...base, name: Streams.events, subjects: [SubjectWildcards.events], retention: RetentionPolicy.Limits, max_age: 0 },
    { ...base, name: Streams.providerEvents, subjects: [SubjectWildcards.providerEvents], retention: RetentionPolicy.Limits, max_age: 0 },
  ];
  for (const config of configs) {
    try {
      await jsm.streams.info(config.name);
    } catch {
      await jsm.streams.add(config);
    }
  }
  try {
    await jsm.consumers.info(Streams.hopAnswers, 'engine');
  } catch {
    await jsm.consumers.add(Streams.hopAnswers, {
      durable_name: 'engine',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 5_000 * NANOS,
      max_ack_pending: Math.max(concurrency * 2, 64),
      max_deliver: -1,
    });
  }
  await nc.close();
}

async function main(): Promise<void> {
  const config = configFromArgv<BareConfig>();
  await ensureStreams(config.url, config.concurrency);
  const nc = await connect({ servers: config.url, name: 'robotrace-bench-bare', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const kvOptions = { history: 1, replicas: 1, storage: StorageType.File };
  const state: KV = await kvm.create(BARE_STATE_BUCKET, kvOptions);
  const timers: KV = await kvm.create(BARE_TIMER_BUCKET, kvOptions);
  const states = new Map<string, State>();
  const counters = { hops: 0, started: 0, finished: 0, unknown: 0 };
  let samples: number[] = [];

  const encodeState = (s: State, outbox: unknown[]): Uint8Array => {
    const record = { tracebackId: s.tracebackId, call: s.call, requester: s.requester, startedAt: s.startedAt, hops: s.hops, outbox, pad: undefined as Uint8Array | undefined };
    const bytes = packr.pack(record);
    if (bytes.length >= config.stateBytes) return bytes;
    record.pad = new Uint8Array(config.stateBytes - bytes.length - 4);
    return packr.pack(record);
  };
  const queryOf = (s: State, hop: Hop): HopQuery => {
    const q: HopQuery = {
      v: PROTOCOL_VERSION,
      kind: 'hop_query',
      tracebackId: s.tracebackId as HopQuery['tracebackId'],
      hopId: hop.hopId as HopQuery['hopId'],
      hop: hop.hop,
      provider: hop.provider,
      call: s.call,
      askedAt: hop.askedAt,
      deadline: hop.deadline,
      reminder: 0,
    };
    if (hop.downstream !== undefined) q.downstream = hop.downstream;
    return q;
  };
  const newHop = (s: State, provider: string, downstream: string | undefined, at: number): Hop => {
    const n = s.hops.length + 1;
    const hop: Hop = { hop: n, hopId: `${s.tracebackId}-h${n}`, provider, askedAt: at, deadline: at + config.hopDeadlineMs, status: 'open' };
    if (downstream !== undefined) hop.downstream = downstream;
    s.hops.push(hop);
    return hop;
  };
  const audit = (s: State, type: string, hop: Hop, at: number) => {
    const seq = ++s.seq;
    const event = { v: PROTOCOL_VERSION, kind: 'traceback_event', tracebackId: s.tracebackId, seq, at, type, state: 'asking', hopId: hop.hopId, provider: hop.provider };
    return js.publish(Subjects.events(s.tracebackId), encodeMessage(event), { msgID: `${s.tracebackId}.e${seq}` });
  };
  const timerKey = (s: State, hop: Hop) => `provider.${hop.provider}.h.${hop.hopId}`;
  const providerRecord = new Uint8Array(2048);
  const providerWrite = (provider: string) => state.put(`provider.${provider}`, providerRecord);
  const providerAudit = (s: State, type: string, hop: Hop, at: number) => {
    const event = { v: PROTOCOL_VERSION, kind: 'provider_event', provider: hop.provider, seq: ++s.seq, at, type, hopId: hop.hopId, tracebackId: s.tracebackId };
    return js.publish(Subjects.providerEvents(hop.provider), encodeMessage(event), { msgID: `${hop.provider}.pe${s.tracebackId}.${s.seq}` });
  };
  const putTimer = (s: State, hop: Hop) => timers.put(timerKey(s, hop), packr.pack({ dueAt: hop.deadline, payload: { tracebackId: s.tracebackId, timer: `hop${hop.hop}` } }));

  async function start(msg: Msg): Promise<void> {
    const request = decodeMap(msg.data) as { call: CallData; terminatingProvider: string; requester: string };
    const now = Date.now();
    const s: State = { tracebackId: newTracebackId(now), call: request.call, requester: request.requester, startedAt: now, hops: [], revision: 0, lastAt: nowMs(), seq: 0 };
    const hop = newHop(s, request.terminatingProvider, undefined, now);
    const query = queryOf(s, hop);
    s.revision = await state.create(`traceback.${s.tracebackId}`, encodeState(s, [query]));
    states.set(s.tracebackId, s);
    const work: Promise<unknown>[] = [js.publish(Subjects.hopQuery(hop.provider), encodeMessage(query), { msgID: `${hop.hopId}.q0` })];
    if (config.matched) {
      s.seq = 1;
      work.push(audit(s, 'started', hop, now), audit(s, 'asked', hop, now), putTimer(s, hop), providerWrite(hop.provider), providerAudit(s, 'asked', hop, now));
    }
    await Promise.all(work);
    counters.started++;
    msg.respond(encodeMessage({ v: PROTOCOL_VERSION, kind: 'traceback_started', tracebackId: s.tracebackId, existing: false }));
  }

  async function answer(m: JsMsg): Promise<void> {
    const map = decodeMap(m.data) as { hopId: string; provider: string; answer: { type: string; provider?: string } };
    const { tracebackId } = parseHopId(map.hopId);
    const s = states.get(tracebackId);
    const hop = s?.hops[s.hops.length - 1];
    if (!s || !hop || hop.hopId !== map.hopId || hop.status !== 'open') {
      counters.unknown++;
      m.ack();
      return;
    }
    const received = nowMs();
    samples.push(received - s.lastAt);
    s.lastAt = received;
    const now = Date.now();
    hop.status = 'answered';
    hop.answeredAt = now;
    hop.answer = map.answer;
    const upstream = map.answer.type === 'upstream' && map.answer.provider !== undefined ? map.answer.provider : undefined;
    const next = upstream !== undefined ? newHop(s, upstream, hop.provider, now) : undefined;
    const outbox: unknown[] = next ? [queryOf(s, next)] : [];
    s.revision = await state.update(`traceback.${s.tracebackId}`, encodeState(s, outbox), s.revision);
    const work: Promise<unknown>[] = [];
    if (next) {
      work.push(js.publish(Subjects.hopQuery(next.provider), encodeMessage(outbox[0] as HopQuery), { msgID: `${next.hopId}.q0` }));
    } else {
      const trail = {
        v: PROTOCOL_VERSION,
        kind: 'trail',
        tracebackId: s.tracebackId,
        call: s.call,
        requester: s.requester,
        terminatingProvider: s.hops[0]?.provider,
        startedAt: s.startedAt,
        endedAt: now,
        outcome: 'origin_found',
        reason: 'bare pipeline',
        hops: s.hops,
        endProvider: hop.provider,
      };
      work.push(js.publish(Subjects.trail('origin_found', 'bench', hop.provider, s.tracebackId), encodeMessage(trail), { msgID: `${s.tracebackId}.trail` }));
    }
    if (config.matched) {
      work.push(timers.delete(timerKey(s, hop)), audit(s, 'answered', hop, now), providerWrite(hop.provider), providerAudit(s, 'answered', hop, now));
      if (next) work.push(audit(s, 'asked', next, now), putTimer(s, next), providerWrite(next.provider), providerAudit(s, 'asked', next, now));
      else work.push(audit(s, 'ended', hop, now));
    }
    await Promise.all(work);
    counters.hops++;
    if (!next) {
      counters.finished++;
      states.delete(s.tracebackId);
    }
    m.ack();
  }

  const sub = nc.subscribe(BARE_START_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      start(msg).catch((e: unknown) => msg.respond(encodeMessage({ v: PROTOCOL_VERSION, kind: 'error', code: 'unavailable', message: String(e) })));
    },
  });

  const consumer = await js.consumers.get(Streams.hopAnswers, 'engine');
  const messages = await consumer.consume({ max_messages: config.concurrency });
  const loop = (async () => {
    let running = 0;
    const waiters: (() => void)[] = [];
    for await (const m of messages) {
      running++;
      void answer(m)
        .catch(() => m.nak(1000))
        .finally(() => {
          running--;
          waiters.shift()?.();
        });
      if (running >= config.concurrency) await new Promise<void>((resolve) => waiters.push(resolve));
    }
  })();

  const stop = async () => {
    sub.unsubscribe();
    await messages.close();
    await loop.catch(() => undefined);
    await nc.drain().catch(() => nc.close());
  };
  serveWorker((): BareTake => {
    const taken = samples;
    samples = [];
    return { samples: taken, ...counters };
  }, stop);
}

runWorker(main);
