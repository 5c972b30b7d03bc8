import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { serverNow, type ApiError, type LiveState } from '../api.js';

/** The server's "now", refreshed every `intervalMs`, for ages and countdowns. */
export function useNow(intervalMs = 1000): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  // Read at every render, so a render caused by fresh data uses the clock offset that came with it.
  return serverNow();
}

export function StateBadge(props: { state: string; active?: boolean }) {
  return <span class={`badge state-${props.state}`}>{props.state}</span>;
}

export function LiveDot(props: { state: LiveState }) {
  const label = props.state === 'live' ? 'live' : props.state === 'connecting' ? 'connecting…' : 'offline';
  return (
    <span class={`live live-${props.state}`} data-live={props.state} title="updates arrive over a server-sent event stream fed from NATS">
      ● {label}
    </span>
  );
}

export function ErrorBox(props: { error: ApiError | undefined; children?: ComponentChildren }) {
  if (!props.error) return null;
  return (
    <div class="error" role="alert" data-status={props.error.status}>
      <strong>{props.error.status > 0 ? `${props.error.status} ` : ''}{props.error.code}</strong>: {props.error.message}
      {props.children}
    </div>
  );
}

export function Section(props: { title: string; id?: string; children: ComponentChildren; aside?: ComponentChildren }) {
  return (
    <section class="card" id={props.id}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.aside}
      </header>
      {props.children}
    </section>
  );
}
