import { useState } from 'preact/hooks';
import type { ProvidersPage } from '../../shared/api.js';
import { useApi, useLive } from '../api.js';
import { ErrorBox, LiveDot, Section } from '../components/common.js';
import { JsonView } from '../components/JsonView.js';
import { fmtCount, fmtDuration, fmtTime } from '../format.js';
import { Link } from '../router.js';

function pct(part: number, whole: number): string {
  return whole === 0 ? '—' : `${Math.round((100 * part) / whole)}%`;
}

/**
 * Providers as the tracebacks show them (hops asked, answered, missed; where trails ended),
 * plus the provider actors' own records (`provider.<id>` in `tb_actors`) once they exist.
 */
export function ProvidersPageView() {
  const page = useApi<ProvidersPage>('/api/providers');
  const live = useLive('topic=providers', page.reload);
  const [filter, setFilter] = useState('');
  const providers = (page.data?.providers ?? []).filter((p) => p.provider.toLowerCase().includes(filter.trim().toLowerCase()));
  const records = page.data?.records ?? [];
  return (
    <div class="page">
      <div class="page-head">
        <h1>Providers</h1>
        <LiveDot state={live} />
        {page.data && <span class="muted">{fmtCount(page.data.providers.length)} seen on traceback hops</span>}
      </div>
      <ErrorBox error={page.error} />
      <Section title="Scorecards from traceback hops" aside={<input type="search" placeholder="filter providers" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />}>
        <table class="grid" data-testid="provider-stats">
          <thead>
            <tr>
              <th>Provider</th>
              <th>Asked</th>
              <th>Open</th>
              <th>Answered</th>
              <th>Missed</th>
              <th>Answer rate</th>
              <th>Mean response</th>
              <th>Trails ending here</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {providers.slice(0, 500).map((p) => (
              <tr key={p.provider} data-provider={p.provider}>
                <td class="mono">{p.provider}</td>
                <td class="num">{fmtCount(p.asked)}</td>
                <td class="num">{fmtCount(p.open)}</td>
                <td class="num">{fmtCount(p.answered)}</td>
                <td class={`num${p.missed > 0 ? ' overdue' : ''}`}>{fmtCount(p.missed)}</td>
                <td class="num">{pct(p.answered, p.answered + p.missed)}</td>
                <td class="num">{fmtDuration(p.meanResponseMs)}</td>
                <td class="small">
                  {Object.entries(p.endedHere)
                    .map(([outcome, n]) => `${outcome} ${n}`)
                    .join(', ')}
                </td>
                <td class="small">
                  <Link href={`/?provider=${encodeURIComponent(p.provider)}`}>tracebacks</Link> ·{' '}
                  <Link href={`/inbox?provider=${encodeURIComponent(p.provider)}`}>open queries</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {providers.length > 500 && <p class="muted">Showing 500 of {fmtCount(providers.length)}; filter to narrow.</p>}
      </Section>
      <Section title="Provider actor records">
        {records.length === 0 ? (
          <p class="muted" data-testid="provider-records">
            No provider actors stored yet (they will appear here as <code>provider.&lt;id&gt;</code> records in <code>tb_actors</code>).
          </p>
        ) : (
          <div data-testid="provider-records">
            {records.map((r) => (
              <details key={r.key} class="record">
                <summary>
                  <span class="mono">{r.id}</span> {r.state !== undefined && <span class="badge">{String(r.state)}</span>}{' '}
                  <span class="muted small">
                    revision {r.revision}
                    {r.updatedAt ? ` · updated ${fmtTime(r.updatedAt)}` : ''}
                  </span>
                  {r.error && <span class="overdue"> {r.error}</span>}
                </summary>
                <JsonView value={r.context} />
              </details>
            ))}
          </div>
        )}
      </Section>
    </div>
  );
}
