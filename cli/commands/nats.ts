import { Command } from 'commander';
import { startLocalNats } from '../../localnats/index.js';
import { cliLogger, untilSignal } from '../common.js';

export function natsCommand(): Command {
  return new Command('nats')
    .description('run a local nats-server with JetStream in the foreground (installs the OS package when missing)')
    .option('--port <port>', 'client port (-1 = any free port)', '4222')
    .option('--store <dir>', 'JetStream store directory (kept)', '.robotrace/nats')
    .action(async (opts: { port: string; store: string }) => {
      const logger = cliLogger('robotrace-nats');
      const ns = await startLocalNats({ port: Number(opts.port), storeDir: opts.store, keepStore: true, install: true, logger });
      process.stdout.write(`nats-server ${ns.version} listening on ${ns.url} (store ${ns.storeDir}); Ctrl-C stops it\n`);
      await Promise.race([untilSignal(), ns.exited]);
      await ns.stop();
    });
}
