import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from 'pino';
import { EngineError, EngineErrorCode } from '../errors.js';
import { assignShards } from './assignment.js';

/** A monotonic clock in milliseconds; leases must not jump with the wall clock. */
export type Monotonic = () => number;

export interface LeaseCallbacks {
  /**
   * The engine now holds these shards (fenced by `epoch`): recover them and start consuming.
   * The shards take writes only after this resolves.
   */
  acquired(shards: { shard: number; epoch: number }[]): Promise<void>;
  /** Hand these shards over: stop taking work, finish what is in flight, save checkpoints. */
  releasing(shards: number[]): Promise<void>;
  /** These leases were taken by another engine; stop at once, nothing more may be written. */
  lost(shards: number[]): void;
}

export interface ShardLeaseOptions {
  kv: KV;
  engineId: string;
  shardCount: number;
  leaseMs: number;
  monotonic: Monotonic;
  logger: Logger;
  callbacks: LeaseCallbacks;
}

type ShardPhase = 'acquiring' | 'ready' | 'releasing';

interface HeldLease {
  shard: number;
  epoch: number;
  revision: number;
  /** When the last successful acquire or renew was sent (monotonic). */
  renewSentAt: number;
  phase: ShardPhase;
  /** Taken from an engine that stopped renewing (not handed over). */
  takenOver: boolean;
  acquiredAt: number;
}

interface Observed {
  revision: number;
  operation: KvEntry['operation'];
  value: Record<string, unknown> | undefined;
  /** When this engine saw the key change (monotonic): expiry is judged on one's own clock. */
  seenAt: number;
}

/**
 * Writes stop at this fraction of the lease after the last renewal was sent; another engine
 * takes over at the earliest a whole lease after it saw that renewal, and then waits out the
 * rest of the lease before reading the shard, so a write already on its way has landed.
 */
const WRITE_MARGIN = 0.6;

const CONFIG_KEY = 'config';
const memberKey = (id: string) => `member.${id}`;
const leaseKey = (shard: number) => `lease.${shard}`;

function decode(entry: KvEntry): Record<string, unknown> | undefined {
  if (entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
  try {
    return entry.json<Record<string, unknown>>();
  } catch {
    return undefined;
  }
}

function isConflict(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error).message ?? '');
}

/**
 * Shard ownership under leases kept in a KV bucket. Each engine announces itself with a
 * member key and renews it and every lease it holds several times per lease period, always
 * with compare-and-set on the revision it last wrote. Others judge a key dead when its
 * revision has not moved for a whole lease period on their own clock, so clocks need not
 * agree. The revision at which an engine acquired a shard is that shard's epoch: records
 * carry it, and an engine that finds a newer epoch on a record knows it was superseded.
 */
export class ShardLeases {
  readonly nonce = randomUUID();
  private readonly startedAt = Date.now();
  private readonly observed = new Map<string, Observed>();
  private readonly held = new Map<number, HeldLease>();
  /** Shards whose recovery failed here are left to others for a lease period. */
  private readonly cooldownUntil = new Map<number, number>();
  private watcher: { stop(): void } | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private ticking = false;
  private again = false;
  private stopping = false;
  private memberRevision = 0;
  private readonly background = new Set<Promise<unknown>>();
  private fatal: ((err: Error) => void) | undefined;

  constructor(private readonly o: ShardLeaseOptions) {}

  /** Loads the table, announces this engine, takes its share of free shards and recovers them. */
  async start(onFatal: (err: Error) => void): Promise<void> {
    this.fatal = onFatal;
    await this.checkShardCount();
    for await (const key of await this.o.kv.keys()) {
      const entry = await this.o.kv.get(key);
      if (entry) this.observe(entry);
    }
    const watch = await this.o.kv.watch({ key: '>' });
    this.watcher = watch;
    void (async () => {
      for await (const entry of watch) {
        if (this.observe(entry) && !this.stopping) this.schedule();
      }
    })().catch((err: unknown) => this.o.logger.warn({ err }, 'shard table watch ended'));
    await this.announce();
    for (const until = this.o.monotonic() + this.o.leaseMs; !this.viewIsCurrent() && this.o.monotonic() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.reconcile();
    await this.settled();
    this.ticker = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.o.leaseMs / 4)));
    this.ticker.unref();
  }

  /** The shard count is part of the store: engines with another count would misroute. */
  private async checkShardCount(): Promise<void> {
    const value = new TextEncoder().encode(JSON.stringify({ shardCount: this.o.shardCount }));
    try {
      await this.o.kv.create(CONFIG_KEY, value);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const stored = (await this.o.kv.get(CONFIG_KEY))?.json<{ shardCount: number }>();
      if (stored && stored.shardCount !== this.o.shardCount) {
        throw new EngineError(
          EngineErrorCode.InvalidOptions,
          `this store is split into ${stored.shardCount} shards; start the engine with --shards ${stored.shardCount} (it was given ${this.o.shardCount})`,
        );
      }
    }
  }

  /** Records a change; returns whether it is news (a new revision). */
  private observe(entry: KvEntry): boolean {
    const previous = this.observed.get(entry.key);
    if (previous && previous.revision >= entry.revision) return false;
    this.observed.set(entry.key, { revision: entry.revision, operation: entry.operation, value: decode(entry), seenAt: this.o.monotonic() });
    if (entry.key === memberKey(this.o.engineId) && entry.revision !== this.memberRevision && this.memberRevision !== 0) {
      const value = decode(entry);
      // Another running process uses our id: the younger of the two gives up.
      if (value && value['nonce'] !== this.nonce && Number(value['startedAt']) < this.startedAt) {
        this.fatal?.(new EngineError(EngineErrorCode.InvalidOptions, `another engine is running with id ${this.o.engineId}; give each engine its own --id`));
      }
    }
    if (entry.key.startsWith('lease.')) {
      const shard = Number(entry.key.slice('lease.'.length));
      const mine = this.held.get(shard);
      if (mine && entry.revision > mine.revision) {
        const value = decode(entry);
        if (!value || value['nonce'] !== this.nonce) this.lose([shard], 'the lease was taken over');
      }
    }
    return true;
  }

  private schedule(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = this.reconcile()
      .catch((err: unknown) => this.o.logger.warn({ err }, 'shard reconcile failed'))
      .finally(() => {
        this.reconciling = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  private async tick(): Promise<void> {
    // One renewal at a time: two in flight would race on the same revision and the loser would
    // read as "another engine took the lease".
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all([this.announce(), this.renew()]).catch((err: unknown) => this.o.logger.debug({ err }, 'lease renewal failed'));
    } finally {
      this.ticking = false;
    }
    if (!this.stopping) this.schedule();
  }

  private async announce(): Promise<void> {
    if (this.stopping) return;
    const value = { id: this.o.engineId, nonce: this.nonce, startedAt: this.startedAt, renewedAt: Date.now() };
    this.memberRevision = await this.o.kv.put(memberKey(this.o.engineId), JSON.stringify(value));
  }

  private leaseValue(epoch: number): string {
    return JSON.stringify({ owner: this.o.engineId, nonce: this.nonce, epoch, renewedAt: Date.now() });
  }

  private async renew(): Promise<void> {
    await Promise.all(
      [...this.held.values()].map(async (lease) => {
        const sentAt = this.o.monotonic();
        try {
          lease.revision = await this.o.kv.update(leaseKey(lease.shard), this.leaseValue(lease.epoch), lease.revision);
          lease.renewSentAt = sentAt;
        } catch (err) {
          if (!isConflict(err) || this.held.get(lease.shard) !== lease) return;
          // An earlier renewal whose reply was lost may have landed: then the lease is still ours.
          let current: KvEntry | null;
          try {
            current = await this.o.kv.get(leaseKey(lease.shard));
          } catch {
            return; // unknown (the read failed too): keep it; it stops being writable on its own if not renewed
          }
          const value = current && current.operation === 'PUT' ? decode(current) : undefined;
          if (current && value?.['nonce'] === this.nonce && value['epoch'] === lease.epoch) {
            lease.revision = current.revision;
            return;
          }
          this.lose([lease.shard], 'renewal refused: another engine holds the lease');
        }
      }),
    );
  }

  /**
   * Whether this engine's view of the table is current: the watch has delivered our own last
   * announcement. A process that stalled (GC, overload) sees every key as old; it must not
   * conclude from that that the others are dead.
   */
  private viewIsCurrent(): boolean {
    const own = this.observed.get(memberKey(this.o.engineId));
    return own !== undefined && own.revision >= this.memberRevision;
  }

  /** Engines seen renewing within the last lease period, this one included (unless stopping). */
  liveMembers(): string[] {
    const now = this.o.monotonic();
    const members = new Set<string>();
    for (const [key, seen] of this.observed) {
      if (!key.startsWith('member.') || seen.operation !== 'PUT') continue;
      if (now - seen.seenAt < this.o.leaseMs) members.add(key.slice('member.'.length));
    }
    if (this.stopping) members.delete(this.o.engineId);
    else members.add(this.o.engineId);
    return [...members].sort();
  }

  private async reconcile(): Promise<void> {
    if (!this.stopping && !this.viewIsCurrent()) return;
    const members = this.liveMembers();
    const desired = assignShards(members, this.o.shardCount);
    const now = this.o.monotonic();
    const toAcquire: number[] = [];
    const toRelease: number[] = [];
    for (let shard = 0; shard < this.o.shardCount; shard++) {
      const mine = this.held.get(shard);
      const owner = desired[shard];
      if (mine) {
        if (mine.phase !== 'ready') continue;
        // Kept for at least a lease period once acquired, so views that briefly differ do not bounce it.
        const settled = now - mine.acquiredAt >= this.o.leaseMs;
        if (this.stopping || (settled && owner !== undefined && owner !== this.o.engineId && members.includes(owner))) toRelease.push(shard);
        continue;
      }
      if (this.stopping || owner !== this.o.engineId) continue;
      if ((this.cooldownUntil.get(shard) ?? 0) > now) continue;
      const lease = this.observed.get(leaseKey(shard));
      const free = !lease || lease.operation !== 'PUT' || lease.value === undefined;
      const expired = lease !== undefined && now - lease.seenAt >= this.o.leaseMs;
      // A lease under our own id from an earlier process of this engine: that process is gone.
      const ours = lease?.value?.['owner'] === this.o.engineId && lease.value['nonce'] !== this.nonce;
      if (free || expired || ours) toAcquire.push(shard);
    }
    const acquired = (await Promise.all(toAcquire.map((shard) => this.acquire(shard)))).filter((l): l is HeldLease => l !== undefined);
    if (acquired.length > 0) this.runAcquired(acquired);
    if (toRelease.length > 0) this.runRelease(toRelease);
  }

  private async acquire(shard: number): Promise<HeldLease | undefined> {
    const lease = this.observed.get(leaseKey(shard));
    const sentAt = this.o.monotonic();
    try {
      let revision: number;
      // From another engine that stopped renewing; a lease under our own id was left by a dead process of ours.
      const takenOver = lease !== undefined && lease.operation === 'PUT' && lease.value !== undefined && lease.value['owner'] !== this.o.engineId;
      if (!lease) {
        revision = await this.o.kv.create(leaseKey(shard), this.leaseValue(0));
      } else {
        revision = await this.o.kv.update(leaseKey(shard), this.leaseValue(0), lease.revision);
      }
      // The acquiring write's revision is the epoch; it is written into the lease by the next renewal.
      const held: HeldLease = { shard, epoch: revision, revision, renewSentAt: sentAt, phase: 'acquiring', takenOver, acquiredAt: sentAt };
      this.held.set(shard, held);
      return held;
    } catch (err) {
      if (!isConflict(err)) this.o.logger.debug({ err, shard }, 'lease not acquired');
      return undefined;
    }
  }

  private runAcquired(leases: HeldLease[]): void {
    // After a take-over, the old owner may have a write on its way for a little longer.
    const grace = leases.some((l) => l.takenOver) ? Math.ceil(this.o.leaseMs * (1 - WRITE_MARGIN)) : 0;
    const work = new Promise((resolve) => setTimeout(resolve, grace))
      .then(() => this.o.callbacks.acquired(leases.filter((l) => this.held.get(l.shard) === l).map((l) => ({ shard: l.shard, epoch: l.epoch }))))
      .then(() => {
        for (const l of leases) if (this.held.get(l.shard) === l) l.phase = 'ready';
        this.o.logger.info({ shards: leases.map((l) => l.shard), engine: this.o.engineId }, 'shards acquired');
      })
      .catch((err: unknown) => {
        // Recovery failed: give the shards back so an engine that can recover them takes them.
        this.o.logger.warn({ err, shards: leases.map((l) => l.shard) }, 'shard recovery failed; releasing');
        const until = this.o.monotonic() + this.o.leaseMs;
        for (const l of leases) {
          l.phase = 'ready';
          this.cooldownUntil.set(l.shard, until);
        }
        this.runRelease(leases.map((l) => l.shard));
      });
    this.track(work);
  }

  private runRelease(shards: number[]): void {
    const leases = shards.map((s) => this.held.get(s)).filter((l): l is HeldLease => l !== undefined);
    for (const l of leases) l.phase = 'releasing';
    const work = this.o.callbacks
      .releasing(shards)
      .catch((err: unknown) => this.o.logger.warn({ err, shards }, 'shard hand-over incomplete'))
      .then(async () => {
        await Promise.all(
          leases.map(async (l) => {
            if (this.held.get(l.shard) !== l) return;
            this.held.delete(l.shard);
            await this.o.kv.delete(leaseKey(l.shard), { previousSeq: l.revision }).catch(() => undefined);
          }),
        );
        this.o.logger.info({ shards, engine: this.o.engineId }, 'shards handed over');
      });
    this.track(work);
  }

  private lose(shards: number[], reason: string): void {
    const lost = shards.filter((s) => this.held.delete(s));
    if (lost.length === 0) return;
    this.o.logger.warn({ shards: lost, reason, engine: this.o.engineId }, 'shard leases lost');
    this.o.callbacks.lost(lost);
  }

  private track(work: Promise<unknown>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** Resolves when no acquisition or hand-over is in progress. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /**
   * The epoch under which this engine may write actors of `shard` now: it holds the lease, is
   * not handing it over, and renewed it recently enough that nobody else can have taken it
   * over. (Whether the shard's recovery has begun is the engine's business.)
   */
  writable(shard: number): number | undefined {
    const lease = this.held.get(shard);
    if (!lease || lease.phase === 'releasing') return undefined;
    if (this.o.monotonic() - lease.renewSentAt >= this.o.leaseMs * WRITE_MARGIN) return undefined;
    return lease.epoch;
  }

  /** The epoch of a shard held in any phase (for stamping side effects). */
  epochOf(shard: number): number | undefined {
    return this.held.get(shard)?.epoch;
  }

  /** Shards held (any phase), for stats and tests. */
  heldShards(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Marks a shard as lost after finding a record written under a newer epoch. */
  superseded(shard: number): void {
    this.lose([shard], 'a record carries a newer epoch');
  }

  /** Graceful stop: hands every shard over at once and withdraws the member key. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.settled();
    await this.reconciling;
    const ready = [...this.held.values()].filter((l) => l.phase === 'ready').map((l) => l.shard);
    if (ready.length > 0) this.runRelease(ready);
    await this.settled();
    if (this.ticker) clearInterval(this.ticker);
    await this.o.kv.delete(memberKey(this.o.engineId)).catch(() => undefined);
    this.watcher?.stop();
  }

  /** Abrupt stop (process exit, failed start): timers and watch only. */
  halt(): void {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    this.watcher?.stop();
  }
}
