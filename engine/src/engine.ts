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
  type DirectoryDeadline,
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
import { ensureError, RetryableError } from './errors.js';
import { compileOptions, type CompiledEngineOptions, type EngineOptions } from './options.js';
import { readCheckpoint, recoverOutboxes, writeCheckpoint } from './recovery.js';
import { TimerService } from './timer-service.js';
import { ANSWER_ACK_WAIT_MS, ENGINE_ANSWER_CONSUMER, ensureTopology, type Topology } from './topology.js';
import { ActorHost, type HostStats } from './actor-host.js';
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
  checkpoint: number;
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
  private messages: ConsumerMessages | undefined;
  private keyService: KeyService | undefined;
  private readonly subscriptions: Subscription[] = [];
  private readonly intervals: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private consumeLoop: Promise<void> | undefined;
  private savedCheckpoint = 0;
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
    this.topology = await ensureTopology(this.nc, this.jsm, o.replicas, o.concurrency);
    this.savedCheckpoint = await readCheckpoint(this.topology.meta);
    this.checkpoint = new OutboxCheckpoint(this.savedCheckpoint);
    this.timers = new TimerService(this.topology.timers, o.clock, (payload, at) => this.onTimer(payload.kind, payload.id, payload.timer, at), this.logger, o.timerTickMs);
    const hostDeps = {
      actors: this.topology.actors,
      checkpoint: this.checkpoint,
      clock: o.clock,
      logger: this.logger,
      idleEvictionMs: o.idleEvictionMs,
      maxLiveActors: o.maxLiveActors,
    };
    const router: Router = {
      now: () => o.clock.now(),
      toProvider: async (provider, event) => {
        const delivery = await this.retrying(() =>
          this.providers.deliver(provider, () => ({ event }), () => createProvider(this.providerInput(provider))),
        );
        void delivery;
      },
      toTraceback: async (tracebackId, event) => {
        // A finished traceback ignores late results (a replayed outbox); XState would warn about them.
        await this.retrying(() =>
          this.tracebacks.deliver(tracebackId, (actor) => (actor && actor.getSnapshot().status === 'active' ? { event } : { result: undefined })),
        );
      },
    };
    const { key } = await loadOrCreateEngineKey(await openKeyBucket(this.nc, { replicas: o.replicas }));
    this.keyService = servePublicKey(this.nc, key);
    const effects = { signingKey: key, js: this.js, jsm: this.jsm, timers: this.timers, router };
    this.tracebacks = new ActorHost(tracebackSpec(effects), hostDeps);
    this.providers = new ActorHost(providerSpec(effects), hostDeps);
    // Timers first: recovery may cancel or reschedule them.
    const timers = await this.timers.load();
    const recovery = await recoverOutboxes(this.js, this.jsm, this.topology.meta, [this.tracebacks, this.providers], this.logger);
    this.savedCheckpoint = recovery.lastSequence;
    this.checkpoint.observe(recovery.lastSequence);

    this.serve(Subjects.start, (msg) => this.onStart(msg));
    this.serve(Subjects.cancel, (msg) => this.onCancel(msg));
    this.serve(Subjects.status, (msg) => this.onStatus(msg));
    this.serve(Subjects.upsertProviders, (msg) => this.onUpsertProviders(msg));
    this.serve(Subjects.clearFlag, (msg) => this.onClearFlag(msg));
    // Subscribed before the engine counts as running, so a stop right after start closes it.
    const answers = await this.js.consumers.get(Streams.hopAnswers, ENGINE_ANSWER_CONSUMER);
    this.messages = await answers.consume({ max_messages: this.options.concurrency });
    this.consumeLoop = this.consumeAnswers(this.messages);
    this.timers.start();
    this.every(o.checkpointIntervalMs, () => this.saveCheckpoint());
    this.every(Math.max(1000, Math.min(o.idleEvictionMs, 10_000)), async () => {
      this.tracebacks.sweep();
      this.providers.sweep();
    });
    this.state = 'running';
    this.logger.info(
      { server: this.nc.info?.version, timers, replayed: recovery.replayed, deadlineMs: o.hopDeadlineMs },
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

  private async onStart(msg: Msg): Promise<Uint8Array> {
    if (this.state !== 'running') throw new ProtocolError(ErrorCode.Unavailable, `engine is ${this.state}`);
    const request = decodeStartTraceback(msg.data);
    const now = this.options.clock.now();
    const tracebackId =
      request.requestId !== undefined ? tracebackIdForRequest(request.requester, request.requestId) : newTracebackId(now);
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

  private async onCancel(msg: Msg): Promise<Uint8Array> {
    const request = decodeCancelTraceback(msg.data);
    const at = this.options.clock.now();
    const delivery = await this.retrying(() =>
      this.tracebacks.deliver<ProtocolError>(request.tracebackId, (actor) => {
        if (!actor) return { result: new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${request.tracebackId}`) };
        if (actor.getSnapshot().status === 'done') {
          const outcome = (actor.getSnapshot().context as TracebackContext).outcome ?? '';
          return { result: new ProtocolError(ErrorCode.TracebackClosed, `traceback ${request.tracebackId} already ended: ${outcome}`) };
        }
        return { event: { type: 'CANCEL', reason: request.reason, by: request.requester, at } };
      }),
    );
    if (delivery.result) throw delivery.result;
    await delivery.executed;
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'traceback_cancelled', tracebackId: request.tracebackId });
  }

  /** Directory import: each entry updates (or creates) that provider's actor. */
  private async onUpsertProviders(msg: Msg): Promise<Uint8Array> {
    const request = decodeUpsertProviders(msg.data);
    const changes = request.providers.map((entry, i) => {
      const policy: Partial<ProviderPolicy> = {};
      if (entry.deadline) policy.deadline = toDeadlinePolicy(entry.deadline);
      if (entry.reminders) policy.reminderFractions = entry.reminders;
      if (entry.maxInFlight) policy.maxInFlight = entry.maxInFlight;
      const problems = policyProblems({ ...this.providerInput(entry.id).policy, ...policy });
      if (problems.length > 0) {
        throw new ProtocolError(ErrorCode.InvalidField, `providers[${i}] (${entry.id}): ${problems.join('; ')}`, { path: `providers[${i}]` });
      }
      const directory: Partial<DirectoryEntry> = { verified: true };
      for (const field of ['name', 'frn', 'ocn', 'contact', 'rmdStatus', 'roles'] as const) {
        if (entry[field] !== undefined) (directory as Record<string, unknown>)[field] = entry[field];
      }
      return { id: entry.id, directory, policy };
    });
    await Promise.all(
      changes.map(async ({ id, directory, policy }) => {
        const at = this.options.clock.now();
        const create = () => createProvider({ ...this.providerInput(id), directory });
        const updated = await this.retrying(() => this.providers.deliver(id, () => ({ event: { type: 'UPDATE_DIRECTORY', entry: directory, at } }), create));
        await updated.executed;
        if (Object.keys(policy).length > 0) {
          const withPolicy = await this.retrying(() => this.providers.deliver(id, () => ({ event: { type: 'UPDATE_POLICY', policy, at } })));
          await withPolicy.executed;
        }
      }),
    );
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'providers_upserted', count: changes.length });
  }

  private async onClearFlag(msg: Msg): Promise<Uint8Array> {
    const request = decodeClearProviderFlag(msg.data);
    const at = this.options.clock.now();
    const delivery = await this.retrying(() =>
      this.providers.deliver<ProtocolError>(request.provider, (actor) => {
        if (!actor) return { result: new ProtocolError(ErrorCode.UnknownProvider, `no provider ${request.provider}`) };
        const flags = (actor.getSnapshot().context as ProviderContext).flags;
        if (!flags[request.flag]) return { result: new ProtocolError(ErrorCode.FlagNotSet, `${request.provider} is not flagged ${request.flag}`) };
        return { event: { type: 'CLEAR_FLAG', flag: request.flag, reason: request.reason, by: request.requester, at } };
      }),
    );
    if (delivery.result) throw delivery.result;
    await delivery.executed;
    return encodeMessage({ v: PROTOCOL_VERSION, kind: 'provider_flag_cleared', provider: request.provider, flag: request.flag });
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
        if (ProtocolError.is(err)) throw err;
        if (this.state !== 'running' && this.state !== 'draining') throw err;
        if (Date.now() - started > RETRY_LIMIT_MS) throw err;
        const wait = err instanceof RetryableError ? err.retryAfterMs : Math.min(2000, 100 * 2 ** attempt);
        this.logger.debug({ err, attempt }, 'retrying');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  private async consumeAnswers(messages: ConsumerMessages): Promise<void> {
    let running = 0;
    const waiters: (() => void)[] = [];
    for await (const m of messages) {
      running++;
      const work = this.onAnswer(m).finally(() => {
        running--;
        waiters.shift()?.();
      });
      this.track(work);
      if (running >= this.options.concurrency) await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  private async onAnswer(m: JsMsg): Promise<void> {
    const subjectProvider = m.subject.slice('tb.hop.ans.'.length);
    let hopId: string | undefined;
    try {
      const answer = decodeHopAnswer(m.data);
      hopId = answer.hopId;
      if (answer.provider !== subjectProvider) {
        throw new ProtocolError(ErrorCode.WrongProvider, `answer names provider ${answer.provider} but was sent on ${m.subject}`, { path: 'provider' });
      }
      const { tracebackId } = parseHopId(answer.hopId);
      const heartbeat = setInterval(() => m.working(), ANSWER_ACK_WAIT_MS / 2);
      const outcome = await withSpan(this.options.tracer, 'robotrace.answer', { [Attr.hopId]: answer.hopId, [Attr.provider]: subjectProvider }, () =>
        this.applyAnswer(tracebackId, answer),
      ).finally(() => clearInterval(heartbeat));
      if (outcome === 'duplicate') this.counters.answersDuplicate++;
      else this.counters.answersApplied++;
      m.ack();
    } catch (err) {
      if (ProtocolError.is(err)) {
        this.counters.answersRejected++;
        await this.reject(subjectProvider, err, hopId);
        m.ack();
        return;
      }
      // Not acked: redelivered after ack_wait, by which time NATS or the store is back.
      this.logger.warn({ err, subject: m.subject, seq: m.seq }, 'answer not processed; it will be redelivered');
      m.nak(2000);
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
    const check = await this.retrying(() =>
      this.tracebacks.inspect(tracebackId, (actor) => (actor ? checkAnswer(actor.getSnapshot().context as TracebackContext, answer) : undefined)),
    );
    if (check === undefined) throw new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${tracebackId}`);
    if (check.kind === 'reject') throw new ProtocolError(check.code, check.message);
    if (check.kind === 'duplicate') return 'duplicate';
    const at = this.options.clock.now();
    const delivery = await this.retrying(() =>
      this.providers.deliver(
        answer.provider,
        () => ({ event: { type: 'ANSWER', hopId: answer.hopId, answer: answer.answer, at } }),
        () => createProvider(this.providerInput(answer.provider)),
      ),
    );
    await delivery.executed;
    return delivery.outcome === 'applied' ? 'applied' : 'duplicate';
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

  private async onTimer(kind: 'traceback' | 'provider', id: string, timer: string, at: number): Promise<void> {
    this.counters.timersFired++;
    if (kind !== 'provider') return; // version-1 traceback timers: nothing handles them any more
    await withSpan(this.options.tracer, 'robotrace.timer', { [Attr.provider]: id }, async () => {
      const delivery = await this.providers.deliver(id, (actor) => (actor ? { event: { type: 'TIMER_FIRED', timer, at } } : { result: undefined }));
      await delivery.executed;
    });
  }

  private async saveCheckpoint(): Promise<void> {
    const current = this.checkpoint.current();
    if (current <= this.savedCheckpoint) return;
    await writeCheckpoint(this.topology.meta, current);
    this.savedCheckpoint = current;
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
      checkpoint: this.checkpoint.current(),
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
    await this.tracebacks.idle();
    await this.providers.idle();
    await Promise.race([Promise.all([this.tracebacks.flushed(), this.providers.flushed()]), new Promise((r) => setTimeout(r, 5000))]);
    await this.saveCheckpoint().catch((err: unknown) => this.logger.warn({ err }, 'final checkpoint not saved'));
    await this.release();
    this.state = 'stopped';
    this.logger.info('engine stopped');
    this.closedResolve(undefined);
  }

  private async release(): Promise<void> {
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
