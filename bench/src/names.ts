/** Names shared by the benchmark's processes. */
export const BARE_START_SUBJECT = 'bench.bare.start';
export const BARE_STATE_BUCKET = 'bench_bare';
export const BARE_TIMER_BUCKET = 'bench_bare_timers';

/** What the carriers child reports on `take`. */
export interface CarriersTake {
  /** Engine turnaround samples (ms) since the last take. */
  samples: number[];
  received: number;
  answered: number;
  wrongRoute: number;
}

/** What the bare pipeline child reports on `take`. */
export interface BareTake {
  /** Consume-to-consume time per hop (ms) since the last take: the bare "query published → answer applied". */
  samples: number[];
  hops: number;
  started: number;
  finished: number;
  unknown: number;
}
