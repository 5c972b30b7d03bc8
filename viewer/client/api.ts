import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiErrorBody, Boot } from '../shared/api.js';

/** An error answer of the viewer's API: HTTP status, machine code, and the field it is about. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** What the server wrote into the page (see `Boot`); each entry is used once. */
const boot: Boot = (() => {
  try {
    const text = document.getElementById('boot')?.textContent;
    if (text) {
      const value = JSON.parse(text) as Boot;
      return { me: value.me, data: { ...value.data, '/api/me': value.me } };
    }
  } catch {
    // No or bad boot data: everything is fetched.
  }
  return { data: {} } as unknown as Boot;
})();

function takeBoot<T>(path: string | null): T | undefined {
  if (path === null || !(path in boot.data)) return undefined;
  const value = boot.data[path] as T;
  delete boot.data[path];
  const now = (value as { now?: unknown }).now;
  if (typeof now === 'number') syncClock(now);
  return value;
}

/** Difference between the server's clock and the browser's, from the last response that carried `now`. */
let clockOffsetMs = 0;

export function serverNow(): number {
  return Date.now() + clockOffsetMs;
}

export function syncClock(serverTime: number | undefined): void {
  if (typeof serverTime === 'number') clockOffsetMs = serverTime - Date.now();
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', ...init, headers: { accept: 'application/json', ...init.headers } });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    if (res.status === 401) window.location.assign('/login');
    const error = (body as ApiErrorBody | undefined)?.error;
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? `${res.status} ${res.statusText}`, error?.path);
  }
  const now = (body as { now?: unknown } | undefined)?.now;
  if (typeof now === 'number') syncClock(now);
  return body as T;
}

export function get<T>(path: string): Promise<T> {
  return request<T>(path);
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Fetches `path` (when not null) and again on `reload()`. A reload while a request is in
 * flight is queued behind it, so bursts of live notifications cost one request at a time.
 */
export function useApi<T>(path: string | null): Loaded<T> {
  const [initial] = useState(() => takeBoot<T>(path));
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({
    data: initial,
    error: undefined,
    loading: path !== null && initial === undefined,
  });
  const booted = useRef(initial !== undefined);
  const current = useRef(path);
  const inflight = useRef(false);
  const again = useRef(false);
  current.current = path;

  const load = useCallback(() => {
    const target = current.current;
    if (target === null) return;
    if (inflight.current) {
      again.current = true;
      return;
    }
    inflight.current = true;
    get<T>(target)
      .then(
        (data) => {
          if (current.current === target) setState({ data, error: undefined, loading: false });
        },
        (err: unknown) => {
          if (current.current !== target) return;
          const error = err instanceof ApiError ? err : new ApiError(0, 'NETWORK', (err as Error).message);
          setState((s) => ({ data: s.data, error, loading: false }));
        },
      )
      .finally(() => {
        inflight.current = false;
        if (again.current || current.current !== target) {
          again.current = false;
          load();
        }
      });
  }, []);

  useEffect(() => {
    if (booted.current) {
      booted.current = false; // the page came with this data
      return;
    }
    setState((s) => ({ ...s, loading: path !== null }));
    load();
  }, [path, load]);

  return { ...state, reload: load };
}

/** Live connection state, shown in the header. */
export type LiveState = 'connecting' | 'live' | 'offline';

/**
 * Listens to the viewer's event stream for one topic and calls `onChange` on each notice.
 * EventSource reconnects by itself; each (re)connection also calls `onChange`, so nothing
 * that happened while disconnected is missed.
 */
export function useLive(query: string | null, onChange: () => void): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const callback = useRef(onChange);
  callback.current = onChange;
  useEffect(() => {
    if (query === null) return undefined;
    const source = new EventSource(`/api/stream?${query}`);
    const notify = () => callback.current();
    source.onopen = () => setState('live');
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
    source.addEventListener('hello', notify);
    for (const topic of ['list', 'providers', 'provider', 'traceback', 'inbox']) source.addEventListener(topic, notify);
    return () => source.close();
  }, [query]);
  return state;
}
