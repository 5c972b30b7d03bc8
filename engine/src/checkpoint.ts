/**
 * Tracks which actor-bucket writes still have commands to carry out, so the engine can
 * persist a checkpoint: every record at or below it has had its outbox executed.
 * A restart only replays the outboxes of records written after the checkpoint.
 *
 * A write in flight has no sequence yet, but its sequence will exceed the highest one
 * seen when it started; that bound keeps the checkpoint safe while writes race.
 */
export class OutboxCheckpoint {
  private highestSeen = 0;
  private nextToken = 1;
  private readonly bounds = new Map<number, number>();

  constructor(initial = 0) {
    this.highestSeen = initial;
  }

  /** Call before writing a record; returns a token for `written` / `done`. */
  begin(): number {
    const token = this.nextToken++;
    this.bounds.set(token, this.highestSeen);
    return token;
  }

  /** The write landed at `sequence`; its outbox is still pending. */
  written(token: number, sequence: number): void {
    if (sequence > this.highestSeen) this.highestSeen = sequence;
    if (this.bounds.has(token)) this.bounds.set(token, sequence - 1);
  }

  /** The outbox of this write has been executed, or the write failed. */
  done(token: number): void {
    this.bounds.delete(token);
  }

  /** Sequences seen outside tracked writes (e.g. reads) move the floor forward. */
  observe(sequence: number): void {
    if (sequence > this.highestSeen) this.highestSeen = sequence;
  }

  /** Highest sequence at or below which no outbox is pending. */
  current(): number {
    let floor = this.highestSeen;
    for (const bound of this.bounds.values()) if (bound < floor) floor = bound;
    return floor;
  }

  get pending(): number {
    return this.bounds.size;
  }
}
