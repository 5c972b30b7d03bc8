import { Command } from 'commander';
import { startLocalNats, type LocalNats } from '../../localnats/index.js';
import { Engine, toMs, type Duration } from '../../engine/index.js';
import { startViewer, type Viewer } from '../../viewer/index.js';
import { cliLogger, parseFractions, parsePositiveInt, untilSignal } from '../common.js';
import { formatSummary, runSimulatedTracebacks, type DemoSummary } from '../demo-run.js';

export type { DemoSummary } from '../demo-run.js';

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
      await runDemo(flags, (s) => process.stdout.write(flags.json ? `${JSON.stringify(s)}\n` : formatSummary(s)));
    });
}

/** Resolves to the summary, or `undefined` when interrupted (Ctrl-C) before it was ready. */
async function runDemo(options: DemoFlags, report: (summary: DemoSummary) => void): Promise<DemoSummary | undefined> {
  const tracebacks = parsePositiveInt(options.tracebacks, '--tracebacks');
  const seed = parsePositiveInt(options.seed, '--seed');
  const providers = parsePositiveInt(options.providers, '--providers');
  const deadlineMs = toMs(options.deadline as Duration, '--deadline');
  const reminderFractions = parseFractions(options.reminders);
  const concurrency = parsePositiveInt(options.concurrency, '--concurrency');
  const logger = cliLogger('robotrace-demo', process.env['LOG_LEVEL'] ?? 'warn');

  let ns: LocalNats | undefined;
  let engine: Engine | undefined;
  let viewer: Viewer | undefined;
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
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
    const summary = await runSimulatedTracebacks({
      servers: [ns.url],
      natsServer: ns.version,
      tracebacks,
      seed,
      providers,
      deadlineMs,
      concurrency,
      maxHops: engine.options.maxHops,
      logger,
      signal: interrupted.signal,
    });
    report(summary);
    if (viewer) {
      process.stderr.write(`the run is over; the viewer stays at ${viewer.url} until Ctrl-C\n`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await untilSignal();
    }
    return summary;
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    process.exitCode = 130;
    return undefined;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await viewer?.stop().catch(() => undefined);
    await engine?.stop().catch(() => undefined);
    await ns?.stop().catch(() => undefined);
  }
}
