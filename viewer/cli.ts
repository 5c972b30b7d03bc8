import { Command, Option } from 'commander';
import { pino } from 'pino';
import { hashPassword, loadLogins } from './server/auth.js';
import { ViewerError, ViewerErrorCode } from './server/errors.js';
import { startViewer } from './server/viewer.js';

interface ViewerFlags {
  nats: string;
  port: string;
  host: string;
  config?: string;
  demo?: boolean;
}

interface HashFlags {
  user?: string;
  role?: string;
  provider?: string;
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** Reads a password: typed without echo on a terminal (twice), else the first line of stdin. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin as AsyncIterable<Buffer>) chunks.push(chunk);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trimEnd();
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve, reject) => {
      process.stderr.write(prompt);
      let typed = '';
      stdin.setRawMode(true);
      stdin.resume();
      stdin.setEncoding('utf8');
      const onData = (key: string) => {
        for (const ch of key) {
          if (ch === '\r' || ch === '\n') {
            done();
            resolve(typed);
            return;
          }
          if (ch === '\u0003') {
            done();
            reject(new ViewerError(ViewerErrorCode.BadRequest, 'cancelled'));
            return;
          }
          typed = ch === '\u007f' ? typed.slice(0, -1) : typed + ch;
        }
      };
      const done = () => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
      };
      stdin.on('data', onData);
    });
  const first = await ask('Password: ');
  const again = await ask('Again: ');
  if (first !== again) throw new ViewerError(ViewerErrorCode.BadRequest, 'the two passwords differ');
  return first;
}

function hashPasswordCommand(): Command {
  return new Command('hash-password')
    .description('hash a password for the logins file (reads it from the terminal, or the first line of stdin)')
    .option('--user <name>', 'print a whole login entry for this user instead of the bare hash')
    .option('--role <role>', 'operator or carrier (with --user)', 'operator')
    .option('--provider <id>', "the carrier's provider id (with --role carrier)")
    .action(async (flags: HashFlags) => {
      const hash = await hashPassword(await readPassword());
      if (flags.user === undefined) {
        process.stdout.write(`${hash}\n`);
        return;
      }
      const entry: Record<string, string> = { user: flags.user, role: flags.role ?? 'operator' };
      if (flags.provider !== undefined) entry['provider'] = flags.provider;
      entry['passwordHash'] = hash;
      process.stdout.write(`${JSON.stringify(entry)}\n`);
    });
}

/**
 * `robotrace viewer`: serves the trace viewer in the foreground until Ctrl-C.
 * `robotrace viewer hash-password`: makes a password hash for the logins file.
 */
export function viewerCommand(): Command {
  const command = new Command('viewer')
    .description('serve the web trace viewer (operators: every traceback live; carriers: their inbox)')
    .addOption(new Option('--nats <url>', 'NATS server URL').env('NATS_URL').default('nats://127.0.0.1:4222'))
    .option('--port <port>', 'HTTP port (0 = any free port)', '8080')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--config <file>', 'JSON logins file: { "logins": [{ "user", "role", "provider"?, "passwordHash" }] }')
    .option('--demo', 'no login needed for operators (loopback only)')
    .action(async (flags: ViewerFlags) => {
      const port = Number(flags.port);
      const logger = pino({ name: 'robotrace-viewer', level: process.env['LOG_LEVEL'] ?? 'info' }, pino.destination(2));
      const logins = flags.config === undefined ? [] : await loadLogins(flags.config);
      const viewer = await startViewer({ servers: flags.nats, port, host: flags.host, demo: flags.demo ?? false, logins, logger });
      process.stderr.write(`robotrace viewer on ${viewer.url}${flags.demo ? ' (demo: no login)' : ''}\n`);
      const signal = await untilSignal();
      logger.info({ signal }, 'stopping');
      await viewer.stop();
    });
  command.addCommand(hashPasswordCommand());
  return command;
}
