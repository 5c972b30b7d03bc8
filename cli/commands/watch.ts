import { Command } from 'commander';
import { watchTrails } from '../../engine/index.js';
import type { Trail } from '../../protocol/index.js';
import { CliError, connectTo, natsOption, untilSignal } from '../common.js';

export function trailLine(trail: Trail): string {
  const path = trail.hops.map((h) => h.provider).join(' ← ');
  return `${new Date(trail.endedAt).toISOString()}  ${trail.tracebackId}  ${trail.outcome.padEnd(14)} ${String(trail.hops.length).padStart(2)} hops  ${path}  — ${trail.reason}`;
}

export function watchCommand(): Command {
  return new Command('watch')
    .description('print trails as they complete')
    .addOption(natsOption())
    .option('--since <time>', 'first replay trails completed since this ISO time (or e.g. 10m, 2h ago)')
    .option('--filter <subject>', 'subject filter below tb.trail., e.g. "origin_found.>" or "*.SSA-CalltheSSA.>"')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { nats: string; since?: string; filter?: string; json?: boolean }) => {
      const since = opts.since === undefined ? undefined : parseSince(opts.since);
      const nc = await connectTo(opts.nats, 'robotrace-watch');
      const watch = await watchTrails(nc, { ...(since ? { since } : {}), ...(opts.filter ? { filter: opts.filter } : {}) });
      const done = (async () => {
        for await (const trail of watch) process.stdout.write(`${opts.json ? JSON.stringify(trail) : trailLine(trail)}\n`);
      })();
      await Promise.race([untilSignal(), done]);
      await watch.close();
      await nc.close();
    });
}

function parseSince(value: string): Date {
  const relative = /^(\d+)\s*(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new CliError(`--since takes an ISO time or a duration like 10m; got ${JSON.stringify(value)}`);
  return date;
}
