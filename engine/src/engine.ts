import { connect, type NatsConnection, type Subscription, type Msg } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import {
  ErrorCode,
  OUTCOMES,
  PROTOCOL_VERSION,
  ProtocolError,
  Buckets,
  Streams,
  Subjects,
  decodeCancelTraceback,
  decodeHopAnswer,
  decodeStartTraceback,
  decodeStatusRequest,
  decodeUpsertProviders,
  decodeClearProviderFlag,
  decodeMap,
  type DirectoryDeadline,
  type UpsertProviders,
  type StartTraceback,
  encodeMessage,
  errorMessage,
  newTracebackId,
  parseHopId,
  tracebackIdForRequest,
  type HopAnswer,
  type Outcome,
  type StatusReply,
  type TracebackId,
} from '../../protocol/index.js';
import { loadOrCreateEngineKey, openKeyBucket, servePublicKey, type KeyService } from '../../evidence/index.js';
import { OutboxCheckpoint } from './checkpoint.js';
import { ensureError, NotOwnerError, RetryableError, ShardMovedError } from './errors.js';
import { compileOptions, type CompiledEngineOptions, type EngineOptions } from './options.js';
import { keysWrittenSince, readShardCheckpoint, writeShardCheckpoint, type SavedCheckpoint } from './recovery.js';
import { TimerService } from './timer-service.js';
import { ANSWER_ACK_WAIT_MS, ENGINE_ANSWER_CONSUMER, ensureShardConsumer, ensureTopologyRetrying, type Topology } from './topology.js';
import { ActorHost, type HostStats, type ShardGuard } from './actor-host.js';
import { ShardLeases } from './shards/leases.js';
import { shardOf } from './shards/shard-of.js';
import {
  decodeDelivery,
  decodeShardRequest,
  deliveryMsgId,
  encodeDelivery,
  encodeShardRequest,
  type ShardDelivery,
} from './shards/internal-messages.js';
import { providerSpec, tracebackSpec, type Router } from './kinds.js';
import {
  checkAnswer,
  createProvider,
  createTraceback,
  DEFAULT_FLAG_THRESHOLDS,
  policyProblems,
  type DeadlinePolicy,
  type DirectoryEntry,
  type ProviderActor,
  type ProviderCommand,
  type ProviderContext,
  type ProviderEventIn,
  type ProviderPolicy,
  type TracebackActor,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
} from '../../actors/index.js';
import { Attr, withSpan } from './tracing.js';

/**
 * Lifecycle of an engine:
 * - `starting`: connecting, creating streams, replaying outboxes, loading timers;
 * - `running`: consuming answers, firing timers, serving the API;
 * - `draining`: no new work taken; in-flight work finishes and the checkpoint is saved;
 * - `stopped`: everything released;
 * - `failed`: start-up or a fatal error; see `closed()`.
 */
export type EngineState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

export interface EngineStats extends HostStats {
  liveProviders: number;
  answersApplied: number;
  answersDuplicate: number;
  answersRejected: number;
  started: number;
  timersFired: number;
  timersPending: number;
  /** Shards this engine holds now. */
  shards: number[];
}

/** What runs for one shard this engine holds and has recovered. */
interface ShardWork {
  messages: ConsumerMessages | undefined;
  loop: Promise<void> | undefined;
  api: Subscription | undefined;
  inflight: Set<Promise<void>>;
  checkpoint: SavedCheckpoint;
}

/** A timer key is `<kind>.<id>.<timer>`; ids are single subject tokens. */
function timerActorId(key: string): string {
  return key.split('.')[1] ?? '';
}

const RETRY_LIMIT_MS = 60_000;

function toDeadlinePolicy(d: DirectoryDeadline): DeadlinePolicy {
  const deadlineMs = Math.round(d.hours * 3_600_000);
  if (d.kind === 'fixed') return { kind: 'fixed', deadlineMs };
  return { kind: 'business', deadlineMs, timeZone: d.timeZone, opensAt: d.opensAt, closesAt: d.closesAt, businessDays: d.businessDays, holidays: d.holidays };
}

/** The actor host: one process that advances tracebacks durably. */
export class Engine implements AsyncDisposable {
  state: EngineState = 'starting';
  private nc!: NatsConnection;
  private ownsConnection = false;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private topology!: Topology;
  private tracebacks!: ActorHost<TracebackActor, TracebackEventIn, TracebackCommand>;
  private providers!: ActorHost<ProviderActor, ProviderEventIn, ProviderCommand>;
  private timers!: TimerService;
  private checkpoint!: OutboxCheckpoint;
  private leases!: ShardLeases;
  /** Shards whose recovery has begun (their replay set is marked): local writes may go on. */
  private readonly openShards = new Map<number, number>();
  private readonly shardWork = new Map<number, ShardWork>();
  /** Per shard held: the actor-bucket sequence its recovery scan reached. */
  private readonly scannedUpTo = new Map<number, number>();
  private messages: ConsumerMessages | undefined;
  private keyService: KeyService | undefined;
  private readonly subscriptions: Subscription[] = [];
  private readonly intervals: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private consumeLoop: Promise<void> | undefined;
  private closedResolve!: (err: Error | undefined) => void;
  private readonly closedPromise = new Promise<Error | undefined>((resolve) => (this.closedResolve = resolve));
  private readonly counters = { answersApplied: 0, answersDuplicate: 0, answersRejected: 0, started: 0, timersFired: 0 };
  readonly options: CompiledEngineOptions;
  private readonly logger: Logger;

  private constructor(options: EngineOptions) {
    this.options = compileOptions(options);
    this.logger = this.options.logger;
  }

  /** Connects, prepares storage, recovers, and starts processing. */
  static async start(options: EngineOptions = {}): Promise<Engine> {
    const engine = new Engine(options);
    try {
      await engine.boot();
    } catch (err) {
      engine.state = 'failed';
      await engine.release();
      engine.closedResolve(ensureError(err));
      throw err;
    }
    return engine;
  }

  /** Resolves when the engine stops: `undefined` after a clean stop, the error otherwise. */
  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  get connection(): NatsConnection {
    return this.nc;
  }

  private async boot(): Promise<void> {
    const o = this.options;
    if (o.connection) {
      this.nc = o.connection;
    } else {
      this.nc = await connect({ servers: o.servers, name: o.name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
      this.ownsConnection = true;
    }
    this.js = jetstream(this.nc);
    this.jsm = await jetstreamManager(this.nc);
    this.topology = await ensureTopologyRetrying(this.nc, this.jsm, o.replicas, o.concurrency, (err, attempt) =>
      this.logger.warn({ err, attempt }, 'streams and buckets not ready yet; retrying'),
    );
    this.checkpoint = new OutboxCheckpoint(0);
    this.timers = new TimerService(this.topology.timers, o.clock, (payload, at) => this.onTimer(payload.kind, payload.id, payload.timer, at), this.logger, o.timerTickMs);
    const shards: ShardGuard = {
      engineId: o.engineId,
      shardOf: (id) => shardOf(id, o.shards),
      stamp: (shard) => {
        const epoch = this.openShards.has(shard) ? this.leases.writable(shard) : undefined;
        if (epoch === undefined) throw new NotOwnerError(`shard ${shard} is not held by engine ${o.engineId} now`);
        return { engine: o.engineId, epoch };
      },
      epochNow: (shard) => (this.openShards.has(shard) ? this.leases.writable(shard) : undefined),
      scannedUpTo: (shard) => this.scannedUpTo.get(shard) ?? Number.MAX_SAFE_INTEGER,
      superseded: (shard) => this.leases.superseded(shard),
    };
    const hostDeps = {
      actors: this.topology.actors,
      checkpoint: this.checkpoint,
      shards,
      clock: o.clock,
      logger: this.logger,
      idleEvictionMs: o.idleEvictionMs,
      maxLiveActors: o.maxLiveActors,
    };
    const router: Router = {
      now: () => o.clock.now(),
      toProvider: (provider, event) => this.send({ target: 'provider', id: provider, event }),
      toTraceback: (tracebackId, event) => this.send({ target: 'traceback', id: tracebackId, event }),
    };
    const { key } = await loadOrCreateEngineKey(await openKeyBucket(this.nc, { replicas: o.replicas }));
    this.keyService = servePublicKey(this.nc, key);
    const effects = { signingKey: key, js: this.js, jsm: this.jsm, timers: this.timers, router };
    this.tracebacks = new ActorHost(tracebackSpec(effects), hostDeps);
    this.providers = new ActorHost(providerSpec(effects), hostDeps);
    this.leases = new ShardLeases({
      kv: this.topology.shards,
      engineId: o.engineId,
      shardCount: o.shards,
      leaseMs: o.leaseMs,
      monotonic: () => performance.now(),
      logger: this.logger,
      callbacks: {
        acquired: (list) => this.onShardsAcquired(list),
        releasing: (list) => this.onShardsReleasing(list),
        lost: (list) => this.onShardsLost(list),
      },
    });

    this.serve(Subjects.start, (msg) => this.onStart(msg.data));
    this.serve(Subjects.cancel, (msg) => this.onCancel(msg.data));
    this.serve(Subjects.status, (msg) => this.onStatus(msg));
    this.serve(Subjects.upsertProviders, (msg) => this.onUpsertProviders(msg.data));
    this.serve(Subjects.clearFlag, (msg) => this.onClearFlag(msg.data));
    await this.timers.follow((key) => this.openShards.has(this.shardOf(timerActorId(key))));
    // Takes this engine's share of the shards and recovers them before it counts as running.
    await this.leases.start((err) => void this.fail(err));
    // Subscribed before the engine counts as running, so a stop right after start closes it.
    const answers = await this.js.consumers.get(Streams.hopAnswers, ENGINE_ANSWER_CONSUMER);
    this.messages = await answers.consume({ max_messages: this.options.concurrency });
    this.consumeLoop = this.consumeEach(this.messages, this.inflight, (m) => this.onAnswer(m, m.subject.slice('tb.hop.ans.'.length), false));
    this.timers.start();
    this.every(o.checkpointIntervalMs, () => this.saveCheckpoints());
    this.every(Math.max(1000, Math.min(o.idleEvictionMs, 10_000)), async () => {
      this.tracebacks.sweep();
      this.providers.sweep();
    });
    this.state = 'running';
    this.logger.info(
      { server: this.nc.info?.version, engine: o.engineId, shards: this.leases.heldShards().length, of: o.shards, timers: this.timers.size, deadlineMs: o.hopDeadlineMs },
      'engine running',
    );
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const handle = setInterval(() => {
      fn().catch((err: unknown) => this.logger.warn({ err }, 'periodic task failed'));
    }, ms);
    handle.unref();
    this.intervals.push(handle);
  }

  private serve(subject: string, handler: (msg: Msg) => Promise<Uint8Array>): void {
    const sub = this.nc.subscribe(subject, {
      queue: 'robotrace-engine',
      callback: (err, msg) => {
        if (err) return;
        const work = handler(msg)
          .catch((e: unknown) => encodeMessage(errorMessage(ProtocolError.is(e) ? e : this.unavailable(e))))
          .then((reply) => {
            if (msg.reply) msg.respond(reply);
          })
          .catch((e: unknown) => this.logger.warn({ err: e, subject }, 'could not reply'));
        this.track(work);
      },
    });
    this.subscriptions.push(sub);
  }

  private unavailable(err: unknown): ProtocolError {
    this.logger.warn({ err }, 'request failed');
    return new ProtocolError(ErrorCode.Unavailable, 'the engine could not complete the request; retry');
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private async onStart(data: Uint8Array): Promise<Uint8Array> {
    if (this.state !== 'running') throw new ProtocolError(ErrorCode.Unavailable, `engine is ${this.state}`);
    const request = decodeStartTraceback(data);
    const tracebackId =
      request.requestId !== undefined ? tracebackIdForRequest(request.requester, request.requestId) : newTracebackId(this.options.clock.now());
    return this.routeRequest(this.shardOf(tracebackId), 'start', data, tracebackId, () => this.startLocal(request, tracebackId));
  }

  private async startLocal(request: StartTraceback, tracebackId: TracebackId): Promise<Uint8Array> {
    const now = this.options.clock.now();
    const input = {
      tracebackId,
      call: request.call,
      terminatingProvider: request.terminatingProvider,
      requester: request.requester,
      now,
      policy: { deadlineMs: this.options.hopDeadlineMs, reminderFractions: this.options.reminderFractions, maxHops: this.options.maxHops },
    };
    const started: TracebackCommand = {
      type: 'cmd.audit',
      record: { tracebackId, seq: 1, at: now, type: 'started', state: 'asking' },
    };
    let attempts = 0;
    const delivery = await this.retrying(() => {
      attempts++;
      return this.tracebacks.create(tracebackId, () => createTraceback(input), [started]);
    });
    await delivery.executed;
    // An earlier attempt of this very request may have stored it before failing to hear back.
    const created = !delivery.existed || (attempts > 1 && request.requestId === undefined);
    if (created) this.counters.started++;
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'traceback_started', tracebackId, existing: !created });
  }

  private async onCancel(data: Uint8Array): Promise<Uint8Array> {
    const request = decodeCancelTraceback(data);
    return this.routeRequest(this.shardOf(request.tracebackId), 'cancel', data, undefined, async () => {
      const at = this.options.clock.now();
      const delivery = await this.tracebacks.deliver<ProtocolError>(request.tracebackId, (actor) => {
        if (!actor) return { result: new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${request.tracebackId}`) };
        if (actor.getSnapshot().status === 'done') {
          const outcome = (actor.getSnapshot().context as TracebackContext).outcome ?? '';
          return { result: new ProtocolError(ErrorCode.TracebackClosed, `traceback ${request.tracebackId} already ended: ${outcome}`) };
        }
        return { event: { type: 'CANCEL', reason: request.reason, by: request.requester, at } };
      });
      if (delivery.result) throw delivery.result;
      await delivery.executed;
      return encodeMessage({ v: PROTOCOL_VERSION, kind: 'traceback_cancelled', tracebackId: request.tracebackId });
    });
  }

  /** Directory import: each entry updates (or creates) that provider's actor, on its shard's owner. */
  private async onUpsertProviders(data: Uint8Array): Promise<Uint8Array> {
    const request = decodeUpsertProviders(data);
    request.providers.forEach((entry, i) => {
      const problems = policyProblems({ ...this.providerInput(entry.id).policy, ...this.policyOf(entry) });
      if (problems.length > 0) {
        throw new ProtocolError(ErrorCode.InvalidField, `providers[${i}] (${entry.id}): ${problems.join('; ')}`, { path: `providers[${i}]` });
      }
    });
    const byShard = new Map<number, UpsertProviders['providers']>();
    for (const entry of request.providers) {
      const shard = this.shardOf(entry.id);
      byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
    }
    await Promise.all(
      [...byShard].map(async ([shard, entries]) => {
        const part = encodeMessage({ ...request, providers: entries });
        const reply = decodeMap(await this.routeRequest(shard, 'upsert', part, undefined, () => this.upsertLocal(entries)));
        if (reply['kind'] === 'error') throw new ProtocolError(reply['code'] as ErrorCode, String(reply['message']));
      }),
    );
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'providers_upserted', count: request.providers.length });
  }

  private policyOf(entry: UpsertProviders['providers'][number]): Partial<ProviderPolicy> {
    const policy: Partial<ProviderPolicy> = {};
    if (entry.deadline) policy.deadline = toDeadlinePolicy(entry.deadline);
    if (entry.reminders) policy.reminderFractions = entry.reminders;
    if (entry.maxInFlight) policy.maxInFlight = entry.maxInFlight;
    return policy;
  }

  private async upsertLocal(entries: UpsertProviders['providers']): Promise<Uint8Array> {
    await Promise.all(
      entries.map(async (entry) => {
        const policy = this.policyOf(entry);
        const directory: Partial<DirectoryEntry> = { verified: true };
        for (const field of ['name', 'frn', 'ocn', 'contact', 'rmdStatus', 'roles'] as const) {
          if (entry[field] !== undefined) (directory as Record<string, unknown>)[field] = entry[field];
        }
        const at = this.options.clock.now();
        const create = () => createProvider({ ...this.providerInput(entry.id), directory });
        const updated = await this.providers.deliver(entry.id, () => ({ event: { type: 'UPDATE_DIRECTORY', entry: directory, at } }), create);
        await updated.executed;
        if (Object.keys(policy).length > 0) {
          const withPolicy = await this.providers.deliver(entry.id, () => ({ event: { type: 'UPDATE_POLICY', policy, at } }));
          await withPolicy.executed;
        }
      }),
    );
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'providers_upserted', count: entries.length });
  }

  private async onClearFlag(data: Uint8Array): Promise<Uint8Array> {
    const request = decodeClearProviderFlag(data);
    return this.routeRequest(this.shardOf(request.provider), 'clear_flag', data, undefined, async () => {
      const at = this.options.clock.now();
      const delivery = await this.providers.deliver<ProtocolError>(request.provider, (actor) => {
        if (!actor) return { result: new ProtocolError(ErrorCode.UnknownProvider, `no provider ${request.provider}`) };
        const flags = (actor.getSnapshot().context as ProviderContext).flags;
        if (!flags[request.flag]) return { result: new ProtocolError(ErrorCode.FlagNotSet, `${request.provider} is not flagged ${request.flag}`) };
        return { event: { type: 'CLEAR_FLAG', flag: request.flag, reason: request.reason, by: request.requester, at } };
      });
      if (delivery.result) throw delivery.result;
      await delivery.executed;
      return encodeMessage({ v: PROTOCOL_VERSION, kind: 'provider_flag_cleared', provider: request.provider, flag: request.flag });
    });
  }

  private shardOf(id: string): number {
    return shardOf(id, this.options.shards);
  }

  /** Whether this engine may work on the shard's actors right now. */
  private isOpen(shard: number): boolean {
    return this.openShards.has(shard) && this.leases.writable(shard) !== undefined;
  }

  /**
   * Runs a client request where its actor lives: here when this engine holds the shard, else
   * on the owner over `tb.internal.shard.<shard>.<op>`; the reply is the owner's, verbatim.
   * While a shard moves nobody answers; the request is retried until the new owner does.
   */
  private routeRequest(shard: number, op: string, payload: Uint8Array, tracebackId: string | undefined, local: () => Promise<Uint8Array>): Promise<Uint8Array> {
    return this.retrying(async () => {
      if (this.isOpen(shard)) return local();
      const request = encodeShardRequest(tracebackId === undefined ? { op, payload } : { op, payload, tracebackId });
      let reply: Msg;
      try {
        reply = await this.nc.request(Subjects.shardRequest(shard, op), request, { timeout: 10_000 });
      } catch (err) {
        throw new RetryableError(`shard ${shard} has no owner right now`, 200, { cause: err });
      }
      const map = decodeMap(reply.data);
      if (map['kind'] === 'error' && map['code'] === ErrorCode.Unavailable) throw new RetryableError(`shard ${shard} is moving`, 200);
      return reply.data;
    });
  }

  /** A request another engine routed here because this engine holds the shard. */
  private async onShardRequest(shard: number, data: Uint8Array): Promise<Uint8Array> {
    if (!this.isOpen(shard)) throw new ProtocolError(ErrorCode.Unavailable, `shard ${shard} is moving`);
    const request = decodeShardRequest(data);
    switch (request.op) {
      case 'start': {
        const start = decodeStartTraceback(request.payload);
        if (request.tracebackId === undefined || this.shardOf(request.tracebackId) !== shard) throw new ProtocolError(ErrorCode.InvalidField, 'misrouted start');
        return this.startLocal(start, request.tracebackId as TracebackId);
      }
      case 'cancel':
        return this.onCancel(request.payload);
      case 'clear_flag':
        return this.onClearFlag(request.payload);
      case 'upsert':
        return this.upsertLocal(decodeUpsertProviders(request.payload).providers);
      default:
        throw new ProtocolError(ErrorCode.InvalidField, `unknown shard request ${request.op}`);
    }
  }

  /**
   * An event for another actor: applied here when this engine holds the target's shard,
   * else queued durably on the shard's inbox for its owner. Resolves once it is persisted
   * (in the actor's record, or in the stream).
   */
  private send(delivery: ShardDelivery): Promise<void> {
    return this.retrying(async () => {
      const shard = this.shardOf(delivery.id);
      if (this.isOpen(shard)) return this.deliverLocal(delivery);
      await this.js.publish(Subjects.shardDelivery(shard), encodeDelivery(delivery), { msgID: deliveryMsgId(delivery) });
    });
  }

  private async deliverLocal(delivery: ShardDelivery): Promise<void> {
    if (delivery.target === 'provider') {
      const event = delivery.event;
      let seen: { status: string; known?: boolean } | undefined;
      const outcome = (
        await this.providers.deliver(
          delivery.id,
          (actor) => {
            if (actor && event.type === 'ASK') {
              const c = actor.getSnapshot().context as ProviderContext;
              const hopId = event.query.hopId;
              seen = { status: actor.getSnapshot().status, known: Boolean(c.open[hopId] ?? c.recent[hopId]) || c.queue.some((q) => q.hopId === hopId) };
            }
            return { event };
          },
          () => createProvider(this.providerInput(delivery.id)),
        )
      ).outcome;
      if (outcome !== 'applied') this.logger.debug({ id: delivery.id, type: event.type, outcome, seen }, 'provider delivery changed nothing');
      return;
    }
    {
      const event = delivery.event;
      let seen: { status: string; hop?: string; hopStatus?: string } | undefined;
      // A finished traceback ignores late results (a replayed outbox); XState would warn about them.
      const outcome = (
        await this.tracebacks.deliver(delivery.id, (actor) => {
          if (actor) {
            const hop = (actor.getSnapshot().context as TracebackContext).hops.at(-1);
            seen = { status: actor.getSnapshot().status, ...(hop ? { hop: hop.hopId, hopStatus: hop.status } : {}) };
          }
          return actor && actor.getSnapshot().status === 'active' ? { event } : { result: undefined };
        })
      ).outcome;
      // Replays make duplicates normal; a result that changes nothing is still worth a trace.
      if (outcome !== 'applied') this.logger.debug({ id: delivery.id, type: event.type, outcome, seen }, 'traceback delivery changed nothing');
    }
  }

  private async onStatus(msg: Msg): Promise<Uint8Array> {
    decodeStatusRequest(msg.data);
    const reply: StatusReply = { v: PROTOCOL_VERSION, kind: 'status', total: 0, active: 0, byOutcome: {} as Record<Outcome, number> };
    reply.total = await this.countMessages(`KV_${Buckets.actors}`, `$KV.${Buckets.actors}.traceback.>`);
    const counts = await Promise.all(OUTCOMES.map((outcome) => this.countMessages(Streams.trails, `tb.trail.${outcome}.>`)));
    OUTCOMES.forEach((outcome, i) => (reply.byOutcome[outcome] = counts[i] ?? 0));
    reply.active = Math.max(0, reply.total - counts.reduce((a, b) => a + b, 0));
    return encodeMessage(reply);
  }

  /**
   * Messages on a subject filter, read from the stream itself so every engine instance
   * agrees: an ephemeral consumer reports how many messages it would deliver.
   */
  private async countMessages(stream: string, filter: string): Promise<number> {
    const info = await this.jsm.consumers.add(stream, {
      filter_subject: filter,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 5_000_000_000,
      mem_storage: true,
    });
    await this.jsm.consumers.delete(stream, info.name).catch(() => undefined);
    return info.num_pending;
  }

  /** Retries transient failures (NATS reconnecting, a lost compare-and-set) for up to a minute. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (ProtocolError.is(err) || err instanceof ShardMovedError) throw err;
        if (this.state === 'stopped' || this.state === 'failed') throw err;
        if (Date.now() - started > RETRY_LIMIT_MS) throw err;
        const wait = err instanceof RetryableError ? err.retryAfterMs : Math.min(2000, 100 * 2 ** attempt);
        this.logger.debug({ err, attempt }, 'retrying');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Runs `handle` for each message, at most `concurrency` at once. */
  private async consumeEach(messages: ConsumerMessages, inflight: Set<Promise<void>>, handle: (m: JsMsg) => Promise<void>): Promise<void> {
    let running = 0;
    const waiters: (() => void)[] = [];
    for await (const m of messages) {
      running++;
      const work = handle(m).finally(() => {
        running--;
        waiters.shift()?.();
      });
      this.track(work);
      inflight.add(work);
      void work.finally(() => inflight.delete(work));
      if (running >= this.options.concurrency) await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  /**
   * A carrier answer, from the shared answer queue or forwarded to this shard's inbox. It is
   * handled by the engine holding the traceback's shard; any other engine forwards it there
   * (idempotently, by the answer's stream sequence) and acknowledges it.
   */
  private async onAnswer(m: JsMsg, subjectProvider: string, forwarded: boolean): Promise<void> {
    let hopId: string | undefined;
    try {
      const answer = decodeHopAnswer(m.data);
      hopId = answer.hopId;
      if (answer.provider !== subjectProvider) {
        throw new ProtocolError(ErrorCode.WrongProvider, `answer names provider ${answer.provider} but was sent on ${m.subject}`, { path: 'provider' });
      }
      const { tracebackId } = parseHopId(answer.hopId);
      const shard = this.shardOf(tracebackId);
      const heartbeat = setInterval(() => m.working(), ANSWER_ACK_WAIT_MS / 2);
      const outcome = await this.retrying(async () => {
        if (!this.isOpen(shard)) {
          // Not retried here: the shard's new owner reads this inbox, so the message goes back at once.
          if (forwarded) throw new ShardMovedError(`shard ${shard} moved while its answer was handled`);
          await this.js.publish(Subjects.shardAnswer(shard, subjectProvider), m.data, { msgID: `answer.${m.seq}` });
          return 'forwarded' as const;
        }
        return withSpan(this.options.tracer, 'robotrace.answer', { [Attr.hopId]: answer.hopId, [Attr.provider]: subjectProvider }, () =>
          this.applyAnswer(tracebackId, answer),
        );
      }).finally(() => clearInterval(heartbeat));
      if (outcome === 'duplicate') this.counters.answersDuplicate++;
      else if (outcome === 'applied') this.counters.answersApplied++;
      m.ack();
    } catch (err) {
      if (ProtocolError.is(err)) {
        this.counters.answersRejected++;
        await this.reject(subjectProvider, err, hopId);
        m.ack();
        return;
      }
      if (err instanceof ShardMovedError) {
        m.nak();
        return;
      }
      // Not acked: redelivered after ack_wait, by which time NATS, the store or the shard's owner is back.
      this.logger.warn({ err, subject: m.subject, seq: m.seq }, 'answer not processed; it will be redelivered');
      m.nak(2000);
    }
  }

  /** A message on one of this engine's shard inboxes. */
  private async onShardMessage(m: JsMsg): Promise<void> {
    const [, , , type, provider] = m.subject.split('.');
    if (type === 'answer' && provider !== undefined) return this.onAnswer(m, provider, true);
    try {
      await this.deliverLocal(decodeDelivery(m.data));
      m.ack();
    } catch (err) {
      if (ProtocolError.is(err)) {
        this.logger.error({ err, subject: m.subject }, 'unreadable shard delivery dropped');
        m.term();
        return;
      }
      this.logger.debug({ err, subject: m.subject }, 'shard delivery not applied; redelivered');
      m.nak(err instanceof NotOwnerError ? 100 : 500);
    }
  }

  private async reject(provider: string, err: ProtocolError, hopId: string | undefined): Promise<void> {
    this.logger.info({ provider, code: err.code, hopId, reason: err.message }, 'answer rejected');
    try {
      const ref = hopId === undefined ? {} : { hopId };
      await this.js.publish(Subjects.hopError(provider), encodeMessage(errorMessage(err, ref)));
    } catch (publishErr) {
      // A provider token unusable as a subject cannot be told anything; the error is logged.
      this.logger.warn({ err: publishErr, provider }, 'could not publish protocol error');
    }
  }

  /**
   * An answer is checked against the traceback (so the carrier hears exactly what was wrong),
   * then given to the provider actor, which closes the hop and reports to the traceback.
   * Resolves once every resulting command has been carried out, so the ack comes last.
   */
  private async applyAnswer(tracebackId: TracebackId, answer: HopAnswer): Promise<'applied' | 'duplicate'> {
    const check = await this.tracebacks.inspect(tracebackId, (actor) =>
      actor ? checkAnswer(actor.getSnapshot().context as TracebackContext, answer) : undefined,
    );
    if (check === undefined) throw new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${tracebackId}`);
    if (check.kind === 'reject') throw new ProtocolError(check.code, check.message);
    if (check.kind === 'duplicate') return 'duplicate';
    const at = this.options.clock.now();
    await this.send({ target: 'provider', id: answer.provider, event: { type: 'ANSWER', hopId: answer.hopId, answer: answer.answer, at } });
    return 'applied';
  }

  /** Defaults for a provider actor created on first use; the directory import refines them. */
  private providerInput(provider: string) {
    const policy: ProviderPolicy = {
      deadline: { kind: 'fixed', deadlineMs: this.options.hopDeadlineMs },
      reminderFractions: this.options.reminderFractions,
      maxInFlight: this.options.maxInFlightPerProvider,
    };
    return { id: provider, policy, thresholds: this.options.flagThresholds ?? DEFAULT_FLAG_THRESHOLDS, now: this.options.clock.now() };
  }

  private async onTimer(kind: 'traceback' | 'provider', id: string, timer: string, at: number): Promise<boolean> {
    if (kind !== 'provider') return true; // version-1 traceback timers: nothing handles them any more
    if (!this.isOpen(this.shardOf(id))) return false;
    this.counters.timersFired++;
    await withSpan(this.options.tracer, 'robotrace.timer', { [Attr.provider]: id }, async () => {
      const delivery = await this.providers.deliver(id, (actor) => (actor ? { event: { type: 'TIMER_FIRED', timer, at } } : { result: undefined }));
      await delivery.executed;
    });
    return true;
  }

  /** Saves the checkpoint of every shard held, unless a newer owner saved it meanwhile. */
  private async saveCheckpoints(): Promise<void> {
    await Promise.all([...this.shardWork].map(([shard, work]) => this.saveCheckpoint(shard, work)));
  }

  private async saveCheckpoint(shard: number, work: ShardWork): Promise<void> {
    if (this.leases.epochOf(shard) === undefined) return;
    const current = this.checkpoint.current(shard);
    if (current <= work.checkpoint.sequence) return;
    const revision = await writeShardCheckpoint(this.topology.meta, shard, current, work.checkpoint.revision);
    if (revision === undefined) {
      // The previous owner's last save landed after we read the key. What it recorded was carried
      // out, and what we owe is still pending here, so our next save, over its revision, is right.
      work.checkpoint = await readShardCheckpoint(this.topology.meta, shard);
      this.logger.debug({ shard, sequence: work.checkpoint.sequence }, 'shard checkpoint was saved by its previous owner meanwhile');
      return;
    }
    work.checkpoint = { sequence: current, revision };
  }

  /**
   * Taking shards over: the outboxes of their actors written after each shard's checkpoint
   * may never have been carried out (the previous owner died), so they are marked for replay
   * before anything can write those actors, timers are loaded, every marked actor is loaded
   * and its outbox carried out; then the shard's inbox and request subject are served.
   */
  private async onShardsAcquired(list: { shard: number; epoch: number }[]): Promise<void> {
    if (list.length === 0) return;
    const started = performance.now();
    const wanted = new Set(list.map((l) => l.shard));
    const saved = new Map(await Promise.all(list.map(async ({ shard }) => [shard, await readShardCheckpoint(this.topology.meta, shard)] as const)));
    const from = Math.min(...[...saved.values()].map((c) => c.sequence));
    const { keys, lastSequence } = await keysWrittenSince(this.js, this.jsm, from);
    const replay = { traceback: [] as string[], provider: [] as string[] };
    for (const [key, sequence] of keys) {
      const dot = key.indexOf('.');
      const kind = key.slice(0, dot);
      const id = key.slice(dot + 1);
      const shard = this.shardOf(id);
      if (!wanted.has(shard) || sequence <= (saved.get(shard)?.sequence ?? 0)) continue;
      if (kind === 'traceback' || kind === 'provider') replay[kind].push(id);
    }
    this.tracebacks.markForReplay(replay.traceback);
    this.providers.markForReplay(replay.provider);
    for (const { shard, epoch } of list) {
      this.scannedUpTo.set(shard, lastSequence);
      this.openShards.set(shard, epoch);
    }
    const timers = await this.timers.load((key) => wanted.has(this.shardOf(timerActorId(key))));
    this.checkpoint.observe(lastSequence);
    let replayed = 0;
    const recoverers: [(id: string) => Promise<boolean>, string[]][] = [
      [(id) => this.tracebacks.recover(id), replay.traceback],
      [(id) => this.providers.recover(id), replay.provider],
    ];
    for (const [recover, ids] of recoverers) {
      for (let i = 0; i < ids.length; i += 256) {
        const results = await Promise.all(ids.slice(i, i + 256).map(recover));
        replayed += results.filter(Boolean).length;
      }
    }
    await Promise.all(
      list.map(async ({ shard }) => {
        if (!this.openShards.has(shard)) return; // lost meanwhile
        const work: ShardWork = { messages: undefined, loop: undefined, api: undefined, inflight: new Set(), checkpoint: saved.get(shard) ?? { sequence: 0, revision: 0 } };
        this.shardWork.set(shard, work);
        work.api = this.nc.subscribe(Subjects.shardRequest(shard, '*'), {
          callback: (err, msg) => {
            if (err) return;
            const reply = this.onShardRequest(shard, msg.data)
              .catch((e: unknown) => encodeMessage(errorMessage(ProtocolError.is(e) ? e : this.unavailable(e))))
              .then((bytes) => msg.respond(bytes))
              .then(() => undefined)
              .catch((e: unknown) => this.logger.warn({ err: e }, 'could not reply'));
            this.track(reply);
          },
        });
        const consumer = await this.js.consumers.get(Streams.shardInbox, await ensureShardConsumer(this.jsm, shard, this.options.concurrency));
        work.messages = await consumer.consume({ max_messages: Math.max(64, Math.floor(this.options.concurrency / 4)) });
        work.loop = this.consumeEach(work.messages, work.inflight, (m) => this.onShardMessage(m));
        await this.saveCheckpoint(shard, work);
      }),
    );
    this.logger.info(
      { shards: list.map((l) => l.shard), replayed, actorsWritten: keys.size, timers, ms: Math.round(performance.now() - started) },
      'shards recovered',
    );
  }

  /** Handing shards over: no new work, finish what is in flight, save their checkpoints. */
  private async onShardsReleasing(shards: number[]): Promise<void> {
    for (const shard of shards) this.openShards.delete(shard);
    await Promise.all(
      shards.map(async (shard) => {
        const work = this.shardWork.get(shard);
        work?.api?.unsubscribe();
        await work?.messages?.close().catch(() => undefined);
        await work?.loop?.catch(() => undefined);
        if (work) await Promise.allSettled([...work.inflight]);
        const flushed = (await Promise.all([this.tracebacks.releaseShard(shard, 5000), this.providers.releaseShard(shard, 5000)])).every(Boolean);
        if (work && flushed) await this.saveCheckpoint(shard, work).catch((err: unknown) => this.logger.warn({ err, shard }, 'final shard checkpoint not saved'));
        this.forgetShard(shard);
      }),
    );
  }

  /** Another engine took these shards: stop touching them at once; it replays what we owed. */
  private onShardsLost(shards: number[]): void {
    for (const shard of shards) {
      this.openShards.delete(shard);
      const work = this.shardWork.get(shard);
      work?.api?.unsubscribe();
      void work?.messages?.close().catch(() => undefined);
      this.tracebacks.dropShard(shard);
      this.providers.dropShard(shard);
      this.forgetShard(shard);
    }
  }

  private forgetShard(shard: number): void {
    this.shardWork.delete(shard);
    this.scannedUpTo.delete(shard);
    this.checkpoint.forget(shard);
    this.timers.forget((key) => this.shardOf(timerActorId(key)) === shard);
  }

  /** Fires due timers now instead of at the next tick; for tests on a simulated clock. */
  async fireDueTimers(): Promise<void> {
    await this.timers.tick();
  }

  stats(): EngineStats {
    return {
      ...this.tracebacks.stats,
      live: this.tracebacks.liveCount,
      liveProviders: this.providers.liveCount,
      ...this.counters,
      timersPending: this.timers.size,
      shards: this.leases?.heldShards() ?? [],
    };
  }

  /** Stops taking work, finishes what is in flight, saves the checkpoint, releases resources. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return this.closed().then(() => undefined);
    this.state = 'draining';
    this.timers.stop();
    for (const sub of this.subscriptions) sub.unsubscribe();
    await this.messages?.close();
    await this.keyService?.stop().catch(() => undefined);
    await this.consumeLoop?.catch(() => undefined);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    // Hands every shard over at once (each flushed and checkpointed) instead of letting leases expire.
    await this.leases.stop().catch((err: unknown) => this.logger.warn({ err }, 'shards not handed over cleanly'));
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.release();
    this.state = 'stopped';
    this.logger.info('engine stopped');
    this.closedResolve(undefined);
  }

  /** A fatal condition after start (another engine running under our id): stop without handing over. */
  private async fail(err: Error): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return;
    this.logger.error({ err }, 'engine failed');
    this.state = 'failed';
    for (const sub of this.subscriptions) sub.unsubscribe();
    await this.messages?.close().catch(() => undefined);
    await this.release();
    this.closedResolve(err);
  }

  private async release(): Promise<void> {
    this.leases?.halt();
    for (const work of this.shardWork.values()) {
      work.api?.unsubscribe();
      await work.messages?.close().catch(() => undefined);
    }
    for (const handle of this.intervals) clearInterval(handle);
    this.timers?.stop();
    this.tracebacks?.stopAll();
    this.providers?.stopAll();
    if (this.ownsConnection && this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
