import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import type { Health, Me } from '../shared/api.js';
import { useApi } from './api.js';
import { ErrorBox } from './components/common.js';
import { InboxPageView, InboxQueryPage } from './pages/Inbox.js';
import { ListPageView } from './pages/List.js';
import { ProviderPageView, ProvidersPageView } from './pages/Providers.js';
import { StartPage } from './pages/Start.js';
import { TracebackPage } from './pages/Traceback.js';
import { Link, useLocation, type Location } from './router.js';
import './styles.css';

function Nav(props: { me: Me; path: string }) {
  const item = (href: string, label: string, active: boolean) => (
    <Link href={href} class={active ? 'active' : ''}>
      {label}
    </Link>
  );
  const p = props.path;
  return (
    <nav class="top">
      <span class="brand">robotrace</span>
      {props.me.role === 'operator' ? (
        <>
          {item('/', 'Tracebacks', p === '/' || p.startsWith('/tracebacks'))}
          {item('/providers', 'Providers', p.startsWith('/providers'))}
          {item('/inbox', 'Carrier inboxes', p.startsWith('/inbox'))}
          {item('/start', 'Start a traceback', p === '/start')}
        </>
      ) : (
        item('/inbox', 'Inbox', p.startsWith('/inbox'))
      )}
      <span class="grow" />
      {props.me.role === 'operator' && <Health />}
      <span class="who" data-testid="who">
        {props.me.user}
        {props.me.provider ? ` (${props.me.provider})` : ''} · {props.me.role}
        {props.me.demo && <span class="badge demo">demo</span>}
      </span>
      <form method="post" action="/logout">
        <button type="submit" class="link">
          Log out
        </button>
      </form>
    </nav>
  );
}

function Health() {
  const health = useApi<Health>('/api/health');
  useEffect(() => {
    const timer = setInterval(health.reload, 5_000);
    return () => clearInterval(timer);
  }, [health.reload]);
  const h = health.data;
  if (!h) return null;
  const engine = h.engine && 'error' in h.engine ? 'engine not answering' : h.engine ? `engine: ${h.engine.active} active` : '';
  return (
    <span class="muted small health" title={`NATS ${h.nats}; ${h.indexed} tracebacks indexed`}>
      {engine}
    </span>
  );
}

function Page(props: { me: Me; location: Location }) {
  const { me, location } = props;
  const path = location.path;
  const tb = /^\/tracebacks\/([^/]+)$/.exec(path);
  const provider = /^\/providers\/([^/]+)$/.exec(path);
  const hop = /^\/inbox\/([^/]+)$/.exec(path);
  if (hop) return <InboxQueryPage me={me} hopId={decodeURIComponent(hop[1] ?? '')} />;
  if (path === '/inbox' || (me.role === 'carrier' && path === '/')) return <InboxPageView me={me} location={location} />;
  if (me.role !== 'operator') {
    return (
      <div class="page">
        <div class="forbidden" data-testid="forbidden">
          403 — a carrier login sees only its own inbox. <Link href="/inbox">Go to the inbox</Link>
        </div>
      </div>
    );
  }
  if (tb) return <TracebackPage id={decodeURIComponent(tb[1] ?? '')} key={tb[1]} />;
  if (path === '/providers') return <ProvidersPageView />;
  if (provider) return <ProviderPageView id={decodeURIComponent(provider[1] ?? '')} key={provider[1]} />;
  if (path === '/start') return <StartPage user={me.user} />;
  if (path === '/') return <ListPageView location={location} />;
  return (
    <div class="page">
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link href="/">Tracebacks</Link>
      </p>
    </div>
  );
}

function App() {
  const me = useApi<Me>('/api/me');
  const location = useLocation();
  if (!me.data) {
    return <div class="page">{me.error ? <ErrorBox error={me.error} /> : <p class="muted">Loading…</p>}</div>;
  }
  return (
    <>
      <Nav me={me.data} path={location.path} />
      <main>
        <Page me={me.data} location={location} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
