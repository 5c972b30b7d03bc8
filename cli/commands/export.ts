import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { exportTrails, parseFilter } from '../../enforcement/index.js';
import { CliError, connectTo, natsOption } from '../common.js';
import { parseSince } from './watch.js';

interface ExportFlags {
  nats: string;
  format: 'csv' | 'json';
  since?: string;
  filter?: string;
  out: string;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write stored trails to a file: JSON lines (verifiable) or CSV')
    .addOption(natsOption())
    .addOption(new Option('--format <format>', 'json: one trail per line as received; csv: one row per trail').choices(['csv', 'json']).makeOptionMandatory())
    .option('--since <time>', 'only trails stored since this ISO time or duration ago (10m, 2h, 7d)')
    .option('--filter <filter>', 'subject below tb.trail. ("origin_found.>") or outcome=…,campaign=…,provider=…')
    .requiredOption('--out <file>', 'file to write (- for stdout)')
    .action(async (flags: ExportFlags) => {
      const filter = flags.filter === undefined ? undefined : parseFilter(flags.filter);
      const since = flags.since === undefined ? undefined : parseSince(flags.since);
      const nc = await connectTo(flags.nats, 'robotrace-export');
      const toStdout = flags.out === '-';
      const out = toStdout ? process.stdout : createWriteStream(flags.out, { flags: 'w' });
      const opened = toStdout ? Promise.resolve() : new Promise<void>((resolve, reject) => out.once('open', () => resolve()).once('error', reject));
      try {
        await opened.catch((err: unknown) => {
          throw new CliError(`cannot write ${flags.out}: ${(err as Error).message}`);
        });
        const { count } = await exportTrails(
          nc,
          {
            format: flags.format,
            ...(since === undefined ? {} : { since }),
            ...(filter === undefined ? {} : { filter }),
            onInvalid: (error, m) => process.stderr.write(`robotrace: skipped stream message ${m.seq}: ${error.message}\n`),
          },
          out,
        );
        if (!toStdout) {
          (out as NodeJS.WritableStream).end();
          await finished(out);
        }
        process.stderr.write(`exported ${count} trail${count === 1 ? '' : 's'}${toStdout ? '' : ` to ${flags.out}`}\n`);
      } catch (err) {
        if (!toStdout) await rm(flags.out, { force: true });
        throw err;
      } finally {
        await nc.close();
      }
    });
}
