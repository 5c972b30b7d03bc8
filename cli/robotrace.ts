#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliError, describeError } from './common.js';
import { clusterCommand } from './commands/cluster.js';
import { demoCommand } from './commands/demo.js';
import { engineCommand } from './commands/engine.js';
import { natsCommand } from './commands/nats.js';
import { providersCommand } from './commands/providers.js';
import { simCommand } from './commands/sim.js';
import { statusCommand } from './commands/status.js';
import { traceCommand } from './commands/trace.js';
import { watchCommand } from './commands/watch.js';
import { exportCommand } from './commands/export.js';
import { reportCommand } from './commands/report.js';
import { verifyCommand } from './commands/verify.js';
import { keysCommand } from './commands/keys.js';
import { viewerCommand } from '../viewer/cli.js';

const program = new Command('robotrace')
  .description('Automated hop-by-hop robocall traceback on NATS JetStream')
  .version('0.1.0')
  .showHelpAfterError()
  .enablePositionalOptions()
  .exitOverride();

for (const command of [
  demoCommand(),
  natsCommand(),
  clusterCommand(),
  engineCommand(),
  simCommand(),
  traceCommand(),
  watchCommand(),
  statusCommand(),
  providersCommand(),
  viewerCommand(),
  exportCommand(),
  reportCommand(),
  verifyCommand(),
  keysCommand(),
]) {
  program.addCommand(command.exitOverride());
}

try {
  await program.parseAsync(process.argv);
  // Commands that finished (not foreground ones) leave no handles; exit promptly anyway.
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`robotrace: ${describeError(err)}\n`);
    if (!(err instanceof CliError) && process.env['DEBUG']) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
