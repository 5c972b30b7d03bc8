import { Command } from 'commander';
import { getStatus } from '../../engine/index.js';
import { connectTo, natsOption } from '../common.js';

export function statusCommand(): Command {
  return new Command('status')
    .description('counts of tracebacks by state')
    .addOption(natsOption())
    .option('--json', 'print one JSON object')
    .action(async (opts: { nats: string; json?: boolean }) => {
      const nc = await connectTo(opts.nats, 'robotrace-cli');
      try {
        const status = await getStatus(nc);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ total: status.total, active: status.active, byOutcome: status.byOutcome })}\n`);
          return;
        }
        process.stdout.write(`${'tracebacks'.padEnd(16)}${status.total}\n${'active'.padEnd(16)}${status.active}\n`);
        for (const [outcome, count] of Object.entries(status.byOutcome)) {
          if (count > 0) process.stdout.write(`${outcome.padEnd(16)}${count}\n`);
        }
      } finally {
        await nc.close();
      }
    });
}
