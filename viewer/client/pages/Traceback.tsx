import { useState } from 'preact/hooks';
import type { HopSummary, MachineGraph, TimelineEvent, TracebackDetail } from '../../shared/api.js';
import { ApiError, post, useApi, useLive } from '../api.js';
import { ErrorBox, LiveDot, Section, StateBadge, useNow } from '../components/common.js';
import { JsonView } from '../components/JsonView.js';
import { Outbox } from '../components/Outbox.js';
import { Statechart } from '../components/Statechart.js';
import { describeAnswer, fmtClock, fmtCountdown, fmtDuration, fmtTime } from '../format.js';
import { Link } from '../router.js';

function CancelForm(props: { id: string; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  if (!open) {
    return (
      <button type="button" class="danger" onClick={() => setOpen(true)}>
        Cancel traceback…
      </button>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await post(`/api/tracebacks/${props.id}/cancel`, { reason });
      setOpen(false);
      props.onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'NETWORK', (err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="cancel-form" onSubmit={(e) => void submit(e)}>
      <label class="field inline grow">
        <span>Reason</span>
        <input name="reason" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} placeholder="why stop this traceback" />
      </label>
      <button type="submit" class="danger" disabled={busy}>
        Cancel it
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Keep it
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** "(estimate)" beside an open hop's time while only the traceback's estimate is known. */
function Estimate(props: { hop: HopSummary }) {
  if (props.hop.status !== 'open' || props.hop.timing !== 'estimate') return null;
  return (
    <span class="muted small" title="the traceback's estimate: the provider actor has not sent the query yet, or its record is not in">
      {' '}
      (estimate)
    </span>
  );
}

function HopTimeline(props: { hops: HopSummary[]; events: TimelineEvent[]; now: number; active: boolean }) {
  const { hops, events, now } = props;
  return (
    <table class="grid timeline" data-testid="hop-timeline">
      <thead>
        <tr>
          <th>Hop</th>
          <th>Provider</th>
          <th>Asked</th>
          <th>Reminded</th>
          <th>Answered</th>
          <th>Took</th>
          <th>Deadline</th>
          <th>Status</th>
          <th>Answer</th>
        </tr>
      </thead>
      <tbody>
        {hops.map((hop) => {
          const answered = events.find((e) => e.hopId === hop.hopId && e.type === 'answered');
          const open = hop.status === 'open' && props.active;
          const queued = open && hop.queued === true;
          return (
            <tr key={hop.hopId} data-hop={hop.hop} data-status={hop.status} data-timing={hop.timing} data-queued={queued ? 'true' : undefined}>
              <td class="num">{hop.hop}</td>
              <td class="mono">
                <Link href={`/providers/${encodeURIComponent(hop.provider)}`}>{hop.provider}</Link>
                {hop.downstream && <div class="muted small">from {hop.downstream}</div>}
              </td>
              <td title={fmtTime(hop.askedAt)}>
                {queued ? (
                  <span class="muted" title="waiting in the provider actor's queue (in-flight limit); the carrier has not got it yet">
                    queued
                  </span>
                ) : (
                  <>
                    {fmtClock(hop.askedAt)}
                    <Estimate hop={hop} />
                    {hop.receivedAt !== undefined && hop.receivedAt !== hop.askedAt && <div class="muted small">clock from {fmtTime(hop.receivedAt)}</div>}
                  </>
                )}
              </td>
              <td>
                {hop.remindedAt.length ? hop.remindedAt.map((t) => fmtClock(t)).join(', ') : <span class="muted">—</span>}
                {open && hop.remindersDue?.[0] !== undefined && <div class="muted small">next {fmtCountdown(hop.remindersDue[0], now)}</div>}
              </td>
              <td>{hop.answeredAt === undefined ? <span class="muted">—</span> : fmtClock(hop.answeredAt)}</td>
              <td>
                {hop.answeredAt === undefined
                  ? open && !queued
                    ? fmtDuration(Math.max(0, now - hop.askedAt)) + '…'
                    : '—'
                  : fmtDuration(hop.answeredAt - hop.askedAt)}
              </td>
              <td class={open && !queued && hop.deadline < now ? 'overdue' : ''} data-testid={open ? 'open-deadline' : undefined}>
                {queued ? <span class="muted">not started</span> : fmtClock(hop.deadline)}
                {!queued && <Estimate hop={hop} />}
                {open && !queued && <div class="small">{fmtCountdown(hop.deadline, now)}</div>}
              </td>
              <td>
                <span class={`badge hop-${hop.status}`}>{hop.status}</span>
              </td>
              <td>{describeAnswer(answered?.answer) || (hop.answerType ?? '')}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function EventList(props: { events: TimelineEvent[]; startedAt: number }) {
  if (props.events.length === 0) return <p class="muted">No events stored yet.</p>;
  return (
    <ol class="events" data-testid="events">
      {props.events.map((e) => (
        <li key={e.seq} data-type={e.type}>
          <span class="seq">#{e.seq}</span>
          <span class="when" title={fmtTime(e.at)}>
            +{fmtDuration(e.at - props.startedAt)}
          </span>
          <span class={`etype etype-${e.type}`}>{e.type}</span>
          {e.provider && <span class="mono">{e.provider}</span>}
          {e.hopId && <span class="muted mono small">{e.hopId}</span>}
          {e.answer && <span>{describeAnswer(e.answer)}</span>}
          {e.outcome && (
            <span>
              → <StateBadge state={e.outcome} />
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}

function Trail(props: { trail: Record<string, unknown>; subject?: string }) {
  const t = props.trail as {
    outcome: string;
    reason: string;
    endProvider: string;
    hops: { provider: string; status: string }[];
    origin?: { provider: string; customer: { name: string } };
    entry?: { provider: string; foreignCarrier: string; country: string };
    startedAt: number;
    endedAt: number;
  };
  return (
    <div class="trail" data-testid="trail">
      <p>
        <StateBadge state={t.outcome} /> {t.reason}
      </p>
      <p class="chain">
        {t.hops.map((h, i) => (
          <span key={i}>
            {i > 0 && <span class="arrow"> ← </span>}
            <span class={`chain-hop hop-${h.status}`}>{h.provider}</span>
          </span>
        ))}
      </p>
      <p class="muted small">
        Published on <code>{props.subject}</code> · took {fmtDuration(t.endedAt - t.startedAt)}
      </p>
      <JsonView value={props.trail} open={1} />
    </div>
  );
}

/** `: 7 events, head 3f2a…` for a stored chain state `{ head, count }`. */
function chainSummary(extra: unknown): string {
  const chain = extra as { head?: unknown; count?: unknown; broken?: unknown } | null;
  if (chain?.broken) return ': broken (a record from before chaining; its trail is not signed)';
  if (typeof chain?.head !== 'string' || typeof chain.count !== 'number') return '';
  return `: ${chain.count} events, head ${chain.head.slice(0, 12)}…`;
}

/** One traceback: statechart, timeline, timers, trail and raw context, kept live. */
export function TracebackPage(props: { id: string }) {
  const detail = useApi<TracebackDetail>(`/api/tracebacks/${props.id}`);
  const machine = useApi<MachineGraph>('/api/machine');
  const live = useLive(`topic=traceback&id=${encodeURIComponent(props.id)}`, detail.reload);
  const now = useNow(500);
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
  const row = d.row;
  const visited = new Set<string>(['asking', ...d.events.map((e) => e.state)]);
  return (
    <div class="page" data-testid="traceback-page" data-state={row.state}>
      <div class="page-head">
        <h1 class="mono">{row.id}</h1>
        <StateBadge state={row.state} />
        <LiveDot state={live} />
        <span class="grow" />
        {row.active && <CancelForm id={row.id} onDone={detail.reload} />}
      </div>
      <ErrorBox error={detail.error} />
      {row.reason && <p class="reason">{row.reason}</p>}
      <dl class="facts">
        <dt>Call</dt>
        <dd class="mono">
          {row.calling} → {row.called}
        </dd>
        <dt>Placed</dt>
        <dd>{fmtTime(row.callTime)}</dd>
        <dt>Campaign</dt>
        <dd>{row.campaign ?? <span class="muted">none</span>}</dd>
        <dt>Requester</dt>
        <dd>{row.requester}</dd>
        <dt>Started</dt>
        <dd>
          {fmtTime(row.startedAt)} ({fmtDuration(Math.max(0, (row.endedAt ?? now) - row.startedAt))}
          {row.endedAt ? ' in all' : ' ago'})
        </dd>
        <dt>{row.active ? 'Asking' : 'Ended at'}</dt>
        <dd class="mono">
          <Link href={`/providers/${encodeURIComponent(row.currentProvider)}`}>{row.currentProvider}</Link> (hop {row.hops}) ·{' '}
          <Link href={`/?provider=${encodeURIComponent(row.currentProvider)}`} class="small" title={`every traceback that asked ${row.currentProvider}`}>
            all it was asked
          </Link>
        </dd>
        {row.queued ? (
          <>
            <dt>Deadline</dt>
            <dd data-testid="deadline" data-source="queued">
              not started: the query waits in {row.currentProvider}'s queue (in-flight limit)
            </dd>
          </>
        ) : (
          row.deadline !== undefined && (
            <>
              <dt>Deadline</dt>
              <dd class={row.deadline < now ? 'overdue' : ''} data-testid="deadline" data-source={row.deadlineSource}>
                {fmtTime(row.deadline)} — {fmtCountdown(row.deadline, now)}{' '}
                <span class="muted small">
                  {row.deadlineSource === 'provider' ? '(the provider actor’s clock)' : '(estimate until the provider actor sends the query)'}
                </span>
              </dd>
            </>
          )
        )}
      </dl>

      <Section title="Statechart" id="statechart" aside={
          <span class="muted small">
            drawn from the tracebackMachine definition (version {machine.data?.version ?? '…'}); every HOP_RESULT is guarded by <code>current</code> (the result is for the
            hop being asked)
          </span>
        }>
        <div class="scroll-x">{machine.data && <Statechart graph={machine.data} current={row.state} visited={visited} />}</div>
      </Section>

      <Section title="Hops">
        <HopTimeline hops={d.hops} events={d.events} now={now} active={row.active} />
      </Section>

      <div class="columns">
        <Section title="Pending timers" aside={<span class="muted small">kept by the provider actors</span>}>
          {d.timers.length === 0 ? (
            <p class="muted" data-testid="timers">
              None{row.active ? (row.queued ? ' (the query waits in the provider’s queue)' : ' (the provider actor is setting up the hop)') : ''}.
            </p>
          ) : (
            <table class="grid" data-testid="timers">
              <thead>
                <tr>
                  <th>Provider</th>
                  <th>Hop</th>
                  <th>For</th>
                  <th>Due</th>
                  <th>Fires</th>
                </tr>
              </thead>
              <tbody>
                {d.timers.map((t) => (
                  <tr key={t.key} title={t.key}>
                    <td class="mono">{t.provider ? <Link href={`/providers/${encodeURIComponent(t.provider)}`}>{t.provider}</Link> : <span class="muted">—</span>}</td>
                    <td class="mono small">{t.hopId ? t.hopId.slice(t.hopId.lastIndexOf('-') + 1) : t.timer}</td>
                    <td>{t.purpose}</td>
                    <td>{fmtClock(t.dueAt)}</td>
                    <td class="countdown">{fmtCountdown(t.dueAt, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Event history">
          <EventList events={d.events} startedAt={row.startedAt} />
        </Section>
      </div>

      {!row.active && (
        <Section title="Trail">
          {d.trail ? <Trail trail={d.trail} subject={d.trailSubject} /> : <p class="muted">Not published yet (expected on {d.trailSubject}).</p>}
        </Section>
      )}

      <Section
        title="Context"
        aside={
          <span class="muted small">
            {d.record.key} · revision {d.record.revision} · machine v{d.record.machineVersion} · updated {fmtTime(d.record.updatedAt)}
          </span>
        }
      >
        <JsonView value={d.record.context} testId="context" />
        <Outbox record={d.record} />
        {d.record.extra !== undefined && (
          <details data-testid="evidence-chain">
            <summary>Evidence chain over the audit events{chainSummary(d.record.extra)}</summary>
            <JsonView value={d.record.extra} open={1} />
          </details>
        )}
      </Section>
    </div>
  );
}
