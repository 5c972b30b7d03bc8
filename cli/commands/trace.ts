import { Command } from 'commander';
import { startTraceback } from '../../engine/index.js';
import { normalizeE164, type Trail } from '../../protocol/index.js';
import { CliError, connectTo, natsOption, parsePositiveInt } from '../common.js';
import { watchTrails } from '../../engine/index.js';
import { trailLine } from './watch.js';
import { simulatedStarts } from '../sim-setup.js';

interface TraceFlags {
  nats: string;
  calling?: string;
  called?: string;
  time?: string;
  terminating?: string;
  campaign?: string;
  transcript?: string;
  identity?: string;
  requester: string;
  requestId?: string;
  fromSim?: string;
  seed: string;
  providers: string;
  wait?: boolean;
  json?: boolean;
}

export function traceCommand(): Command {
  return new Command('trace')
    .description('start one traceback, or --from-sim N tracebacks of simulated calls')
    .addOption(natsOption())
    .option('--calling <number>', 'caller ID as presented (E.164)')
    .option('--called <number>', 'called number (E.164)')
    .option('--time <iso>', 'call time, ISO-8601 UTC')
    .option('--terminating <provider>', 'provider id that delivered the call')
    .option('--campaign <name>', 'campaign name')
    .option('--transcript <text>', 'transcript of the message')
    .option('--identity <header>', 'SIP Identity header (PASSporT)')
    .option('--requester <name>', 'who asks', 'robotrace-cli')
    .option('--request-id <id>', 'idempotency key: retrying with the same id returns the same traceback')
    .option('--from-sim <n>', 'start N tracebacks of calls from the simulated network')
    .option('--seed <n>', 'simulated network seed (with --from-sim)', '1')
    .option('--providers <n>', 'simulated network size (with --from-sim)', '200')
    .option('--wait', 'wait for the trail and print it')
    .option('--json', 'print JSON')
    .action(async (flags: TraceFlags) => {
      const nc = await connectTo(flags.nats, 'robotrace-cli');
      try {
        const requests = flags.fromSim
          ? simulatedStarts(parsePositiveInt(flags.seed, '--seed'), parsePositiveInt(flags.providers, '--providers'), parsePositiveInt(flags.fromSim, '--from-sim'))
          : [singleRequest(flags)];
        const watch = flags.wait ? await watchTrails(nc) : undefined;
        const ids = new Set<string>();
        for (const request of requests) {
          const started = await startTraceback(nc, request);
          ids.add(started.tracebackId);
          if (!flags.wait) {
            process.stdout.write(flags.json ? `${JSON.stringify(started)}\n` : `${started.tracebackId}${started.existing ? ' (existing)' : ''}\n`);
          }
        }
        if (watch) {
          let remaining = ids.size;
          for await (const trail of watch as AsyncIterable<Trail>) {
            if (!ids.has(trail.tracebackId)) continue;
            process.stdout.write(flags.json ? `${JSON.stringify(trail)}\n` : `${trailLine(trail)}\n`);
            if (--remaining === 0) break;
          }
          await watch.close();
        }
      } finally {
        await nc.close();
      }
    });
}

function singleRequest(flags: TraceFlags) {
  for (const name of ['calling', 'called', 'time', 'terminating'] as const) {
    if (!flags[name]) throw new CliError(`--${name} is required (or use --from-sim N)`);
  }
  const time = Date.parse(flags.time as string);
  if (Number.isNaN(time)) throw new CliError(`--time must be an ISO-8601 time, got ${JSON.stringify(flags.time)}`);
  // Validate locally so a typo is reported before anything is sent.
  normalizeE164(flags.calling as string, '--calling');
  normalizeE164(flags.called as string, '--called');
  return {
    call: {
      calling: flags.calling as string,
      called: flags.called as string,
      time,
      ...(flags.campaign ? { campaign: flags.campaign } : {}),
      ...(flags.transcript ? { transcript: flags.transcript } : {}),
      ...(flags.identity ? { identity: flags.identity } : {}),
    },
    terminatingProvider: flags.terminating as string,
    requester: flags.requester,
    ...(flags.requestId ? { requestId: flags.requestId } : {}),
  };
}
