import { Command } from 'commander';
import { Engine } from '../../engine/index.js';
import { cliLogger, natsOption, parseFractions, parsePositiveInt, untilSignal } from '../common.js';

export interface EngineFlags {
  nats: string;
  deadline: string;
  reminders: string;
  maxHops: string;
  concurrency: string;
  maxInFlight: string;
  replicas: string;
  shards: string;
  lease: string;
  id?: string;
}

export function engineFlags(command: Command): Command {
  return command
    .option('--deadline <duration>', 'time each provider has to answer a hop (e.g. 24h, 30s)', '24h')
    .option('--reminders <fractions>', 'reminder times as fractions of the deadline', '0.5')
    .option('--max-hops <n>', 'stop a traceback after this many hops', '15')
    .option('--concurrency <n>', 'answers processed at once', '512')
    .option('--max-in-flight <n>', 'hop queries open at one carrier at once (the rest wait)', '1000')
    .option('--replicas <n>', 'replicas of streams and buckets when creating them (1, or 3 on a cluster)', '1')
    .option('--shards <n>', 'shards the store is split into; the same for every engine of a store', '32')
    .option('--lease <duration>', "a shard whose owner stopped renewing for this long moves to another engine", '5s')
    .option('--id <engine-id>', 'this engine\'s id, unique among running engines (default: the host name)');
}

export function engineOptions(flags: EngineFlags) {
  return {
    servers: flags.nats,
    hopDeadline: flags.deadline as `${number}h`,
    reminderFractions: parseFractions(flags.reminders),
    maxHops: parsePositiveInt(flags.maxHops, '--max-hops'),
    concurrency: parsePositiveInt(flags.concurrency, '--concurrency'),
    maxInFlightPerProvider: parsePositiveInt(flags.maxInFlight, '--max-in-flight'),
    replicas: parsePositiveInt(flags.replicas ?? '1', '--replicas'),
    shards: parsePositiveInt(flags.shards ?? '32', '--shards'),
    lease: (flags.lease ?? '5s') as `${number}s`,
    ...(flags.id === undefined ? {} : { engineId: flags.id }),
  };
}

export function engineCommand(): Command {
  return engineFlags(new Command('engine').description('run the traceback engine in the foreground').addOption(natsOption())).action(
    async (flags: EngineFlags) => {
      const logger = cliLogger('robotrace-engine');
      const engine = await Engine.start({ ...engineOptions(flags), logger });
      const reason = await Promise.race([untilSignal(), engine.closed().then((err) => err ?? 'closed')]);
      logger.info({ reason: String(reason) }, 'stopping');
      await engine.stop();
    },
  );
}
