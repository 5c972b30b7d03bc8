/**
 * Several engines on one store: `scale` (closed-loop throughput with 1, 2, 3 engines on a single
 * nats-server and on a 3-node cluster) and `failover` (kill -9 of one of 3 engines under steady
 * load: time until its shards are processed again, and that no traceback is lost or doubled).
 */
import { availableParallelism } from 'node:os';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { shardOf } from '../../engine/index.js';
import { Buckets, Streams, decodeMap } from '../../protocol/index.js';
import { closedLoop, openEnv, type Env, type EnvOptions, type NatsSetup, type WindowFigures } from './drive.js';
import { streamFigures } from './nats.js';
import { loadAverage } from './proc.js';
import { note, progress } from './progress.js';
import type { RoutePlan } from './routes.js';
import type { BenchOptions } from './scenarios.js';
import { round, sleep } from './stats.js';

/** Header naming the engine that published an audit event (protocol README 3a). */
const ENGINE_HEADER = 'Robotrace-Engine';
const EPOCH_HEADER = 'Robotrace-Epoch';

function leaseMsOf(lease: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(lease);
  if (!m) return 5000;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function natsOf(setup: NatsSetup): Pick<EnvOptions, 'natsNodes'> {
  return { natsNodes: setup === 'cluster' ? 3 : 1 };
}

/** `lease.<n>` of `tb_shards`: shard → owner and epoch (shards without a live lease are absent). */
export async function leaseTable(nc: NatsConnection): Promise<Map<number, { owner: string; epoch: number }>> {
  const kv = await new Kvm(nc).open(Buckets.shards);
  const keys: string[] = [];
  for await (const key of await kv.keys('lease.>')) keys.push(key);
  const table = new Map<number, { owner: string; epoch: number }>();
  await Promise.all(
    keys.map(async (key) => {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) return;
      const value = entry.json<{ owner?: string; epoch?: number }>();
      if (typeof value.owner === 'string') table.set(Number(key.slice('lease.'.length)), { owner: value.owner, epoch: Number(value.epoch ?? 0) });
    }),
  );
  return table;
}

function shardsPerOwner(table: Map<number, { owner: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { owner } of table.values()) out[owner] = (out[owner] ?? 0) + 1;
  return out;
}

/**
 * Waits until every shard has a lease and each engine holds its share (⌊n/engines⌋ or one more),
 * and every engine has logged `shards acquired` for the shards it holds (recovered, consuming).
 * Returns the ms waited, or -1 on timeout.
 */
async function waitBalanced(env: Env, shards: number, timeoutMs: number): Promise<{ ms: number; perEngine: Record<string, number> }> {
  const t0 = Date.now();
  const ids = env.engineIds;
  const low = Math.floor(shards / ids.length);
  let perEngine: Record<string, number> = {};
  while (Date.now() - t0 < timeoutMs) {
    const table = await leaseTable(env.nc).catch(() => new Map<number, { owner: string; epoch: number }>());
    perEngine = shardsPerOwner(table);
    const balanced = table.size === shards && ids.every((id) => (perEngine[id] ?? 0) >= low && (perEngine[id] ?? 0) <= low + 1);
    const ready =
      balanced &&
      ids.every((id, i) => {
        const acquired = new Set((env.engines[i]?.shardLog ?? []).filter((l) => l.msg === 'shards acquired').flatMap((l) => l.shards));
        return [...table].every(([shard, lease]) => lease.owner !== id || acquired.has(shard));
      });
    if (ready) return { ms: Date.now() - t0, perEngine };
    await sleep(200);
  }
  return { ms: -1, perEngine };
}

/** Where the throughput limit of one run lies, from its CPU figures. */
function limitOf(w: WindowFigures): string {
  const cores = availableParallelism();
  const procs = Object.entries(w.processes).sort((a, b) => b[1].cpuPercent - a[1].cpuPercent);
  const busiest = procs[0];
  const ours = Object.values(w.processes).reduce((s, p) => s + p.cpuPercent, 0);
  const busiestText = busiest ? `busiest process ${busiest[0]} at ${busiest[1].cpuPercent}% of a core` : '';
  if (w.machineBusyPercent >= cores * 100 * 0.9) {
    return `machine: ${round(w.machineBusyPercent)}% of ${cores * 100}% CPU busy (robotrace processes ${round(ours)}%, others ${w.otherCpuPercent}%); ${busiestText}`;
  }
  const engines = procs.filter(([, p]) => p.role === 'pipeline');
  const hot = engines.find(([, p]) => p.cpuPercent >= 90);
  if (hot) return `engine process: ${hot[0]} at ${hot[1].cpuPercent}% of its core (machine ${round(w.machineBusyPercent)}% of ${cores * 100}%)`;
  const nats = procs.find(([, p]) => p.role === 'nats' && p.cpuPercent >= 90);
  if (nats) return `nats-server: ${nats[0]} at ${nats[1].cpuPercent}% of a core (machine ${round(w.machineBusyPercent)}% of ${cores * 100}%)`;
  return `no core saturated (machine ${round(w.machineBusyPercent)}% of ${cores * 100}%; ${busiestText}): waiting (I/O, replication, fsync) limits it`;
}

/** Shards an engine logged as lost (`shard leases lost`), with the reason, and whether another engine had acquired them then. */
export interface LeaseLoss {
  engine: string;
  shards: number[];
  /** ms since the environment's engines were all running. */
  atMs: number;
  /** Whether another engine logged `shards acquired` for any of these shards in the preceding 2 lease periods. */
  takenByAnother: boolean;
}

function leaseLosses(env: Env, since: number, leaseMs: number): LeaseLoss[] {
  const out: LeaseLoss[] = [];
  env.engines.forEach((e, i) => {
    for (const l of e.shardLog) {
      if (l.msg !== 'shard leases lost') continue;
      const takenByAnother = env.engines.some(
        (other, j) => j !== i && other.shardLog.some((o) => o.msg === 'shards acquired' && o.time <= l.time + 50 && o.time >= l.time - 2 * leaseMs && o.shards.some((s) => l.shards.includes(s))),
      );
      const last = out[out.length - 1];
      // The engine logs one line per shard; merge lines of one engine within 100 ms.
      if (last && last.engine === (env.engineIds[i] ?? '') && l.time - since - last.atMs < 100 && last.takenByAnother === takenByAnother) last.shards.push(...l.shards);
      else out.push({ engine: env.engineIds[i] ?? '', shards: [...l.shards], atMs: l.time - since, takenByAnother });
    }
  });
  return out;
}

/** A traceback without a trail after the drain: its last audit event and where its shard is. */
export interface Unfinished {
  count: number;
  examples: { tracebackId: string; shard: number; owner: string; lastEvent: { type: string; state: string; provider?: string; at: number; seq: number; engine: string } }[];
  hopQueriesPending: number;
  hopAnswersPending: number;
  shardInboxPending: number;
}

/** Reads every audit event: the tracebacks with events but no trail, and their last event. */
async function unfinishedDiagnostics(env: Env, shards: number): Promise<Unfinished> {
  const last = new Map<string, { type: string; state: string; provider?: string; at: number; seq: number; engine: string }>();
  const figures = await streamFigures(env.jsm, Streams.events);
  if (figures && figures.messages > 0) {
    const consumer = await jetstream(env.nc).consumers.get(Streams.events, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 4096 });
    for await (const m of messages) {
      const e = decodeMap(m.data) as { type?: string; state?: string; provider?: string; at?: number; seq?: number };
      const id = m.subject.slice('tb.events.'.length);
      const event = { type: String(e.type), state: String(e.state), at: Number(e.at), seq: Number(e.seq), engine: m.headers?.get(ENGINE_HEADER) ?? '' };
      last.set(id, e.provider ? { ...event, provider: e.provider } : event);
      if (m.seq >= figures.lastSeq || m.info.pending === 0) break;
    }
    await messages.close().catch(() => undefined);
  }
  const table = await leaseTable(env.nc).catch(() => new Map<number, { owner: string; epoch: number }>());
  const stuck = [...last].filter(([id]) => (env.watcher.perId.get(id) ?? 0) === 0);
  let hopQueriesPending = 0;
  for await (const c of env.jsm.consumers.list(Streams.hopQueries)) hopQueriesPending += c.num_pending + c.num_ack_pending;
  const answers = await streamFigures(env.jsm, Streams.hopAnswers);
  const inbox = await streamFigures(env.jsm, Streams.shardInbox);
  return {
    count: stuck.length,
    examples: stuck.slice(0, 5).map(([tracebackId, lastEvent]) => {
      const shard = shardOf(tracebackId, shards);
      return { tracebackId, shard, owner: table.get(shard)?.owner ?? '(none)', lastEvent };
    }),
    hopQueriesPending,
    hopAnswersPending: answers?.messages ?? -1,
    shardInboxPending: inbox?.messages ?? -1,
  };
}

export interface ScaleRun {
  setup: NatsSetup;
  natsNodes: number;
  replicas: number;
  engines: number;
  /** Steady closed-loop window. */
  peak: WindowFigures;
  /** hops/s ÷ hops/s of the 1-engine run on the same NATS setup in this benchmark run. */
  ratio: number;
  /** tracebacks/s ÷ the 1-engine run's. */
  tracebacksRatio: number;
  /** Messages engines sent each other through `TB_SHARD_INBOX` (forwarded answers and deliveries), per durable hop. */
  forwardedPerHop: number;
  /** Shards each engine held when the load started, and how long the table took to balance (-1: it did not). */
  shardsPerEngine: Record<string, number>;
  balancedAfterMs: number;
  loadAverage: { start: number[]; end: number[] };
  verified: { trails: number; wrong: number; duplicates: number };
  drained: boolean;
  startErrors: number;
  /** Log lines at warn or above, summed over the engines. */
  engineWarnings: number;
  /** `shard leases lost` logged while loaded (an engine dropping shards no other engine took is a fault). */
  leaseLosses: LeaseLoss[];
  /** When the closed loop did not drain: the tracebacks left without a trail. */
  unfinished?: Unfinished;
  limit: string;
}

export interface ScaleResult {
  /** Runs that failed (their figures are missing from `runs`). */
  errors: { setup: NatsSetup; engines: number; error: string }[];
  plan: RoutePlan;
  window: number;
  shards: number;
  lease: string;
  runs: ScaleRun[];
}

async function scaleRun(o: BenchOptions, plan: RoutePlan, setup: NatsSetup, engines: number): Promise<Omit<ScaleRun, 'ratio' | 'tracebacksRatio'>> {
  const label = `scale ${setup} ${engines} engine${engines > 1 ? 's' : ''}`;
  const env = await openEnv(o.drive, 'engine', plan, {
    carriers: true,
    label,
    engines,
    shards: o.shards,
    ...natsOf(setup),
    ...(o.scaleLease ? { lease: o.scaleLease } : {}),
  });
  try {
    const balance = await waitBalanced(env, o.shards, o.balanceTimeoutMs);
    if (balance.ms < 0) note(`  ${label}: shards not balanced after ${o.balanceTimeoutMs} ms: ${JSON.stringify(balance.perEngine)}`);
    const inbox0 = (await streamFigures(env.jsm, Streams.shardInbox))?.lastSeq ?? 0;
    const acked0 = (await streamFigures(env.jsm, Streams.hopAnswers)) ?? { lastSeq: 0, messages: 0 };
    const load0 = loadAverage();
    const loop = await closedLoop(env, label, { window: o.window, warmupMs: o.warmupMs, measureMs: o.measureMs, drainMs: o.smoke ? 20_000 : Math.max(60_000, o.measureMs * 2) });
    const inbox1 = (await streamFigures(env.jsm, Streams.shardInbox))?.lastSeq ?? 0;
    const acked1 = (await streamFigures(env.jsm, Streams.hopAnswers)) ?? { lastSeq: 0, messages: 0 };
    const hops = acked1.lastSeq - acked1.messages - (acked0.lastSeq - acked0.messages);
    const unfinished = loop.drained ? undefined : await unfinishedDiagnostics(env, o.shards).catch(() => undefined);
    if (unfinished) note(`  ${label}: ${unfinished.count} tracebacks without a trail: ${JSON.stringify(unfinished.examples.slice(0, 2))}`);
    const losses = leaseLosses(env, Math.max(...env.engines.map((e) => e.readyAt)), leaseMsOf(o.scaleLease ?? '5s'));
    return {
      setup,
      natsNodes: env.broker.pids.length,
      replicas: env.broker.replicas,
      engines,
      peak: loop.window,
      forwardedPerHop: hops > 0 ? round((inbox1 - inbox0) / hops, 3) : 0,
      shardsPerEngine: balance.perEngine,
      balancedAfterMs: balance.ms,
      loadAverage: { start: load0, end: loadAverage() },
      verified: { trails: env.watcher.count, wrong: env.watcher.wrong, duplicates: env.watcher.duplicates },
      drained: loop.drained,
      startErrors: loop.startErrors,
      engineWarnings: env.engines.reduce((s, e) => s + e.warnings.length, 0),
      leaseLosses: losses,
      ...(unfinished ? { unfinished } : {}),
      limit: limitOf(loop.window),
    };
  } finally {
    await env.close();
  }
}

export async function scaleScenario(o: BenchOptions): Promise<ScaleResult> {
  const plan: RoutePlan = { kind: 'uniform', providers: o.providers, hops: o.hops, seed: o.seed };
  const runs: ScaleRun[] = [];
  const errors: ScaleResult['errors'] = [];
  for (const { setup, engines: counts } of o.scaleRuns) {
    let base: ScaleRun | undefined;
    for (const engines of counts) {
      let run;
      try {
        run = await scaleRun(o, plan, setup, engines);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        note(`  scale ${setup} ${engines} engine(s) failed: ${error}`);
        errors.push({ setup, engines, error });
        continue;
      }
      const b = base ?? (engines === 1 ? run : undefined);
      const full: ScaleRun = {
        ...run,
        ratio: b ? round(run.peak.hopsPerSecond / Math.max(1, b.peak.hopsPerSecond), 3) : 0,
        tracebacksRatio: b ? round(run.peak.tracebacksPerSecond / Math.max(0.1, b.peak.tracebacksPerSecond), 3) : 0,
      };
      if (engines === 1) base = full;
      runs.push(full);
      note(`  ${setup}, ${engines} engine(s): ${Math.round(full.peak.hopsPerSecond)} hops/s (×${full.ratio}), machine ${full.peak.machineBusyPercent}%; limit: ${full.limit}`);
    }
  }
  return { errors, plan, window: o.window, shards: o.shards, lease: o.scaleLease ?? '5s (engine default)', runs };
}

// ---------------------------------------------------------------- failover

export interface FailoverRun {
  setup: NatsSetup;
  natsNodes: number;
  replicas: number;
  engines: number;
  lease: string;
  /** Closed-loop capacity of the same 3 engines, measured just before in the same environment. */
  capacity: { tracebacksPerSecond: number; hopsPerSecond: number };
  /** Open-loop start rate: `failoverLoad` × capacity hops/s ÷ route length. */
  targetTracebacksPerSecond: number;
  /** Trails/s and durable hops/s over the steady window before the kill. */
  before: { tracebacksPerSecond: number; hopsPerSecond: number; seconds: number };
  victim: { engine: string; shards: number[]; inFlightTracebacks: number };
  /**
   * kill → the first audit event stored (stream time) that a surviving engine published for a
   * traceback of one of the victim's shards (any type: may be an outbox replay of the victim's work).
   */
  killToFirstSurvivorEventMs: number;
  /** kill → the first hop the new owner processed: an `answered` event with `at` after the kill, by a survivor, on a victim shard (stream time; `at` time in `…AtMs`). */
  killToFirstNewHopMs: number;
  killToFirstNewHopAtMs: number;
  firstNewHop?: { engine: string; epoch: string; shard: number; tracebackId: string };
  /** Events of victim shards stored after the kill with the victim's own header (in flight at the kill). */
  victimEventsAfterKill: number;
  /** Survivors' `shards acquired` lines covering the victim's shards: the first, and the one completing them. */
  killToFirstAcquiredMs: number;
  killToAllAcquiredMs: number;
  acquired: { engine: string; shards: number[]; afterKillMs: number; recoveryMs?: number; replayed?: number }[];
  /** Who holds the victim's shards afterwards (lease table). */
  newOwners: Record<string, number>;
  /** kill → end of the first 1 s bucket whose trail rate is back to ≥ 90% of `before` (after having dropped below); 0 when it never dropped, -1 when it did not come back. */
  killToThroughput90Ms: number;
  /** Lowest 1 s trail rate after the kill ÷ the rate before. */
  dipRatio: number;
  /** Trails per second, 1 s buckets from 5 s before the kill (t in s relative to the kill). */
  timeline: { t: number; tracebacksPerSecond: number; hopsPerSecond: number }[];
  correctness: {
    /** Starts the engine acknowledged. */
    started: number;
    startErrors: number;
    lastStartError?: string;
    /** Started tracebacks with a trail; `lost`: those without one when the drain budget ran out (lost, or stuck). */
    finished: number;
    lost: number;
    duplicates: number;
    wrong: number;
    wrongExamples: string[];
    /** Trails of tracebacks whose start the client saw fail (created by the engine anyway). */
    unacknowledgedStarts: number;
    allDone: boolean;
    drainSeconds: number;
  };
  loadAverage: { start: number[]; end: number[] };
  engineWarnings: number;
  /** Every `shard leases lost` logged by the engines (the victim's shards moving are not in it: it was killed). */
  leaseLosses: LeaseLoss[];
  /** When not every start finished: the tracebacks left without a trail. */
  unfinished?: Unfinished;
}

export interface FailoverResult {
  /** Runs that failed (their figures are missing from `runs`). */
  errors: { setup: NatsSetup; lease: string; error: string }[];
  plan: RoutePlan;
  shards: number;
  load: number;
  runs: FailoverRun[];
}

/** Open loop that keeps the ids of acknowledged starts; failed starts are counted, not retried. */
function pacedStarts(env: Env, perSecond: number) {
  const ids = new Set<string>();
  const pending = new Set<Promise<void>>();
  const state = { launched: 0, errors: 0, lastError: undefined as string | undefined };
  const t0 = Date.now();
  const pacer = setInterval(() => {
    const due = Math.floor((perSecond * (Date.now() - t0)) / 1000);
    while (state.launched < due) {
      state.launched++;
      const index = env.nextIndex++;
      const p = env.start(index).then(
        (id) => void ids.add(id),
        (err: unknown) => {
          state.errors++;
          state.lastError = err instanceof Error ? err.message : String(err);
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  }, 5);
  return {
    ids,
    state,
    /** Stops starting; waits for the starts still open (the client's timeout bounds it). */
    stop: async () => {
      clearInterval(pacer);
      await Promise.allSettled([...pending]);
    },
  };
}

interface Sample {
  at: number;
  trails: number;
  acked: number;
}

/** Samples `trails()` and acked answers every 250 ms until stopped. */
function sampler(env: Env, trails: () => number) {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const acked = await streamFigures(env.jsm, Streams.hopAnswers).catch(() => undefined);
      samples.push({ at: Date.now(), trails: trails(), acked: acked ? acked.lastSeq - acked.messages : (samples[samples.length - 1]?.acked ?? 0) });
      await sleep(250);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** The value of `key` at time `t`, interpolated between samples. */
function valueAt(samples: Sample[], t: number, key: 'trails' | 'acked'): number {
  let prev = samples[0];
  for (const s of samples) {
    if (s.at >= t) {
      if (!prev || s.at === prev.at) return s[key];
      return prev[key] + ((s[key] - prev[key]) * (t - prev.at)) / (s.at - prev.at);
    }
    prev = s;
  }
  return prev ? prev[key] : 0;
}

function timelineOf(samples: Sample[], killedAt: number, fromS: number, toS: number): FailoverRun['timeline'] {
  const out: FailoverRun['timeline'] = [];
  for (let t = fromS; t < toS; t++) {
    const a = killedAt + t * 1000;
    const b = a + 1000;
    if (b > (samples[samples.length - 1]?.at ?? 0)) break;
    out.push({ t, tracebacksPerSecond: round(valueAt(samples, b, 'trails') - valueAt(samples, a, 'trails')), hopsPerSecond: round(valueAt(samples, b, 'acked') - valueAt(samples, a, 'acked')) });
  }
  return out;
}

/** kill → end of the first bucket back at ≥ 90% after a drop below it (0: no drop; -1: not back). */
function throughputBack(timeline: FailoverRun['timeline'], before: number): { ms: number; dip: number } {
  const after = timeline.filter((b) => b.t >= 0);
  const threshold = before * 0.9;
  const dip = after.length > 0 ? Math.min(...after.map((b) => b.tracebacksPerSecond)) / Math.max(0.001, before) : 1;
  const dropped = after.findIndex((b) => b.tracebacksPerSecond < threshold);
  if (dropped < 0) return { ms: 0, dip };
  const back = after.slice(dropped).find((b) => b.tracebacksPerSecond >= threshold);
  return { ms: back ? (back.t + 1) * 1000 : -1, dip };
}

/**
 * Reads `TB_EVENTS` from the kill on: the first event a survivor stored for a victim shard, and the
 * first `answered` event (a hop processed) with `at` after the kill.
 */
async function eventsAfterKill(
  env: Env,
  killedAt: number,
  victim: string,
  victimShards: Set<number>,
  shards: number,
  untilMs: number,
): Promise<Pick<FailoverRun, 'killToFirstSurvivorEventMs' | 'killToFirstNewHopMs' | 'killToFirstNewHopAtMs' | 'firstNewHop' | 'victimEventsAfterKill'>> {
  const out: Pick<FailoverRun, 'killToFirstSurvivorEventMs' | 'killToFirstNewHopMs' | 'killToFirstNewHopAtMs' | 'firstNewHop' | 'victimEventsAfterKill'> = {
    killToFirstSurvivorEventMs: -1,
    killToFirstNewHopMs: -1,
    killToFirstNewHopAtMs: -1,
    victimEventsAfterKill: 0,
  };
  const figures = await streamFigures(env.jsm, Streams.events);
  if (!figures || figures.messages === 0) return out;
  const consumer = await jetstream(env.nc).consumers.get(Streams.events, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(killedAt).toISOString() });
  const messages = await consumer.consume({ max_messages: 4096 });
  const prefix = 'tb.events.'.length;
  try {
    for await (const m of messages) {
      const storedAt = m.time.getTime();
      const id = m.subject.slice(prefix);
      const shard = shardOf(id, shards);
      if (victimShards.has(shard) && storedAt >= killedAt) {
        const engine = m.headers?.get(ENGINE_HEADER) ?? '';
        if (engine === victim) out.victimEventsAfterKill++;
        else {
          if (out.killToFirstSurvivorEventMs < 0) out.killToFirstSurvivorEventMs = storedAt - killedAt;
          const event = decodeMap(m.data) as { type?: string; at?: number };
          const at = Number(event.at);
          if (event.type === 'answered' && at >= killedAt) {
            out.killToFirstNewHopMs = storedAt - killedAt;
            out.killToFirstNewHopAtMs = at - killedAt;
            out.firstNewHop = { engine, epoch: m.headers?.get(EPOCH_HEADER) ?? '', shard, tracebackId: id };
            break;
          }
        }
      }
      if (m.info.pending === 0 || storedAt > untilMs) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
  }
  return out;
}

async function failoverRun(o: BenchOptions, plan: RoutePlan, setup: NatsSetup, lease: string): Promise<FailoverRun> {
  const engines = 3;
  const label = `failover ${setup} lease ${lease}`;
  const env = await openEnv(o.drive, 'engine', plan, { carriers: true, label, engines, shards: o.shards, lease, ...natsOf(setup) });
  try {
    const balance = await waitBalanced(env, o.shards, o.balanceTimeoutMs);
    if (balance.ms < 0) note(`  ${label}: shards not balanced after ${o.balanceTimeoutMs} ms: ${JSON.stringify(balance.perEngine)}`);
    const load0 = loadAverage();
    // Tracebacks of this loop still running later do not count below: only trails of the open loop's starts do.
    const capacity = await closedLoop(env, `${label}: capacity`, { window: o.window, warmupMs: o.failoverWarmupMs, measureMs: o.failoverCapacityMs, drainMs: 20_000 });
    // From hops/s: a window shorter than a traceback's life under full load counts too few trails.
    const rate = Math.max(1, (capacity.window.hopsPerSecond / o.hops) * o.failoverLoad);
    const firstIndex = env.nextIndex;
    let openTrails = 0;
    env.watcher.onTrail = (index) => {
      if (index >= firstIndex) openTrails++;
    };
    const starts = pacedStarts(env, rate);
    const sampling = sampler(env, () => openTrails);
    let killedAt = 0;
    let victim = '';
    let victimShards: number[] = [];
    let before = { tracebacksPerSecond: 0, hopsPerSecond: 0, seconds: 0 };
    let inFlight = 0;
    let observedUntil = 0;
    try {
      const steady = progress(`${label}: ${Math.round(rate)} tb/s before the kill`, Math.round((o.failoverWarmupMs + o.failoverSteadyMs) / 1000), 's');
      const t0 = Date.now();
      const ticker = setInterval(() => steady.update((Date.now() - t0) / 1000), 1000);
      await sleep(o.failoverWarmupMs);
      const a = { at: Date.now(), trails: openTrails, acked: (await streamFigures(env.jsm, Streams.hopAnswers)) ?? { lastSeq: 0, messages: 0 } };
      await sleep(o.failoverSteadyMs);
      const bAcked = (await streamFigures(env.jsm, Streams.hopAnswers)) ?? { lastSeq: 0, messages: 0 };
      const seconds = (Date.now() - a.at) / 1000;
      before = {
        tracebacksPerSecond: round((openTrails - a.trails) / seconds),
        hopsPerSecond: round((bAcked.lastSeq - bAcked.messages - (a.acked.lastSeq - a.acked.messages)) / seconds),
        seconds: round(seconds, 2),
      };
      clearInterval(ticker);
      steady.stop();
      // The victim: engine-2 (any would do), or whichever holds most shards if it holds none.
      const table = await leaseTable(env.nc);
      const per = shardsPerOwner(table);
      victim = (per['engine-2'] ?? 0) > 0 ? 'engine-2' : (Object.entries(per).sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'engine-2');
      victimShards = [...table].filter(([, l]) => l.owner === victim).map(([s]) => s).sort((x, y) => x - y);
      const child = env.engines[env.engineIds.indexOf(victim)];
      if (!child) throw new Error(`no engine ${victim} to kill`);
      inFlight = [...starts.ids].filter((id) => (env.watcher.perId.get(id) ?? 0) === 0).length;
      killedAt = Date.now();
      await child.kill();
      note(`  kill -9 ${victim} (shards ${victimShards.join(',')}) with ~${inFlight} tracebacks in flight`);
      // Until the victim's shards are all acquired elsewhere and throughput is back (or the budget ends), then a little more.
      const bar = progress(`${label}: after the kill`, Math.round(o.failoverObserveMs / 1000), 's');
      const wanted = new Set(victimShards);
      let doneAt = 0;
      while (Date.now() - killedAt < o.failoverObserveMs) {
        await sleep(250);
        const got = new Set(env.engines.filter((e) => e !== child).flatMap((e) => e.shardLog.filter((l) => l.msg === 'shards acquired' && l.receivedAt >= killedAt).flatMap((l) => l.shards)));
        const covered = [...wanted].every((s) => got.has(s));
        const back = throughputBack(timelineOf(sampling.samples, killedAt, 0, 600), before.tracebacksPerSecond).ms;
        bar.update((Date.now() - killedAt) / 1000, `${[...wanted].filter((s) => got.has(s)).length}/${wanted.size} shards taken over${back > 0 ? `, throughput back after ${round(back / 1000, 1)} s` : ''}`);
        if (covered && back > 0 && doneAt === 0) doneAt = Date.now();
        if (doneAt > 0 && Date.now() - doneAt >= o.failoverAfterMs) break;
      }
      bar.stop();
    } finally {
      observedUntil = Date.now();
      await starts.stop();
      await sampling.stop();
      env.watcher.onTrail = undefined;
    }
    // Drain: every acknowledged start must end with exactly one trail.
    const drain0 = Date.now();
    const bar = progress(`${label}: drain`, starts.ids.size, 'trails');
    const finishedCount = () => [...starts.ids].filter((id) => (env.watcher.perId.get(id) ?? 0) > 0).length;
    let finished = finishedCount();
    let progressAt = Date.now();
    // Stops early once nothing finished for 30 s: a traceback stuck that long does not move again (hop deadline 24 h).
    while (finished < starts.ids.size && Date.now() - drain0 < o.failoverDrainMs && Date.now() - progressAt < 30_000) {
      await sleep(500);
      const now = finishedCount();
      if (now > finished) progressAt = Date.now();
      finished = now;
      bar.update(finished);
    }
    bar.stop();
    const drainSeconds = round((Date.now() - drain0) / 1000, 1);
    const events = await eventsAfterKill(env, killedAt, victim, new Set(victimShards), o.shards, observedUntil);
    const survivors = env.engines.map((e, i) => ({ e, id: env.engineIds[i] ?? '' })).filter(({ id }) => id !== victim);
    const acquired = survivors
      .flatMap(({ e, id }) => e.shardLog.filter((l) => l.receivedAt >= killedAt).map((l) => ({ l, id })))
      .filter(({ l }) => l.msg === 'shards acquired' && l.shards.some((s) => victimShards.includes(s)))
      .sort((x, y) => x.l.time - y.l.time);
    const recovered = (id: string, shards: number[]) =>
      survivors
        .find((s) => s.id === id)
        ?.e.shardLog.find((l) => l.msg === 'shards recovered' && l.receivedAt >= killedAt && l.shards.some((s) => shards.includes(s)));
    const remaining = new Set(victimShards);
    let allAt = -1;
    for (const { l } of acquired) {
      for (const s of l.shards) remaining.delete(s);
      if (remaining.size === 0) {
        allAt = l.time - killedAt;
        break;
      }
    }
    const after = await leaseTable(env.nc);
    const newOwners: Record<string, number> = {};
    for (const s of victimShards) {
      const owner = after.get(s)?.owner ?? '(none)';
      newOwners[owner] = (newOwners[owner] ?? 0) + 1;
    }
    const timeline = timelineOf(sampling.samples, killedAt, -5, 600);
    const back = throughputBack(timeline, before.tracebacksPerSecond);
    const ids = starts.ids;
    let lostCount = 0;
    let unacknowledged = 0;
    for (const id of ids) if ((env.watcher.perId.get(id) ?? 0) === 0) lostCount++;
    // Trails of this loop's route indexes (first ones only) that are not of an acknowledged start.
    unacknowledged = Math.max(0, openTrails - (ids.size - lostCount));
    const allDone = lostCount === 0;
    const unfinished = allDone ? undefined : await unfinishedDiagnostics(env, o.shards).catch(() => undefined);
    const run: FailoverRun = {
      setup,
      natsNodes: env.broker.pids.length,
      replicas: env.broker.replicas,
      engines,
      lease,
      capacity: { tracebacksPerSecond: capacity.window.tracebacksPerSecond, hopsPerSecond: capacity.window.hopsPerSecond },
      targetTracebacksPerSecond: round(rate),
      before,
      victim: { engine: victim, shards: victimShards, inFlightTracebacks: inFlight },
      ...events,
      killToFirstAcquiredMs: acquired[0] ? acquired[0].l.time - killedAt : -1,
      killToAllAcquiredMs: allAt,
      acquired: acquired.map(({ l, id }) => {
        const r = recovered(id, l.shards);
        return {
          engine: id,
          shards: l.shards.filter((s) => victimShards.includes(s)),
          afterKillMs: l.time - killedAt,
          ...(r?.ms !== undefined ? { recoveryMs: r.ms } : {}),
          ...(r?.replayed !== undefined ? { replayed: r.replayed } : {}),
        };
      }),
      newOwners,
      killToThroughput90Ms: back.ms,
      dipRatio: round(back.dip, 3),
      timeline,
      correctness: {
        started: ids.size,
        startErrors: starts.state.errors,
        ...(starts.state.lastError !== undefined ? { lastStartError: starts.state.lastError } : {}),
        finished,
        lost: lostCount,
        duplicates: env.watcher.duplicates,
        wrong: env.watcher.wrong,
        wrongExamples: env.watcher.wrongExamples,
        unacknowledgedStarts: unacknowledged,
        allDone,
        drainSeconds,
      },
      loadAverage: { start: load0, end: loadAverage() },
      engineWarnings: env.engines.reduce((s, e) => s + e.warnings.length, 0),
      leaseLosses: leaseLosses(env, killedAt, leaseMsOf(lease)),
      ...(unfinished ? { unfinished } : {}),
    };
    note(
      `  ${label}: first new hop ${round(run.killToFirstNewHopMs / 1000, 2)} s after the kill, all shards acquired ${round(run.killToAllAcquiredMs / 1000, 2)} s, throughput ≥ 90% after ${round(run.killToThroughput90Ms / 1000, 1)} s; lost ${lostCount}, duplicates ${run.correctness.duplicates}`,
    );
    return run;
  } finally {
    await env.close();
  }
}

export async function failoverScenario(o: BenchOptions): Promise<FailoverResult> {
  const plan: RoutePlan = { kind: 'uniform', providers: o.providers, hops: o.hops, seed: o.seed };
  const runs: FailoverRun[] = [];
  const errors: FailoverResult['errors'] = [];
  for (const setup of o.failoverSetups) {
    for (const lease of o.failoverLeases) {
      try {
        runs.push(await failoverRun(o, plan, setup, lease));
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        note(`  failover ${setup} lease ${lease} failed: ${error}`);
        errors.push({ setup, lease, error });
      }
    }
  }
  return { errors, plan, shards: o.shards, load: o.failoverLoad, runs };
}
