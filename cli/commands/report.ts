import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { EvidenceError, fetchPublicKey, type PublicKey } from '../../evidence/index.js';
import { fetchEvents, fetchTrail, renderReport } from '../../enforcement/index.js';
import { parseTracebackId } from '../../protocol/index.js';
import { CliError, connectTo, natsOption } from '../common.js';
import { readKeyFile } from './verify.js';

interface ReportFlags {
  nats: string;
  out?: string;
  key?: string;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render a printable HTML report of one trail: call, hop timeline, outcome, evidence')
    .argument('<traceback-id>', 'the traceback, e.g. tb-0m9x8kqz1abcdefghijk')
    .addOption(natsOption())
    .option('--out <file>', 'write the HTML here instead of stdout')
    .option('--key <file>', 'verify with this public key (PEM or JWK) instead of the one on tb.keys.engine')
    .action(async (id: string, flags: ReportFlags) => {
      const tracebackId = parseTracebackId(id);
      const offlineKey = flags.key === undefined ? undefined : readKeyFile(flags.key);
      const nc = await connectTo(flags.nats, 'robotrace-report');
      let html: string;
      try {
        const { wire } = await fetchTrail(nc, tracebackId);
        const events = await fetchEvents(nc, tracebackId);
        let key: PublicKey | undefined = offlineKey;
        if (key === undefined) {
          try {
            key = (await fetchPublicKey(nc, { timeoutMs: 3_000 })).key;
          } catch (err) {
            if (!EvidenceError.is(err)) throw err;
            process.stderr.write(`robotrace: ${err.message}; the report says the trail is not verified\n`);
          }
        }
        html = renderReport(wire, { events, ...(key === undefined ? {} : { keys: key }) });
      } finally {
        await nc.close();
      }
      if (flags.out === undefined) {
        process.stdout.write(html);
        return;
      }
      try {
        writeFileSync(flags.out, html);
      } catch (err) {
        throw new CliError(`cannot write ${flags.out}: ${(err as Error).message}`);
      }
      process.stderr.write(`wrote ${flags.out}\n`);
    });
}
