import type { ServerResponse } from 'node:http';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Subjects, decodeProtocolError } from '../../protocol/index.js';
import type { Rejection } from '../shared/api.js';
import { SECURITY_HEADERS } from './http.js';
import type { IndexChange, TracebackIndex } from './index-store.js';
import { isAsking, type IndexedTraceback } from './records.js';

/** What one browser tab listens to. */
export type Topic =
  | { kind: 'list' }
  | { kind: 'providers' }
  | { kind: 'provider'; id: string }
  | { kind: 'traceback'; id: string }
  | { kind: 'inbox'; provider: string };

interface Client {
  res: ServerResponse;
  topic: Topic;
  timer: NodeJS.Timeout | undefined;
}

/** Least time between two notifications to one client, per topic: changes in between are merged. */
const THROTTLE_MS: Record<Topic['kind'], number> = { list: 500, providers: 1000, provider: 500, traceback: 100, inbox: 200 };
const HEARTBEAT_MS = 15_000;
const REJECTIONS_KEPT = 20;

function openHopProvider(t: IndexedTraceback | undefined): string | undefined {
  return isAsking(t) ? t.row.currentProvider : undefined;
}

/**
 * Live updates over Server-Sent Events, fed from NATS: the index (KV watches) tells of
 * changes of traceback records, provider actor records (flags, scorecards, open hops) and
 * timers; per-traceback subscriptions to `tb.events.<id>` and `tb.trail.*.*.*.<id>` tell of
 * audit events and trails; `tb.hop.err.>` of rejected answers.
 * Clients get a small "changed" notice and refetch what they show, so a notice lost to a
 * reconnect costs nothing but a refetch.
 */
export class LiveHub {
  private readonly clients = new Set<Client>();
  private readonly watched = new Map<string, { count: number; subs: Subscription[] }>();
  private readonly rejections = new Map<string, Rejection[]>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribeIndex: () => void;
  private readonly errors: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly index: TracebackIndex,
    private readonly logger: Logger,
  ) {
    this.unsubscribeIndex = index.onChange((change) => this.onIndexChange(change));
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.res.write(': ping\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.errors = nc.subscribe('tb.hop.err.>', {
      callback: (err, msg) => {
        if (err) return;
        const provider = msg.subject.slice('tb.hop.err.'.length);
        try {
          const e = decodeProtocolError(msg.data);
          const rejection: Rejection = { at: Date.now(), code: e.code, message: e.message };
          if (e.path !== undefined) rejection.path = e.path;
          if (e.hopId !== undefined) rejection.hopId = e.hopId;
          const list = [rejection, ...(this.rejections.get(provider) ?? [])].slice(0, REJECTIONS_KEPT);
          this.rejections.set(provider, list);
          this.notify((t) => t.kind === 'inbox' && t.provider === provider, 'inbox');
        } catch (decodeErr) {
          this.logger.debug({ err: decodeErr, provider }, 'unreadable rejection');
        }
      },
    });
  }

  /** Rejections the engine sent a provider since the viewer started, newest first. */
  rejectionsOf(provider: string): Rejection[] {
    return this.rejections.get(provider) ?? [];
  }

  get size(): number {
    return this.clients.size;
  }

  /** Turns `res` into an event stream for `topic`; it ends when the browser goes away. */
  add(res: ServerResponse, topic: Topic): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ version: this.index.version })}\n\n`);
    const client: Client = { res, topic, timer: undefined };
    this.clients.add(client);
    if (topic.kind === 'traceback') this.watch(topic.id);
    res.on('close', () => {
      this.clients.delete(client);
      clearTimeout(client.timer);
      if (topic.kind === 'traceback') this.unwatch(topic.id);
    });
  }

  private watch(id: string): void {
    const existing = this.watched.get(id);
    if (existing) {
      existing.count++;
      return;
    }
    const onMessage = () => this.notify((t) => t.kind === 'traceback' && t.id === id, 'traceback');
    const subs = [
      this.nc.subscribe(Subjects.events(id), { callback: onMessage }),
      this.nc.subscribe(`tb.trail.*.*.*.${id}`, { callback: onMessage }),
    ];
    this.watched.set(id, { count: 1, subs });
  }

  private unwatch(id: string): void {
    const entry = this.watched.get(id);
    if (!entry) return;
    if (--entry.count > 0) return;
    for (const sub of entry.subs) sub.unsubscribe();
    this.watched.delete(id);
  }

  private onIndexChange(change: IndexChange): void {
    switch (change.kind) {
      case 'traceback': {
        // An inbox hides a query once its traceback has moved on; a provider page lists its hops' tracebacks.
        const providers = new Set([openHopProvider(change.before), openHopProvider(change.after)]);
        this.notify(
          (t) =>
            t.kind === 'list' ||
            t.kind === 'providers' ||
            (t.kind === 'traceback' && t.id === change.id) ||
            (t.kind === 'inbox' && providers.has(t.provider)) ||
            (t.kind === 'provider' && providers.has(t.id)),
          'changed',
        );
        return;
      }
      case 'timer':
        this.notify((t) => t.kind === 'traceback' && t.id === change.tracebackId, 'traceback');
        return;
      case 'provider': {
        // Flags, scorecard, open and queued hops; the real clock of the tracebacks' open hops (deadline column).
        const tracebacks = new Set(change.tracebacks);
        this.notify(
          (t) =>
            t.kind === 'providers' ||
            (t.kind === 'provider' && t.id === change.id) ||
            (t.kind === 'inbox' && t.provider === change.id) ||
            (t.kind === 'traceback' && tracebacks.has(t.id)) ||
            (t.kind === 'list' && tracebacks.size > 0),
          'provider',
        );
        return;
      }
      default:
        return change satisfies never;
    }
  }

  private notify(match: (topic: Topic) => boolean, reason: string): void {
    for (const client of this.clients) {
      if (client.timer !== undefined || !match(client.topic)) continue;
      client.timer = setTimeout(() => {
        client.timer = undefined;
        client.res.write(`event: ${client.topic.kind}\ndata: ${JSON.stringify({ version: this.index.version, reason })}\n\n`);
      }, THROTTLE_MS[client.topic.kind]);
    }
  }

  /** Ends every stream and subscription. */
  close(): void {
    this.unsubscribeIndex();
    clearInterval(this.heartbeat);
    for (const client of this.clients) {
      clearTimeout(client.timer);
      client.res.end();
    }
    this.clients.clear();
    for (const { subs } of this.watched.values()) for (const sub of subs) sub.unsubscribe();
    this.watched.clear();
    if (!this.nc.isClosed()) this.errors.unsubscribe();
  }
}
