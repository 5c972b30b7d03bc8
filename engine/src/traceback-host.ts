import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Snapshot } from 'xstate';
import {
  buildTrail,
  checkAnswer,
  createTraceback,
  restoreTraceback,
  type TracebackActor,
  TRACEBACK_MACHINE_VERSION,
  type TracebackCommand,
  type TracebackContext,
  type TracebackEventIn,
  type TracebackInput,
} from '../../actors/index.js';
import {
  ErrorCode,
  PROTOCOL_VERSION,
  ProtocolError,
  Streams,
  Subjects,
  encodeMessage,
  decodeTracebackEvent,
  type HopAnswer,
  type TracebackEvent,
  type TracebackId,
} from '../../protocol/index.js';
import type { Clock } from './clock.js';
import type { OutboxCheckpoint } from './checkpoint.js';
import { EngineError, EngineErrorCode, RetryableError } from './errors.js';
import { actorKey, decodeRecord, encodeRecord, type ActorRecord } from './record.js';
import type { TimerService } from './timer-service.js';

interface LiveActor {
  actor: TracebackActor;
  revision: number;
  lastUsed: number;
  /** Commands written with the last revision and not yet carried out (a previous attempt failed). */
  pendingOutbox: TracebackCommand[] | undefined;
  pendingToken: number | undefined;
}

export interface HostStats {
  live: number;
  loads: number;
  evictions: number;
  writes: number;
  conflicts: number;
}

/** Result of delivering an answer, for the caller to report to the carrier. */
export type AnswerResult = { kind: 'applied' } | { kind: 'duplicate' } | { kind: 'rejected'; error: ProtocolError };

export interface HostDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  actors: KV;
  timers: TimerService;
  checkpoint: OutboxCheckpoint;
  clock: Clock;
  logger: Logger;
  idleEvictionMs: number;
  maxLiveActors: number;
}

/** A compare-and-set that lost: the key exists, or has another revision than expected. */
function isConflict(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error).message ?? '');
}

function contextOf(actor: TracebackActor): TracebackContext {
  return actor.getSnapshot().context;
}

function isDone(actor: TracebackActor): boolean {
  return actor.getSnapshot().status === 'done';
}

/**
 * Hosts traceback actors: one mailbox per actor so its messages apply in order, live
 * actors cached and evicted when idle, every transition persisted with compare-and-set
 * before its commands are carried out.
 */
export class TracebackHost {
  private readonly live = new Map<string, LiveActor>();
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  /**
   * Writes whose outcome is unknown (the request timed out or the connection dropped):
   * the record may or may not have been stored. The next load settles it, and the
   * checkpoint token stays open until then so a crash in between still replays it.
   */
  private readonly uncertain = new Map<string, { previousRevision: number; token: number }>();
  readonly stats: HostStats = { live: 0, loads: 0, evictions: 0, writes: 0, conflicts: 0 };

  constructor(private readonly deps: HostDeps) {}

  /** Runs `work` after every earlier task of the same actor, never two at once for one actor. */
  private inMailbox<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.mailboxes.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.mailboxes.set(id, settled);
    void settled.then(() => {
      if (this.mailboxes.get(id) === settled) this.mailboxes.delete(id);
    });
    return next;
  }

  /** Waits until every mailbox is empty (used when draining). */
  async idle(): Promise<void> {
    while (this.mailboxes.size > 0) await Promise.all([...this.mailboxes.values()]);
  }

  async create(input: TracebackInput, existingOk: boolean): Promise<{ created: boolean }> {
    return this.inMailbox(input.tracebackId, async () => {
      const key = actorKey(input.tracebackId);
      // A retry of a create whose write may have landed: settle that first.
      const retried = this.live.has(input.tracebackId) || this.uncertain.has(input.tracebackId);
      if (retried || existingOk) {
        const existing = await this.load(input.tracebackId);
        // With a request id, an existing traceback is the answer to a repeated request.
        if (existing) return { created: !existingOk };
      }
      const commands: TracebackCommand[] = [];
      const actor = createTraceback(input);
      const sub = actor.on('*', (command) => commands.push(command));
      actor.start();
      sub.unsubscribe();
      const started: TracebackCommand = {
        type: 'cmd.audit',
        record: { tracebackId: input.tracebackId, seq: 1, at: input.now, type: 'started', state: 'asking' },
      };
      const outbox = [started, ...commands];
      const token = this.deps.checkpoint.begin();
      let revision: number;
      try {
        revision = await this.deps.actors.create(key, encodeRecord(this.record(actor, outbox)));
      } catch (err) {
        if (isConflict(err)) {
          this.deps.checkpoint.done(token);
          if (existingOk && (await this.load(input.tracebackId))) return { created: false };
        } else {
          this.uncertain.set(input.tracebackId, { previousRevision: 0, token });
        }
        throw new RetryableError(`could not store new traceback ${input.tracebackId}`, 500, { cause: err });
      }
      this.deps.checkpoint.written(token, revision);
      this.stats.writes++;
      const entry: LiveActor = { actor, revision, lastUsed: this.deps.clock.now(), pendingOutbox: outbox, pendingToken: token };
      this.live.set(input.tracebackId, entry);
      await this.runOutbox(input.tracebackId, entry);
      return { created: true };
    });
  }

  /** Applies a carrier answer after checking it belongs to the hop and provider asked. */
  async answer(tracebackId: TracebackId, message: HopAnswer): Promise<AnswerResult> {
    return this.inMailbox(tracebackId, async () => {
      const entry = await this.load(tracebackId);
      if (!entry) {
        return { kind: 'rejected', error: new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${tracebackId}`) };
      }
      const check = checkAnswer(contextOf(entry.actor), message);
      if (check.kind === 'duplicate') return { kind: 'duplicate' };
      if (check.kind === 'reject') return { kind: 'rejected', error: new ProtocolError(check.code, check.message) };
      await this.apply(tracebackId, entry, {
        type: 'ANSWER',
        hopId: message.hopId,
        provider: message.provider,
        answer: message.answer,
        at: this.deps.clock.now(),
      });
      return { kind: 'applied' };
    });
  }

  async timerFired(tracebackId: string, timer: string, at: number): Promise<void> {
    await this.inMailbox(tracebackId, async () => {
      const entry = await this.load(tracebackId);
      if (!entry || isDone(entry.actor)) return;
      await this.apply(tracebackId, entry, { type: 'TIMER_FIRED', timer, at });
    });
  }

  async cancel(tracebackId: TracebackId, reason: string, by: string): Promise<void> {
    await this.inMailbox(tracebackId, async () => {
      const entry = await this.load(tracebackId);
      if (!entry) throw new ProtocolError(ErrorCode.UnknownTraceback, `no traceback ${tracebackId}`);
      if (isDone(entry.actor)) {
        throw new ProtocolError(ErrorCode.TracebackClosed, `traceback ${tracebackId} already ended: ${contextOf(entry.actor).outcome ?? ''}`);
      }
      await this.apply(tracebackId, entry, { type: 'CANCEL', reason, by, at: this.deps.clock.now() });
    });
  }

  /** Reads a traceback's persisted state without keeping it live. */
  async read(tracebackId: string): Promise<{ record: ActorRecord; revision: number } | undefined> {
    const kvEntry = await this.deps.actors.get(actorKey(tracebackId));
    if (!kvEntry || kvEntry.operation !== 'PUT') return undefined;
    return { record: decodeRecord(kvEntry.value), revision: kvEntry.revision };
  }

  private record(actor: TracebackActor, outbox: TracebackCommand[]): ActorRecord {
    return {
      kind: 'traceback',
      machineVersion: TRACEBACK_MACHINE_VERSION,
      snapshot: actor.getPersistedSnapshot() as Snapshot<unknown>,
      outbox,
      updatedAt: this.deps.clock.now(),
    };
  }

  private async load(tracebackId: string): Promise<LiveActor | undefined> {
    const cached = this.live.get(tracebackId);
    if (cached) {
      cached.lastUsed = this.deps.clock.now();
      // Re-insert to keep the map in least-recently-used order.
      this.live.delete(tracebackId);
      this.live.set(tracebackId, cached);
      if (cached.pendingOutbox) await this.runOutbox(tracebackId, cached);
      return cached;
    }
    const stored = await this.read(tracebackId);
    const doubt = this.uncertain.get(tracebackId);
    if (doubt) {
      // Our earlier write landed if the revision moved: carry out its outbox now.
      if (stored && stored.revision !== doubt.previousRevision && stored.record.outbox.length > 0) {
        const context = restoreTraceback(stored.record.snapshot).getSnapshot().context;
        await this.execute(tracebackId, context, stored.record.outbox, true);
      }
      this.uncertain.delete(tracebackId);
      this.deps.checkpoint.done(doubt.token);
    }
    if (!stored) return undefined;
    this.stats.loads++;
    this.deps.checkpoint.observe(stored.revision);
    const actor = restoreTraceback(stored.record.snapshot);
    actor.start();
    // Otherwise the outbox of a stored record was carried out before it was evicted, or is
    // replayed by recovery at start-up; it is not run again here.
    const entry: LiveActor = { actor, revision: stored.revision, lastUsed: this.deps.clock.now(), pendingOutbox: undefined, pendingToken: undefined };
    this.live.set(tracebackId, entry);
    this.evictIfFull();
    return entry;
  }

  /** Sends one event, persists the result with compare-and-set, then carries out its commands. */
  private async apply(tracebackId: string, entry: LiveActor, event: TracebackEventIn): Promise<void> {
    const commands: TracebackCommand[] = [];
    const sub = entry.actor.on('*', (command) => commands.push(command));
    entry.actor.send(event);
    sub.unsubscribe();
    const snapshot = entry.actor.getSnapshot();
    if (snapshot.status === 'error') {
      this.live.delete(tracebackId);
      throw new EngineError(EngineErrorCode.Conflict, `traceback ${tracebackId} failed on ${event.type}: ${String(snapshot.error)}`);
    }
    // The machine emits an audit command on every change; no commands means nothing changed.
    if (commands.length === 0) return;
    const token = this.deps.checkpoint.begin();
    try {
      entry.revision = await this.deps.actors.update(actorKey(tracebackId), encodeRecord(this.record(entry.actor, commands)), entry.revision);
    } catch (err) {
      // The live actor is now ahead of the store: drop it so the next attempt starts from KV.
      this.live.delete(tracebackId);
      const conflict = isConflict(err);
      if (conflict) {
        this.stats.conflicts++;
        this.deps.checkpoint.done(token);
      } else {
        this.uncertain.set(tracebackId, { previousRevision: entry.revision, token });
      }
      throw new RetryableError(conflict ? `traceback ${tracebackId} was changed by another writer` : `could not store traceback ${tracebackId}`, 500, {
        cause: err,
      });
    }
    this.stats.writes++;
    this.deps.checkpoint.written(token, entry.revision);
    entry.pendingOutbox = commands;
    entry.pendingToken = token;
    entry.lastUsed = this.deps.clock.now();
    await this.runOutbox(tracebackId, entry);
    if (isDone(entry.actor)) this.live.delete(tracebackId);
  }

  private async runOutbox(tracebackId: string, entry: LiveActor): Promise<void> {
    const outbox = entry.pendingOutbox;
    if (!outbox) return;
    await this.execute(tracebackId, contextOf(entry.actor), outbox, false);
    entry.pendingOutbox = undefined;
    if (entry.pendingToken !== undefined) this.deps.checkpoint.done(entry.pendingToken);
    entry.pendingToken = undefined;
  }

  /**
   * Carries out commands. Each is idempotent: publishes carry a deterministic
   * `Nats-Msg-Id`; timers are keyed puts and deletes. In `recovery` the outbox may be older
   * than the stream's duplicate window, so trails and audit events are looked up first.
   */
  async execute(tracebackId: string, context: TracebackContext, commands: TracebackCommand[], recovery: boolean): Promise<void> {
    const lastAuditSeq = recovery ? await this.lastAuditSeq(tracebackId) : 0;
    await Promise.all(
      commands.map(async (command) => {
        switch (command.type) {
          case 'cmd.hopQuery': {
            const q = command.query;
            await this.deps.js.publish(Subjects.hopQuery(q.provider), encodeMessage(q), { msgID: `${q.hopId}.q${q.reminder}` });
            return;
          }
          case 'cmd.scheduleTimer':
            await this.deps.timers.schedule(`${actorKey(tracebackId)}.${command.timer}`, command.dueAt, { tracebackId, timer: command.timer });
            return;
          case 'cmd.cancelTimer':
            await this.deps.timers.cancel(`${actorKey(tracebackId)}.${command.timer}`);
            return;
          case 'cmd.audit': {
            if (command.record.seq <= lastAuditSeq) return;
            const event: TracebackEvent = { v: PROTOCOL_VERSION, kind: 'traceback_event', ...command.record };
            await this.deps.js.publish(Subjects.events(tracebackId), encodeMessage(event), { msgID: `${tracebackId}.e${command.record.seq}` });
            return;
          }
          case 'cmd.publishTrail': {
            const trail = buildTrail(context);
            const subject = Subjects.trail(trail.outcome, trail.call.campaign, trail.endProvider, trail.tracebackId);
            if (recovery && (await this.exists(Streams.trails, subject))) return;
            await this.deps.js.publish(subject, encodeMessage(trail), { msgID: `${tracebackId}.trail` });
            return;
          }
          default:
            return command satisfies never;
        }
      }),
    );
  }

  private async exists(stream: string, subject: string): Promise<boolean> {
    try {
      const msg = await this.deps.jsm.streams.getMessage(stream, { last_by_subj: subject });
      return msg !== null && msg !== undefined;
    } catch {
      return false;
    }
  }

  private async lastAuditSeq(tracebackId: string): Promise<number> {
    try {
      const msg = await this.deps.jsm.streams.getMessage(Streams.events, { last_by_subj: Subjects.events(tracebackId) });
      if (!msg) return 0;
      return decodeTracebackEvent(msg.data).seq;
    } catch {
      return 0;
    }
  }

  /** Replays the outbox of a stored record (engine start-up recovery). */
  async recover(tracebackId: string): Promise<boolean> {
    return this.inMailbox(tracebackId, async () => {
      const stored = await this.read(tracebackId);
      if (!stored || stored.record.outbox.length === 0) return false;
      const actor = restoreTraceback(stored.record.snapshot);
      await this.execute(tracebackId, actor.getSnapshot().context, stored.record.outbox, true);
      return true;
    });
  }

  /** Evicts idle actors; called periodically. */
  sweep(): void {
    const cutoff = this.deps.clock.now() - this.deps.idleEvictionMs;
    for (const [id, entry] of this.live) {
      if (entry.lastUsed > cutoff) break; // map is in least-recently-used order
      if (this.mailboxes.has(id)) continue;
      if (entry.pendingOutbox) {
        // Commands that failed (NATS was away) and no message came to retry them: retry now.
        this.inMailbox(id, () => this.runOutbox(id, entry)).catch((err: unknown) =>
          this.deps.logger.warn({ err, tracebackId: id }, 'outbox retry failed'),
        );
        continue;
      }
      this.evict(id, entry);
    }
    this.stats.live = this.live.size;
  }

  private evictIfFull(): void {
    if (this.live.size <= this.deps.maxLiveActors) return;
    for (const [id, entry] of this.live) {
      if (this.live.size <= this.deps.maxLiveActors) break;
      if (entry.pendingOutbox || this.mailboxes.has(id)) continue;
      this.evict(id, entry);
    }
  }

  private evict(id: string, entry: LiveActor): void {
    entry.actor.stop();
    this.live.delete(id);
    this.stats.evictions++;
  }

  get liveCount(): number {
    return this.live.size;
  }

  stopAll(): void {
    for (const entry of this.live.values()) entry.actor.stop();
    this.live.clear();
  }
}
