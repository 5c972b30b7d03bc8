import { availableParallelism } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startTraceback } from '../../engine/index.js';
import { startLocalCluster, startLocalNats } from '../../localnats/index.js';
import { PROTOCOL_VERSION, Streams, Subjects, carrierConsumerName, decodeMap, encodeMessage } from '../../protocol/index.js';
import { forkWorker, spawnEngine, type Child, type EngineChild, type WorkerChild } from './children.js';
import { BARE_START_SUBJECT, type BareTake, type CarriersTake } from './names.js';
import { TrailWatcher, answersAcked } from './nats.js';
import { cpuMsBetween, cpuPercent, machineBusyMs, sampleProc, type ProcSample } from './proc.js';
import { progress, note } from './progress.js';
import { providersOf, startRequestOf, type RoutePlan } from './routes.js';
import { nowMs, round, sleep } from './stats.js';

/**
 * - `engine`: `robotrace engine` as shipped;
 * - `engine-no-async-traces`: the same engine on a connection with nats.js `noAsyncTraces` (a proposed fix);
 * - `bare`, `bare-matched`: the bare pipeline (bench/bare.ts) with the minimal or the engine's full write set.
 */
export type PipelineKind = 'engine' | 'engine-no-async-traces' | 'bare' | 'bare-matched';

export function isEngine(kind: PipelineKind): boolean {
  return kind === 'engine' || kind === 'engine-no-async-traces';
}

export interface DriveSettings {
  engineConcurrency: number;
  carrierConcurrency: number;
  /** Hop deadline the engine is started with (24h: nothing times out during a run). */
  hopDeadline: string;
  /** When set, every engine child runs under `node --cpu-prof` and writes its profile here. */
  profileDir: string | undefined;
  /** Every child's stderr (engine: its pino log) is kept in a file here. */
  logDir: string;
}

/** `single`: one nats-server, streams with 1 replica; `cluster`: a local 3-node JetStream cluster, 3 replicas. */
export type NatsSetup = 'single' | 'cluster';

/** The NATS setup of one run: a single nats-server, or a local JetStream cluster of several. */
export interface Broker {
  /** Client URL of every node. */
  readonly urls: string[];
  /** The same, comma-separated (`robotrace engine --nats`, the carriers' config). */
  readonly url: string;
  /** Process id of every node, in node order. */
  readonly pids: number[];
  /** Replicas the engine creates its streams and buckets with (1, or 3 on the cluster). */
  readonly replicas: number;
  stop(): Promise<void>;
}

/** A fresh single nats-server (`nodes` 1) or a fresh local cluster of `nodes` servers. */
export async function startBroker(nodes: number): Promise<Broker> {
  if (nodes <= 1) {
    const ns = await startLocalNats({ port: -1, install: true });
    return { urls: [ns.url], url: ns.url, pids: [ns.pid], replicas: 1, stop: () => ns.stop() };
  }
  const cluster = await startLocalCluster({ size: nodes, install: true });
  return {
    urls: cluster.urls,
    url: cluster.urls.join(','),
    get pids() {
      return cluster.nodes.map((n) => n.pid);
    },
    replicas: Math.min(3, nodes),
    stop: () => cluster.stop(),
  };
}

/** One process the benchmark measures (CPU and memory from /proc). */
export interface ProcessRef {
  /** `pipeline`, `nats`, `carriers`, `driver` in a one-engine, one-server run; `engine-2`, `nats-3`, … when there are several. */
  name: string;
  role: Role;
  pid: number;
}

/** One isolated run: a fresh nats-server (or cluster), the engine(s) or the bare pipeline, optionally carriers. */
export interface Env {
  readonly kind: PipelineKind;
  readonly plan: RoutePlan;
  readonly broker: Broker;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly watcher: TrailWatcher;
  /** The engine (the first, when there are several) or the bare pipeline. */
  pipeline: Child;
  /** Every engine process started, in order (empty for the bare pipeline); a killed one stays listed. */
  readonly engines: EngineChild[];
  /** `--id` of each engine in `engines` (empty when run without `--id`, as a single engine is by default). */
  readonly engineIds: string[];
  carriers: WorkerChild | undefined;
  /** Next unused route index. */
  nextIndex: number;
  start(index: number): Promise<string>;
  startCarriers(only?: string[]): Promise<WorkerChild>;
  stopCarriers(): Promise<void>;
  /** CPU profiles the engine processes write when they exit (with `profileDir`). */
  readonly profiles: string[];
  /** Engine only: start a new engine process (after a kill). */
  respawnEngine(readyTimeoutMs?: number): Promise<EngineChild>;
  takeCarriers(): Promise<CarriersTake>;
  takeBare(): Promise<BareTake | undefined>;
  /** Every process to measure: engines (or the bare pipeline), nats-server(s), carriers, driver. */
  processes(): ProcessRef[];
  close(): Promise<void>;
}

export type Role = 'pipeline' | 'nats' | 'carriers' | 'driver';
export const ROLES: Role[] = ['pipeline', 'nats', 'carriers', 'driver'];

const openEnvs = new Set<Env>();

/** Closes every environment still open (stops children by pid, removes NATS stores). */
export async function closeAllEnvs(): Promise<void> {
  await Promise.allSettled([...openEnvs].map((env) => env.close()));
}

function engineArgs(settings: DriveSettings): string[] {
  return ['--deadline', settings.hopDeadline, '--concurrency', String(settings.engineConcurrency)];
}

export interface EnvOptions {
  carriers: boolean;
  stateBytes?: number;
  label: string;
  /**
   * Engine processes (engine kinds only). When given, every engine gets its own `--id engine-<n>`,
   * `--shards` and `--replicas`; the first is started alone (it creates the streams), the others
   * then together. Without it: one engine with the CLI defaults, as the single-engine scenarios run.
   */
  engines?: number;
  /** nats-servers: 1 (default) or a local JetStream cluster of this many, streams with 3 replicas. */
  natsNodes?: number;
  /** `--shards` of every engine when `engines` is given. @default 32 */
  shards?: number;
  /** `--lease` of every engine when `engines` is given (the engine's default 5s when omitted). */
  lease?: string;
}

export async function openEnv(settings: DriveSettings, kind: PipelineKind, plan: RoutePlan, options: EnvOptions): Promise<Env> {
  const broker = await startBroker(options.natsNodes ?? 1);
  const engines: EngineChild[] = [];
  let pipeline: Child | undefined;
  let nc: NatsConnection | undefined;
  let carriers: WorkerChild | undefined;
  let watcher: TrailWatcher | undefined;
  const emergency = async () => {
    await carriers?.kill();
    await pipeline?.kill();
    await Promise.all(engines.map((e) => e.kill()));
    await nc?.close().catch(() => undefined);
    await broker.stop();
  };
  try {
    const profiles: string[] = [];
    const profileArgs = (): string[] => {
      if (!settings.profileDir || !isEngine(kind)) return [];
      const name = `${options.label.replace(/[^A-Za-z0-9_-]+/g, '-')}-${Date.now()}.cpuprofile`;
      profiles.push(path.join(settings.profileDir, name));
      return ['--cpu-prof', '--cpu-prof-dir', settings.profileDir, '--cpu-prof-name', name];
    };
    const nodeArgs = profileArgs();
    const logFile = (role: string) => path.join(settings.logDir, `${options.label.replace(/[^A-Za-z0-9_-]+/g, '-')}.${role}.log`);
    const variant = kind === 'engine-no-async-traces' ? { hopDeadline: settings.hopDeadline, concurrency: settings.engineConcurrency, noAsyncTraces: true } : undefined;
    const count = options.engines;
    if (count !== undefined && (!isEngine(kind) || variant)) throw new Error(`openEnv: several engines need kind 'engine', not ${kind}`);
    if ((options.natsNodes ?? 1) > 1 && count === undefined) throw new Error('openEnv: a cluster run needs `engines` (the engine must be told --replicas)');
    const engineIds = count === undefined ? [] : Array.from({ length: count }, (_, i) => `engine-${i + 1}`);
    const argsOf = (id: string | undefined): string[] => [
      ...engineArgs(settings),
      ...(id === undefined ? [] : ['--id', id, '--shards', String(options.shards ?? 32), '--replicas', String(broker.replicas), ...(options.lease ? ['--lease', options.lease] : [])]),
    ];
    if (count !== undefined) {
      // The first engine creates streams and buckets; the others join once it runs.
      engines.push(await spawnEngine(broker.url, argsOf(engineIds[0]), { nodeArgs, logFile: logFile(engineIds[0] ?? 'engine') }));
      engines.push(...(await Promise.all(engineIds.slice(1).map((id) => spawnEngine(broker.url, argsOf(id), { nodeArgs: profileArgs(), logFile: logFile(id) })))));
      pipeline = engines[0] as EngineChild;
    } else if (isEngine(kind)) {
      const engine = await spawnEngine(broker.url, engineArgs(settings), { nodeArgs, logFile: logFile('engine'), ...(variant ? { variant } : {}) });
      engines.push(engine);
      pipeline = engine;
    } else {
      pipeline = await forkWorker('bare.js', kind, {
            url: broker.url,
            concurrency: settings.engineConcurrency,
            matched: kind === 'bare-matched',
            stateBytes: options.stateBytes ?? 1500,
            hopDeadlineMs: 86_400_000,
          }, { logFile: logFile('bare') });
    }
    nc = await connect({ servers: broker.urls, name: 'robotrace-bench-driver', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await jetstreamManager(nc);
    await ensureCarrierConsumers(jsm, providersOf(plan), settings.carrierConcurrency);
    watcher = await TrailWatcher.start(nc, plan);
    const conn = nc;
    const startCarriers = async (only?: string[]) => {
      const config = { url: broker.url, plan, concurrency: settings.carrierConcurrency, ...(only ? { only } : {}) };
      env.carriers = await forkWorker('carriers.js', 'carriers', config, { logFile: logFile('carriers') });
      carriers = env.carriers;
      return env.carriers;
    };
    const stopCarriers = async () => {
      const c = env.carriers;
      env.carriers = undefined;
      if (!c) return;
      await Promise.race([c.call('stop').catch(() => undefined), sleep(15_000)]);
      await c.stop(5_000);
    };
    const request = async (index: number): Promise<string> => {
      const req = startRequestOf(plan, index);
      if (isEngine(kind)) return (await startTraceback(conn, req, 60_000)).tracebackId;
      const reply = await conn.request(BARE_START_SUBJECT, encodeMessage({ v: PROTOCOL_VERSION, kind: 'start_traceback', ...req }), { timeout: 60_000 });
      const map = decodeMap(reply.data);
      if (map['kind'] !== 'traceback_started') throw new Error(`bare start failed: ${String(map['message'])}`);
      return String(map['tracebackId']);
    };
    const env: Env = {
      kind,
      plan,
      broker,
      nc,
      jsm,
      watcher,
      pipeline,
      engines,
      engineIds,
      carriers: undefined,
      nextIndex: 0,
      start: request,
      startCarriers,
      stopCarriers,
      profiles,
      respawnEngine: async (readyTimeoutMs?: number) => {
        if (engineIds.length > 0) throw new Error('respawnEngine: only for a single engine started without --id');
        const engine = await spawnEngine(broker.url, engineArgs(settings), {
          nodeArgs: profileArgs(),
          logFile: logFile('engine-restarted'),
          ...(readyTimeoutMs === undefined ? {} : { readyTimeoutMs }),
        });
        env.pipeline = engine;
        engines[0] = engine;
        return engine;
      },
      takeCarriers: async () => (env.carriers ? env.carriers.call<CarriersTake>('take') : { samples: [], received: 0, answered: 0, wrongRoute: 0 }),
      takeBare: async () => (isEngine(kind) ? undefined : (env.pipeline as WorkerChild).call<BareTake>('take')),
      processes: () => {
        const several = engineIds.length > 0 || broker.pids.length > 1;
        const refs: ProcessRef[] = isEngine(kind)
          ? engines.map((e, i) => ({ name: several ? (engineIds[i] ?? `engine-${i + 1}`) : 'pipeline', role: 'pipeline' as const, pid: e.pid }))
          : [{ name: 'pipeline', role: 'pipeline', pid: env.pipeline.pid }];
        refs.push(...broker.pids.map((pid, i) => ({ name: several ? `nats-${i + 1}` : 'nats', role: 'nats' as const, pid })));
        if (env.carriers) refs.push({ name: 'carriers', role: 'carriers', pid: env.carriers.pid });
        refs.push({ name: 'driver', role: 'driver', pid: process.pid });
        return refs;
      },
      close: async () => {
        openEnvs.delete(env);
        await stopCarriers().catch(() => undefined);
        await watcher?.close();
        if (isEngine(kind)) await Promise.all(engines.map((e) => e.stop(30_000)));
        else await Promise.race([(env.pipeline as WorkerChild).call('stop').catch(() => undefined), sleep(10_000)]).then(() => env.pipeline.stop(5_000));
        await conn.close().catch(() => undefined);
        await broker.stop();
      },
    };
    openEnvs.add(env);
    if (options.carriers) await startCarriers();
    return env;
  } catch (err) {
    await watcher?.close();
    await emergency();
    throw err;
  }
}

/**
 * Creates every carrier's durable query consumer up front, as `connectCarrier` would on first
 * connect. Carriers are thereby "connected" before any query is sent, like real ones; and a
 * carrier connecting later does not have to create its filtered consumer on a stream already
 * holding 100,000s of queries (on nats-server 2.9 that creation scans the stream and timed out).
 */
async function ensureCarrierConsumers(jsm: JetStreamManager, providers: string[], concurrency: number): Promise<void> {
  for (let i = 0; i < providers.length; i += 32) {
    await Promise.all(
      providers.slice(i, i + 32).map(async (provider) => {
        const durable = carrierConsumerName(provider);
        try {
          await jsm.consumers.info(Streams.hopQueries, durable);
        } catch {
          await jsm.consumers.add(Streams.hopQueries, {
            durable_name: durable,
            filter_subject: Subjects.hopQuery(provider),
            ack_policy: AckPolicy.Explicit,
            ack_wait: 60_000 * 1_000_000,
            max_ack_pending: Math.max(concurrency * 2, 16),
            max_deliver: -1,
          });
        }
      }),
    );
  }
}

export interface Probe {
  at: number;
  trails: number;
  /** Hops of the trails so far (each trail's hop count). */
  trailHops: number;
  /** Answers acknowledged by the pipeline (after persisting them, or forwarding them durably to the shard's owner): durable hops so far. */
  acked: number;
  /** Every measured process by name, with its role; `sample` is undefined once the process is gone. */
  procs: Record<string, { role: Role; sample: ProcSample | undefined }>;
  machineBusyMs: number;
}

export async function probe(env: Env): Promise<Probe> {
  const acked = await answersAcked(env.jsm);
  const procs: Probe['procs'] = {};
  for (const p of env.processes()) procs[p.name] = { role: p.role, sample: sampleProc(p.pid) };
  return { at: nowMs(), trails: env.watcher.count, trailHops: env.watcher.hops, acked, procs, machineBusyMs: machineBusyMs() };
}

/** One process over a window. */
export interface ProcessFigures {
  role: Role;
  /** Percent of one core. */
  cpuPercent: number;
  rssBytes: number;
}

export interface WindowFigures {
  seconds: number;
  tracebacks: number;
  /** Durable hops: answers the pipeline acknowledged after persisting them. */
  hops: number;
  hopsPerSecond: number;
  tracebacksPerSecond: number;
  /** Hops of the trails stored in the window, per second (a check on `hopsPerSecond`). */
  trailHopsPerSecond: number;
  /** Percent of one core, per role (summed over the processes of a role: several engines, several nats-servers). */
  cpuPercent: Record<Role, number>;
  /** Every process by name (`pipeline`, `nats`, … or `engine-1`, `nats-2`, … when there are several). */
  processes: Record<string, ProcessFigures>;
  /** CPU used by processes outside the benchmark (the machine is shared), percent of one core. */
  otherCpuPercent: number;
  /** CPU used by every process on the machine, percent of one core (at most cores × 100). */
  machineBusyPercent: number;
  /** CPU milliseconds per durable hop, per role. */
  cpuMsPerHop: Record<Role, number>;
  pipelineRssBytes: number;
  natsRssBytes: number;
  /**
   * What the CPU cost per hop allows on a dedicated machine: each pipeline process uses at most one
   * core, all processes together at most every core. A projection, robust to other load on a shared
   * machine (which depresses the measured rate), not a measurement.
   */
  cpuBoundHopsPerSecond: number;
}

export function between(a: Probe, b: Probe): WindowFigures {
  const seconds = (b.at - a.at) / 1000;
  const hops = b.acked - a.acked;
  const cpuMs = {} as Record<Role, number>;
  for (const role of ROLES) cpuMs[role] = 0;
  const processes: Record<string, ProcessFigures> = {};
  let pipelines = 0;
  for (const [name, { role, sample }] of Object.entries(b.procs)) {
    const before = a.procs[name]?.sample;
    cpuMs[role] += cpuMsBetween(before, sample);
    processes[name] = { role, cpuPercent: round(cpuPercent(before, sample)), rssBytes: sample?.rssBytes ?? 0 };
    if (role === 'pipeline' && before && sample) pipelines++;
  }
  const cpu = {} as Record<Role, number>;
  const perHop = {} as Record<Role, number>;
  let ours = 0;
  for (const role of ROLES) {
    cpu[role] = round((100 * cpuMs[role]) / Math.max(1, b.at - a.at));
    perHop[role] = hops > 0 ? round(cpuMs[role] / hops, 3) : 0;
    ours += cpuMs[role];
  }
  const sumRss = (role: Role) => Object.values(processes).reduce((s, p) => s + (p.role === role ? p.rssBytes : 0), 0);
  const busy = b.machineBusyMs - a.machineBusyMs;
  return {
    seconds: round(seconds, 2),
    tracebacks: b.trails - a.trails,
    hops,
    hopsPerSecond: round(hops / seconds),
    tracebacksPerSecond: round((b.trails - a.trails) / seconds),
    trailHopsPerSecond: round((b.trailHops - a.trailHops) / seconds),
    cpuPercent: cpu,
    processes,
    otherCpuPercent: round(Math.max(0, (100 * (busy - ours)) / (b.at - a.at))),
    machineBusyPercent: round((100 * busy) / (b.at - a.at)),
    cpuMsPerHop: perHop,
    pipelineRssBytes: sumRss('pipeline'),
    natsRssBytes: sumRss('nats'),
    cpuBoundHopsPerSecond:
      hops > 0 ? Math.round(Math.min((Math.max(1, pipelines) * 1000) / Math.max(1e-6, cpuMs.pipeline / hops), (availableParallelism() * 1000) / Math.max(1e-6, ours / hops))) : 0,
  };
}

interface Launcher {
  launched: number;
  /** Starts the pipeline acknowledged. */
  acked: number;
  errors: number;
  lastError: string | undefined;
  launch(): void;
  stop(): void;
}

/** Starts tracebacks without waiting for them; a failed start is counted and retried while running. */
function launcher(env: Env): Launcher {
  let running = true;
  const l: Launcher = {
    launched: 0,
    acked: 0,
    errors: 0,
    lastError: undefined,
    launch: () => {
      const index = env.nextIndex++;
      l.launched++;
      env.start(index).then(
        () => void l.acked++,
        (err: unknown) => {
        l.launched--;
        l.errors++;
        l.lastError = err instanceof Error ? err.message : String(err);
        if (running) setTimeout(() => running && l.launch(), 200);
        },
      );
    },
    stop: () => {
      running = false;
    },
  };
  return l;
}

export interface LoopResult {
  window: WindowFigures;
  /** Carrier-side turnaround samples in the window (ms). */
  turnaround: number[];
  /** Bare pipeline's own consume-to-consume samples in the window (ms); empty for the engine. */
  bareHopSamples: number[];
  from: number;
  to: number;
  launched: number;
  startErrors: number;
  lastStartError: string | undefined;
  drained: boolean;
}

async function measure(env: Env, label: string, warmupMs: number, measureMs: number, l: Launcher, base: number): Promise<Omit<LoopResult, 'drained'>> {
  const total = Math.round((warmupMs + measureMs) / 1000);
  const bar = progress(label, total, 's');
  const t0 = nowMs();
  let last = await probe(env);
  let probing = false;
  let stopped = false;
  const tick = setInterval(() => {
    if (probing || stopped) return;
    probing = true;
    void probe(env)
      .then((now) => {
        const rate = ((now.acked - last.acked) * 1000) / Math.max(1, now.at - last.at);
        last = now;
        if (!stopped) bar.update((now.at - t0) / 1000, `${Math.round(rate)} hops/s, ${env.watcher.count - base} tracebacks`);
      })
      .finally(() => (probing = false));
  }, 1000);
  try {
    await sleep(warmupMs);
    await env.takeCarriers();
    await env.takeBare();
    const a = await probe(env);
    await sleep(measureMs);
    const b = await probe(env);
    const turnaround = (await env.takeCarriers()).samples;
    const bareHopSamples = (await env.takeBare())?.samples ?? [];
    return { window: between(a, b), turnaround, bareHopSamples, from: a.at, to: b.at, launched: l.launched, startErrors: l.errors, lastStartError: l.lastError };
  } finally {
    stopped = true;
    clearInterval(tick);
    bar.stop();
  }
}

/** Keeps `window` tracebacks in flight: each finished one is replaced by a new one. */
export async function closedLoop(env: Env, label: string, options: { window: number; warmupMs: number; measureMs: number; drainMs: number }): Promise<LoopResult> {
  const base = env.watcher.count;
  const l = launcher(env);
  env.watcher.onTrail = () => l.launch();
  for (let i = 0; i < options.window; i++) l.launch();
  let result;
  try {
    result = await measure(env, label, options.warmupMs, options.measureMs, l, base);
  } finally {
    env.watcher.onTrail = undefined;
    l.stop();
  }
  const drained = await env.watcher.waitForCount(base + l.launched, options.drainMs);
  if (!drained) note(`  ${label}: ${base + l.launched - env.watcher.count} tracebacks did not finish within ${options.drainMs} ms`);
  return { ...result, launched: l.launched, drained };
}

/** Starts tracebacks at a fixed rate, whatever the pipeline does. */
export async function openLoop(env: Env, label: string, options: { perSecond: number; warmupMs: number; measureMs: number; drainMs: number }): Promise<LoopResult> {
  const base = env.watcher.count;
  const l = launcher(env);
  const t0 = Date.now();
  const pacer = setInterval(() => {
    const due = Math.floor((options.perSecond * (Date.now() - t0)) / 1000);
    while (l.launched + l.errors < due) l.launch();
  }, 5);
  let result;
  try {
    result = await measure(env, label, options.warmupMs, options.measureMs, l, base);
  } finally {
    clearInterval(pacer);
    l.stop();
  }
  const drained = await env.watcher.waitForCount(base + l.launched, options.drainMs);
  return { ...result, launched: l.launched, drained };
}

/** One traceback at a time: start, wait for its trail. Returns end-to-end times (ms). */
export async function sequential(env: Env, label: string, runs: number, warmup: number): Promise<{ samples: number[]; turnaround: number[]; failures: number }> {
  const bar = progress(label, runs + warmup, 'tracebacks');
  const samples: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < runs + warmup; i++) {
      if (i === warmup) await env.takeCarriers();
      const index = env.nextIndex++;
      const t0 = nowMs();
      const arrived = env.watcher.waitForIndex(index, 30_000);
      try {
        await env.start(index);
        const at = await arrived;
        if (i >= warmup) samples.push(at - t0);
      } catch {
        arrived.catch(() => undefined);
        failures++;
      }
      bar.update(i + 1, samples.length > 0 ? `last ${Math.round(samples[samples.length - 1] ?? 0)} ms` : '');
    }
  } finally {
    bar.stop();
  }
  return { samples, turnaround: (await env.takeCarriers()).samples, failures };
}

/** Starts `n` tracebacks as fast as the pipeline takes them (at most `concurrency` requests open). */
export async function startMany(
  env: Env,
  label: string,
  n: number,
  options: { concurrency: number; budgetMs: number; keepIds: boolean; onSample?: (started: number) => void },
): Promise<{ started: number; errors: number; lastError: string | undefined; seconds: number; ids: string[]; budgetExceeded: boolean }> {
  const bar = progress(label, n, 'started');
  const ids: string[] = [];
  let started = 0;
  let errors = 0;
  let lastError: string | undefined;
  let next = 0;
  const t0 = Date.now();
  const deadline = t0 + options.budgetMs;
  let budgetExceeded = false;
  const ticker = setInterval(() => {
    const seconds = (Date.now() - t0) / 1000;
    bar.update(started, `${Math.round(started / Math.max(0.001, seconds))}/s, ${errors} errors`);
    options.onSample?.(started);
  }, 1000);
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < n) {
          if (Date.now() > deadline) {
            budgetExceeded = true;
            return;
          }
          next++;
          const index = env.nextIndex++;
          try {
            const id = await env.start(index);
            started++;
            if (options.keepIds) ids.push(id);
          } catch (err) {
            errors++;
            lastError = err instanceof Error ? err.message : String(err);
          }
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    bar.update(started, `${errors} errors`);
    bar.stop();
  }
  return { started, errors, lastError, seconds: round((Date.now() - t0) / 1000, 2), ids, budgetExceeded };
}
