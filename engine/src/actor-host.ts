import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Snapshot } from 'xstate';
import type { Clock } from './clock.js';
import type { OutboxCheckpoint } from './checkpoint.js';
import { EngineError, EngineErrorCode, NotOwnerError, RetryableError } from './errors.js';
import { actorKey, decodeRecord, encodeRecord, type ActorKindName, type ActorRecord, type OutboxEntry, type WriterStamp } from './record.js';

/** The minimal actor surface the host needs (an XState actor). */
export interface HostedActor<E, C> {
  start(): unknown;
  stop(): unknown;
  send(event: E): void;
  on(type: '*', handler: (emitted: C) => void): { unsubscribe(): void };
  getSnapshot(): { status: string; error?: unknown; context: unknown };
  getPersistedSnapshot(): Snapshot<unknown>;
}

/** What the host needs to know about one kind of actor. */
export interface KindSpec<A extends HostedActor<E, C>, E, C extends { type: string }> {
  kind: ActorKindName;
  version: number;
  /** Re-creates an actor from a stored record, migrating older versions; not started. */
  restore(record: ActorRecord<C>): A;
  /**
   * Carries out commands; idempotent. `recovery`: they may have run before, long ago.
   * `writer`: the engine and shard epoch under which they were persisted (or taken over).
   */
  execute(id: string, actor: A, commands: C[], recovery: boolean, extra: unknown, writer: WriterStamp): Promise<void>;
  /**
   * State derived from the commands and persisted with them in the same write (the
   * traceback's evidence chain over its audit events).
   */
  extend?(extra: unknown, commands: C[]): unknown;
  /** Commands with the same key supersede each other (a timer scheduled then cancelled). */
  supersedeKey?(command: C): string | undefined;
}

interface Entry<A, C> {
  actor: A;
  extra: unknown;
  revision: number;
  lastUsed: number;
  outbox: OutboxEntry<C>[];
  nextCommandId: number;
  executedUpTo: number;
  /** Checkpoint tokens of writes whose outbox is not fully carried out yet. */
  tokens: { token: number; upTo: number }[];
  waiters: { upTo: number; resolve: () => void }[];
  executing: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  /** Commands up to this id came from a stored outbox that may have run before (recovery). */
  replayUpTo: number;
  /** The shard epoch under which this copy was loaded or written; another epoch means reload. */
  epoch: number;
  /** Who persisted the commands taken over for replay (they are stamped with it, not with us). */
  replayWriter: WriterStamp | undefined;
}

interface QueuedDelivery<A, E> {
  decide: (actor: A | undefined) => { event: E } | { result: unknown };
  create: (() => A) | undefined;
  resolve: (delivery: Delivery<unknown>) => void;
  reject: (err: unknown) => void;
}

/** How one delivery went. `executed` settles once its commands have been carried out. */
export interface Delivery<R = undefined> {
  outcome: 'applied' | 'unchanged' | 'missing';
  result: R | undefined;
  executed: Promise<void>;
}

export interface HostStats {
  live: number;
  loads: number;
  evictions: number;
  writes: number;
  conflicts: number;
}

/** Shard ownership as the host sees it (see `ShardLeases`). */
export interface ShardGuard {
  /** This engine's id, stamped on what it writes. */
  readonly engineId: string;
  shardOf(id: string): number;
  /** The stamp to write under; throws `NotOwnerError` when this engine may not write the shard now. */
  stamp(shard: number): WriterStamp;
  /** The current epoch of a shard held here, without throwing. */
  epochNow(shard: number): number | undefined;
  /** The actor-bucket sequence up to which this tenure's recovery scanned the shard's writes. */
  scannedUpTo(shard: number): number;
  /** A stored record carries a newer epoch than ours: another engine owns the shard now. */
  superseded(shard: number): void;
}

export interface HostDeps {
  actors: KV;
  checkpoint: OutboxCheckpoint;
  shards: ShardGuard;
  clock: Clock;
  logger: Logger;
  idleEvictionMs: number;
  maxLiveActors: number;
}

const DONE = Promise.resolve();

/** A compare-and-set that lost: the key exists, or has another revision than expected. */
function isConflict(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error).message ?? '');
}

/**
 * Hosts the actors of one kind. Per actor, messages apply one at a time (a mailbox); each
 * transition is written to KV with compare-and-set together with every command not yet
 * carried out, and the commands then run on a separate per-actor executor. A mailbox never
 * waits for command execution, so actors that message each other cannot deadlock, and an
 * actor keeps taking messages while its earlier commands are still in flight.
 */
export class ActorHost<A extends HostedActor<E, C>, E, C extends { type: string }> {
  private readonly live = new Map<string, Entry<A, C>>();
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  /** Deliveries waiting for their actor's next batch. */
  private readonly queued = new Map<string, QueuedDelivery<A, E>[]>();
  private readonly uncertain = new Map<string, { previousRevision: number; token: number }>();
  /**
   * Actors whose stored outbox may not have been carried out (written after the last
   * checkpoint). Whoever loads one first, recovery or a message from another actor, takes the
   * stored outbox over as pending; otherwise the next write would persist without it.
   */
  private readonly replay = new Set<string>();
  private stopped = false;
  readonly stats: HostStats = { live: 0, loads: 0, evictions: 0, writes: 0, conflicts: 0 };

  constructor(
    private readonly spec: KindSpec<A, E, C>,
    private readonly deps: HostDeps,
  ) {}

  get kind(): ActorKindName {
    return this.spec.kind;
  }

  private inMailbox<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.mailboxes.get(id) ?? DONE;
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

  /** Waits until no mailbox has work (used when draining). */
  async idle(): Promise<void> {
    while (this.mailboxes.size > 0) await Promise.all([...this.mailboxes.values()]);
  }

  /**
   * Delivers one event. `decide` sees the actor (or `undefined` when none is stored) and
   * returns the event to send, or a result to hand back without changing anything. With
   * `create`, a missing actor is created first.
   */
  deliver<R>(
    id: string,
    decide: (actor: A | undefined) => { event: E } | { result: R },
    create?: () => A,
  ): Promise<Delivery<R>> {
    return new Promise<Delivery<R>>((resolve, reject) => {
      let queue = this.queued.get(id);
      if (!queue) {
        queue = [];
        this.queued.set(id, queue);
        void this.inMailbox(id, () => this.drain(id));
      }
      queue.push({ decide, create, resolve: resolve as (d: Delivery<unknown>) => void, reject });
    });
  }

  /**
   * Applies every delivery queued for one actor and persists them with ONE write (group
   * commit): a busy actor, such as a provider that half the network's hops go through,
   * pays one KV round trip per batch instead of one per message.
   */
  private async drain(id: string): Promise<void> {
    const items = this.queued.get(id) ?? [];
    this.queued.delete(id);
    const settled = new Set<QueuedDelivery<A, E>>();
    const settle = (item: QueuedDelivery<A, E>, delivery: Delivery<unknown>) => {
      settled.add(item);
      item.resolve(delivery);
    };
    try {
      this.deps.shards.stamp(this.deps.shards.shardOf(id));
      let entry = await this.load(id);
      if (entry && entry.actor.getSnapshot().status === 'stopped') {
        // The shard was lost between the ownership check and here (the loss is handled in a
        // microtask that can run during `await this.load`) and its actors were stopped. A
        // stopped actor ignores every event, which would read as "nothing changed" and the
        // message would be acknowledged and lost; reloading checks ownership again instead.
        this.deps.logger.debug({ kind: this.spec.kind, id }, 'actor stopped under us (shard lost); reloading');
        this.drop(id);
        entry = await this.load(id);
      }
      let created = false;
      const commands: C[] = [];
      let sub: { unsubscribe(): void } | undefined = entry?.actor.on('*', (command) => commands.push(command));
      const applied: QueuedDelivery<A, E>[] = [];
      for (const item of items) {
        if (!entry && item.create) {
          entry = this.fresh(item.create());
          created = true;
          sub = entry.actor.on('*', (command) => commands.push(command));
          entry.actor.start();
        }
        const decision = item.decide(entry?.actor);
        if ('result' in decision) {
          settle(item, { outcome: entry ? 'unchanged' : 'missing', result: decision.result, executed: DONE });
          continue;
        }
        if (!entry) {
          settle(item, { outcome: 'missing', result: undefined, executed: DONE });
          continue;
        }
        entry.actor.send(decision.event);
        const snapshot = entry.actor.getSnapshot();
        if (snapshot.status === 'error') {
          sub?.unsubscribe();
          this.drop(id);
          throw new EngineError(EngineErrorCode.Conflict, `${this.spec.kind} ${id} failed: ${String(snapshot.error)}`);
        }
        applied.push(item);
      }
      sub?.unsubscribe();
      // Every change of a machine emits at least an audit command: none means nothing changed.
      if (!entry || applied.length === 0 || (commands.length === 0 && !created)) {
        for (const item of applied) settle(item, { outcome: 'unchanged', result: undefined, executed: DONE });
        return;
      }
      const delivery = await this.persist(id, entry, commands, created);
      for (const item of applied) settle(item, delivery);
    } catch (err) {
      for (const item of items) if (!settled.has(item)) item.reject(err);
    }
  }

  /** Creates a new actor from its first commands (emitted on start). Fails if it exists. */
  create(id: string, make: () => A, extraCommands: C[] = []): Promise<Delivery & { existed: boolean }> {
    return this.inMailbox(id, async () => {
      this.deps.shards.stamp(this.deps.shards.shardOf(id));
      const existing = await this.load(id);
      if (existing) return { outcome: 'unchanged' as const, result: undefined, executed: DONE, existed: true };
      const entry = this.fresh(make());
      const commands: C[] = [...extraCommands];
      const sub = entry.actor.on('*', (command) => commands.push(command));
      entry.actor.start();
      sub.unsubscribe();
      const delivery = await this.persist(id, entry, commands, true);
      return { ...delivery, existed: false };
    });
  }

  /** Reads an actor without changing it (loads it into memory if needed). */
  inspect<R>(id: string, read: (actor: A | undefined) => R): Promise<R> {
    return this.inMailbox(id, async () => {
      this.deps.shards.stamp(this.deps.shards.shardOf(id));
      return read((await this.load(id))?.actor);
    });
  }

  private fresh(actor: A): Entry<A, C> {
    return {
      actor,
      extra: undefined,
      revision: 0,
      lastUsed: this.deps.clock.now(),
      outbox: [],
      nextCommandId: 1,
      executedUpTo: 0,
      tokens: [],
      waiters: [],
      executing: false,
      retryTimer: undefined,
      replayUpTo: 0,
      epoch: 0,
      replayWriter: undefined,
    };
  }

  private async persist(id: string, entry: Entry<A, C>, commands: C[], created: boolean): Promise<Delivery> {
    const before = { outbox: entry.outbox, nextCommandId: entry.nextCommandId, extra: entry.extra };
    entry.outbox = [...entry.outbox];
    for (const command of commands) entry.outbox.push({ id: entry.nextCommandId++, command });
    if (this.spec.extend) entry.extra = this.spec.extend(entry.extra, commands);
    const upTo = entry.nextCommandId - 1;
    // On failure the copy is dropped, but its executor may still be busy with earlier, stored
    // commands and must not pick up these, which were never stored.
    const unwind = () => {
      entry.outbox = before.outbox.filter((e) => e.id > entry.executedUpTo);
      entry.nextCommandId = before.nextCommandId;
      entry.extra = before.extra;
      this.drop(id);
    };
    const shard = this.deps.shards.shardOf(id);
    let writer: WriterStamp;
    try {
      writer = this.deps.shards.stamp(shard);
    } catch (err) {
      unwind();
      throw err;
    }
    const record: ActorRecord<C> = {
      kind: this.spec.kind,
      machineVersion: this.spec.version,
      snapshot: entry.actor.getPersistedSnapshot(),
      outbox: entry.outbox,
      nextCommandId: entry.nextCommandId,
      updatedAt: this.deps.clock.now(),
      writer,
      ...(entry.extra === undefined ? {} : { extra: entry.extra }),
    };
    const key = actorKey(this.spec.kind, id);
    const bytes = encodeRecord(record as ActorRecord);
    try {
      // Checked again right before the write: encoding a large record takes time, and the
      // lease must still be fresh when the write leaves.
      if (this.deps.shards.stamp(shard).epoch !== writer.epoch) throw new NotOwnerError(`shard ${shard} changed epoch`);
    } catch (err) {
      unwind();
      throw err;
    }
    entry.epoch = writer.epoch;
    const token = this.deps.checkpoint.begin(shard);
    const over = created && entry.revision === 0 ? 0 : entry.revision;
    try {
      entry.revision =
        entry.revision === 0 && created
          ? await this.deps.actors.create(key, bytes)
          : await this.deps.actors.update(key, bytes, entry.revision);
    } catch (err) {
      // The live actor is now ahead of the store: drop it so the next attempt starts from KV.
      // (A write whose outcome is unknown is settled on the next load, from what is stored.)
      unwind();
      if (isConflict(err)) {
        this.stats.conflicts++;
        this.deps.checkpoint.done(token);
      } else {
        this.uncertain.set(id, { previousRevision: created ? 0 : entry.revision, token });
      }
      throw new RetryableError(`could not store ${this.spec.kind} ${id}`, 200, { cause: err });
    }
    this.stats.writes++;
    const doubt = this.uncertain.get(id);
    if (doubt && doubt.previousRevision === over) {
      // This write took the revision the uncertain one needed: that one can no longer land.
      this.uncertain.delete(id);
      this.deps.checkpoint.done(doubt.token);
    }
    this.deps.checkpoint.written(token, entry.revision);
    entry.tokens.push({ token, upTo });
    entry.lastUsed = this.deps.clock.now();
    // Kept in memory only while the shard is still ours under the same epoch: a copy cached
    // across a loss of the shard would hide writes made by the other owner meanwhile.
    if (!this.live.has(id) && this.deps.shards.epochNow(shard) === entry.epoch) {
      this.live.set(id, entry);
      this.evictIfFull();
    }
    const executed = upTo <= entry.executedUpTo ? DONE : new Promise<void>((resolve) => entry.waiters.push({ upTo, resolve }));
    this.runOutbox(id, entry);
    return { outcome: 'applied', result: undefined, executed };
  }

  /** Carries out the entry's pending commands in order, retrying until they succeed. */
  private runOutbox(id: string, entry: Entry<A, C>): void {
    if (entry.executing || this.stopped) return;
    const pending = entry.outbox.filter((e) => e.id > entry.executedUpTo);
    if (pending.length === 0) return;
    entry.executing = true;
    const upTo = pending[pending.length - 1]?.id ?? entry.executedUpTo;
    const commands = this.supersede(pending.map((e) => e.command));
    const recovery = (pending[0]?.id ?? Infinity) <= entry.replayUpTo;
    this.spec
      .execute(id, entry.actor, commands, recovery, entry.extra, (recovery ? entry.replayWriter : undefined) ?? { engine: this.deps.shards.engineId, epoch: entry.epoch })
      .then(
        () => {
          entry.executedUpTo = upTo;
          entry.outbox = entry.outbox.filter((e) => e.id > upTo);
          for (const t of entry.tokens.filter((t) => t.upTo <= upTo)) this.deps.checkpoint.done(t.token);
          entry.tokens = entry.tokens.filter((t) => t.upTo > upTo);
          for (const w of entry.waiters.filter((w) => w.upTo <= upTo)) w.resolve();
          entry.waiters = entry.waiters.filter((w) => w.upTo > upTo);
          entry.executing = false;
          this.runOutbox(id, entry);
        },
        (err: unknown) => {
          entry.executing = false;
          this.deps.logger.warn({ err, kind: this.spec.kind, id }, 'commands failed; retrying');
          entry.retryTimer = setTimeout(() => {
            entry.retryTimer = undefined;
            this.runOutbox(id, entry);
          }, 500);
          entry.retryTimer.unref();
        },
      );
  }

  private supersede(commands: C[]): C[] {
    const keyOf = this.spec.supersedeKey;
    if (!keyOf) return commands;
    const last = new Map<string, number>();
    commands.forEach((c, i) => {
      const key = keyOf(c);
      if (key !== undefined) last.set(key, i);
    });
    return commands.filter((c, i) => {
      const key = keyOf(c);
      return key === undefined || last.get(key) === i;
    });
  }

  /** Reads a stored record without making the actor live. */
  async read(id: string): Promise<{ record: ActorRecord<C>; revision: number } | undefined> {
    const kvEntry = await this.deps.actors.get(actorKey(this.spec.kind, id));
    if (!kvEntry || kvEntry.operation !== 'PUT') return undefined;
    return { record: decodeRecord(kvEntry.value) as ActorRecord<C>, revision: kvEntry.revision };
  }

  private async load(id: string): Promise<Entry<A, C> | undefined> {
    let cached = this.live.get(id);
    if (cached && cached.epoch !== this.deps.shards.epochNow(this.deps.shards.shardOf(id))) {
      // Loaded under an earlier tenure of the shard: another engine may have written it since.
      this.drop(id);
      cached = undefined;
    }
    if (cached) {
      cached.lastUsed = this.deps.clock.now();
      // Re-insert to keep the map in least-recently-used order.
      this.live.delete(id);
      this.live.set(id, cached);
      return cached;
    }
    const stored = await this.read(id);
    const doubt = this.uncertain.get(id);
    if (doubt && (stored?.revision ?? 0) !== doubt.previousRevision) {
      // Our earlier write landed (the revision moved): carry out its outbox now.
      if (stored && stored.record.outbox.length > 0) {
        const actor = this.spec.restore(stored.record);
        const writer = stored.record.writer ?? { engine: this.deps.shards.engineId, epoch: 0 };
        await this.spec.execute(id, actor, this.supersede(stored.record.outbox.map((e) => e.command)), true, stored.record.extra, writer);
      }
      this.uncertain.delete(id);
      this.deps.checkpoint.done(doubt.token);
    }
    // Otherwise it has not landed yet, and still may (a leader change holds it): the doubt stays
    // until our next write over that revision succeeds (then it never can) or the revision moves.
    if (!stored) return undefined;
    const shard = this.deps.shards.shardOf(id);
    const mine = this.deps.shards.stamp(shard);
    if (stored.record.writer && stored.record.writer.epoch > mine.epoch) {
      // Fenced: an engine that acquired the shard after us has written this actor.
      this.deps.shards.superseded(shard);
      throw new NotOwnerError(`${this.spec.kind} ${id} was written under epoch ${stored.record.writer.epoch} (ours ${mine.epoch})`);
    }
    this.stats.loads++;
    this.deps.checkpoint.observe(stored.revision);
    const actor = this.spec.restore(stored.record);
    actor.start();
    const entry = this.fresh(actor);
    entry.epoch = mine.epoch;
    entry.revision = stored.revision;
    entry.extra = stored.record.extra;
    entry.nextCommandId = stored.record.nextCommandId;
    entry.executedUpTo = stored.record.nextCommandId - 1;
    const outbox = stored.record.outbox;
    // A previous owner's write that landed after this tenure's recovery scan (it was on its way
    // when the shard moved) was not marked for replay, and nobody else will carry it out.
    const late =
      stored.record.writer !== undefined &&
      stored.record.writer.epoch < mine.epoch &&
      stored.revision > this.deps.shards.scannedUpTo(shard);
    if ((this.replay.delete(id) || late) && outbox.length > 0) {
      if (late) this.deps.logger.warn({ kind: this.spec.kind, id, writer: stored.record.writer, revision: stored.revision }, 'late write of a previous owner; carrying out its commands');
      entry.outbox = [...outbox];
      entry.executedUpTo = (outbox[0]?.id ?? 1) - 1;
      entry.replayUpTo = outbox[outbox.length - 1]?.id ?? 0;
      entry.replayWriter = stored.record.writer;
      const token = this.deps.checkpoint.begin(this.deps.shards.shardOf(id));
      this.deps.checkpoint.written(token, stored.revision);
      entry.tokens.push({ token, upTo: entry.replayUpTo });
    }
    // Otherwise the stored outbox was carried out before the actor was evicted.
    this.live.set(id, entry);
    this.evictIfFull();
    this.runOutbox(id, entry);
    return entry;
  }

  /** Start-up recovery: these actors' stored outboxes are carried out when they are loaded. */
  markForReplay(ids: Iterable<string>): void {
    for (const id of ids) this.replay.add(id);
  }

  /** Loads an actor marked for replay (if nothing loaded it yet) and waits for its outbox. */
  async recover(id: string): Promise<boolean> {
    const waiting = await this.inMailbox(id, async () => {
      const replaying = this.replay.has(id) || this.live.has(id);
      const entry = await this.load(id);
      if (!entry || !replaying) return undefined;
      const upTo = entry.nextCommandId - 1;
      if (upTo <= entry.executedUpTo) return undefined;
      // Wrapped: returning the promise itself would make the mailbox wait for execution.
      return { executed: new Promise<void>((resolve) => entry.waiters.push({ upTo, resolve })) };
    });
    if (!waiting) return false;
    await waiting.executed;
    return true;
  }

  /**
   * Forgets the in-memory copy. Commands it already persisted keep being carried out (they
   * are idempotent); otherwise they would wait for the next replay.
   */
  private drop(id: string): void {
    this.live.delete(id);
  }

  private evictable(id: string, entry: Entry<A, C>): boolean {
    return !this.mailboxes.has(id) && !entry.executing && entry.outbox.length === 0 && entry.retryTimer === undefined;
  }

  /** Evicts idle actors; called periodically. */
  sweep(): void {
    const cutoff = this.deps.clock.now() - this.deps.idleEvictionMs;
    for (const [id, entry] of this.live) {
      if (entry.lastUsed > cutoff) break; // the map is in least-recently-used order
      if (this.evictable(id, entry)) this.evict(id, entry);
    }
    this.stats.live = this.live.size;
  }

  private evictIfFull(): void {
    if (this.live.size <= this.deps.maxLiveActors) return;
    for (const [id, entry] of this.live) {
      if (this.live.size <= this.deps.maxLiveActors) break;
      if (this.evictable(id, entry)) this.evict(id, entry);
    }
  }

  private evict(id: string, entry: Entry<A, C>): void {
    entry.actor.stop();
    this.live.delete(id);
    this.stats.evictions++;
  }

  private idsOfShard(shard: number): string[] {
    const ids = new Set<string>();
    for (const id of this.live.keys()) if (this.deps.shards.shardOf(id) === shard) ids.add(id);
    for (const id of this.mailboxes.keys()) if (this.deps.shards.shardOf(id) === shard) ids.add(id);
    return [...ids];
  }

  /**
   * Hands a shard over: waits for its mailboxes and, up to `timeoutMs`, for its actors'
   * commands, then evicts them. The caller has already stopped routing work to the shard.
   */
  async releaseShard(shard: number, timeoutMs: number): Promise<boolean> {
    const ids = this.idsOfShard(shard);
    await Promise.all(ids.map((id) => this.mailboxes.get(id) ?? DONE));
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      const entry = this.live.get(id);
      if (!entry) continue;
      const upTo = entry.nextCommandId - 1;
      if (upTo > entry.executedUpTo) waits.push(new Promise((resolve) => entry.waiters.push({ upTo, resolve })));
    }
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      Promise.all(waits).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.dropShard(shard);
    return flushed;
  }

  /** Forgets a shard's actors at once (its lease was lost); the new owner replays what they owed. */
  dropShard(shard: number): void {
    for (const id of this.idsOfShard(shard)) {
      const entry = this.live.get(id);
      if (entry) {
        entry.actor.stop();
        this.live.delete(id);
      }
      this.replay.delete(id);
      const doubt = this.uncertain.get(id);
      if (doubt) this.deps.checkpoint.done(doubt.token);
      this.uncertain.delete(id);
    }
    for (const id of this.replay) if (this.deps.shards.shardOf(id) === shard) this.replay.delete(id);
  }

  /** Resolves once every live actor's commands have been carried out. */
  async flushed(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const entry of this.live.values()) {
      const upTo = entry.nextCommandId - 1;
      if (upTo > entry.executedUpTo) waits.push(new Promise((resolve) => entry.waiters.push({ upTo, resolve })));
    }
    await Promise.all(waits);
  }

  get liveCount(): number {
    return this.live.size;
  }

  stopAll(): void {
    this.stopped = true;
    for (const entry of this.live.values()) {
      if (entry.retryTimer) clearTimeout(entry.retryTimer);
      entry.actor.stop();
    }
    this.live.clear();
  }
}

