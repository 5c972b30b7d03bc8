import { Command } from 'commander';
import type { Logger } from 'pino';
import { DEFAULT_HOP_POLICY } from '../../actors/index.js';
import { toMs, type Duration } from '../../engine/index.js';
import { startLocalCluster, type LocalCluster } from '../../localnats/index.js';
import { CliError, cliLogger, parseFractions, parsePositiveInt } from '../common.js';
import { formatSummary, runSimulatedTracebacks } from '../demo-run.js';
import { startEngines, type EngineFleet } from '../engine-fleet.js';

interface ClusterUpFlags {
  nodes: string;
  engines: string;
  shards: string;
  replicas?: string;
  lease: string;
  deadline?: string;
  reminders: string;
  maxHops: string;
  store?: string;
  logDir?: string;
  stopTimeout: string;
  demo?: boolean;
  tracebacks: string;
  seed: string;
  providers: string;
  concurrency: string;
  json?: boolean;
  stay?: boolean;
}

/** `cluster up` flags, validated once before anything starts. */
interface ClusterUpOptions {
  nodes: number;
  engines: number;
  shards: number;
  replicas: number;
  /** Passed to the engines as typed (they parse it); validated here so a typo fails before start. */
  lease: string;
  deadline: string;
  deadlineMs: number;
  reminders: string;
  maxHops: number;
  store: string | undefined;
  logDir: string | undefined;
  stopTimeoutMs: number;
  demo: { tracebacks: number; seed: number; providers: number; concurrency: number; json: boolean; stay: boolean } | undefined;
}

/** Beyond this the local machine only gets slower: every node and engine is a process on it. */
const MAX_NODES = 9;
const MAX_ENGINES = 16;
/** JetStream keeps at most this many copies worth having; more nodes only spread the streams. */
const MAX_REPLICAS = 3;

function duration(value: string, flag: string): number {
  try {
    return toMs(value as Duration, flag);
  } catch {
    throw new CliError(`${flag} takes a duration such as 500ms, 5s, 2m or 24h; got ${JSON.stringify(value)}`);
  }
}

function atMost(n: number, max: number, flag: string): number {
  if (n > max) throw new CliError(`${flag} must be at most ${max} on one machine, got ${n}`);
  return n;
}

function compileClusterUpOptions(flags: ClusterUpFlags): ClusterUpOptions {
  const nodes = atMost(parsePositiveInt(flags.nodes, '--nodes'), MAX_NODES, '--nodes');
  const engines = atMost(parsePositiveInt(flags.engines, '--engines'), MAX_ENGINES, '--engines');
  const shards = parsePositiveInt(flags.shards, '--shards');
  const replicas = flags.replicas === undefined ? Math.min(nodes, MAX_REPLICAS) : parsePositiveInt(flags.replicas, '--replicas');
  if (replicas > nodes) throw new CliError(`--replicas ${replicas} needs at least ${replicas} nodes, got --nodes ${nodes}`);
  if (replicas > 5) throw new CliError(`--replicas must be at most 5 (JetStream's limit), got ${replicas}`);
  const leaseMs = duration(flags.lease, '--lease');
  if (leaseMs < 1_000) throw new CliError(`--lease must be at least 1s (engines renew it well before it ends), got ${flags.lease}`);
  // The demo compresses the legal 24 h so silent carriers time out while you watch, as `robotrace demo` does.
  const deadline = flags.deadline ?? (flags.demo === true ? '2s' : '24h');
  const deadlineMs = duration(deadline, '--deadline');
  parseFractions(flags.reminders);
  const maxHops = parsePositiveInt(flags.maxHops, '--max-hops');
  return {
    nodes,
    engines,
    shards,
    replicas,
    lease: flags.lease,
    deadline,
    deadlineMs,
    reminders: flags.reminders,
    maxHops,
    store: flags.store,
    logDir: flags.logDir,
    stopTimeoutMs: duration(flags.stopTimeout, '--stop-timeout'),
    demo:
      flags.demo === true
        ? {
            tracebacks: parsePositiveInt(flags.tracebacks, '--tracebacks'),
            seed: parsePositiveInt(flags.seed, '--seed'),
            providers: parsePositiveInt(flags.providers, '--providers'),
            concurrency: parsePositiveInt(flags.concurrency, '--concurrency'),
            json: flags.json === true,
            stay: flags.stay === true,
          }
        : undefined,
  };
}

/** The arguments after `robotrace engine` for engine `i` (1-based): the same sharding for all, its own id. */
function engineArgs(o: ClusterUpOptions, urls: readonly string[], i: number): string[] {
  return [
    '--nats', urls.join(','),
    '--replicas', String(o.replicas),
    '--shards', String(o.shards),
    '--lease', o.lease,
    '--id', `engine-${i}`,
    '--deadline', o.deadline,
    '--reminders', o.reminders,
    '--max-hops', String(o.maxHops),
  ];
}

function describeTopology(o: ClusterUpOptions, cluster: LocalCluster, fleet: EngineFleet): string {
  const url = cluster.urls.join(',');
  const nameWidth = Math.max(4, ...cluster.nodes.map((n) => n.name.length)) + 2;
  return [
    '',
    `robotrace cluster — ${cluster.nodes.length} nats-server ${cluster.version} nodes in cluster ${cluster.name}, ${fleet.engines.length} engines`,
    '',
    `${'node'.padEnd(nameWidth)}${'client URL'.padEnd(28)}${'pid'.padEnd(9)}monitor`,
    ...cluster.nodes.map((n) => `${n.name.padEnd(nameWidth)}${n.url.padEnd(28)}${String(n.pid).padEnd(9)}${n.monitorUrl}`),
    '',
    `${'engine'.padEnd(nameWidth)}${'pid'.padEnd(9)}`,
    ...fleet.engines.map((e) => `${e.id.padEnd(nameWidth)}${String(e.pid).padEnd(9)}`),
    `every engine: --shards ${o.shards} --replicas ${o.replicas} --lease ${o.lease} --deadline ${o.deadline}`,
    '',
    `NATS_URL=${url}`,
    `try:  robotrace status --nats ${url}`,
    `      robotrace sim --nats ${url} --deadline ${o.deadline}   # then: robotrace trace --nats ${url} --from-sim 20 --wait`,
    '',
  ].join('\n');
}

/** Resolves on the first SIGINT/SIGTERM; `dispose()` removes the handlers. */
function interruption(): { signal: AbortSignal; next: Promise<NodeJS.Signals>; dispose(): void } {
  const controller = new AbortController();
  let handler: ((s: NodeJS.Signals) => void) | undefined;
  const next = new Promise<NodeJS.Signals>((resolve) => {
    handler = (s) => {
      controller.abort();
      resolve(s);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
  return {
    signal: controller.signal,
    next,
    dispose() {
      if (handler === undefined) return;
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

async function clusterUp(o: ClusterUpOptions, logger: Logger): Promise<void> {
  const stop = interruption();
  // Everything but the demo's JSON goes to stderr when --json asks for a clean stdout.
  const info = (text: string) => (o.demo?.json === true ? process.stderr : process.stdout).write(text);
  let cluster: LocalCluster | undefined;
  let fleet: EngineFleet | undefined;
  try {
    process.stderr.write(`starting a ${o.nodes}-node nats cluster…\n`);
    cluster = await startLocalCluster({ size: o.nodes, storeRoot: o.store, install: true, logger });
    if (stop.signal.aborted) return;
    process.stderr.write(`cluster ${cluster.name} formed; starting ${o.engines} engines…\n`);
    const urls = cluster.urls;
    fleet = await startEngines({
      engines: Array.from({ length: o.engines }, (_, k) => ({ id: `engine-${k + 1}`, args: engineArgs(o, urls, k + 1) })),
      logger,
      ...(o.logDir === undefined ? {} : { logDir: o.logDir }),
    });
    info(describeTopology(o, cluster, fleet));
    if (o.demo !== undefined) {
      const summary = await runSimulatedTracebacks({
        servers: urls,
        natsServer: cluster.version,
        tracebacks: o.demo.tracebacks,
        seed: o.demo.seed,
        providers: o.demo.providers,
        deadlineMs: o.deadlineMs,
        concurrency: o.demo.concurrency,
        maxHops: o.maxHops,
        logger,
        signal: stop.signal,
      });
      summary.cluster = { nodes: o.nodes, engines: o.engines, shards: o.shards, replicas: o.replicas };
      process.stdout.write(o.demo.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
      if (!o.demo.stay) return;
    }
    info('Ctrl-C stops the engines, then the cluster.\n');
    await stop.next;
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    stop.dispose();
    if (stop.signal.aborted) process.exitCode = 130;
    if (fleet !== undefined) {
      process.stderr.write('stopping engines…\n');
      await fleet.stop(o.stopTimeoutMs);
    }
    if (cluster !== undefined) {
      process.stderr.write('stopping the nats cluster…\n');
      await cluster.stop();
    }
  }
}

function clusterUpCommand(): Command {
  return new Command('up')
    .description(
      'start a local JetStream cluster (nats-servers on 127.0.0.1, random ports, temp stores) and engine processes ' +
        'that share its shards under leases; runs until Ctrl-C, then stops the engines and the cluster',
    )
    .option('--nodes <n>', 'nats-servers in the cluster (3 survives one down)', '3')
    .option('--engines <n>', 'engine processes (`robotrace engine`), each owning some shards', '3')
    .option('--shards <n>', 'shards the actors are split into; every engine of one deployment must use the same number', '32')
    .option('--replicas <n>', 'copies of every stream and bucket (default: the number of nodes, at most 3)')
    .option('--lease <duration>', 'shard lease time: a dead engine\'s shards move to the others after about this long', '5s')
    .option('--deadline <duration>', 'time each provider has to answer a hop (default 24h; 2s with --demo)')
    .option('--reminders <fractions>', 'reminder times as fractions of the deadline', '0.5')
    .option('--max-hops <n>', 'stop a traceback after this many hops', String(DEFAULT_HOP_POLICY.maxHops))
    .option('--store <dir>', 'keep the nodes\' JetStream stores in DIR/<node> (default: a temp dir removed at the end)')
    .option('--log-dir <dir>', 'append every engine\'s full log to DIR/engine-<i>.log (default: only warnings are shown)')
    .option('--stop-timeout <duration>', 'how long engines get after SIGTERM before SIGKILL', '10s')
    .option('--demo', 'also run the simulated network and tracebacks against the cluster and print the demo summary, then stop')
    .option('--tracebacks <n>', 'with --demo: tracebacks to run', '100')
    .option('--seed <n>', 'with --demo: simulated network seed', '1')
    .option('--providers <n>', 'with --demo: providers in the simulated network', '200')
    .option('--concurrency <n>', 'with --demo: tracebacks started at once', '64')
    .option('--json', 'with --demo: print the summary as one JSON object on stdout (everything else goes to stderr)')
    .option('--stay', 'with --demo: keep the cluster and engines up after the summary until Ctrl-C')
    .addHelpText(
      'after',
      [
        '',
        'Each engine runs as:',
        '  node dist/cli/robotrace.js engine --nats <all node URLs, comma-separated> --replicas <r> \\',
        '    --shards <n> --lease <duration> --id engine-<i> --deadline <d> --reminders <f> --max-hops <h>',
        '',
        'Examples:',
        '  robotrace cluster up                               # 3 nodes, 3 engines, until Ctrl-C',
        '  robotrace cluster up --demo --tracebacks 200       # same, plus the simulated network and a summary',
        '  robotrace cluster up --nodes 3 --engines 2 --shards 64 --log-dir .robotrace/logs',
        '',
        'For real deployments (compose, Kubernetes, systemd) see deploy/README.md.',
      ].join('\n'),
    )
    .action(async (flags: ClusterUpFlags) => {
      const o = compileClusterUpOptions(flags);
      await clusterUp(o, cliLogger('robotrace-cluster', process.env['LOG_LEVEL'] ?? 'warn'));
    });
}

export function clusterCommand(): Command {
  return new Command('cluster')
    .description('run robotrace as a cluster on this machine: several nats-servers and engine processes')
    .addCommand(clusterUpCommand().exitOverride().showHelpAfterError());
}
