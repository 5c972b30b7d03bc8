import { Command } from 'commander';
import { startSimulatedCarriers, writeNetworkFiles } from '../../sim/index.js';
import { toMs, type Duration } from '../../engine/index.js';
import { cliLogger, connectTo, natsOption, parsePositiveInt, untilSignal } from '../common.js';
import { simWorld } from '../sim-setup.js';

export function simCommand(): Command {
  return new Command('sim')
    .description('run every simulated carrier of a seeded network, answering hop queries from its CDRs')
    .addOption(natsOption())
    .option('--seed <n>', 'network seed', '1')
    .option('--providers <n>', 'number of providers', '200')
    .option('--calls <n>', 'calls (and CDRs) to generate', '10000')
    .option('--deadline <duration>', 'the engine hop deadline (slow carriers answer at a fraction of it)', '24h')
    .option('--write <dir>', 'also write the network files (CDR CSVs, customers, providers.json) to this directory')
    .action(async (opts: { nats: string; seed: string; providers: string; calls: string; deadline: string; write?: string }) => {
      const logger = cliLogger('robotrace-sim', process.env['LOG_LEVEL'] ?? 'warn');
      const deadlineMs = toMs(opts.deadline as Duration, '--deadline');
      const world = simWorld(parsePositiveInt(opts.seed, '--seed'), parsePositiveInt(opts.providers, '--providers'), parsePositiveInt(opts.calls, '--calls'), deadlineMs);
      if (opts.write) {
        const files = await writeNetworkFiles(world.network, world.cdrs, opts.write);
        process.stdout.write(`wrote ${files.length} files to ${opts.write}\n`);
      }
      const nc = await connectTo(opts.nats, 'robotrace-sim');
      const sim = await startSimulatedCarriers({ network: world.network, cdrs: world.cdrs, connection: nc, deadlineMs, logger });
      process.stdout.write(
        `${sim.carriers.length} carriers answering, ${sim.silent.length} silent (never answer); Ctrl-C stops\n`,
      );
      await untilSignal();
      await sim.stop();
      await nc.drain();
    });
}
