import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
import { DEFAULT_FLAG_THRESHOLDS } from '../actors/index.js';
import { listProviders, startTraceback, upsertProviders, watchTrails } from '../engine/index.js';
import { OUTCOMES, type Outcome, type Trail } from '../protocol/index.js';
import { buildCdrIndexes, expectTraceback, startSimulatedCarriers, type SimulatedCarriers } from '../sim/index.js';
import { CliError, connectTo } from './common.js';
import { simWorld, startRequestOf } from './sim-setup.js';

export interface DemoSummary {
  tracebacks: number;
  completed: number;
  outcomes: Record<Outcome, number>;
  meanHops: number;
  maxHops: number;
  timePerTracebackMs: { mean: number; p50: number; p95: number; max: number };
  wallSeconds: number;
  tracebacksPerSecond: number;
  hopsPerSecond: number;
  /** Trails compared with where the simulated call really came from; `late` = a slow provider missed the compressed deadline. */
  groundTruth: { matched: number; late: number; mismatched: number };
  network: { seed: number; providers: number; silent: number; slow: number; meanPathHops: number };
  deadlineMs: number;
  natsServer: string;
  /** Providers flagged during the run, and how flags line up with the simulated behaviour. */
  flags: {
    flagged: { id: string; name?: string; behaviour: string; flags: string[] }[];
    /** Silent providers asked often enough to cross the noncooperative threshold. */
    silentOverThreshold: number;
    silentFlaggedNoncooperative: number;
    cooperativeFlaggedNoncooperative: number;
  };
  /** Present when the run went against a cluster (`robotrace cluster up --demo`). */
  cluster?: { nodes: number; engines: number; shards: number; replicas: number };
}

/** What {@link runSimulatedTracebacks} needs; the engine(s) must already serve `servers`, with the same hop deadline. */
export interface DemoRunOptions {
  /** NATS URLs of the server or cluster the engine(s) use. */
  servers: string[];
  /** Server version, shown in the summary. */
  natsServer: string;
  tracebacks: number;
  seed: number;
  providers: number;
  /** The engines' hop deadline; simulated slow carriers answer relative to it. */
  deadlineMs: number;
  /** Tracebacks started at once. */
  concurrency: number;
  /** The engines' max hops, to bound how long the run may take. */
  maxHops: number;
  logger: Logger;
  /** Aborting stops waiting for trails; the run then rejects with a `CliError`. */
  signal?: AbortSignal;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Rejects when `signal` aborts, so a Ctrl-C is not stuck behind a long wait. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(new CliError('interrupted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CliError('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Runs the simulated network against engines that are already running (in this process or elsewhere):
 * loads the provider directory, starts every simulated carrier, starts `tracebacks` simulated calls,
 * collects their trails and compares them with where each call really came from.
 */
export async function runSimulatedTracebacks(o: DemoRunOptions): Promise<DemoSummary> {
  const { tracebacks: n, seed, providers, deadlineMs, concurrency, logger, signal } = o;
  const world = simWorld(seed, providers, n, deadlineMs);
  const indexes = buildCdrIndexes(world.cdrs);
  const servers = o.servers;
  const client = await connectTo(servers, 'robotrace-demo-client');
  const carrierConnection = await connectTo(servers, 'robotrace-demo-carriers');
  let sim: SimulatedCarriers | undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'tracebacks [{bar}] {value}/{total} | {eta_formatted} left | {outcome}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  try {
    await abortable(
      upsertProviders(
        client,
        world.network.providers.map((p) => ({ id: p.id, name: p.name, frn: p.frn, ocn: p.ocn, contact: p.contact, roles: p.roles, rmdStatus: 'certified' as const })),
        'robotrace-demo',
      ),
      signal,
    );
    sim = await startSimulatedCarriers({ network: world.network, cdrs: world.cdrs, connection: carrierConnection, deadlineMs, logger });
    const watch = await watchTrails(client, { all: true });

    bar.start(n, 0, { outcome: '' });
    const trails = new Map<string, Trail>();
    const started = new Map<string, number>();
    const collecting = (async () => {
      for await (const trail of watch) {
        trails.set(trail.tracebackId, trail);
        bar.update(trails.size, { outcome: trail.outcome });
        if (trails.size >= n) break;
      }
    })();

    const t0 = Date.now();
    let next = 0;
    let result: 'done' | 'timeout';
    try {
      await abortable(
        Promise.all(
          Array.from({ length: Math.min(concurrency, n) }, async () => {
            while (next < n && signal?.aborted !== true) {
              const call = world.calls[next++];
              if (!call) break;
              const reply = await startTraceback(client, startRequestOf(call, 'robotrace-demo'));
              started.set(reply.tracebackId, world.calls.indexOf(call));
            }
          }),
        ),
        signal,
      );
      // The longest possible run: every hop answered as late as allowed.
      const limitMs = (o.maxHops + 2) * deadlineMs + 30_000;
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limitMs).unref());
      result = await abortable(Promise.race([collecting.then(() => 'done' as const), timeout]), signal);
    } finally {
      bar.stop();
      await watch.close();
    }
    const wallMs = Date.now() - t0;
    if (result === 'timeout') logger.error({ completed: trails.size, expected: n }, 'demo timed out waiting for trails');

    const outcomes = Object.fromEntries(OUTCOMES.map((out) => [out, 0])) as Record<Outcome, number>;
    let hops = 0;
    let maxHops = 0;
    const durations: number[] = [];
    let matched = 0;
    let late = 0;
    const slow = new Set(world.network.providers.filter((p) => p.behaviour.kind === 'slow').map((p) => p.id));
    for (const [id, trail] of trails) {
      outcomes[trail.outcome]++;
      hops += trail.hops.length;
      maxHops = Math.max(maxHops, trail.hops.length);
      durations.push(trail.endedAt - trail.startedAt);
      const call = world.calls[started.get(id) ?? -1];
      if (call) {
        const expected = expectTraceback(world.network, indexes, call, { asOf: world.cdrs.asOf });
        if (expected.outcome === trail.outcome && expected.hops === trail.hops.length && expected.endProvider === trail.endProvider) matched++;
        else if (trail.outcome === 'noncooperative' && slow.has(trail.endProvider)) late++;
      }
    }
    durations.sort((a, b) => a - b);
    const completed = trails.size;
    const pathHops = world.calls.reduce((a, c) => a + c.path.length, 0) / Math.max(1, world.calls.length);
    const providerStates = await listProviders(client);
    const behaviourOf = new Map(world.network.providers.map((p) => [p.id, p.behaviour.kind]));
    const threshold = DEFAULT_FLAG_THRESHOLDS.noncooperative.count;
    const flagged = providerStates
      .filter((p) => Object.keys(p.flags).length > 0)
      .map((p) => ({ id: p.id, ...(p.directory.name ? { name: p.directory.name } : {}), behaviour: behaviourOf.get(p.id) ?? 'unknown', flags: Object.keys(p.flags) }));
    const silent = providerStates.filter((p) => behaviourOf.get(p.id) === 'silent');
    return {
      tracebacks: n,
      completed,
      outcomes,
      meanHops: round(hops / Math.max(1, completed), 2),
      maxHops,
      timePerTracebackMs: {
        mean: Math.round(durations.reduce((a, b) => a + b, 0) / Math.max(1, completed)),
        p50: percentile(durations, 50),
        p95: percentile(durations, 95),
        max: durations[durations.length - 1] ?? 0,
      },
      wallSeconds: round(wallMs / 1000, 2),
      tracebacksPerSecond: round(completed / (wallMs / 1000), 1),
      hopsPerSecond: round(hops / (wallMs / 1000), 1),
      groundTruth: { matched, late, mismatched: completed - matched - late },
      network: {
        seed,
        providers,
        silent: world.network.providers.filter((p) => p.behaviour.kind === 'silent').length,
        slow: world.network.providers.filter((p) => p.behaviour.kind === 'slow').length,
        meanPathHops: round(pathHops, 2),
      },
      deadlineMs,
      natsServer: o.natsServer,
      flags: {
        flagged,
        silentOverThreshold: silent.filter((p) => p.stats.missed >= threshold).length,
        silentFlaggedNoncooperative: silent.filter((p) => p.flags.noncooperative !== undefined).length,
        cooperativeFlaggedNoncooperative: providerStates.filter((p) => behaviourOf.get(p.id) !== 'silent' && p.flags.noncooperative !== undefined).length,
      },
    };
  } finally {
    // Carriers first: reminders of finished hops may still be in their hands.
    await sim?.stop().catch(() => undefined);
    await carrierConnection.drain().catch(() => undefined);
    await client.drain().catch(() => undefined);
  }
}

export function formatSummary(s: DemoSummary): string {
  const where = s.cluster === undefined
    ? `nats-server ${s.natsServer}`
    : `a ${s.cluster.nodes}-node nats-server ${s.natsServer} cluster, ${s.cluster.engines} engines, ${s.cluster.shards} shards, replicas ${s.cluster.replicas}`;
  const lines = [
    '',
    `robotrace demo — ${s.completed}/${s.tracebacks} tracebacks completed on ${where}`,
    `network: seed ${s.network.seed}, ${s.network.providers} providers (${s.network.silent} silent, ${s.network.slow} slow), mean path ${s.network.meanPathHops} hops`,
    `hop deadline ${s.deadlineMs} ms (compressed from 24 h)`,
    '',
    'outcome          count',
    ...Object.entries(s.outcomes)
      .filter(([, c]) => c > 0)
      .map(([out, c]) => `${out.padEnd(16)} ${String(c).padStart(5)}`),
    '',
    `mean hops            ${s.meanHops} (max ${s.maxHops})`,
    `time per traceback   mean ${s.timePerTracebackMs.mean} ms, p50 ${s.timePerTracebackMs.p50} ms, p95 ${s.timePerTracebackMs.p95} ms`,
    `throughput           ${s.tracebacksPerSecond} tracebacks/s, ${s.hopsPerSecond} hops/s over ${s.wallSeconds} s`,
    `matches simulator    ${s.groundTruth.matched}/${s.completed} trails end where the simulated call came from` +
      (s.groundTruth.late > 0 ? `; ${s.groundTruth.late} stopped at a slow provider that answered after the deadline` : '') +
      (s.groundTruth.mismatched > 0 ? `; ${s.groundTruth.mismatched} MISMATCHED` : ''),
    '',
    `flagged providers    ${s.flags.flagged.length} (${s.flags.silentFlaggedNoncooperative} of ${s.flags.silentOverThreshold} silent providers that missed ≥ 3 deadlines are flagged noncooperative; ${s.flags.cooperativeFlaggedNoncooperative} cooperative ones are)`,
    ...s.flags.flagged.map((f) => `  ${f.id.padEnd(8)} ${(f.name ?? '').padEnd(32)} ${f.flags.join(', ')}  (simulated: ${f.behaviour})`),
    '',
  ];
  return lines.join('\n');
}
