import { KvWatchInclude, type KV } from '@nats-io/kv';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

/** What a timer delivers when it fires. */
export interface TimerPayload {
  kind: 'traceback' | 'provider';
  id: string;
  timer: string;
}

interface TimerEntry {
  dueAt: number;
  payload: TimerPayload;
  generation: number;
  /** KV revision of the write this entry mirrors (0: unknown). */
  revision: number;
}

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Handles a due timer; `false` means it is not this engine's any more (kept in KV, dropped here). */
export type FireTimer = (payload: TimerPayload, firedAt: number) => Promise<boolean>;

/**
 * Durable timers kept in a KV bucket (one key per timer) and mirrored in memory. On
 * start every stored timer is loaded, so a deadline that passed while the engine was
 * down fires at once. A timer is removed from KV only after its event was handled; a
 * crash in between fires it again, and the actor ignores a timer that no longer applies.
 */
export class TimerService {
  private readonly entries = new Map<string, TimerEntry>();
  private readonly firing = new Set<string>();
  private generation = 0;
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;
  private watcher: { stop(): void } | undefined;

  constructor(
    private readonly kv: KV,
    private readonly clock: Clock,
    private readonly fire: FireTimer,
    private readonly logger: Logger,
    private readonly tickMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Loads the stored timers whose key passes `wanted` (the timers of the shards this engine
   * just took over), so a deadline that passed while nobody held them fires at once.
   */
  async load(wanted: (key: string) => boolean = () => true): Promise<number> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) if (wanted(key)) keys.push(key);
    let loaded = 0;
    for (let i = 0; i < keys.length; i += 256) {
      await Promise.all(
        keys.slice(i, i + 256).map(async (key) => {
          const entry = await this.kv.get(key);
          if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return;
          const stored = packr.unpack(entry.value) as { dueAt: number; payload: TimerPayload & { tracebackId?: string } };
          // Timers written by machine version 1 named only the traceback.
          if (stored.payload.tracebackId !== undefined) stored.payload = { kind: 'traceback', id: stored.payload.tracebackId, timer: stored.payload.timer };
          if (!this.entries.has(key)) loaded++;
          this.entries.set(key, { dueAt: stored.dueAt, payload: stored.payload, generation: ++this.generation, revision: entry.revision });
        }),
      );
    }
    return loaded;
  }

  /** Forgets (in memory only) the timers whose key passes `unwanted`: another engine fires them now. */
  forget(unwanted: (key: string) => boolean): void {
    for (const key of this.entries.keys()) if (unwanted(key)) this.entries.delete(key);
  }

  start(): void {
    this.ticker = setInterval(() => void this.tick(), this.tickMs);
    this.ticker.unref();
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.watcher?.stop();
    this.watcher = undefined;
  }

  async schedule(key: string, dueAt: number, payload: TimerPayload): Promise<void> {
    const revision = await this.kv.put(key, packr.pack({ dueAt, payload }));
    this.entries.set(key, { dueAt, payload, generation: ++this.generation, revision });
  }

  /**
   * Follows timer writes made by other engines for actors this engine holds (`wanted`): an
   * engine that lost a shard may still be carrying out a command that schedules a timer after
   * the new owner loaded the shard's timers.
   */
  async follow(wanted: (key: string) => boolean): Promise<void> {
    const watch = await this.kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    this.watcher = watch;
    void (async () => {
      for await (const e of watch) {
        const mine = this.entries.get(e.key);
        if (mine && mine.revision >= e.revision) continue;
        if (e.operation !== 'PUT' || e.value.length === 0) {
          if (mine && !this.firing.has(e.key)) this.entries.delete(e.key);
          continue;
        }
        if (!wanted(e.key)) continue;
        const stored = packr.unpack(e.value) as { dueAt: number; payload: TimerPayload };
        this.entries.set(e.key, { dueAt: stored.dueAt, payload: stored.payload, generation: ++this.generation, revision: e.revision });
      }
    })().catch((err: unknown) => this.logger.warn({ err }, 'timer watch ended'));
  }

  async cancel(key: string): Promise<void> {
    if (!this.entries.has(key)) return;
    await this.kv.delete(key);
    this.entries.delete(key);
  }

  /** Fires every due timer; exposed for tests that drive a simulated clock. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.clock.now();
      const due: [string, TimerEntry][] = [];
      for (const [key, entry] of this.entries) {
        if (entry.dueAt <= now && !this.firing.has(key)) due.push([key, entry]);
      }
      await Promise.all(due.map(([key, entry]) => this.fireOne(key, entry, now)));
    } finally {
      this.ticking = false;
    }
  }

  private async fireOne(key: string, entry: TimerEntry, now: number): Promise<void> {
    this.firing.add(key);
    try {
      if (!(await this.fire(entry.payload, now))) {
        if (this.entries.get(key)?.generation === entry.generation) this.entries.delete(key);
        return;
      }
      // The handler may have rescheduled the same timer (reminder → deadline); keep that one.
      const current = this.entries.get(key);
      if (current !== undefined && current.generation === entry.generation) {
        await this.kv.delete(key);
        if (this.entries.get(key)?.generation === entry.generation) this.entries.delete(key);
      }
    } catch (err) {
      this.logger.warn({ err, key }, 'timer handler failed; will retry');
    } finally {
      this.firing.delete(key);
    }
  }
}
