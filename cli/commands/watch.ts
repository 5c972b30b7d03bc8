import { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Trail } from '../../protocol/index.js';
import {
  followTrails,
  parseFilter,
  subscribeTrails,
  trailSubject,
  type TrailDelivery,
  type TrailStart,
  type VerificationKeys,
} from '../../enforcement/index.js';
import { CliError, connectTo, natsOption, untilSignal } from '../common.js';
import { readKeyFile } from './verify.js';

/** One line per trail, as `trace --wait` prints it. */
export function trailLine(trail: Trail): string {
  const path = trail.hops.map((h) => h.provider).join(' ← ');
  return `${new Date(trail.endedAt).toISOString()}  ${trail.tracebackId}  ${trail.outcome.padEnd(14)} ${String(trail.hops.length).padStart(2)} hops  ${path}  — ${trail.reason}`;
}

const COLUMNS = ['ended (UTC)', 'traceback', 'outcome', 'hops', 'end provider', 'campaign', 'sig', 'path'] as const;
const WIDTHS = [24, 23, 14, 4, 16, 20, 3];

function tableRow(values: readonly string[]): string {
  return values.map((v, i) => (i < WIDTHS.length ? v.padEnd(WIDTHS[i]!) : v)).join('  ');
}

function rowOf(d: TrailDelivery): string {
  const t = d.trail;
  const sig = d.verification === undefined ? '' : d.verification.ok ? 'ok' : 'BAD';
  return tableRow([
    new Date(t.endedAt).toISOString(),
    t.tracebackId,
    t.outcome,
    String(t.hops.length),
    t.endProvider,
    t.call.campaign ?? '',
    sig,
    t.hops.map((h) => h.provider).join(' ← '),
  ]);
}

interface WatchFlags {
  nats: string;
  since?: string;
  all?: boolean;
  filter?: string;
  agency?: string;
  reset?: boolean;
  key?: string;
  json?: boolean;
}

export function watchCommand(): Command {
  return new Command('watch')
    .description('print trails as they complete (a table, or JSON lines with --json)')
    .addOption(natsOption())
    .option('--since <time>', 'first replay trails stored since this ISO time or duration ago (10m, 2h, 1d)')
    .option('--all', 'first replay every stored trail')
    .option('--filter <filter>', 'subject below tb.trail. ("origin_found.>", "*.SSA-CalltheSSA.>") or outcome=…,campaign=…,provider=…')
    .option('--agency <name>', "use the agency's durable consumer: every trail once, resumed after a restart")
    .option('--reset', 'with --agency: start the durable consumer again at --since/--all')
    .option('--key <file>', 'verify each trail with this public key (PEM or JWK); adds the sig column')
    .option('--json', 'one trail per line, exactly as received (verifiable with robotrace verify)')
    .action(async (flags: WatchFlags) => {
      const filter = flags.filter === undefined ? undefined : parseFilter(flags.filter);
      const subject = trailSubject(filter);
      if (flags.since !== undefined && flags.all) throw new CliError('use --since or --all, not both');
      const from: TrailStart | undefined = flags.since !== undefined ? parseSince(flags.since) : flags.all ? 'all' : undefined;
      const keys: VerificationKeys | undefined = flags.key === undefined ? undefined : readKeyFile(flags.key);
      const nc = await connectTo(flags.nats, 'robotrace-watch');
      try {
        const print = (d: TrailDelivery) => {
          process.stdout.write(`${flags.json ? JSON.stringify(d.wire) : rowOf(d)}\n`);
        };
        if (!flags.json) process.stdout.write(`${tableRow(COLUMNS)}\n`);
        const onError = (error: Error, { seq }: { seq: number }) => process.stderr.write(`robotrace: skipped stream message ${seq}: ${error.message}\n`);
        if (flags.agency !== undefined) {
          await watchDurable(nc, flags, { filter, from, keys, print, onError });
        } else {
          if (flags.reset) throw new CliError('--reset needs --agency');
          await using follow = await followTrails(nc, {
            from: from ?? 'new',
            ...(filter === undefined ? {} : { filter }),
            ...(keys === undefined ? {} : { keys }),
            onInvalid: (error, m) => onError(error, m),
          });
          process.stderr.write(`watching ${subject}${from === undefined ? '' : ' (replaying first)'}; Ctrl-C to stop\n`);
          const loop = (async () => {
            for await (const d of follow) print(d);
          })();
          await Promise.race([untilSignal(), loop]);
        }
      } finally {
        await nc.close();
      }
    });
}

async function watchDurable(
  nc: NatsConnection,
  flags: WatchFlags,
  o: {
    filter: ReturnType<typeof parseFilter> | undefined;
    from: TrailStart | undefined;
    keys: VerificationKeys | undefined;
    print: (d: TrailDelivery) => void;
    onError: (error: Error, at: { seq: number }) => void;
  },
): Promise<void> {
  await using sub = await subscribeTrails(
    nc,
    {
      agency: flags.agency!,
      from: o.from ?? 'new',
      ...(flags.reset ? { reset: true } : {}),
      ...(o.filter === undefined ? {} : { filter: o.filter }),
      ...(o.keys === undefined ? {} : { keys: o.keys }),
      onError: o.onError,
    },
    o.print,
  );
  const note = sub.created ? 'created' : o.from !== undefined ? 'resumed; --since/--all ignored (add --reset to start over)' : 'resumed';
  process.stderr.write(`watching ${sub.subject} as consumer ${sub.consumer} (${note}); Ctrl-C to stop\n`);
  await Promise.race([untilSignal(), sub.done]);
}

/** An ISO time, or a duration ago: `90s`, `10m`, `2h`, `1d`. */
export function parseSince(value: string): Date {
  const relative = /^(\d+)\s*(s|m|h|d)$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new CliError(`--since takes an ISO time or a duration like 10m; got ${JSON.stringify(value)}`);
  return date;
}
