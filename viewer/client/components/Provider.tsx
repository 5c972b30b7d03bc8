import type { ClearedFlagView, FlagView, ProviderDirectory, ProviderPolicyView, ProviderScore } from '../../shared/api.js';
import { fmtDuration, fmtTime } from '../format.js';
import { Link } from '../router.js';

const WEEKDAYS = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** `24 h` for whole hours, else the duration (`2.0 s` in tests). */
export function fmtSpan(ms: number): string {
  return ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : fmtDuration(ms);
}

/** `1 hop`, `3 hops`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function fmtRate(rate: number | undefined): string {
  return rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

function fmtDays(days: number[] | undefined): string {
  if (!days || days.length === 0) return '';
  const sorted = [...days].sort((a, b) => a - b);
  const contiguous = sorted.every((d, i) => i === 0 || d === (sorted[i - 1] as number) + 1);
  return contiguous && sorted.length > 2 ? `${WEEKDAYS[sorted[0] as number]}–${WEEKDAYS[sorted[sorted.length - 1] as number]}` : sorted.map((d) => WEEKDAYS[d]).join(', ');
}

/** `24 h from receipt` or `24 h, business hours 8–17 America/Chicago, Mon–Fri`. */
export function fmtPolicy(policy: ProviderPolicyView | undefined): string {
  if (!policy) return '—';
  if (policy.deadlineKind !== 'business') return `${fmtSpan(policy.deadlineMs)} from receipt`;
  const hours = policy.opensAt !== undefined && policy.closesAt !== undefined ? ` ${policy.opensAt}–${policy.closesAt}` : '';
  return `${fmtSpan(policy.deadlineMs)}, business hours${hours} ${policy.timeZone ?? '?'}, ${fmtDays(policy.businessDays)}`;
}

export function VerifiedBadge(props: { directory: ProviderDirectory | undefined }) {
  if (!props.directory) return <span class="badge" title="no provider actor record">no actor</span>;
  return props.directory.verified ? (
    <span class="badge verified" title="in the imported directory">
      verified
    </span>
  ) : (
    <span class="badge unverified" title="first named in an answer; not in the imported directory">
      unverified
    </span>
  );
}

export function FlagBadge(props: { name: string; cleared?: boolean }) {
  return <span class={`badge flag${props.cleared ? ' cleared' : ''}`}>{props.name}</span>;
}

/** The strikes behind a flag: each traceback links to its page. */
export function EvidenceList(props: { evidence: FlagView['evidence'] }) {
  if (props.evidence.length === 0) return <p class="muted small">No evidence kept.</p>;
  return (
    <ol class="evidence" data-testid="evidence">
      {props.evidence.map((e, i) => (
        <li key={`${e.tracebackId}-${i}`} data-traceback-id={e.tracebackId}>
          <Link href={`/tracebacks/${e.tracebackId}`} class="mono">
            {e.tracebackId}
          </Link>
          {e.hopId && <span class="muted small mono"> hop {e.hopId.slice(e.hopId.lastIndexOf('-h') + 2)}</span>}
          <span class="small" title={fmtTime(e.at)}>
            {' '}
            · {fmtTime(e.at)}
          </span>
          {e.campaign && <span class="small"> · {e.campaign}</span>}
        </li>
      ))}
    </ol>
  );
}

/** A raised flag: name, provider, when, why, and its evidence. */
export function FlagCard(props: { provider?: string; flag: FlagView; now: number }) {
  const { flag } = props;
  return (
    <div class="flag-card" data-testid="flag" data-provider={props.provider} data-flag={flag.name}>
      <div class="flag-head">
        <FlagBadge name={flag.name} />
        {props.provider && (
          <Link href={`/providers/${encodeURIComponent(props.provider)}`} class="mono">
            {props.provider}
          </Link>
        )}
        <span class="muted small">
          raised {fmtTime(flag.raisedAt)} ({fmtDuration(Math.max(0, props.now - flag.raisedAt))} ago)
        </span>
      </div>
      <p class="flag-reason">{flag.reason}</p>
      <EvidenceList evidence={flag.evidence} />
    </div>
  );
}

/** Flags an operator cleared, newest first. */
export function ClearedFlags(props: { flags: { provider: string; flag: ClearedFlagView }[]; showProvider: boolean }) {
  if (props.flags.length === 0) return <p class="muted" data-testid="cleared-flags">No flag has been cleared.</p>;
  return (
    <table class="grid" data-testid="cleared-flags">
      <thead>
        <tr>
          {props.showProvider && <th>Provider</th>}
          <th>Flag</th>
          <th>Raised</th>
          <th>Cleared</th>
          <th>By</th>
          <th>Why</th>
          <th>Evidence</th>
        </tr>
      </thead>
      <tbody>
        {props.flags.map(({ provider, flag }) => (
          <tr key={`${provider}-${flag.name}-${flag.clearedAt}`} data-provider={provider} data-flag={flag.name}>
            {props.showProvider && (
              <td class="mono">
                <Link href={`/providers/${encodeURIComponent(provider)}`}>{provider}</Link>
              </td>
            )}
            <td>
              <FlagBadge name={flag.name} cleared />
              <div class="muted small">{flag.reason}</div>
            </td>
            <td>{fmtTime(flag.raisedAt)}</td>
            <td>{fmtTime(flag.clearedAt)}</td>
            <td>{flag.clearedBy}</td>
            <td>{flag.clearReason}</td>
            <td>
              <details>
                <summary>{plural(flag.evidence.length, 'traceback')}</summary>
                <EvidenceList evidence={flag.evidence} />
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The provider actor's scorecard as table cells: asked, answered, missed, late, answer rate, p50, p90. */
export function ScoreCells(props: { score: ProviderScore | undefined }) {
  const s = props.score;
  if (!s) {
    return (
      <td colSpan={7} class="muted small">
        no provider actor record
      </td>
    );
  }
  return (
    <>
      <td class="num">{s.asked}</td>
      <td class="num">{s.answered}</td>
      <td class={`num${s.missed > 0 ? ' overdue' : ''}`}>{s.missed}</td>
      <td class={`num${s.late > 0 ? ' overdue' : ''}`}>{s.late}</td>
      <td class="num" data-testid="answer-rate">
        {fmtRate(s.answerRate)}
      </td>
      <td class="num" title={`over the last ${s.samples} answers`}>
        {fmtDuration(s.p50Ms)}
      </td>
      <td class="num" title={`over the last ${s.samples} answers`}>
        {fmtDuration(s.p90Ms)}
      </td>
    </>
  );
}
