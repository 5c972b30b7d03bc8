import { Command } from 'commander';
import { answerPercentile, FLAGS, type FlagName, type ProviderContext } from '../../actors/index.js';
import { clearProviderFlag, getProvider, listProviders, upsertProviders } from '../../engine/index.js';
import { CliError, connectTo, natsOption } from '../common.js';
import { readDirectoryFile } from '../directory.js';

export interface Scorecard {
  id: string;
  name: string | undefined;
  verified: boolean;
  asked: number;
  answered: number;
  missed: number;
  late: number;
  notFound: number;
  answerRate: number | undefined;
  p50AnswerMs: number | undefined;
  p90AnswerMs: number | undefined;
  open: number;
  queued: number;
  strikes: Record<FlagName, number>;
  flags: FlagName[];
}

export function scorecard(p: ProviderContext): Scorecard {
  const closed = p.stats.answered + p.stats.missed;
  return {
    id: p.id,
    name: p.directory.name,
    verified: p.directory.verified,
    asked: p.stats.asked,
    answered: p.stats.answered,
    missed: p.stats.missed,
    late: p.stats.late,
    notFound: p.stats.notFound,
    answerRate: closed === 0 ? undefined : Math.round((p.stats.answered / closed) * 1000) / 1000,
    p50AnswerMs: answerPercentile(p, 50),
    p90AnswerMs: answerPercentile(p, 90),
    open: Object.keys(p.open).length,
    queued: p.queue.length,
    strikes: Object.fromEntries(FLAGS.map((f) => [f, p.strikes[f].length])) as Record<FlagName, number>,
    flags: FLAGS.filter((f) => p.flags[f] !== undefined),
  };
}

function ms(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value < 1000) return `${value}ms`;
  if (value < 3_600_000) return `${(value / 1000).toFixed(1)}s`;
  return `${(value / 3_600_000).toFixed(1)}h`;
}

function table(cards: Scorecard[]): string {
  const header = ['provider', 'name', 'asked', 'answer rate', 'p50', 'p90', 'missed', 'not found', 'open', 'queued', 'flags'];
  const rows = cards.map((c) => [
    c.id,
    (c.name ?? (c.verified ? '' : '(unverified)')).slice(0, 28),
    String(c.asked),
    c.answerRate === undefined ? '-' : `${Math.round(c.answerRate * 100)}%`,
    ms(c.p50AnswerMs),
    ms(c.p90AnswerMs),
    String(c.missed),
    String(c.notFound),
    String(c.open),
    String(c.queued),
    c.flags.join(',') || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function providersCommand(): Command {
  const command = new Command('providers')
    .description('provider scorecards: answer rate, answer times, strikes and flags')
    // Options after a subcommand's name (e.g. `import FILE --nats URL`) belong to it.
    .enablePositionalOptions()
    .addOption(natsOption())
    .option('--json', 'print JSON')
    .option('--flagged', 'only providers with a flag')
    .action(async (opts: { nats: string; json?: boolean; flagged?: boolean }) => {
      const nc = await connectTo(opts.nats, 'robotrace-cli');
      try {
        let cards = (await listProviders(nc)).map(scorecard);
        if (opts.flagged) cards = cards.filter((c) => c.flags.length > 0);
        process.stdout.write(opts.json ? `${JSON.stringify(cards)}\n` : table(cards));
      } finally {
        await nc.close();
      }
    });

  command
    .command('show')
    .description('one provider with its flags and their evidence')
    .argument('<id>', 'provider id')
    .addOption(natsOption())
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { nats: string; json?: boolean }) => {
      const nc = await connectTo(opts.nats, 'robotrace-cli');
      try {
        const p = await getProvider(nc, id);
        if (!p) throw new CliError(`no provider ${id}`);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ scorecard: scorecard(p), directory: p.directory, policy: p.policy, flags: p.flags, clearedFlags: p.clearedFlags, strikes: p.strikes })}\n`);
          return;
        }
        const out = [table([scorecard(p)])];
        out.push(`directory: ${JSON.stringify(p.directory)}\npolicy: ${JSON.stringify(p.policy.deadline)} reminders ${p.policy.reminderFractions.join(',')} max in flight ${p.policy.maxInFlight}\n`);
        for (const f of FLAGS) {
          const flag = p.flags[f];
          if (!flag) continue;
          out.push(`\nFLAG ${f} raised ${new Date(flag.raisedAt).toISOString()}: ${flag.reason}\n`);
          for (const e of flag.evidence) out.push(`  ${new Date(e.at).toISOString()}  ${e.tracebackId}${e.hopId ? ` (${e.hopId})` : ''}${e.campaign ? `  ${e.campaign}` : ''}\n`);
        }
        for (const c of p.clearedFlags) out.push(`\ncleared ${c.name} ${new Date(c.clearedAt).toISOString()} by ${c.clearedBy}: ${c.clearReason}\n`);
        process.stdout.write(out.join(''));
      } finally {
        await nc.close();
      }
    });

  command
    .command('clear-flag')
    .description('clear a flag with a reason (audited)')
    .argument('<id>', 'provider id')
    .argument('<flag>', FLAGS.join(' | '))
    .requiredOption('--reason <text>', 'why the flag is cleared')
    .option('--by <name>', 'who clears it', process.env['USER'] ?? 'operator')
    .addOption(natsOption())
    .action(async (id: string, flag: string, opts: { nats: string; reason: string; by: string }) => {
      if (!(FLAGS as readonly string[]).includes(flag)) throw new CliError(`unknown flag ${flag}: use one of ${FLAGS.join(', ')}`);
      const nc = await connectTo(opts.nats, 'robotrace-cli');
      try {
        await clearProviderFlag(nc, id, flag as FlagName, opts.reason, opts.by);
        process.stdout.write(`cleared ${flag} on ${id}\n`);
      } finally {
        await nc.close();
      }
    });

  command
    .command('import')
    .description('load the provider directory from a JSON or CSV file')
    .argument('<file>', 'directory file')
    .addOption(natsOption())
    .action(async (file: string, opts: { nats: string }) => {
      const entries = await readDirectoryFile(file);
      const nc = await connectTo(opts.nats, 'robotrace-cli');
      try {
        const count = await upsertProviders(nc, entries, 'robotrace-cli');
        process.stdout.write(`imported ${count} providers from ${file}\n`);
      } finally {
        await nc.close();
      }
    });
  return command;
}
