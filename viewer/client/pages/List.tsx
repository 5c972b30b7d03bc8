import { useEffect, useState } from 'preact/hooks';
import { listPath, type Facets, type ListPage, type SortKey } from '../../shared/api.js';
import { useApi, useLive } from '../api.js';
import { ErrorBox, LiveDot, StateBadge, useNow } from '../components/common.js';
import { fmtCount, fmtCountdown, fmtDuration } from '../format.js';
import { Link, navigate, withParams, type Location } from '../router.js';

const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'id', label: 'Traceback' },
  { key: 'state', label: 'State' },
  { key: 'outcome', label: 'Outcome' },
  { key: 'campaign', label: 'Campaign' },
  { key: 'startedAt', label: 'Age' },
  { key: 'currentProvider', label: 'Current provider' },
  { key: 'hops', label: 'Hops' },
  { key: 'deadline', label: 'Deadline' },
];

function FacetSelect(props: { name: string; label: string; value: string; options: { value: string; count?: number }[]; onChange: (v: string) => void }) {
  return (
    <label class="field inline">
      <span>{props.label}</span>
      <select name={props.name} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {props.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.value}
            {o.count === undefined ? '' : ` (${fmtCount(o.count)})`}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Every traceback: searchable, filterable, sortable, paged on the server; live. */
export function ListPageView(props: { location: Location }) {
  const { location } = props;
  const p = location.params;
  const list = useApi<ListPage>(listPath(p));
  // Facets after the first page: the rows are what the reader waits for.
  const facets = useApi<Facets>(list.data ? '/api/facets' : null);
  const live = useLive('topic=list', () => {
    list.reload();
    facets.reload();
  });
  const now = useNow(1000);
  const [search, setSearch] = useState(p.get('q') ?? '');

  useEffect(() => setSearch(p.get('q') ?? ''), [p.get('q')]);
  useEffect(() => {
    if (search === (p.get('q') ?? '')) return undefined;
    const timer = setTimeout(() => navigate(withParams(location, { q: search.trim(), page: undefined }), true), 250);
    return () => clearTimeout(timer);
  }, [search]);

  useEffect(() => {
    // For the benchmark: when the first page of rows is on screen (once per document).
    if (list.data && list.data.rows.length > 0 && performance.getEntriesByName('robotrace:list-rendered').length === 0) {
      performance.mark('robotrace:list-rendered');
    }
  }, [list.data]);

  const set = (changes: Record<string, string | number | undefined>) => navigate(withParams(location, { page: undefined, ...changes }));
  const sort = (p.get('sort') as SortKey | null) ?? 'startedAt';
  const dir = p.get('dir') ?? 'desc';
  const data = list.data;
  const page = data?.page ?? 0;
  const size = data?.size ?? 50;
  const pages = data ? Math.max(1, Math.ceil(data.total / size)) : 1;

  return (
    <div class="page">
      <div class="page-head">
        <h1>Tracebacks</h1>
        <LiveDot state={live} />
        {data && (
          <span class="muted" data-testid="list-summary">
            {fmtCount(data.total)} matching of {fmtCount(data.indexed)} indexed{data.ready ? '' : ' — still loading stored records…'}
          </span>
        )}
      </div>
      <div class="toolbar">
        <label class="field inline grow">
          <span>Search</span>
          <input
            type="search"
            name="q"
            placeholder="phone number or traceback id"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <FacetSelect
          name="state"
          label="State"
          value={p.get('state') ?? ''}
          options={[{ value: 'active' }, { value: 'done' }, ...(facets.data?.states ?? [])]}
          onChange={(v) => set({ state: v })}
        />
        <FacetSelect name="outcome" label="Outcome" value={p.get('outcome') ?? ''} options={facets.data?.outcomes ?? []} onChange={(v) => set({ outcome: v })} />
        <FacetSelect name="campaign" label="Campaign" value={p.get('campaign') ?? ''} options={facets.data?.campaigns ?? []} onChange={(v) => set({ campaign: v })} />
        <FacetSelect name="provider" label="Provider" value={p.get('provider') ?? ''} options={facets.data?.providers ?? []} onChange={(v) => set({ provider: v })} />
      </div>
      <ErrorBox error={list.error} />
      <table class="grid" data-testid="traceback-list">
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <th key={c.key} class={sort === c.key ? `sorted ${dir}` : ''}>
                <button
                  type="button"
                  class="sort"
                  onClick={() => set({ sort: c.key, dir: sort === c.key && dir === 'desc' ? 'asc' : 'desc' })}
                >
                  {c.label}
                  {sort === c.key ? (dir === 'desc' ? ' ▼' : ' ▲') : ''}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data?.rows.map((row) => (
            <tr key={row.id} data-id={row.id} data-state={row.state}>
              <td class="mono">
                <Link href={`/tracebacks/${row.id}`}>{row.id}</Link>
              </td>
              <td>
                <StateBadge state={row.state} />
              </td>
              <td>{row.outcome ?? ''}</td>
              <td>{row.campaign ?? <span class="muted">none</span>}</td>
              <td title={new Date(row.startedAt).toISOString()}>{fmtDuration(Math.max(0, now - row.startedAt))}</td>
              <td class="mono">{row.currentProvider}</td>
              <td class="num">{row.hops}</td>
              <td
                class={row.deadline !== undefined && row.deadline < now ? 'overdue' : ''}
                title={row.queued ? 'waiting in the provider actor\'s queue; the clock has not started' : row.deadlineSource === 'estimate' ? "the traceback's estimate until the provider actor sends the query" : undefined}
              >
                {row.queued ? <span class="muted">queued</span> : row.deadline === undefined ? '' : fmtCountdown(row.deadline, now)}
                {!row.queued && row.deadlineSource === 'estimate' && <span class="muted small"> (est.)</span>}
              </td>
            </tr>
          ))}
          {data && data.rows.length === 0 && (
            <tr>
              <td colSpan={COLUMNS.length} class="empty">
                {data.indexed === 0 ? 'No tracebacks yet. Start one, or run the demo.' : 'Nothing matches these filters.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled={page === 0} onClick={() => set({ page: page - 1 })}>
          ← Previous
        </button>
        <span>
          page {fmtCount(page + 1)} of {fmtCount(pages)}
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => set({ page: page + 1 })}>
          Next →
        </button>
        <label class="field inline">
          <span>per page</span>
          <select value={String(size)} onChange={(e) => set({ size: (e.target as HTMLSelectElement).value })}>
            {[25, 50, 100, 200].map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
    </div>
  );
}
