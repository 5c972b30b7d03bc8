import type { DeadlinePolicy, FlagThresholds, ProviderPolicy } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** 24 hours from receipt, reminders at half and 90% of it, 1,000 queries open at once. */
export const DEFAULT_PROVIDER_POLICY: ProviderPolicy = {
  deadline: { kind: 'fixed', deadlineMs: DAY },
  reminderFractions: [0.5, 0.9],
  maxInFlight: 1000,
};

/**
 * Flag thresholds. Missed deadlines: 3 in 30 days (one miss can be an outage, three in a
 * month is a pattern; the consortium reports 10–13% of providers non-responsive a year).
 * Origin / point of entry of illegal traffic: 3 trails in 60 days (the FCC picked
 * enforcement targets by "most tracebacks over a 60-day period"). Records not found:
 * 5 in 30 days (not-found is also what an honest provider with short retention says).
 */
export const DEFAULT_FLAG_THRESHOLDS: FlagThresholds = {
  noncooperative: { count: 3, windowMs: 30 * DAY },
  high_risk_origin: { count: 3, windowMs: 60 * DAY },
  high_risk_entry: { count: 3, windowMs: 60 * DAY },
  insufficient_records: { count: 5, windowMs: 30 * DAY },
};

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function localParts(t: number, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) parts[p.type] = p.value;
  return {
    year: Number(parts['year']),
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']),
    minute: Number(parts['minute']),
    second: Number(parts['second']),
    weekday: WEEKDAYS[parts['weekday'] ?? 'Mon'] ?? 1,
  };
}

/** The UTC instant of a local wall-clock time in `timeZone` (DST-aware). */
export function zonedTime(year: number, month: number, day: number, hour: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day, hour);
  const offsetAt = (t: number) => {
    const p = localParts(t, timeZone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - t;
  };
  let result = guess - offsetAt(guess);
  // Across a DST change the offset at the result differs from the one at the guess.
  const corrected = guess - offsetAt(result);
  if (corrected !== result) result = corrected;
  return result;
}

function isoDate(p: Pick<LocalParts, 'year' | 'month' | 'day'>): string {
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** When the provider's clock starts for a query sent at `sentAt`. */
export function receivedAt(policy: DeadlinePolicy, sentAt: number): number {
  if (policy.kind === 'fixed') return sentAt;
  const local = localParts(sentAt, policy.timeZone);
  const isBusinessDay = (p: Pick<LocalParts, 'year' | 'month' | 'day' | 'weekday'>) =>
    policy.businessDays.includes(p.weekday) && !policy.holidays.includes(isoDate(p));
  if (isBusinessDay(local) && local.hour >= policy.opensAt && local.hour < policy.closesAt) return sentAt;
  // Walk forward from today (if before opening) or tomorrow, by local calendar days.
  const start = isBusinessDay(local) && local.hour < policy.opensAt ? 0 : 1;
  for (let offset = start; offset < 60; offset++) {
    const noon = Date.UTC(local.year, local.month - 1, local.day + offset, 12);
    const d = new Date(noon);
    const candidate = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: ((d.getUTCDay() + 6) % 7) + 1 };
    if (isBusinessDay(candidate)) return zonedTime(candidate.year, candidate.month, candidate.day, policy.opensAt, policy.timeZone);
  }
  return sentAt;
}

/** The answer deadline of a query sent at `sentAt`. */
export function deadlineFor(policy: DeadlinePolicy, sentAt: number): { receivedAt: number; deadline: number } {
  const start = receivedAt(policy, sentAt);
  return { receivedAt: start, deadline: start + policy.deadlineMs };
}

/** Validates a policy; returns human-readable problems (empty when valid). */
export function policyProblems(policy: ProviderPolicy): string[] {
  const problems: string[] = [];
  const d = policy.deadline;
  if (!(d.deadlineMs >= 100)) problems.push('deadline must be at least 100 ms');
  if (!policy.reminderFractions.every((f, i, all) => f > 0 && f < 1 && (i === 0 || f > (all[i - 1] as number)))) {
    problems.push('reminderFractions must be ascending fractions in (0, 1)');
  }
  if (!Number.isInteger(policy.maxInFlight) || policy.maxInFlight < 1) problems.push('maxInFlight must be a positive integer');
  if (d.kind === 'business') {
    try {
      formatter(d.timeZone);
    } catch {
      problems.push(`unknown time zone ${d.timeZone}`);
    }
    if (!(d.opensAt >= 0 && d.closesAt <= 24 && d.opensAt < d.closesAt)) problems.push('business hours must satisfy 0 ≤ opensAt < closesAt ≤ 24');
    if (d.businessDays.length === 0 || d.businessDays.some((x) => x < 1 || x > 7)) problems.push('businessDays must be ISO weekdays 1–7');
    if (d.holidays.some((h) => !/^\d{4}-\d{2}-\d{2}$/.test(h))) problems.push('holidays must be YYYY-MM-DD');
  }
  return problems;
}
