/** The engine's only source of time, injected so tests can move it by hours instantly. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests of deadlines and reminders. */
export class SimulatedClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 30, 12, 0, 0)) {}
  now(): number {
    return this.current;
  }
  increment(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
