/**
 * Tracks which actor-bucket writes still have commands to carry out, so the engine can
 * persist a checkpoint per shard: every record of that shard at or below it has had its
 * outbox executed. Taking a shard over only replays the outboxes of its records written
 * after the checkpoint.
 *
 * A write in flight has no sequence yet, but its sequence will exceed the highest one
 * seen when it started; that bound keeps the checkpoint safe while writes race. A shard
 * with nothing pending is checkpointed at the highest sequence seen at all: a later write
 * of that shard must begin (and be tracked) first.
 */
export class OutboxCheckpoint {
  private highestSeen = 0;
  private nextToken = 1;
  private readonly bounds = new Map<number, { shard: number; bound: number }>();

  constructor(initial = 0) {
    this.highestSeen = initial;
  }

  /** Call before writing a record of `shard`; returns a token for `written` / `done`. */
  begin(shard: number): number {
    const token = this.nextToken++;
    this.bounds.set(token, { shard, bound: this.highestSeen });
    return token;
  }

  /** The write landed at `sequence`; its outbox is still pending. */
  written(token: number, sequence: number): void {
    if (sequence > this.highestSeen) this.highestSeen = sequence;
    const pending = this.bounds.get(token);
    if (pending) pending.bound = sequence - 1;
  }

  /** The outbox of this write has been executed, or the write failed. */
  done(token: number): void {
    this.bounds.delete(token);
  }

  /** Drops every pending write of a shard that was lost: its new owner replays them. */
  forget(shard: number): void {
    for (const [token, pending] of this.bounds) if (pending.shard === shard) this.bounds.delete(token);
  }

  /** Sequences seen outside tracked writes (e.g. reads) move the floor forward. */
  observe(sequence: number): void {
    if (sequence > this.highestSeen) this.highestSeen = sequence;
  }

  /** Highest sequence at or below which no outbox of `shard` is pending. */
  current(shard: number): number {
    let floor = this.highestSeen;
    for (const pending of this.bounds.values()) if (pending.shard === shard && pending.bound < floor) floor = pending.bound;
    return floor;
  }

  /** Pending writes of one shard, or of all. */
  pending(shard?: number): number {
    if (shard === undefined) return this.bounds.size;
    let n = 0;
    for (const pending of this.bounds.values()) if (pending.shard === shard) n++;
    return n;
  }
}
