import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { startLocalNats, type LocalNats } from '../../localnats/index.js';
import { DEFAULT_FLAG_THRESHOLDS } from '../../actors/index.js';
import { Engine, listProviders, startTraceback, toMs, upsertProviders, watchTrails, type Duration } from '../../engine/index.js';
import { OUTCOMES, type Outcome, type Trail } from '../../protocol/index.js';
import { buildCdrIndexes, expectTraceback, startSimulatedCarriers, type SimulatedCarriers } from '../../sim/index.js';
import { startViewer, type Viewer } from '../../viewer/index.js';
import { cliLogger, connectTo, parseFractions, parsePositiveInt, untilSignal } from '../common.js';
import { simWorld, startRequestOf } from '../sim-setup.js';

interface DemoFlags {
  tracebacks: string;
  seed: string;
  providers: string;
  deadline: string;
  reminders: string;
  concurrency: string;
  port: string;
  json?: boolean;
  viewer?: boolean;
  viewerPort: string;
}

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
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function demoCommand(): Command {
  return new Command('demo')
    .description('start a local NATS, the engine and a simulated network, run tracebacks and print a summary')
    .option('--tracebacks <n>', 'tracebacks to run', '100')
    .option('--seed <n>', 'simulated network seed', '1')
    .option('--providers <n>', 'providers in the simulated network', '200')
    .option('--deadline <duration>', 'hop deadline, compressed from 24h so silent providers time out quickly', '2s')
    .option('--reminders <fractions>', 'reminders as fractions of the deadline', '0.5')
    .option('--concurrency <n>', 'tracebacks started at once', '64')
    .option('--port <port>', 'port for the local nats-server (-1 = any free port)', '-1')
    .option('--json', 'print the summary as one JSON object')
    .option('--viewer', 'also serve the trace viewer (no login, loopback only) and keep it up after the run until Ctrl-C')
    .option('--viewer-port <port>', 'port of the viewer', '8080')
    .action(async (flags: DemoFlags) => {
      const summary = await runDemo(flags, (s) => process.stdout.write(flags.json ? `${JSON.stringify(s)}\n` : formatSummary(s)));
      void summary;
    });
}

async function runDemo(options: DemoFlags, report: (summary: DemoSummary) => void): Promise<DemoSummary> {
  const n = parsePositiveInt(options.tracebacks, '--tracebacks');
  const seed = parsePositiveInt(options.seed, '--seed');
  const providers = parsePositiveInt(options.providers, '--providers');
  const deadlineMs = toMs(options.deadline as Duration, '--deadline');
  const reminderFractions = parseFractions(options.reminders);
  const concurrency = parsePositiveInt(options.concurrency, '--concurrency');
  const logger = cliLogger('robotrace-demo', process.env['LOG_LEVEL'] ?? 'warn');

  const world = simWorld(seed, providers, n, deadlineMs);
  const indexes = buildCdrIndexes(world.cdrs);
  let ns: LocalNats | undefined;
  let engine: Engine | undefined;
  let sim: SimulatedCarriers | undefined;
  let viewer: Viewer | undefined;
  const cleanup = async () => {
    await viewer?.stop().catch(() => undefined);
    await sim?.stop().catch(() => undefined);
    await engine?.stop().catch(() => undefined);
    await ns?.stop().catch(() => undefined);
  };
  const onSignal = () => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    process.stderr.write('starting a local nats-server…\n');
    ns = await startLocalNats({ port: Number(options.port), install: true, logger });
    process.stderr.write(`nats-server ${ns.version} at ${ns.url} (watch it: robotrace watch --nats ${ns.url})\n`);
    engine = await Engine.start({ servers: ns.url, hopDeadline: deadlineMs, reminderFractions, logger, name: 'robotrace-demo-engine' });
    if (options.viewer) {
      viewer = await startViewer({ servers: ns.url, port: parsePositiveInt(options.viewerPort, '--viewer-port'), host: '127.0.0.1', demo: true, logger });
      process.stderr.write(`trace viewer: ${viewer.url}\n`);
    }
    const client = await connectTo(ns.url, 'robotrace-demo-client');
    await upsertProviders(
      client,
      world.network.providers.map((p) => ({ id: p.id, name: p.name, frn: p.frn, ocn: p.ocn, contact: p.contact, roles: p.roles, rmdStatus: 'certified' as const })),
      'robotrace-demo',
    );
    const carrierConnection = await connectTo(ns.url, 'robotrace-demo-carriers');
    sim = await startSimulatedCarriers({ network: world.network, cdrs: world.cdrs, connection: carrierConnection, deadlineMs, logger });
    const watch = await watchTrails(client, { all: true });

    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: 'tracebacks [{bar}] {value}/{total} | {eta_formatted} left | {outcome}', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
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
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          const call = world.calls[next++];
          if (!call) break;
          const reply = await startTraceback(client, startRequestOf(call, 'robotrace-demo'));
          started.set(reply.tracebackId, world.calls.indexOf(call));
        }
      }),
    );
    // The longest possible run: every hop answered as late as allowed.
    const limitMs = (engine.options.maxHops + 2) * deadlineMs + 30_000;
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limitMs).unref());
    const result = await Promise.race([collecting.then(() => 'done' as const), timeout]);
    const wallMs = Date.now() - t0;
    bar.stop();
    await watch.close();
    if (result === 'timeout') logger.error({ completed: trails.size, expected: n }, 'demo timed out waiting for trails');

    const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
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
    const flags = {
      flagged,
      silentOverThreshold: silent.filter((p) => p.stats.missed >= threshold).length,
      silentFlaggedNoncooperative: silent.filter((p) => p.flags.noncooperative !== undefined).length,
      cooperativeFlaggedNoncooperative: providerStates.filter((p) => behaviourOf.get(p.id) !== 'silent' && p.flags.noncooperative !== undefined).length,
    };
    // Carriers first: reminders of finished hops may still be in their hands.
    await sim.stop();
    sim = undefined;
    await carrierConnection.drain();
    await client.drain();
    const summary: DemoSummary = {
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
      natsServer: ns.version,
      flags,
    };
    report(summary);
    if (viewer) {
      process.stderr.write(`the run is over; the viewer stays at ${viewer.url} until Ctrl-C\n`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await untilSignal();
    }
    return summary;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

function formatSummary(s: DemoSummary): string {
  const lines = [
    '',
    `robotrace demo — ${s.completed}/${s.tracebacks} tracebacks completed on nats-server ${s.natsServer}`,
    `network: seed ${s.network.seed}, ${s.network.providers} providers (${s.network.silent} silent, ${s.network.slow} slow), mean path ${s.network.meanPathHops} hops`,
    `hop deadline ${s.deadlineMs} ms (compressed from 24 h)`,
    '',
    'outcome          count',
    ...Object.entries(s.outcomes)
      .filter(([, c]) => c > 0)
      .map(([o, c]) => `${o.padEnd(16)} ${String(c).padStart(5)}`),
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
