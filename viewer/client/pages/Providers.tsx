import { useState } from 'preact/hooks';
import type { ClearedFlagView, ProviderDetail, ProvidersPage, ProviderSummary } from '../../shared/api.js';
import { useApi, useLive } from '../api.js';
import { ErrorBox, LiveDot, Section, useNow } from '../components/common.js';
import { JsonView } from '../components/JsonView.js';
import { Outbox } from '../components/Outbox.js';
import { ClearedFlags, FlagBadge, FlagCard, ScoreCells, VerifiedBadge, fmtPolicy, fmtSpan } from '../components/Provider.js';
import { fmtCount, fmtCountdown, fmtDuration, fmtTime } from '../format.js';
import { Link } from '../router.js';

function endedHere(p: ProviderSummary): string {
  return Object.entries(p.tracebacks?.endedHere ?? {})
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(', ');
}

function matches(p: ProviderSummary, filter: string): boolean {
  const f = filter.trim().toLowerCase();
  if (!f) return true;
  const d = p.directory;
  return [p.id, d?.name, d?.frn, d?.ocn].some((v) => v?.toLowerCase().includes(f)) || p.flags.some((x) => x.name.includes(f));
}

/**
 * Every provider from its provider actor record (`provider.<id>` in `tb_actors`): directory,
 * deadline policy, scorecard, open and queued queries, flags with their evidence, flags
 * cleared; plus where the tracebacks' trails ended. Live: any record change refetches.
 */
export function ProvidersPageView() {
  const page = useApi<ProvidersPage>('/api/providers');
  const live = useLive('topic=providers', page.reload);
  const now = useNow(1000);
  const [filter, setFilter] = useState('');
  const all = page.data?.providers ?? [];
  const providers = all.filter((p) => matches(p, filter));
  const cleared: { provider: string; flag: ClearedFlagView }[] = all
    .flatMap((p) => p.clearedFlags.map((flag) => ({ provider: p.id, flag })))
    .sort((a, b) => b.flag.clearedAt - a.flag.clearedAt);
  const flags = page.data?.flags ?? [];
  return (
    <div class="page" data-testid="providers-page">
      <div class="page-head">
        <h1>Providers</h1>
        <LiveDot state={live} />
        {page.data && (
          <span class="muted">
            {fmtCount(all.length)} providers · {fmtCount(all.filter((p) => p.flags.length > 0).length)} flagged
          </span>
        )}
      </div>
      <ErrorBox error={page.error} />
      <Section title={`Raised flags (${flags.length})`} id="flags">
        {flags.length === 0 ? (
          <p class="muted" data-testid="no-flags">
            No provider is flagged.
          </p>
        ) : (
          <div class="flags" data-testid="flags">
            {flags.map(({ provider, flag }) => (
              <FlagCard key={`${provider}-${flag.name}`} provider={provider} flag={flag} now={now} />
            ))}
          </div>
        )}
      </Section>
      <Section
        title="Scorecards"
        aside={<input type="search" placeholder="filter: id, name, FRN, OCN, flag" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />}
      >
        <table class="grid" data-testid="provider-stats">
          <thead>
            <tr>
              <th>Provider</th>
              <th>FRN / OCN</th>
              <th>Deadline clock</th>
              <th title="hop queries the provider actor was asked">Asked</th>
              <th>Answered</th>
              <th>Missed</th>
              <th title="answered after the deadline">Late</th>
              <th title="answered / (answered + missed)">Answer rate</th>
              <th title="time to answer, from the clock's start">p50</th>
              <th>p90</th>
              <th title="sent to the carrier, not yet closed">Open</th>
              <th title="waiting for room under the in-flight limit">Queued</th>
              <th>Flags</th>
              <th>Trails ending here</th>
            </tr>
          </thead>
          <tbody>
            {providers.slice(0, 500).map((p) => (
              <tr key={p.id} data-provider={p.id} data-flags={p.flags.map((f) => f.name).join(' ')}>
                <td>
                  <Link href={`/providers/${encodeURIComponent(p.id)}`} class="mono">
                    {p.id}
                  </Link>{' '}
                  <VerifiedBadge directory={p.directory} />
                  {p.directory?.name && <div class="small">{p.directory.name}</div>}
                  {p.error && <div class="overdue small">{p.error}</div>}
                </td>
                <td class="mono small">
                  {p.directory?.frn ?? '—'}
                  <br />
                  {p.directory?.ocn ?? '—'}
                </td>
                <td class="small" data-testid="policy">
                  {fmtPolicy(p.policy)}
                </td>
                <ScoreCells score={p.score} />
                <td class="num">
                  {p.actor ? (
                    <Link href={`/inbox?provider=${encodeURIComponent(p.id)}`} title="the carrier's inbox">
                      {fmtCount(p.open)}
                    </Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td class="num">{p.actor ? fmtCount(p.queued) : '—'}</td>
                <td>
                  {p.flags.map((f) => (
                    <FlagBadge key={f.name} name={f.name} />
                  ))}
                </td>
                <td class="small">
                  {endedHere(p)}
                  {p.tracebacks && (
                    <div>
                      <Link href={`/?provider=${encodeURIComponent(p.id)}`}>{p.tracebacks.asked === 1 ? '1 hop' : `${fmtCount(p.tracebacks.asked)} hops`}</Link>
                    </div>
                  )}
                </td>
              </tr>
            ))}
            {page.data && providers.length === 0 && (
              <tr>
                <td colSpan={14} class="empty">
                  {all.length === 0 ? 'No providers yet: they appear when a traceback asks them or the directory is imported.' : 'No provider matches.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
        {providers.length > 500 && <p class="muted">Showing 500 of {fmtCount(providers.length)}; filter to narrow.</p>}
      </Section>
      <Section title="Cleared flags">
        <ClearedFlags flags={cleared} showProvider />
      </Section>
    </div>
  );
}

/** One provider: directory, policy, scorecard, flags, open and queued queries, raw record. */
export function ProviderPageView(props: { id: string }) {
  const detail = useApi<ProviderDetail>(`/api/providers/${encodeURIComponent(props.id)}`);
  const live = useLive(`topic=provider&id=${encodeURIComponent(props.id)}`, detail.reload);
  const now = useNow(1000);
  const d = detail.data;
  if (!d) {
    return (
      <div class="page">
        <h1 class="mono">{props.id}</h1>
        <ErrorBox error={detail.error} />
        {!detail.error && <p class="muted">Loading…</p>}
      </div>
    );
  }
  const p = d.summary;
  const dir = p.directory;
  const policy = p.policy;
  return (
    <div class="page" data-testid="provider-page" data-provider={p.id}>
      <div class="page-head">
        <h1 class="mono">{p.id}</h1>
        {dir?.name && <span class="big">{dir.name}</span>}
        <VerifiedBadge directory={dir} />
        {p.flags.map((f) => (
          <FlagBadge key={f.name} name={f.name} />
        ))}
        <LiveDot state={live} />
        <span class="grow" />
        <Link href="/providers">All providers</Link>
      </div>
      <ErrorBox error={detail.error} />
      {p.error && <div class="error">{p.error}</div>}
      {!p.actor && <p class="muted">No provider actor record yet: what follows comes from the traceback records only.</p>}
      <div class="columns">
        <Section title="Directory">
          <dl class="facts" data-testid="directory">
            <dt>Name</dt>
            <dd>{dir?.name ?? <span class="muted">—</span>}</dd>
            <dt>FRN</dt>
            <dd class="mono">{dir?.frn ?? '—'}</dd>
            <dt>OCN</dt>
            <dd class="mono">{dir?.ocn ?? '—'}</dd>
            <dt>Contact</dt>
            <dd>{dir?.contact ?? '—'}</dd>
            <dt>RMD status</dt>
            <dd>{dir?.rmdStatus ?? '—'}</dd>
            <dt>Roles</dt>
            <dd>{dir?.roles.join(', ') || '—'}</dd>
            <dt>Verified</dt>
            <dd>{dir ? (dir.verified ? 'yes: in the imported directory' : 'no: first named in an answer') : '—'}</dd>
          </dl>
        </Section>
        <Section title="Policy">
          <dl class="facts" data-testid="policy">
            <dt>Deadline</dt>
            <dd>{fmtPolicy(policy)}</dd>
            <dt>Clock</dt>
            <dd>{policy?.deadlineKind ?? '—'}</dd>
            {policy?.timeZone && (
              <>
                <dt>Time zone</dt>
                <dd>{policy.timeZone}</dd>
              </>
            )}
            {policy?.holidays && policy.holidays.length > 0 && (
              <>
                <dt>Holidays</dt>
                <dd>{policy.holidays.join(', ')}</dd>
              </>
            )}
            <dt>Reminders</dt>
            <dd>{policy ? policy.reminderFractions.map((f) => `${Math.round(f * 100)}%`).join(', ') || 'none' : '—'}</dd>
            <dt>In flight at most</dt>
            <dd>{policy ? fmtCount(policy.maxInFlight) : '—'}</dd>
            <dt>Flag thresholds</dt>
            <dd class="small">
              {Object.entries(p.thresholds ?? {})
                .map(([name, t]) => `${name}: ${p.strikes[name] ?? 0} of ${t.count} in ${fmtSpan(t.windowMs)}`)
                .join(' · ') || '—'}
            </dd>
          </dl>
        </Section>
      </div>
      <Section title="Scorecard">
        <table class="grid" data-testid="scorecard">
          <thead>
            <tr>
              <th>Asked</th>
              <th>Answered</th>
              <th>Missed</th>
              <th>Late</th>
              <th>Answer rate</th>
              <th>p50</th>
              <th>p90</th>
              <th>Not found</th>
              <th>Open</th>
              <th>Queued</th>
              <th>Trails ending here</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <ScoreCells score={p.score} />
              <td class="num">{p.score?.notFound ?? '—'}</td>
              <td class="num">{p.open}</td>
              <td class="num">{p.queued}</td>
              <td class="small">{endedHere(p) || '—'}</td>
            </tr>
          </tbody>
        </table>
      </Section>
      <Section title={`Flags (${p.flags.length})`}>
        {p.flags.length === 0 ? <p class="muted">Not flagged.</p> : p.flags.map((f) => <FlagCard key={f.name} flag={f} now={now} />)}
      </Section>
      <Section title="Cleared flags">
        <ClearedFlags flags={[...p.clearedFlags].reverse().map((flag) => ({ provider: p.id, flag }))} showProvider={false} />
      </Section>
      <Section title={`Open queries (${d.open.length})`} aside={<span class="muted small">sent by the provider actor; the carrier's inbox</span>}>
        {d.open.length === 0 ? (
          <p class="muted">None open.</p>
        ) : (
          <table class="grid" data-testid="provider-open">
            <thead>
              <tr>
                <th>Hop query</th>
                <th>Call</th>
                <th>Sent</th>
                <th>Clock from</th>
                <th>Reminders</th>
                <th>Deadline</th>
              </tr>
            </thead>
            <tbody>
              {d.open.map((o) => (
                <tr key={o.hopId} data-hop-id={o.hopId}>
                  <td class="mono small">
                    <Link href={`/tracebacks/${o.tracebackId}`}>{o.hopId}</Link>
                  </td>
                  <td class="mono">
                    {o.call.calling} → {o.call.called}
                  </td>
                  <td>{fmtTime(o.askedAt)}</td>
                  <td>{o.receivedAt === o.askedAt ? <span class="muted">on receipt</span> : fmtTime(o.receivedAt)}</td>
                  <td class="small">
                    {o.remindedAt.length} sent
                    {o.remindersDue[0] !== undefined && <div class="muted">next {fmtCountdown(o.remindersDue[0], now)}</div>}
                  </td>
                  <td class={o.deadline < now ? 'overdue' : ''}>
                    {fmtTime(o.deadline)}
                    <div class="small">{fmtCountdown(o.deadline, now)}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {d.queue.length > 0 && (
        <Section title={`Queued (${d.queue.length})`} aside={<span class="muted small">not sent yet: the carrier does not see these</span>}>
          <table class="grid" data-testid="provider-queue">
            <thead>
              <tr>
                <th>Hop query</th>
                <th>Waiting since</th>
              </tr>
            </thead>
            <tbody>
              {d.queue.map((q) => (
                <tr key={q.hopId}>
                  <td class="mono small">
                    <Link href={`/tracebacks/${q.tracebackId}`}>{q.hopId}</Link>
                  </td>
                  <td>
                    {fmtTime(q.requestedAt)} ({fmtDuration(Math.max(0, now - q.requestedAt))})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
      {d.record && (
        <Section
          title="Record"
          aside={
            <span class="muted small">
              {d.record.key} · revision {d.record.revision} · machine v{d.record.machineVersion} · updated {fmtTime(d.record.updatedAt)}
            </span>
          }
        >
          <JsonView value={d.record.context} open={1} testId="provider-context" />
          <Outbox record={d.record} />
        </Section>
      )}
    </div>
  );
}
