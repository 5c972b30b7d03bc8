import { useState } from 'preact/hooks';
import type { AnswerResult, InboxItem, InboxPage, Me } from '../../shared/api.js';
import { ApiError, post, useApi, useLive } from '../api.js';
import { ErrorBox, LiveDot, Section, useNow } from '../components/common.js';
import { fmtCountdown, fmtTime } from '../format.js';
import { Link, navigate, type Location } from '../router.js';

/** A carrier's open hop queries (an operator may look at any provider's, read-only). */
export function InboxPageView(props: { me: Me; location: Location }) {
  const asked = props.me.role === 'carrier' ? props.me.provider : (props.location.params.get('provider') ?? '');
  const [provider, setProvider] = useState(asked ?? '');
  const query = asked ? `provider=${encodeURIComponent(asked)}` : null;
  const inbox = useApi<InboxPage>(query ? `/api/inbox?${query}` : null);
  const live = useLive(query ? `topic=inbox&${query}` : null, inbox.reload);
  const now = useNow(1000);
  const data = inbox.data;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Hop queries{asked ? ` for ${asked}` : ''}</h1>
        {query && <LiveDot state={live} />}
      </div>
      {props.me.role === 'operator' && (
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/inbox?provider=${encodeURIComponent(provider.trim())}`);
          }}
        >
          <label class="field inline">
            <span>Provider</span>
            <input value={provider} onInput={(e) => setProvider((e.target as HTMLInputElement).value)} placeholder="provider id" />
          </label>
          <button type="submit">Show open queries</button>
          <span class="muted small">Operators see a carrier's inbox read-only; carriers answer with their own login.</span>
        </form>
      )}
      <ErrorBox error={inbox.error} />
      {data && (
        <Section title={`Open queries (${data.items.length})`}>
          {data.items.length === 0 ? (
            <p class="muted" data-testid="inbox-empty">
              Nothing to answer.
            </p>
          ) : (
            <table class="grid" data-testid="inbox">
              <thead>
                <tr>
                  <th>Hop query</th>
                  <th>Call</th>
                  <th>Placed</th>
                  <th>Campaign</th>
                  <th>Sent to you by</th>
                  <th>Answer due</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {data.items.map((item) => (
                  <tr key={item.hopId} data-hop-id={item.hopId}>
                    <td class="mono small">{item.hopId}</td>
                    <td class="mono">
                      {item.call.calling} → {item.call.called}
                    </td>
                    <td>{fmtTime(item.call.time)}</td>
                    <td>{item.call.campaign ?? ''}</td>
                    <td class="mono">{item.downstream ?? <span class="muted">(you terminated it)</span>}</td>
                    <td class={item.deadline < now ? 'overdue' : ''}>
                      {fmtCountdown(item.deadline, now)}
                      {item.reminders > 0 && <div class="small">reminded {item.reminders}×</div>}
                    </td>
                    <td>
                      <Link class="button" href={`/inbox/${item.hopId}`}>
                        {props.me.role === 'carrier' ? 'Answer' : 'View'}
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      )}
      {data && data.rejections.length > 0 && (
        <Section title="Answers the engine rejected">
          <ul class="rejections" data-testid="rejections">
            {data.rejections.map((r, i) => (
              <li key={i}>
                <strong>{r.code}</strong> {r.hopId && <span class="mono small">{r.hopId}</span>} {r.path && <code>{r.path}</code>}: {r.message}{' '}
                <span class="muted small">{fmtTime(r.at)}</span>
              </li>
            ))}
          </ul>
        </Section>
      )}
    </div>
  );
}

type AnswerType = 'upstream' | 'originator' | 'foreign_entry' | 'not_found' | 'dispute';

const TYPES: { value: AnswerType; label: string; help: string }[] = [
  { value: 'upstream', label: 'Upstream', help: 'We received the call from another provider.' },
  { value: 'originator', label: 'Originator', help: 'Our own customer placed the call.' },
  { value: 'foreign_entry', label: 'Foreign entry', help: 'We are the US point of entry; the call came from abroad.' },
  { value: 'not_found', label: 'Not found', help: 'We have no record of this call.' },
  { value: 'dispute', label: 'Dispute', help: 'We dispute that the call was illegal (e.g. consent).' },
];

type Fields = Record<string, string>;

function buildAnswer(type: AnswerType, f: Fields): Record<string, unknown> {
  const opt = (key: string) => (f[key]?.trim() ? f[key]?.trim() : undefined);
  switch (type) {
    case 'upstream':
      return { type, provider: opt('provider'), trunk: opt('trunk'), ip: opt('ip') };
    case 'originator':
      return {
        type,
        customer: { name: opt('name'), address: opt('address'), contact: opt('contact'), accountSince: opt('accountSince') },
        action: opt('action') ?? 'none',
      };
    case 'foreign_entry':
      return { type, carrier: opt('carrier'), country: opt('country')?.toUpperCase() };
    case 'not_found':
    case 'dispute':
      return { type, reason: opt('reason') };
    default:
      return type satisfies never;
  }
}

/** Which input a server error path points at. */
function fieldOf(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const last = path.split('.').pop();
  return last === 'answer' || last === 'type' ? undefined : last;
}

function Input(props: { name: string; label: string; fields: Fields; errors: Fields; set: (k: string, v: string) => void; hint?: string; placeholder?: string }) {
  const error = props.errors[props.name];
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={`a-${props.name}`}>{props.label}</label>
      <input
        id={`a-${props.name}`}
        name={props.name}
        value={props.fields[props.name] ?? ''}
        placeholder={props.placeholder}
        aria-invalid={error ? 'true' : undefined}
        onInput={(e) => props.set(props.name, (e.target as HTMLInputElement).value)}
      />
      {error ? (
        <div class="field-error" data-field-error={props.name}>
          {error}
        </div>
      ) : (
        props.hint && <div class="hint">{props.hint}</div>
      )}
    </div>
  );
}

function AnswerForm(props: { item: InboxItem; onSent: (result: AnswerResult) => void }) {
  const [type, setType] = useState<AnswerType>('upstream');
  const [fields, setFields] = useState<Fields>({ action: 'none' });
  const [errors, setErrors] = useState<Fields>({});
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const set = (key: string, value: string) => {
    setFields({ ...fields, [key]: value });
    if (errors[key]) setErrors({ ...errors, [key]: '' });
  };
  const common = { fields, errors, set };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setErrors({});
    try {
      const result = await post<AnswerResult>(`/api/inbox/${props.item.hopId}/answer`, { answer: buildAnswer(type, fields) });
      props.onSent(result);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(0, 'NETWORK', (err as Error).message);
      const field = fieldOf(apiError.path);
      if (field && apiError.status === 400) setErrors({ [field]: `${apiError.message} (${apiError.code})` });
      else setError(apiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="form" onSubmit={(e) => void submit(e)} data-testid="answer-form" noValidate>
      <fieldset class="types">
        <legend>Your answer</legend>
        {TYPES.map((t) => (
          <label key={t.value} class={`type${type === t.value ? ' chosen' : ''}`}>
            <input type="radio" name="type" value={t.value} checked={type === t.value} onChange={() => setType(t.value)} />
            <strong>{t.label}</strong>
            <span class="muted small">{t.help}</span>
          </label>
        ))}
      </fieldset>
      {type === 'upstream' && (
        <div class="row2">
          <Input name="provider" label="Upstream provider id" placeholder="e.g. wholesale-7" {...common} />
          <Input name="trunk" label="Trunk group (optional)" {...common} />
          <Input name="ip" label="Signalling IP (optional)" {...common} />
        </div>
      )}
      {type === 'originator' && (
        <>
          <div class="row2">
            <Input name="name" label="Customer name" {...common} />
            <Input name="contact" label="Contact (optional)" {...common} />
          </div>
          <div class="row2">
            <Input name="address" label="Address (optional)" {...common} />
            <Input name="accountSince" label="Account opened (optional)" placeholder="YYYY-MM-DD" {...common} />
          </div>
          <div class="field">
            <label for="a-action">Action taken</label>
            <select id="a-action" name="action" value={fields['action']} onChange={(e) => set('action', (e.target as HTMLSelectElement).value)}>
              <option value="none">none</option>
              <option value="warned">warned</option>
              <option value="terminated">terminated</option>
            </select>
          </div>
        </>
      )}
      {type === 'foreign_entry' && (
        <div class="row2">
          <Input name="carrier" label="Foreign carrier" {...common} />
          <Input name="country" label="Country (ISO 3166-1 alpha-2)" placeholder="e.g. GB" {...common} />
        </div>
      )}
      {(type === 'not_found' || type === 'dispute') && <Input name="reason" label="Reason" {...common} />}
      <ErrorBox error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send answer'}
        </button>
        <Link href="/inbox">Back to the inbox</Link>
      </div>
    </form>
  );
}

/** One hop query and its answer form. */
export function InboxQueryPage(props: { me: Me; hopId: string }) {
  const query = useApi<InboxItem>(`/api/inbox/${encodeURIComponent(props.hopId)}`);
  const [sent, setSent] = useState<AnswerResult | undefined>();
  const now = useNow(1000);
  const item = query.data;
  return (
    <div class="page narrow">
      <h1>
        Hop query <span class="mono">{props.hopId}</span>
      </h1>
      {query.error?.status === 403 && (
        <div class="forbidden" data-testid="forbidden">
          403 — this hop query was not sent to your company. You can see only your own queries.
        </div>
      )}
      {query.error?.status === 409 && !sent && <p data-testid="closed">This hop query is no longer open: it was answered, missed or cancelled.</p>}
      {query.error && query.error.status !== 403 && query.error.status !== 409 && <ErrorBox error={query.error} />}
      {item && (
        <>
          <dl class="facts">
            <dt>Who sent you this call?</dt>
            <dd class="mono big">
              {item.call.calling} → {item.call.called}
            </dd>
            <dt>Placed</dt>
            <dd>{fmtTime(item.call.time)}</dd>
            {item.call.campaign && (
              <>
                <dt>Campaign</dt>
                <dd>{item.call.campaign}</dd>
              </>
            )}
            <dt>You handed it to</dt>
            <dd class="mono">{item.downstream ?? '(the called party: you terminated it)'}</dd>
            <dt>Asked</dt>
            <dd>{fmtTime(item.askedAt)}</dd>
            {item.receivedAt !== undefined && item.receivedAt !== item.askedAt && (
              <>
                <dt>Your clock starts</dt>
                <dd>{fmtTime(item.receivedAt)} (the opening of your next business day)</dd>
              </>
            )}
            <dt>Answer due</dt>
            <dd class={item.deadline < now ? 'overdue' : ''}>
              {fmtTime(item.deadline)} — {fmtCountdown(item.deadline, now)}
            </dd>
            {item.call.transcript && (
              <>
                <dt>Transcript</dt>
                <dd class="transcript">{item.call.transcript}</dd>
              </>
            )}
          </dl>
          {sent ? (
            <div class="success" data-testid="answer-sent">
              Answer sent{sent.duplicate ? ' (an answer to this hop was already stored in the last 10 minutes; this one was dropped as a duplicate)' : ''}: stored as{' '}
              {sent.stream} #{sent.seq}. The engine takes it from here. <Link href="/inbox">Back to the inbox</Link>
            </div>
          ) : props.me.role === 'carrier' ? (
            <AnswerForm item={item} onSent={setSent} />
          ) : (
            <p class="muted">Operators cannot answer for a carrier.</p>
          )}
        </>
      )}
    </div>
  );
}
