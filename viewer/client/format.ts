/** Formatting of times and durations; times are shown in UTC so every reader sees the same. */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function fmtTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

export function fmtClock(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

export function fmtDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(abs / 60_000);
  if (minutes < 60) return `${sign}${minutes}m ${pad(Math.floor((abs % 60_000) / 1000))}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${sign}${hours}h ${pad(minutes % 60)}m`;
  return `${sign}${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** "in 4.2 s" before `at`, "overdue 1.0 s" after. */
export function fmtCountdown(at: number | undefined, now: number): string {
  if (at === undefined) return '—';
  const left = at - now;
  return left >= 0 ? `in ${fmtDuration(left)}` : `overdue ${fmtDuration(-left)}`;
}

export function fmtCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A one-line description of a hop answer. */
export function describeAnswer(answer: Record<string, unknown> | undefined): string {
  if (!answer) return '';
  const customer = answer['customer'] as { name?: string } | undefined;
  switch (answer['type']) {
    case 'upstream':
      return `upstream ${String(answer['provider'])}${answer['trunk'] ? ` (trunk ${String(answer['trunk'])})` : ''}`;
    case 'originator':
      return `originator: customer "${customer?.name ?? '?'}", action ${String(answer['action'])}`;
    case 'foreign_entry':
      return `point of entry; from ${String(answer['carrier'])} (${String(answer['country'])})`;
    case 'not_found':
      return `no record: ${String(answer['reason'])}`;
    case 'dispute':
      return `disputed: ${String(answer['reason'])}`;
    default:
      return JSON.stringify(answer);
  }
}
