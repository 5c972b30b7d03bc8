/**
 * `npm run bench`: throughput, latency, a million tracebacks in flight and crash recovery,
 * each against a bare JetStream pipeline doing the same persisted work. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { startLocalNats } from '../localnats/index.js';
import { killAllChildrenSync } from './src/children.js';
import { failoverScenario, scaleScenario } from './src/distributed.js';
import { closeAllEnvs, type NatsSetup } from './src/drive.js';
import { loadAverage, machine } from './src/proc.js';
import { note } from './src/progress.js';
import { consoleSummary, distributedMarkdown, evaluateTargets, markdown, spliceSection, type BenchResult } from './src/report.js';
import {
  SCENARIOS,
  inFlightScenario,
  latencyScenario,
  recoveryScenario,
  throughputScenario,
  type BenchOptions,
  type ScenarioName,
} from './src/scenarios.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Flags {
  scenario: string;
  smoke?: boolean;
  out?: string;
  providers?: number;
  window?: number;
  warmup?: number;
  measure?: number;
  halfLoad?: number;
  inflight?: number;
  inflightBudget?: number;
  inflightSettle?: number;
  recovery?: number;
  recoveryHops?: number;
  recoveryBudget?: number;
  recoveryStartBudget?: number;
  latencyRuns?: number;
  concurrency?: number;
  carrierConcurrency?: number;
  seed?: number;
  bareMatched: boolean;
  experiments: boolean;
  profile?: boolean;
  shards?: number;
  scaleEngines?: number[];
  scaleSetups?: NatsSetup[];
  scaleLease?: string;
  failoverSetups?: NatsSetup[];
  failoverLeases?: string[];
  failoverLoad?: number;
  merge?: string;
}

function intList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

function setups(value: string): NatsSetup[] {
  const list = value.split(',').map((v) => v.trim());
  for (const v of list) if (v !== 'single' && v !== 'cluster') throw new InvalidArgumentError(`unknown NATS setup ${v}; single or cluster`);
  return list as NatsSetup[];
}

function durations(value: string): string[] {
  const list = value.split(',').map((v) => v.trim());
  for (const v of list) if (!/^\d+(\.\d+)?(ms|s|m)$/.test(v)) throw new InvalidArgumentError(`expected durations like 5s,2s; got ${v}`);
  return list;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('expected a fraction in (0, 1]');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected seconds');
  return n;
}

function scenariosOf(value: string): ScenarioName[] {
  if (value === 'all') return [...SCENARIOS];
  const names = value.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}, all`);
  }
  return names as ScenarioName[];
}

function compile(flags: Flags): { options: BenchOptions; scenarios: ScenarioName[] } {
  const smoke = flags.smoke === true;
  const options: BenchOptions = {
    smoke,
    providers: flags.providers ?? (smoke ? 20 : 200),
    hops: 6,
    seed: flags.seed ?? 1,
    window: flags.window ?? (smoke ? 200 : 1000),
    warmupMs: (flags.warmup ?? (smoke ? 1 : 8)) * 1000,
    measureMs: (flags.measure ?? (smoke ? 2 : 30)) * 1000,
    halfLoadMs: (flags.halfLoad ?? (smoke ? 2 : 20)) * 1000,
    inflight: flags.inflight ?? (smoke ? 2000 : 1_000_000),
    inflightBudgetMs: (flags.inflightBudget ?? (smoke ? 60 : 420)) * 1000,
    inflightSettleMs: (flags.inflightSettle ?? (smoke ? 0 : 45)) * 1000,
    recovery: flags.recovery ?? (smoke ? 500 : 100_000),
    recoveryHops: flags.recoveryHops ?? 2,
    recoveryBudgetMs: (flags.recoveryBudget ?? 300) * 1000,
    recoveryStartBudgetMs: (flags.recoveryStartBudget ?? 300) * 1000,
    recoveryKillAt: 0.25,
    latencyRuns: flags.latencyRuns ?? (smoke ? 20 : 200),
    bareMatched: flags.bareMatched && !smoke,
    experiments: flags.experiments && !smoke,
    shards: flags.shards ?? 32,
    balanceTimeoutMs: 60_000,
    // Smoke: the cluster only with 3 engines (no ratio there), to stay near a minute in CI.
    scaleRuns: (flags.scaleSetups ?? ['single', 'cluster']).map((setup) => ({
      setup,
      engines: flags.scaleEngines ?? (smoke ? (setup === 'single' ? [1, 3] : [3]) : [1, 2, 3]),
    })),
    // Smoke: a short lease, so the shards spread over the engines within seconds.
    scaleLease: flags.scaleLease ?? (smoke ? '2s' : undefined),
    failoverSetups: flags.failoverSetups ?? (smoke ? ['single'] : ['single', 'cluster']),
    failoverLeases: flags.failoverLeases ?? (smoke ? ['2s'] : ['5s', '2s']),
    failoverLoad: flags.failoverLoad ?? 0.5,
    failoverWarmupMs: (smoke ? 3 : 8) * 1000,
    failoverCapacityMs: (smoke ? 2 : 15) * 1000,
    failoverSteadyMs: (smoke ? 3 : 15) * 1000,
    failoverObserveMs: (smoke ? 25 : 60) * 1000,
    failoverAfterMs: (smoke ? 1 : 10) * 1000,
    failoverDrainMs: (smoke ? 60 : 180) * 1000,
    drive: {
      engineConcurrency: flags.concurrency ?? 512,
      carrierConcurrency: flags.carrierConcurrency ?? 32,
      hopDeadline: '24h',
      profileDir: undefined,
      logDir: mkdtempSync(path.join(os.tmpdir(), 'robotrace-bench-logs-')),
    },
  };
  return { options, scenarios: scenariosOf(flags.scenario) };
}

function git(): { commit: string; dirty: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.slice(3));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

/** When the built engine last changed (newest file of dist/engine, dist/actors, dist/protocol): the tree is shared, and a rebuild mid-run would mix engines. */
function engineBuiltAt(): string {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  try {
    for (const part of ['engine', 'actors', 'protocol']) walk(path.join(ROOT, 'dist', part));
  } catch {
    return 'missing';
  }
  return new Date(newest).toISOString();
}

async function natsVersion(): Promise<string> {
  const ns = await startLocalNats({ port: -1, install: true, jetstream: true });
  try {
    return ns.version;
  } finally {
    await ns.stop();
  }
}

/**
 * `--merge a.json,b.json`: one result from several runs of `scale` / `failover` (a later file's
 * scenario replaces an earlier one's), written to `--out` and into RESULTS.md's "Several engines" section.
 */
function merge(files: string[], out: string | undefined): number {
  const results = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResult);
  const merged = results.reduce<BenchResult>((acc, r) => ({
    ...acc,
    ...(r.scale ? { scale: r.scale } : {}),
    ...(r.failover ? { failover: r.failover } : {}),
    errors: [...acc.errors, ...r.errors.filter((e) => (e.scenario === 'scale' && r.scale === undefined) || (e.scenario === 'failover' && r.failover === undefined) || (e.scenario !== 'scale' && e.scenario !== 'failover'))],
  }), { ...(results[0] as BenchResult), errors: [] });
  // A file that is itself a merge keeps its sources.
  const sources = results.flatMap((r) => r.meta.mergedFrom ?? [{ date: r.meta.date, commit: r.meta.git.commit, loadAverage: r.meta.loadAverage, scenarios: [r.scale ? 'scale' : '', r.failover ? 'failover' : ''].filter(Boolean) }]);
  merged.meta = { ...merged.meta, mergedFrom: sources };
  if (out !== undefined) writeFileSync(out, `${JSON.stringify(merged, null, 2)}\n`);
  const md = path.join(ROOT, 'bench', 'RESULTS.md');
  writeFileSync(md, spliceSection(existsSync(md) ? readFileSync(md, 'utf8') : '', distributedMarkdown(merged)));
  note(`merged ${files.length} results${out ? ` into ${out}` : ''}; section "several engines" of ${md}`);
  return 0;
}

async function main(flags: Flags): Promise<number> {
  if (flags.merge) return merge(flags.merge.split(','), flags.out);
  const { options, scenarios } = compile(flags);
  if (flags.profile) {
    options.drive.profileDir = path.join(options.drive.logDir, 'profiles');
    mkdirSync(options.drive.profileDir, { recursive: true });
  }
  const started = Date.now();
  const result: BenchResult = {
    meta: {
      date: new Date().toISOString(),
      smoke: options.smoke,
      machine: machine(),
      node: process.version,
      natsServer: await natsVersion(),
      git: git(),
      options: { ...options, scenarios },
      wallSeconds: 0,
      loadAverage: { start: loadAverage(), end: [] },
      engineBuiltAt: { start: engineBuiltAt(), end: '' },
    },
    errors: [],
    targets: [],
  };
  note(`robotrace bench: ${scenarios.join(', ')}${options.smoke ? ' (smoke)' : ''} on nats-server ${result.meta.natsServer}; child logs in ${options.drive.logDir}`);
  for (const scenario of scenarios) {
    const t0 = Date.now();
    note(`\n== ${scenario}`);
    try {
      switch (scenario) {
        case 'uniform':
          result.uniform = await throughputScenario(options, 'uniform');
          break;
        case 'hot-provider':
          result.hotProvider = await throughputScenario(options, 'hot-provider');
          break;
        case 'latency':
          result.latency = await latencyScenario(options);
          break;
        case 'recovery':
          result.recovery = await recoveryScenario(options);
          break;
        case 'in-flight':
          result.inFlight = await inFlightScenario(options);
          break;
        case 'scale':
          result.scale = await scaleScenario(options);
          break;
        case 'failover':
          result.failover = await failoverScenario(options);
          break;
        default:
          scenario satisfies never;
      }
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      note(`${scenario} failed: ${message}`);
      result.errors.push({ scenario, error: err instanceof Error ? err.message : String(err) });
      await closeAllEnvs();
    }
    note(`== ${scenario} took ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  result.meta.wallSeconds = Math.round((Date.now() - started) / 1000);
  result.meta.loadAverage.end = loadAverage();
  result.meta.engineBuiltAt.end = engineBuiltAt();
  if (result.meta.engineBuiltAt.end !== result.meta.engineBuiltAt.start) note('WARNING: dist/engine was rebuilt during the run; phases may have run different engines');
  result.targets = evaluateTargets(result);
  process.stdout.write(consoleSummary(result));

  const suffix = scenarios.length === SCENARIOS.length ? '' : `-${scenarios.join('-')}`;
  const out = flags.out ?? (options.smoke ? undefined : path.join(ROOT, 'bench', 'results', `${result.meta.date.slice(0, 10)}${suffix}.json`));
  if (out !== undefined) {
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    note(`results: ${out}`);
  }
  // RESULTS.md is the committed record of a complete run: a partial run leaves it alone.
  const md = path.join(ROOT, 'bench', 'RESULTS.md');
  if (!options.smoke && scenarios.length === SCENARIOS.length) {
    writeFileSync(md, `${markdown(result)}\n`);
    note(`table: ${md}`);
  } else if (!options.smoke && (result.scale || result.failover)) {
    // Several engines have their own section, replaced in place: the rest of RESULTS.md stays.
    writeFileSync(md, spliceSection(existsSync(md) ? readFileSync(md, 'utf8') : '', distributedMarkdown(result)));
    note(`section "several engines" of ${md}`);
  }
  // The smoke run guards against rot: any scenario error or wrong/lost trail fails it.
  const broken =
    result.errors.length > 0 ||
    [result.uniform, result.hotProvider].some((t) => t && [t.engine, t.bare, t.bareMatched].some((p) => p && (p.verified.wrong > 0 || p.verified.duplicates > 0 || p.verified.trails === 0))) ||
    (result.recovery !== undefined && (result.recovery.lost > 0 || result.recovery.duplicates > 0 || !result.recovery.allDone)) ||
    (result.latency !== undefined && result.latency.engine.failures > 0) ||
    (result.scale?.errors.length ?? 0) > 0 ||
    (result.failover?.errors.length ?? 0) > 0 ||
    (result.scale?.runs.some((r) => r.verified.wrong > 0 || r.verified.duplicates > 0 || r.verified.trails === 0) ?? false) ||
    (result.failover?.runs.some((r) => r.correctness.lost > 0 || r.correctness.duplicates > 0 || r.correctness.wrong > 0 || r.killToFirstNewHopMs < 0) ?? false);
  return broken ? 1 : 0;
}

const program = new Command('bench')
  .description('robotrace benchmarks: engine vs a bare JetStream pipeline on a fresh local nats-server')
  .option('--scenario <names>', `scenario(s), comma-separated: ${SCENARIOS.join(', ')}, or all`, 'all')
  .option('--smoke', 'seconds-long run with small counts, for CI (no targets, RESULTS.md untouched)')
  .option('--out <file>', 'JSON result file (default bench/results/<date>.json; none for --smoke); bench/RESULTS.md is rewritten only by a full run of every scenario')
  .option('--providers <n>', 'providers in the scripted network (default 200; smoke 20)', positiveInt)
  .option('--window <n>', 'tracebacks kept in flight when measuring peak throughput (default 1000)', positiveInt)
  .option('--warmup <s>', 'seconds before each measurement window (default 8)', seconds)
  .option('--measure <s>', 'seconds of each peak measurement window (default 30)', seconds)
  .option('--half-load <s>', 'seconds of the half-of-peak latency window (default 20)', seconds)
  .option('--inflight <n>', 'tracebacks in flight for in-flight (default 1000000)', positiveInt)
  .option('--inflight-budget <s>', 'stop starting in-flight tracebacks after this long and extrapolate (default 420)', seconds)
  .option('--inflight-settle <s>', 'wait after the starts for idle eviction (default 45)', seconds)
  .option('--recovery <n>', 'tracebacks in flight when the engine is killed (default 100000)', positiveInt)
  .option('--recovery-budget <s>', 'longest wait for all recovery tracebacks to finish after the restart (default 300)', seconds)
  .option('--recovery-start-budget <s>', 'stop starting recovery tracebacks after this long (default 300)', seconds)
  .option('--recovery-hops <n>', 'route length in recovery (default 2, to finish 100,000 tracebacks within the time budget)', positiveInt)
  .option('--latency-runs <n>', 'sequential tracebacks for latency (default 200)', positiveInt)
  .option('--concurrency <n>', 'answers processed at once by the engine and the bare pipeline (default 512)', positiveInt)
  .option('--carrier-concurrency <n>', 'queries looked up at once per carrier (default 32, the SDK default)', positiveInt)
  .option('--seed <n>', 'route table seed', positiveInt)
  .option('--no-bare-matched', "skip the bare pipeline variant with the engine's full write set")
  .option('--no-experiments', 'skip measuring proposed engine fixes (bench/engine-variant.ts) in uniform')
  .option('--shards <n>', 'scale, failover: --shards of every engine (default 32)', positiveInt)
  .option('--scale-engines <list>', 'scale: engine counts, comma-separated; 1 is the baseline of the ratios (default 1,2,3; smoke 1,3 on single, 3 on cluster)', intList)
  .option('--scale-setups <list>', 'scale: NATS setups, comma-separated: single (one nats-server), cluster (3 nodes, --replicas 3) (default both)', setups)
  .option('--scale-lease <duration>', "scale: --lease of the engines (default the engine's 5s; smoke 2s)")
  .option('--failover-setups <list>', 'failover: NATS setups (default single,cluster; smoke single)', setups)
  .option('--failover-leases <list>', 'failover: one run per --lease, comma-separated (default 5s,2s; smoke 2s)', durations)
  .option('--failover-load <fraction>', 'failover: open-loop rate as a fraction of the capacity measured just before (default 0.5)', fraction)
  .option('--merge <files>', 'run nothing: merge the scale/failover figures of these result files (comma-separated; later ones win) into --out and the "Several engines" section of RESULTS.md')
  .option('--profile', 'run every engine under node --cpu-prof (files next to the child logs) and summarise where its CPU goes')
  .action(async (flags: Flags) => {
    process.exitCode = await main(flags);
  });

const onSignal = (signal: NodeJS.Signals) => {
  note(`\n${signal}: stopping every process the benchmark started`);
  void closeAllEnvs().finally(() => {
    killAllChildrenSync();
    process.exit(130);
  });
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

program.parseAsync(process.argv).catch(async (err: unknown) => {
  note(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await closeAllEnvs();
  killAllChildrenSync();
  process.exitCode = 1;
});
