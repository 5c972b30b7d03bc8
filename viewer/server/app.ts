import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { TracebackContext } from '../../actors/index.js';
import { cancelTraceback, getStatus, startTraceback } from '../../engine/index.js';
import {
  Buckets,
  ErrorCode,
  PROTOCOL_VERSION,
  ProtocolError,
  Subjects,
  decodeStartTraceback,
  encodeMessage,
  isSubjectToken,
  parseHopId,
  parseTracebackId,
  validateAnswer,
  type HopAnswer,
  type StartTraceback,
} from '../../protocol/index.js';
import { listPath } from '../shared/api.js';
import type {
  AnswerResult,
  Boot,
  Health,
  InboxPage,
  ListQuery,
  Me,
  ProviderDetail,
  ProvidersPage,
  StartResult,
  TracebackDetail,
} from '../shared/api.js';
import type { Access, Principal } from './auth.js';
import { ViewerError, ViewerErrorCode } from './errors.js';
import { readEvents, readTrail } from './history.js';
import {
  SECURITY_HEADERS,
  SESSION_COOKIE,
  clearedSessionCookie,
  errorBody,
  isLoopback,
  parseCookies,
  readBody,
  readJson,
  redirect,
  sendJson,
  sessionCookie,
} from './http.js';
import { isSortKey, type TracebackIndex } from './index-store.js';
import type { LiveHub, Topic } from './live.js';
import { loginPage, notBuiltPage } from './pages.js';
import { decodeStoredRecord, hopSummaries, indexTraceback, recordView } from './records.js';
import type { StaticFiles } from './static.js';
import { tracebackGraph } from './statechart.js';

export interface AppDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  index: TracebackIndex;
  hub: LiveHub;
  access: Access;
  files: StaticFiles;
  /** Loopback demo mode: requests without a session act as the operator `demo`. */
  demo: boolean;
  sessionTtlMs: number;
  logger: Logger;
  now: () => number;
}

const DEMO_OPERATOR: Principal = { user: 'demo', role: 'operator' };

type Handler = (req: IncomingMessage, res: ServerResponse, who: Principal, params: string[], url: URL) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  roles: readonly Principal['role'][];
  handler: Handler;
}

const OPERATOR = ['operator'] as const;
const ANYONE = ['operator', 'carrier'] as const;

function str(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ViewerError(ViewerErrorCode.BadRequest, `${key} must be a string`, { path: key });
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The name in a Host header, without the port. */
function hostName(host: string | undefined): string {
  if (!host) return '';
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.split(':')[0] ?? '';
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ViewerError(ViewerErrorCode.BadRequest, `malformed path part ${JSON.stringify(part)}`);
  }
}

function forbidden(message = 'this login may not see that'): ViewerError {
  return new ViewerError(ViewerErrorCode.Forbidden, message);
}

/** The HTTP side of the viewer: login, JSON API, live streams and the built client. */
export class ViewerApp {
  private readonly routes: Route[];
  private kv: Promise<KV> | undefined;

  constructor(private readonly deps: AppDeps) {
    this.routes = [
      { method: 'GET', pattern: /^\/api\/me$/, roles: ANYONE, handler: (_q, res, who) => this.me(res, who) },
      { method: 'GET', pattern: /^\/api\/health$/, roles: OPERATOR, handler: (_q, res) => this.health(res) },
      { method: 'GET', pattern: /^\/api\/machine$/, roles: OPERATOR, handler: (_q, res) => sendJson(res, 200, tracebackGraph()) },
      { method: 'GET', pattern: /^\/api\/tracebacks$/, roles: OPERATOR, handler: (_q, res, _w, _p, url) => this.list(res, url) },
      { method: 'POST', pattern: /^\/api\/tracebacks$/, roles: OPERATOR, handler: (req, res, who) => this.start(req, res, who) },
      { method: 'GET', pattern: /^\/api\/facets$/, roles: OPERATOR, handler: (_q, res) => sendJson(res, 200, this.deps.index.facets()) },
      { method: 'GET', pattern: /^\/api\/tracebacks\/([^/]+)$/, roles: OPERATOR, handler: (_q, res, _w, [id]) => this.detail(res, id ?? '') },
      {
        method: 'POST',
        pattern: /^\/api\/tracebacks\/([^/]+)\/cancel$/,
        roles: OPERATOR,
        handler: (req, res, who, [id]) => this.cancel(req, res, who, id ?? ''),
      },
      { method: 'GET', pattern: /^\/api\/providers$/, roles: OPERATOR, handler: (_q, res) => this.providers(res) },
      { method: 'GET', pattern: /^\/api\/providers\/([^/]+)$/, roles: OPERATOR, handler: (_q, res, _w, [id]) => this.provider(res, id ?? '') },
      { method: 'GET', pattern: /^\/api\/inbox$/, roles: ANYONE, handler: (_q, res, who, _p, url) => this.inbox(res, who, url) },
      { method: 'GET', pattern: /^\/api\/inbox\/([^/]+)$/, roles: ANYONE, handler: (_q, res, who, [hopId]) => this.query(res, who, hopId ?? '') },
      {
        method: 'POST',
        pattern: /^\/api\/inbox\/([^/]+)\/answer$/,
        roles: ANYONE,
        handler: (req, res, who, [hopId]) => this.answer(req, res, who, hopId ?? ''),
      },
      { method: 'GET', pattern: /^\/api\/stream$/, roles: ANYONE, handler: (_q, res, who, _p, url) => this.stream(res, who, url) },
    ];
  }

  /** The `request` listener of the HTTP server. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err: unknown) => {
      const { status, body } = errorBody(err);
      if (status >= 500) this.deps.logger.warn({ err, url: req.url, status }, 'request failed');
      else this.deps.logger.debug({ url: req.url, status, code: body.error.code }, body.error.message);
      if (!res.headersSent) sendJson(res, status, body);
      else res.end();
    });
  };

  private principal(req: IncomingMessage): { who: Principal | undefined; token: string | undefined } {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const who = this.deps.access.session(token) ?? (this.deps.demo ? DEMO_OPERATOR : undefined);
    return { who, token };
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://viewer.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (this.deps.demo && !isLoopback(hostName(req.headers.host))) {
      // Without logins, a page elsewhere could reach us through a rebound DNS name: only loopback names get in.
      throw forbidden('demo mode answers only to a loopback host name (127.0.0.1, localhost, [::1])');
    }
    if (path === '/login') return method === 'POST' ? this.login(req, res) : this.loginForm(req, res);
    if (path === '/logout' && method === 'POST') return this.logout(req, res);
    const { who } = this.principal(req);

    if (path.startsWith('/api/')) {
      const route = this.routes.find((r) => r.method === method && r.pattern.test(path));
      if (!route) {
        const known = this.routes.some((r) => r.pattern.test(path));
        throw known
          ? new ViewerError(ViewerErrorCode.BadRequest, `${method} is not allowed on ${path}`)
          : new ViewerError(ViewerErrorCode.NotFound, `no API at ${path}`);
      }
      if (!who) throw new ViewerError(ViewerErrorCode.Unauthenticated, 'log in first');
      if (!route.roles.includes(who.role)) throw forbidden(`a ${who.role} login may not use ${path}`);
      const params = (route.pattern.exec(path) ?? []).slice(1).map(decodePathPart);
      return route.handler(req, res, who, params, url);
    }

    if (method !== 'GET' && method !== 'HEAD') throw new ViewerError(ViewerErrorCode.NotFound, `no ${method} ${path}`);
    if (!who) return redirect(res, '/login');
    if (path.startsWith('/assets/') || /^\/[\w.-]+\.(svg|ico|png|txt)$/.test(path)) {
      if (await this.deps.files.send(res, path)) return;
      throw new ViewerError(ViewerErrorCode.NotFound, `no file ${path}`);
    }
    return this.app(res, who, url);
  }

  /** Any other path is a page of the single-page client; forbidden deep links answer 403. */
  private async app(res: ServerResponse, who: Principal, url: URL): Promise<void> {
    const path = url.pathname;
    const html = await this.deps.files.index();
    if (!html) {
      res.writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' });
      res.end(notBuiltPage(this.deps.files.dir));
      return;
    }
    let status = 200;
    if (who.role === 'carrier') {
      const inbox = /^\/inbox\/([^/]+)$/.exec(path);
      if (inbox) status = this.carrierMayOpen(who, decodePathPart(inbox[1] ?? '')) ? 200 : 403;
      else if (path !== '/' && path !== '/inbox') status = 403;
    }
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html.toString('utf8').replace('<div id="app"></div>', `${this.boot(who, url)}<div id="app"></div>`));
  }

  /** The first screen's data, written into the page so it renders without waiting for requests. */
  private boot(who: Principal, url: URL): string {
    const boot: Boot = { me: this.meOf(who), data: {} };
    if (who.role === 'operator' && url.pathname === '/') {
      try {
        boot.data[listPath(url.searchParams)] = this.deps.index.list(this.listQuery(url.searchParams), this.deps.now());
      } catch {
        // A bad query string: the page asks again and shows the error.
      }
    }
    // Not executed (a JSON data block), so the CSP's script-src 'self' holds; `<` escaped so it cannot end the element.
    return `<script type="application/json" id="boot">${JSON.stringify(boot).replace(/</g, '\\u003c')}</script>`;
  }

  private carrierMayOpen(who: Principal, hopId: string): boolean {
    try {
      const { tracebackId, hop } = parseHopId(hopId);
      const found = this.deps.index.hop(tracebackId, hop);
      return found === undefined || found.provider === who.provider;
    } catch {
      return true; // not a hop id: the page shows "not found"
    }
  }

  // ---- login ----

  private loginForm(req: IncomingMessage, res: ServerResponse): void {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (this.deps.access.session(token)) return redirect(res, '/');
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage({ demo: this.deps.demo }));
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (req.headers['content-type'] ?? '').startsWith('application/json');
    const form = json ? await readJson(req) : Object.fromEntries(new URLSearchParams(await readBody(req)));
    const user = typeof form['user'] === 'string' ? form['user'] : '';
    let token: string;
    try {
      if (form['demo'] !== undefined) {
        if (!this.deps.demo) throw new ViewerError(ViewerErrorCode.Forbidden, 'password-less login exists only in loopback demo mode');
        const provider = typeof form['provider'] === 'string' ? form['provider'].trim() : '';
        if (form['demo'] === 'carrier') {
          if (!isSubjectToken(provider)) throw new ViewerError(ViewerErrorCode.BadRequest, 'a provider id is 1–64 of A–Z a–z 0–9 _ -', { path: 'provider' });
          token = this.deps.access.open({ user: `demo-${provider}`, role: 'carrier', provider });
        } else {
          token = this.deps.access.open(DEMO_OPERATOR);
        }
      } else {
        token = (await this.deps.access.login(user, typeof form['password'] === 'string' ? form['password'] : '')).token;
      }
    } catch (err) {
      if (json || !ViewerError.is(err)) throw err;
      res.writeHead(err.status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage({ demo: this.deps.demo, error: err.message, user }));
      return;
    }
    const cookie = sessionCookie(token, Math.floor(this.deps.sessionTtlMs / 1000));
    if (json) {
      res.setHeader('set-cookie', cookie);
      return this.me(res, this.deps.access.session(token) as Principal);
    }
    redirect(res, '/', { 'set-cookie': cookie });
  }

  private logout(req: IncomingMessage, res: ServerResponse): void {
    this.deps.access.logout(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    redirect(res, '/login', { 'set-cookie': clearedSessionCookie() });
  }

  private meOf(who: Principal): Me {
    const me: Me = { user: who.user, role: who.role, demo: this.deps.demo };
    if (who.provider !== undefined) me.provider = who.provider;
    return me;
  }

  private me(res: ServerResponse, who: Principal): void {
    sendJson(res, 200, this.meOf(who));
  }

  private async health(res: ServerResponse): Promise<void> {
    const { nc, index } = this.deps;
    const health: Health = {
      nats: nc.isClosed() ? 'closed' : 'connected',
      ready: index.ready,
      indexed: index.size,
      providers: index.providerCount,
      version: index.version,
    };
    try {
      const status = await getStatus(nc);
      health.engine = { total: status.total, active: status.active, byOutcome: status.byOutcome };
    } catch (err) {
      health.engine = { error: (err as Error).message };
    }
    sendJson(res, 200, health);
  }

  // ---- operators ----

  private list(res: ServerResponse, url: URL): void {
    sendJson(res, 200, this.deps.index.list(this.listQuery(url.searchParams), this.deps.now()));
  }

  private listQuery(p: URLSearchParams): ListQuery {
    const query: ListQuery = {};
    for (const key of ['q', 'state', 'outcome', 'campaign', 'provider'] as const) {
      const value = p.get(key);
      if (value) query[key] = value;
    }
    const sort = p.get('sort');
    if (sort) {
      if (!isSortKey(sort)) throw new ViewerError(ViewerErrorCode.BadRequest, `cannot sort by ${sort}`, { path: 'sort' });
      query.sort = sort;
    }
    const dir = p.get('dir');
    if (dir === 'asc' || dir === 'desc') query.dir = dir;
    const page = Number(p.get('page') ?? 0);
    const size = Number(p.get('size') ?? 50);
    if (Number.isFinite(page)) query.page = page;
    if (Number.isFinite(size)) query.size = size;
    return query;
  }

  private actors(): Promise<KV> {
    this.kv ??= new Kvm(this.deps.nc).open(Buckets.actors);
    return this.kv;
  }

  private async detail(res: ServerResponse, rawId: string): Promise<void> {
    let id: string;
    try {
      id = parseTracebackId(rawId);
    } catch {
      throw new ViewerError(ViewerErrorCode.NotFound, `${rawId} is not a traceback id`);
    }
    const key = `traceback.${id}`;
    const entry = await (await this.actors()).get(key).catch(() => null);
    if (!entry || entry.operation !== 'PUT') throw new ViewerError(ViewerErrorCode.NotFound, `no traceback ${id}`);
    const record = decodeStoredRecord(entry.value);
    const indexed = this.deps.index.withProviderTiming(indexTraceback(id, record, entry.revision, { reason: true }));
    const context = record.snapshot.context as TracebackContext;
    const [events, trail] = await Promise.all([
      readEvents(this.deps.js, id).catch(() => []),
      indexed.row.active ? Promise.resolve(undefined) : readTrail(this.deps.jsm, context),
    ]);
    const detail: TracebackDetail = {
      row: indexed.row,
      record: recordView(key, entry.revision, record),
      hops: hopSummaries(context, (provider, hopId) => this.deps.index.providerHop(provider, hopId)),
      events,
      timers: this.deps.index.timersOf(id),
      now: this.deps.now(),
    };
    if (trail) {
      detail.trailSubject = trail.subject;
      if (trail.trail) detail.trail = trail.trail as unknown as Record<string, unknown>;
    }
    sendJson(res, 200, detail);
  }

  private async start(req: IncomingMessage, res: ServerResponse, who: Principal): Promise<void> {
    const body = await readJson(req);
    const call: Record<string, unknown> = { calling: str(body, 'calling'), called: str(body, 'called'), time: body['time'] };
    for (const key of ['campaign', 'transcript'] as const) {
      const value = str(body, key);
      if (value !== undefined) call[key] = value;
    }
    const message = {
      v: PROTOCOL_VERSION,
      kind: 'start_traceback',
      call,
      terminatingProvider: str(body, 'terminatingProvider'),
      requester: str(body, 'requester') ?? who.user,
      requestId: str(body, 'requestId'),
    };
    // The engine's own rules, applied before anything is sent, so the form can point at the field.
    const checked: StartTraceback = decodeStartTraceback(encodeMessage(message));
    const started = await startTraceback(this.deps.nc, {
      call: checked.call,
      terminatingProvider: checked.terminatingProvider,
      requester: checked.requester,
      ...(checked.requestId === undefined ? {} : { requestId: checked.requestId }),
    });
    const result: StartResult = { tracebackId: started.tracebackId, existing: started.existing };
    sendJson(res, started.existing ? 200 : 201, result);
  }

  private async cancel(req: IncomingMessage, res: ServerResponse, who: Principal, rawId: string): Promise<void> {
    const body = await readJson(req);
    const reason = str(body, 'reason');
    if (!reason) throw new ViewerError(ViewerErrorCode.BadRequest, 'say why the traceback is cancelled', { path: 'reason' });
    if (reason.length > 1024) throw new ViewerError(ViewerErrorCode.BadRequest, 'the reason is longer than 1024 characters', { path: 'reason' });
    const id = parseTracebackId(rawId);
    await cancelTraceback(this.deps.nc, id, reason, who.user);
    sendJson(res, 200, { tracebackId: id, cancelled: true });
  }

  private providers(res: ServerResponse): void {
    const page: ProvidersPage = this.deps.index.providersPage(this.deps.now());
    sendJson(res, 200, page);
  }

  /** One provider: its summary, open and queued hops (from the index) and its stored record (raw context, outbox). */
  private async provider(res: ServerResponse, id: string): Promise<void> {
    if (!isSubjectToken(id)) throw new ViewerError(ViewerErrorCode.NotFound, `${id} is not a provider id`);
    const detail: ProviderDetail | undefined = this.deps.index.providerDetail(id, this.deps.now());
    if (!detail) throw new ViewerError(ViewerErrorCode.NotFound, `no provider ${id}: no provider actor record, and no traceback asked it`);
    if (detail.summary.actor) {
      const key = `provider.${id}`;
      const entry = await (await this.actors()).get(key).catch(() => null);
      if (entry?.operation === 'PUT') {
        try {
          detail.record = recordView(key, entry.revision, decodeStoredRecord(entry.value));
        } catch {
          // Unreadable: the summary carries the error.
        }
      }
    }
    sendJson(res, 200, detail);
  }

  // ---- carrier inbox ----

  /** A carrier sees its own inbox; an operator may look at any provider's (read-only). */
  private inboxProvider(who: Principal, asked: string | null): string {
    if (who.role === 'carrier') {
      if (asked && asked !== who.provider) throw forbidden(`this login answers for ${who.provider ?? '?'} only`);
      return who.provider as string;
    }
    if (!asked || !isSubjectToken(asked)) throw new ViewerError(ViewerErrorCode.BadRequest, 'name the provider: /api/inbox?provider=<id>', { path: 'provider' });
    return asked;
  }

  private inbox(res: ServerResponse, who: Principal, url: URL): void {
    const provider = this.inboxProvider(who, url.searchParams.get('provider'));
    const page: InboxPage = {
      provider,
      items: this.deps.index.inbox(provider),
      rejections: this.deps.hub.rejectionsOf(provider),
      now: this.deps.now(),
      version: this.deps.index.version,
    };
    sendJson(res, 200, page);
  }

  /** Finds the hop behind `hopId` and checks that `who` may see it. */
  private hopFor(who: Principal, rawHopId: string) {
    let parsed;
    try {
      parsed = parseHopId(rawHopId);
    } catch {
      throw new ViewerError(ViewerErrorCode.NotFound, `${rawHopId} is not a hop id`);
    }
    const hop = this.deps.index.hop(parsed.tracebackId, parsed.hop);
    if (!hop) throw new ViewerError(ViewerErrorCode.NotFound, `no hop query ${parsed.hopId}`);
    if (who.role === 'carrier' && hop.provider !== who.provider) {
      throw forbidden(`hop query ${parsed.hopId} was not sent to ${who.provider ?? '?'}`);
    }
    const open = this.deps.index.openHop(parsed.tracebackId, parsed.hop);
    if (!open) {
      // Open in the traceback but not (yet) at the provider actor: queued under its in-flight limit, or being sent.
      if (hop.status === 'open' && this.deps.index.get(parsed.tracebackId)?.row.active) {
        throw new ViewerError(ViewerErrorCode.NotFound, `hop query ${parsed.hopId} has not been sent to ${hop.provider} yet`);
      }
      throw new ViewerError(ViewerErrorCode.HopClosed, `hop query ${parsed.hopId} is no longer open (${hop.status})`);
    }
    return open;
  }

  /** The open query with the whole call (transcript, identity), which the index does not keep. */
  private async query(res: ServerResponse, who: Principal, hopId: string): Promise<void> {
    const item = this.hopFor(who, hopId);
    const entry = await (await this.actors()).get(`traceback.${item.tracebackId}`).catch(() => null);
    if (entry?.operation === 'PUT') {
      const context = decodeStoredRecord(entry.value).snapshot.context as TracebackContext | undefined;
      if (context?.call) item.call = { ...context.call };
    }
    sendJson(res, 200, item);
  }

  private async answer(req: IncomingMessage, res: ServerResponse, who: Principal, hopId: string): Promise<void> {
    if (who.role !== 'carrier') throw forbidden('only a carrier login answers hop queries');
    const item = this.hopFor(who, hopId);
    const body = await readJson(req);
    let answer;
    try {
      answer = validateAnswer(body['answer']);
    } catch (err) {
      if (ProtocolError.is(err)) throw err;
      throw new ProtocolError(ErrorCode.InvalidField, (err as Error).message, { path: 'answer' });
    }
    if (answer.type === 'upstream' && answer.provider === item.provider) {
      throw new ProtocolError(ErrorCode.InvalidField, 'a provider cannot name itself as its upstream', { path: 'answer.provider' });
    }
    const message: HopAnswer = {
      v: PROTOCOL_VERSION,
      kind: 'hop_answer',
      hopId: item.hopId as HopAnswer['hopId'],
      provider: item.provider,
      answer,
      answeredAt: this.deps.now(),
    };
    const ack = await this.deps.js.publish(Subjects.hopAnswer(item.provider), encodeMessage(message), { msgID: item.hopId });
    const result: AnswerResult = { hopId: item.hopId, duplicate: ack.duplicate, stream: ack.stream, seq: ack.seq };
    this.deps.logger.info({ hopId: item.hopId, provider: item.provider, user: who.user, type: answer.type, duplicate: ack.duplicate }, 'answer sent from the inbox');
    sendJson(res, 202, result);
  }

  // ---- live ----

  private stream(res: ServerResponse, who: Principal, url: URL): void {
    const kind = url.searchParams.get('topic');
    let topic: Topic;
    if (kind === 'inbox') {
      topic = { kind: 'inbox', provider: this.inboxProvider(who, url.searchParams.get('provider')) };
    } else {
      if (who.role !== 'operator') throw forbidden(`a ${who.role} login may only follow its inbox`);
      if (kind === 'list' || kind === 'providers') topic = { kind };
      else if (kind === 'traceback') topic = { kind, id: parseTracebackId(url.searchParams.get('id') ?? '') };
      else if (kind === 'provider') {
        const id = url.searchParams.get('id') ?? '';
        if (!isSubjectToken(id)) throw new ViewerError(ViewerErrorCode.BadRequest, 'id must be a provider id', { path: 'id' });
        topic = { kind, id };
      } else throw new ViewerError(ViewerErrorCode.BadRequest, 'topic must be list, providers, provider, traceback or inbox', { path: 'topic' });
    }
    this.deps.hub.add(res, topic);
  }
}
