import { useState } from 'preact/hooks';
import type { StartResult } from '../../shared/api.js';
import { ApiError, post } from '../api.js';
import { ErrorBox } from '../components/common.js';
import { Link, navigate } from '../router.js';

interface FormState {
  calling: string;
  called: string;
  time: string;
  campaign: string;
  transcript: string;
  terminatingProvider: string;
  requester: string;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC for a datetime-local input. */
function utcInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

const FIELD_OF_PATH: Record<string, keyof FormState> = {
  'call.calling': 'calling',
  'call.called': 'called',
  'call.time': 'time',
  'call.campaign': 'campaign',
  'call.transcript': 'transcript',
  terminatingProvider: 'terminatingProvider',
  requester: 'requester',
  calling: 'calling',
  called: 'called',
  campaign: 'campaign',
  transcript: 'transcript',
};

function Field(props: {
  name: keyof FormState;
  label: string;
  hint?: string;
  value: string;
  error: string | undefined;
  type?: 'text' | 'datetime-local';
  onInput: (value: string) => void;
  required?: boolean;
  multiline?: boolean;
}) {
  const id = `f-${props.name}`;
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={id}>
        {props.label}
        {props.required && <span class="req"> *</span>}
      </label>
      {props.multiline ? (
        <textarea id={id} name={props.name} rows={3} value={props.value} onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)} />
      ) : props.type === 'datetime-local' ? (
        <input
          id={id}
          name={props.name}
          type="datetime-local"
          step={1}
          value={props.value}
          aria-invalid={props.error ? 'true' : undefined}
          onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        />
      ) : (
        <input
          id={id}
          name={props.name}
          type="text"
          value={props.value}
          aria-invalid={props.error ? 'true' : undefined}
          onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        />
      )}
      {props.error ? (
        <div class="field-error" data-field-error={props.name}>
          {props.error}
        </div>
      ) : (
        props.hint && <div class="hint">{props.hint}</div>
      )}
    </div>
  );
}

/** Start a traceback; the engine's own validation rules name the field that is wrong. */
export function StartPage(props: { user: string }) {
  const [form, setForm] = useState<FormState>({
    calling: '',
    called: '',
    time: utcInput(Date.now() - 60_000),
    campaign: '',
    transcript: '',
    terminatingProvider: '',
    requester: props.user,
  });
  const [errors, setErrors] = useState<Partial<Record<keyof FormState, string>>>({});
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [requestId] = useState(() => `viewer-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`);
  const set = (key: keyof FormState) => (value: string) => {
    setForm({ ...form, [key]: value });
    if (errors[key]) setErrors({ ...errors, [key]: undefined });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const local: Partial<Record<keyof FormState, string>> = {};
    if (!form.calling.trim()) local.calling = 'Enter the caller ID as presented, in E.164 (+1…).';
    if (!form.called.trim()) local.called = 'Enter the called number in E.164 (+1…).';
    if (!form.terminatingProvider.trim()) local.terminatingProvider = 'Name the provider that delivered the call (hop 1).';
    const time = Date.parse(`${form.time}Z`);
    if (!form.time || Number.isNaN(time)) local.time = 'Enter when the call was placed (UTC).';
    setErrors(local);
    setError(undefined);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const result = await post<StartResult>('/api/tracebacks', {
        calling: form.calling,
        called: form.called,
        time,
        campaign: form.campaign,
        transcript: form.transcript,
        terminatingProvider: form.terminatingProvider,
        requester: form.requester,
        requestId,
      });
      navigate(`/tracebacks/${result.tracebackId}`);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(0, 'NETWORK', (err as Error).message);
      const field = apiError.path ? FIELD_OF_PATH[apiError.path] : undefined;
      if (field) setErrors({ [field]: `${apiError.message} (${apiError.code})` });
      else setError(apiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page narrow">
      <h1>Start a traceback</h1>
      <p class="muted">
        The engine asks the terminating provider first, then each upstream in turn. Numbers in E.164 (<code>+12155550121</code>); times in UTC.
      </p>
      <form class="form" onSubmit={(e) => void submit(e)} noValidate data-testid="start-form">
        <ErrorBox error={error} />
        <div class="row2">
          <Field name="calling" label="Calling number (caller ID)" required value={form.calling} error={errors.calling} onInput={set('calling')} hint="as shown to the called party" />
          <Field name="called" label="Called number" required value={form.called} error={errors.called} onInput={set('called')} />
        </div>
        <div class="row2">
          <Field name="time" label="Call placed (UTC)" type="datetime-local" required value={form.time} error={errors.time} onInput={set('time')} />
          <Field name="campaign" label="Campaign" value={form.campaign} error={errors.campaign} onInput={set('campaign')} hint="e.g. SSA-CalltheSSA" />
        </div>
        <div class="row2">
          <Field
            name="terminatingProvider"
            label="Terminating provider"
            required
            value={form.terminatingProvider}
            error={errors.terminatingProvider}
            onInput={set('terminatingProvider')}
            hint="provider id of hop 1"
          />
          <Field name="requester" label="Requester" value={form.requester} error={errors.requester} onInput={set('requester')} />
        </div>
        <Field name="transcript" label="Transcript" multiline value={form.transcript} error={errors.transcript} onInput={set('transcript')} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start traceback'}
          </button>
          <Link href="/">Back to the list</Link>
        </div>
      </form>
    </div>
  );
}
