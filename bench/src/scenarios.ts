import { existsSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import { Buckets, Streams } from '../../protocol/index.js';
import { closedLoop, isEngine, openEnv, openLoop, sequential, startMany, type DriveSettings, type Env, type LoopResult, type NatsSetup, type PipelineKind, type WindowFigures } from './drive.js';
import { BARE_STATE_BUCKET, BARE_TIMER_BUCKET } from './names.js';
import { answersAcked, hopLatenciesFromEvents, streamsFigures, type StreamFigures } from './nats.js';
import { sampleProc } from './proc.js';
import { summarizeProfile, type ProfileSummary } from './profile.js';
import { note, progress } from './progress.js';
import { routeOf, providerId, type RoutePlan } from './routes.js';
import { distribution, linearFit, round, sleep, type Distribution } from './stats.js';

export const SCENARIOS = ['uniform', 'hot-provider', 'latency', 'recovery', 'in-flight', 'scale', 'failover'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  smoke: boolean;
  providers: number;
  hops: number;
  seed: number;
  /** Tracebacks kept in flight by the closed loop that measures peak throughput. */
  window: number;
  warmupMs: number;
  measureMs: number;
  /** Measurement window of the half-of-peak latency run. */
  halfLoadMs: number;
  inflight: number;
  inflightBudgetMs: number;
  /** Wait after the last start so idle actors are evicted (engine: 30 s idle + ≤ 10 s sweep). */
  inflightSettleMs: number;
  recovery: number;
  /** Route length in the recovery scenario (short routes keep the run within the time budget). */
  recoveryHops: number;
  /** Longest wait for every traceback to finish after the restart; the kill also happens at the latest after a fifth of it. */
  recoveryBudgetMs: number;
  /** Starting stops after this long; the tracebacks started by then are the ones in flight. */
  recoveryStartBudgetMs: number;
  /** Share of all hops done when the engine is killed. */
  recoveryKillAt: number;
  latencyRuns: number;
  bareMatched: boolean;
  /** Also measure proposed engine fixes (bench/engine-variant.ts) in the uniform scenario. */
  experiments: boolean;
  /** `--shards` of every engine in `scale` and `failover`. */
  shards: number;
  /** Longest wait for the shards to spread evenly over the engines before loading them. */
  balanceTimeoutMs: number;
  /** scale: the engine counts run on each NATS setup; the 1-engine run of a setup is the baseline of its ratios. */
  scaleRuns: { setup: NatsSetup; engines: number[] }[];
  /** scale: `--lease` of the engines (undefined: the engine's default, 5s). */
  scaleLease: string | undefined;
  failoverSetups: NatsSetup[];
  /** failover: one run per lease duration. */
  failoverLeases: string[];
  /** failover: open-loop start rate as a fraction of the closed-loop capacity measured just before. */
  failoverLoad: number;
  failoverWarmupMs: number;
  failoverCapacityMs: number;
  /** failover: steady window at `failoverLoad` before the kill (the rate throughput must come back to). */
  failoverSteadyMs: number;
  /** failover: longest wait after the kill for the shards to move and throughput to come back. */
  failoverObserveMs: number;
  /** failover: load kept on once throughput is back. */
  failoverAfterMs: number;
  /** failover: longest wait for every started traceback's trail after the load stops. */
  failoverDrainMs: number;
  drive: DriveSettings;
}

/** Everything the engine stores per traceback: actor records (tracebacks and providers), audit, trails, timers. */
const ENGINE_STREAMS = [`KV_${Buckets.actors}`, Streams.events, Streams.providerEvents, Streams.trails, `KV_${Buckets.timers}`];
const QUEUE_STREAMS = [Streams.hopQueries, Streams.hopAnswers];

function storedStreams(kind: PipelineKind): string[] {
  if (isEngine(kind)) return ENGINE_STREAMS;
  if (kind === 'bare') return [`KV_${BARE_STATE_BUCKET}`, Streams.trails];
  return [`KV_${BARE_STATE_BUCKET}`, Streams.events, Streams.providerEvents, Streams.trails, `KV_${BARE_TIMER_BUCKET}`];
}

export interface Storage {
  tracebacks: number;
  bytesPerTraceback: number;
  /** Mean size of one stored state record (stream bytes / messages of the state bucket). */
  stateRecordBytes: number;
  streams: Record<string, StreamFigures>;
}

async function storage(env: Env): Promise<Storage> {
  const streams = await streamsFigures(env.jsm, [...storedStreams(env.kind), ...QUEUE_STREAMS]);
  const tracebacks = env.watcher.count;
  const stored = storedStreams(env.kind).reduce((sum, name) => sum + (streams[name]?.bytes ?? 0), 0);
  const state = streams[storedStreams(env.kind)[0] ?? ''];
  return {
    tracebacks,
    bytesPerTraceback: tracebacks > 0 ? Math.round(stored / tracebacks) : 0,
    stateRecordBytes: state && state.messages > 0 ? Math.round(state.bytes / state.messages) : 0,
    streams,
  };
}

export interface LoadFigures {
  window: WindowFigures;
  /** Query published → answer applied, per hop (engine: from the audit stream; bare: its own clock). */
  hopLatencyMs: Distribution;
  /** Carrier-side: answer handed to the SDK → same traceback's next query received. */
  turnaroundMs: Distribution;
  startErrors: number;
  lastStartError?: string;
  drained: boolean;
}

export interface PhaseResult {
  pipeline: PipelineKind;
  peak: LoadFigures;
  halfLoad?: LoadFigures & { targetTracebacksPerSecond: number };
  storage: Storage;
  verified: { trails: number; wrong: number; duplicates: number; wrongExamples: string[]; wrongRouteAnswers: number };
  pipelineHwmBytes: number;
  warnings: { count: number; examples: string[] };
  /** Deliveries of the answer consumer: `redelivered` > 0 means answers waited past ack_wait (5 s) and were handed out again. */
  answerConsumer: { delivered: number; redelivered: number };
  /** With `--profile`: where the engine's CPU went in this phase. */
  profile?: ProfileSummary;
  /** The same, summed over the carriers' query consumers (ack_wait 60 s). */
  queryConsumers: { delivered: number; redelivered: number };
}

async function consumerFigures(env: Env): Promise<Pick<PhaseResult, 'answerConsumer' | 'queryConsumers'>> {
  const answerConsumer = { delivered: 0, redelivered: 0 };
  const queryConsumers = { delivered: 0, redelivered: 0 };
  try {
    const info = await env.jsm.consumers.info(Streams.hopAnswers, 'engine');
    answerConsumer.delivered = info.delivered.consumer_seq;
    answerConsumer.redelivered = info.num_redelivered;
    for await (const c of env.jsm.consumers.list(Streams.hopQueries)) {
      queryConsumers.delivered += c.delivered.consumer_seq;
      queryConsumers.redelivered += c.num_redelivered;
    }
  } catch {
    // diagnostics only
  }
  return { answerConsumer, queryConsumers };
}

export interface ThroughputResult {
  plan: RoutePlan;
  window: number;
  engine: PhaseResult;
  bare: PhaseResult;
  bareMatched?: PhaseResult;
  /** Proposed fixes measured in the same run (not the shipped engine). */
  experiments?: PhaseResult[];
  /** Engine hops/s ÷ bare hops/s. */
  ratio: number;
  ratioMatched?: number;
  /** The same from CPU cost per hop (`cpuBoundHopsPerSecond`), robust to other load on the machine. */
  cpuRatio: number;
  cpuRatioMatched?: number;
}

async function loadFigures(env: Env, loop: LoopResult): Promise<LoadFigures> {
  const hopSamples = isEngine(env.kind) ? await hopLatenciesFromEvents(env.nc, loop.from, loop.to) : loop.bareHopSamples;
  const figures: LoadFigures = {
    window: loop.window,
    hopLatencyMs: distribution(hopSamples),
    turnaroundMs: distribution(loop.turnaround),
    startErrors: loop.startErrors,
    drained: loop.drained,
  };
  if (loop.lastStartError !== undefined) figures.lastStartError = loop.lastStartError;
  return figures;
}

/** Summary of the last profile an environment's engine wrote (after `close()`), if profiling. */
function lastProfile(env: Env): ProfileSummary | undefined {
  const file = [...env.profiles].reverse().find((f) => existsSync(f));
  return file ? summarizeProfile(file) : undefined;
}

function meanRouteHops(plan: RoutePlan): number {
  let total = 0;
  for (let i = 0; i < 1000; i++) total += routeOf(plan, i).length;
  return total / 1000;
}

async function phase(o: BenchOptions, kind: PipelineKind, plan: RoutePlan, halfLoadRate: number | undefined): Promise<PhaseResult> {
  const label = `${plan.kind === 'hot' ? 'hot-provider' : 'uniform'} ${kind}`;
  const env = await openEnv(o.drive, kind, plan, { carriers: true, label });
  let result: PhaseResult | undefined;
  try {
    const drainMs = Math.max(60_000, o.measureMs * 2);
    const peakLoop = await closedLoop(env, `${label} peak`, { window: o.window, warmupMs: o.warmupMs, measureMs: o.measureMs, drainMs });
    const peak = await loadFigures(env, peakLoop);
    let halfLoad: PhaseResult['halfLoad'];
    if (halfLoadRate !== undefined) {
      // Half of the peak hop rate, in tracebacks/s of this plan's route length.
      const rate = halfLoadRate > 0 ? halfLoadRate : peak.window.hopsPerSecond / 2 / meanRouteHops(plan);
      const loop = await openLoop(env, `${label} at ${Math.round(rate)} tb/s`, { perSecond: rate, warmupMs: Math.min(3000, o.warmupMs), measureMs: o.halfLoadMs, drainMs });
      halfLoad = { ...(await loadFigures(env, loop)), targetTracebacksPerSecond: round(rate) };
    }
    const carriers = await env.takeCarriers();
    result = {
      pipeline: kind,
      peak,
      storage: await storage(env),
      verified: {
        trails: env.watcher.count,
        wrong: env.watcher.wrong,
        duplicates: env.watcher.duplicates,
        wrongExamples: env.watcher.wrongExamples,
        wrongRouteAnswers: carriers.wrongRoute,
      },
      pipelineHwmBytes: sampleProc(env.pipeline.pid)?.hwmBytes ?? 0,
      warnings: { count: env.pipeline.warnings.length, examples: env.pipeline.warnings.slice(0, 3) },
      ...(await consumerFigures(env)),
    };
    if (halfLoad) result.halfLoad = halfLoad;
  } finally {
    await env.close();
  }
  const profile = lastProfile(env);
  if (profile) result.profile = profile;
  return result;
}

export async function throughputScenario(o: BenchOptions, name: 'uniform' | 'hot-provider'): Promise<ThroughputResult> {
  const plan: RoutePlan = { kind: name === 'uniform' ? 'uniform' : 'hot', providers: o.providers, hops: o.hops, seed: o.seed };
  const withHalf = name === 'uniform';
  const engine = await phase(o, 'engine', plan, withHalf ? 0 : undefined);
  // The bare pipeline is measured at the same absolute rate as the engine's half-load run.
  const bare = await phase(o, 'bare', plan, withHalf ? (engine.halfLoad?.targetTracebacksPerSecond ?? 0) : undefined);
  const result: ThroughputResult = {
    plan,
    window: o.window,
    engine,
    bare,
    ratio: round(engine.peak.window.hopsPerSecond / Math.max(1, bare.peak.window.hopsPerSecond), 3),
    cpuRatio: round(engine.peak.window.cpuBoundHopsPerSecond / Math.max(1, bare.peak.window.cpuBoundHopsPerSecond), 3),
  };
  if (o.bareMatched) {
    result.bareMatched = await phase(o, 'bare-matched', plan, undefined);
    result.ratioMatched = round(engine.peak.window.hopsPerSecond / Math.max(1, result.bareMatched.peak.window.hopsPerSecond), 3);
    result.cpuRatioMatched = round(engine.peak.window.cpuBoundHopsPerSecond / Math.max(1, result.bareMatched.peak.window.cpuBoundHopsPerSecond), 3);
  }
  if (o.experiments && name === 'uniform') {
    result.experiments = [await phase(o, 'engine-no-async-traces', plan, undefined)];
  }
  return result;
}

export interface LatencyPhase {
  endToEndMs: Distribution;
  hopLatencyMs: Distribution;
  turnaroundMs: Distribution;
  failures: number;
}

export interface LatencyResult {
  hops: number;
  runs: number;
  engine: LatencyPhase;
  bare: LatencyPhase;
}

async function latencyPhase(o: BenchOptions, kind: PipelineKind, plan: RoutePlan): Promise<LatencyPhase> {
  const env = await openEnv(o.drive, kind, plan, { carriers: true, label: `latency ${kind}` });
  try {
    const from = Date.now();
    const run = await sequential(env, `latency ${kind}`, o.latencyRuns, Math.min(10, o.latencyRuns));
    const hopSamples = isEngine(kind) ? await hopLatenciesFromEvents(env.nc, from, Date.now()) : ((await env.takeBare())?.samples ?? []);
    return { endToEndMs: distribution(run.samples), hopLatencyMs: distribution(hopSamples), turnaroundMs: distribution(run.turnaround), failures: run.failures };
  } finally {
    await env.close();
  }
}

export async function latencyScenario(o: BenchOptions): Promise<LatencyResult> {
  const plan: RoutePlan = { kind: 'uniform', providers: o.providers, hops: 6, seed: o.seed };
  const engine = await latencyPhase(o, 'engine', plan);
  const bare = await latencyPhase(o, 'bare', plan);
  return { hops: 6, runs: o.latencyRuns, engine, bare };
}

export interface InFlightResult {
  requested: number;
  reached: number;
  startErrors: number;
  lastStartError?: string;
  startSeconds: number;
  startsPerSecond: number;
  /** Start rate over the last samples: it falls as tracebacks accumulate when a per-traceback cost grows with the count. */
  finalStartsPerSecond: number;
  budgetExceeded: boolean;
  engineRssAfterStartsBytes: number;
  engineRssSettledBytes: number;
  engineHwmBytes: number;
  natsRssBytes: number;
  settleSeconds: number;
  /** Engine RSS per traceback in flight (slope of RSS against count during the starts). */
  rssPerTracebackBytes: number;
  /** RSS the fit predicts at the requested count (equals the measurement when reached). */
  projectedRssBytes: number;
  projectedStartSeconds: number;
  kvBytes: number;
  kvBytesPerTraceback: number;
  bytesPerTraceback: number;
  streams: Record<string, StreamFigures>;
  reactivation?: { provider: string; answers: number; applied: number; seconds: number; perSecond: number };
  rssSamples: { seconds: number; tracebacks: number; rssBytes: number }[];
  /** Provider actor records (each holds its open and queued hops and is rewritten whole on every event). */
  providerRecords: { count: number; meanBytes: number; maxBytes: number };
  /** The server's largest message (a KV record is one message); from the connection's INFO. */
  maxPayloadBytes: number;
  profile?: ProfileSummary;
}

export async function inFlightScenario(o: BenchOptions): Promise<InFlightResult> {
  const plan: RoutePlan = { kind: 'uniform', providers: o.providers, hops: o.hops, seed: o.seed };
  const env = await openEnv(o.drive, 'engine', plan, { carriers: false, label: 'in-flight' });
  let result: InFlightResult | undefined;
  try {
    const points: { seconds: number; tracebacks: number; rssBytes: number }[] = [];
    let lastSample = 0;
    const t0 = Date.now();
    const run = await startMany(env, 'in-flight starts', o.inflight, {
      concurrency: 256,
      budgetMs: o.inflightBudgetMs,
      keepIds: false,
      onSample: (started) => {
        if (Date.now() - lastSample < 5000) return;
        lastSample = Date.now();
        const s = sampleProc(env.pipeline.pid);
        if (s) points.push({ seconds: round((Date.now() - t0) / 1000), tracebacks: started, rssBytes: s.rssBytes });
      },
    });
    const afterStarts = sampleProc(env.pipeline.pid);
    if (afterStarts) points.push({ seconds: round((Date.now() - t0) / 1000), tracebacks: run.started, rssBytes: afterStarts.rssBytes });
    const settleStart = Date.now();
    if (o.inflightSettleMs > 0) {
      const bar = progress('in-flight: idle eviction', Math.round(o.inflightSettleMs / 1000), 's');
      while (Date.now() - settleStart < o.inflightSettleMs) {
        await sleep(1000);
        const s = sampleProc(env.pipeline.pid);
        bar.update((Date.now() - settleStart) / 1000, `engine RSS ${Math.round((s?.rssBytes ?? 0) / 2 ** 20)} MiB`);
      }
      bar.stop();
    }
    const settled = sampleProc(env.pipeline.pid);
    const streams = await streamsFigures(env.jsm, [...ENGINE_STREAMS, ...QUEUE_STREAMS]);
    const kvBytes = streams[`KV_${Buckets.actors}`]?.bytes ?? 0;
    const storedBytes = [...ENGINE_STREAMS, Streams.hopQueries].reduce((s, n) => s + (streams[n]?.bytes ?? 0), 0);
    // Fit over the second half of the run, past start-up effects.
    const tail = points.filter((p) => p.tracebacks >= run.started / 2);
    const fit = linearFit(tail.map((p) => ({ x: p.tracebacks, y: p.rssBytes })));
    const startsPerSecond = run.started / Math.max(0.001, run.seconds);
    const tailPoints = points.slice(-4);
    const first = tailPoints[0];
    const last = tailPoints[tailPoints.length - 1];
    const finalStartsPerSecond = first && last && last.seconds > first.seconds ? (last.tracebacks - first.tracebacks) / (last.seconds - first.seconds) : startsPerSecond;
    result = {
      requested: o.inflight,
      reached: run.started,
      startErrors: run.errors,
      startSeconds: run.seconds,
      startsPerSecond: round(startsPerSecond),
      finalStartsPerSecond: round(finalStartsPerSecond),
      budgetExceeded: run.budgetExceeded,
      engineRssAfterStartsBytes: afterStarts?.rssBytes ?? 0,
      engineRssSettledBytes: settled?.rssBytes ?? 0,
      engineHwmBytes: settled?.hwmBytes ?? 0,
      natsRssBytes: sampleProc(env.broker.pids[0] ?? -1)?.rssBytes ?? 0,
      settleSeconds: round((Date.now() - settleStart) / 1000),
      rssPerTracebackBytes: Math.round(fit.slope),
      projectedRssBytes: run.started >= o.inflight ? (afterStarts?.rssBytes ?? 0) : Math.round(fit.intercept + fit.slope * o.inflight),
      // At the final rate; a lower bound when the rate keeps falling.
      projectedStartSeconds: round(run.seconds + Math.max(0, o.inflight - run.started) / Math.max(0.1, finalStartsPerSecond)),
      kvBytes,
      kvBytesPerTraceback: run.started > 0 ? Math.round(kvBytes / run.started) : 0,
      bytesPerTraceback: run.started > 0 ? Math.round(storedBytes / run.started) : 0,
      streams,
      rssSamples: points,
      providerRecords: await providerRecordSizes(env),
      maxPayloadBytes: env.nc.info?.max_payload ?? 1_048_576,
    };
    if (run.lastError !== undefined) result.lastStartError = run.lastError;
    // Re-activation: one provider answers its queued first-hop queries, so evicted actors are
    // loaded back from KV, advanced and persisted (their next hop goes to unconnected providers).
    const provider = providerId(0);
    let expected = 0;
    for (let i = 0; i < env.nextIndex; i++) if (routeOf(plan, i)[0] === provider) expected++;
    if (expected > 0) {
      const acked0 = await answersAcked(env.jsm);
      const t0 = Date.now();
      await env.startCarriers([provider]);
      let applied = 0;
      const deadline = t0 + Math.max(60_000, expected * 5);
      while (Date.now() < deadline) {
        applied = (await answersAcked(env.jsm)) - acked0;
        if (applied >= expected) break;
        await sleep(100);
      }
      const seconds = (Date.now() - t0) / 1000;
      const answers = (await env.takeCarriers()).answered;
      await env.stopCarriers();
      result.reactivation = { provider, answers, applied, seconds: round(seconds, 2), perSecond: round(applied / Math.max(0.001, seconds)) };
    }
  } finally {
    await env.close();
  }
  const profile = lastProfile(env);
  if (profile) result.profile = profile;
  return result;
}

async function providerRecordSizes(env: Env): Promise<InFlightResult['providerRecords']> {
  const sizes: number[] = [];
  try {
    const kv = await new Kvm(env.nc).open(Buckets.actors);
    const keys: string[] = [];
    for await (const key of await kv.keys('provider.>')) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry && entry.operation === 'PUT') sizes.push(entry.value.length);
    }
  } catch {
    // diagnostics only
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  return { count: sizes.length, meanBytes: sizes.length > 0 ? Math.round(total / sizes.length) : 0, maxBytes: Math.max(0, ...sizes) };
}

export interface RecoveryResult {
  /** Tracebacks asked for; `tracebacks` is how many were started within the start budget. */
  requested: number;
  tracebacks: number;
  routeHops: number;
  startErrors: number;
  startSeconds: number;
  hopsTotal: number;
  hopsDoneAtKill: number;
  inFlightAtKill: number;
  /** kill -9 → the new engine process is spawned (the benchmark restarts it at once). */
  killToSpawnMs: number;
  /** spawn → `shards recovered` (node start, connect, topology, every timer loaded, outboxes replayed). */
  spawnToRecoveredMs: number;
  /** kill -9 → the new engine logs `engine running` (timers loaded, outboxes replayed). */
  killToReadyMs: number;
  /** kill -9 → the first answer the new engine applied and acknowledged (processing resumed). */
  killToResumeMs: number;
  /** kill -9 → the last trail. */
  killToAllDoneMs: number;
  allDone: boolean;
  /** Tracebacks without a trail when the budget ran out (then `lost` cannot be told yet and is 0). */
  unfinished: number;
  lost: number;
  duplicates: number;
  wrong: number;
  wrongExamples: string[];
  hopsPerSecondBefore: number;
  hopsPerSecondAfter: number;
  engineStartup: Record<string, unknown>[];
  /** With `--profile`: the restarted engine (the killed one writes no profile). */
  profile?: ProfileSummary;
  /** When not all finished: the restarted engine's last log lines, and the carriers' counters. */
  diagnostics?: { engineLog: string[]; carriers: { received: number; answered: number }; answersAcked: number; answersQueued: number };
}

export async function recoveryScenario(o: BenchOptions): Promise<RecoveryResult> {
  const plan: RoutePlan = { kind: 'uniform', providers: o.providers, hops: o.recoveryHops, seed: o.seed };
  const env = await openEnv(o.drive, 'engine', plan, { carriers: false, label: 'recovery' });
  const acked = () => answersAcked(env.jsm);
  let result: RecoveryResult | undefined;
  try {
    const run = await startMany(env, 'recovery starts', o.recovery, { concurrency: 256, budgetMs: o.recoveryStartBudgetMs, keepIds: true });
    const n = run.started;
    let hopsTotal = 0;
    for (let i = 0; i < env.nextIndex; i++) hopsTotal += routeOf(plan, i).length;
    await env.startCarriers();
    const killAt = Math.round(hopsTotal * o.recoveryKillAt);
    const t0 = Date.now();
    const bar = progress('recovery: hops before kill', killAt, 'hops');
    let done = 0;
    while (Date.now() - t0 < o.recoveryBudgetMs / 5) {
      done = await acked();
      bar.update(done, `${Math.round(done / Math.max(0.001, (Date.now() - t0) / 1000))} hops/s`);
      if (done >= killAt) break;
      await sleep(50);
    }
    bar.stop();
    const hopsPerSecondBefore = done / Math.max(0.001, (Date.now() - t0) / 1000);
    const killedAt = Date.now();
    await env.pipeline.kill();
    const hopsDoneAtKill = await acked();
    const finishedAtKill = env.watcher.count;
    note(`  killed the engine (kill -9) with ${n - finishedAtKill} tracebacks in flight, ${hopsDoneAtKill}/${hopsTotal} hops done`);
    let resumedAt = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        if ((await acked()) > hopsDoneAtKill) {
          resumedAt = Date.now();
          return;
        }
        await sleep(10);
      }
    })();
    const engine = await env.respawnEngine(o.recoveryBudgetMs);
    const doneBar = progress('recovery: tracebacks after restart', n, 'trails');
    const allDone = await env.watcher.waitForCount(n, o.recoveryBudgetMs, () => doneBar.update(env.watcher.count, `${Math.round((Date.now() - killedAt) / 1000)} s since kill`));
    const doneAt = Date.now();
    doneBar.stop();
    polling = false;
    await poll;
    // Unfinished when the budget ran out is not lost; `lost` is only meaningful when all are done.
    const missing = run.ids.filter((id) => (env.watcher.perId.get(id) ?? 0) === 0).length;
    const lost = allDone ? missing : 0;
    const hopsAfter = (await acked()) - hopsDoneAtKill;
    const recovered = engine.startup.find((s) => s['msg'] === 'shards recovered');
    let diagnostics: RecoveryResult['diagnostics'];
    if (!allDone) {
      const c = await env.takeCarriers().catch(() => ({ received: -1, answered: -1 }));
      const answers = await streamsFigures(env.jsm, [Streams.hopAnswers]);
      diagnostics = {
        engineLog: engine.log.slice(-30),
        carriers: { received: c.received, answered: c.answered },
        answersAcked: await acked(),
        answersQueued: answers[Streams.hopAnswers]?.messages ?? -1,
      };
    }
    result = {
      requested: o.recovery,
      tracebacks: n,
      routeHops: plan.hops,
      killToSpawnMs: engine.spawnedAt - killedAt,
      spawnToRecoveredMs: typeof recovered?.['time'] === 'number' ? recovered['time'] - engine.spawnedAt : -1,
      startErrors: run.errors,
      startSeconds: run.seconds,
      hopsTotal,
      hopsDoneAtKill,
      inFlightAtKill: n - finishedAtKill,
      killToReadyMs: engine.readyAt - killedAt,
      killToResumeMs: resumedAt > 0 ? resumedAt - killedAt : -1,
      killToAllDoneMs: doneAt - killedAt,
      allDone,
      unfinished: allDone ? 0 : missing,
      lost,
      duplicates: env.watcher.duplicates,
      wrong: env.watcher.wrong,
      wrongExamples: env.watcher.wrongExamples,
      hopsPerSecondBefore: round(hopsPerSecondBefore),
      hopsPerSecondAfter: round(hopsAfter / Math.max(0.001, (doneAt - (resumedAt || killedAt)) / 1000)),
      engineStartup: engine.startup,
      ...(diagnostics ? { diagnostics } : {}),
    };
  } finally {
    await env.close();
  }
  const profile = lastProfile(env);
  if (profile) result.profile = profile;
  return result;
}
