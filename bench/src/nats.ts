import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { Streams, decodeMap } from '../../protocol/index.js';
import { routeIndexOf, routeOf, type RoutePlan } from './routes.js';
import { nowMs } from './stats.js';

export interface StreamFigures {
  messages: number;
  bytes: number;
  lastSeq: number;
}

export async function streamFigures(jsm: JetStreamManager, name: string): Promise<StreamFigures | undefined> {
  try {
    const info = await jsm.streams.info(name);
    return { messages: info.state.messages, bytes: info.state.bytes, lastSeq: info.state.last_seq };
  } catch {
    return undefined;
  }
}

/**
 * Answers the pipeline has acknowledged: the answer stream is a work queue, so an acked
 * answer is removed. Engine and bare pipeline both ack only once the answer is persisted,
 * so this counts durable hops whatever each writes per hop.
 */
export async function answersAcked(jsm: JetStreamManager): Promise<number> {
  const f = await streamFigures(jsm, Streams.hopAnswers);
  return f ? f.lastSeq - f.messages : 0;
}

export async function streamsFigures(jsm: JetStreamManager, names: string[]): Promise<Record<string, StreamFigures>> {
  const out: Record<string, StreamFigures> = {};
  for (const name of names) {
    const figures = await streamFigures(jsm, name);
    if (figures) out[name] = figures;
  }
  return out;
}

/**
 * Follows `tb.trail.>` from the start of the stream (an ordered consumer) and checks every
 * trail against the route table: outcome `origin_found`, as many hops as the route, ending at
 * the route's last provider, and at most one trail per traceback.
 */
export class TrailWatcher {
  count = 0;
  hops = 0;
  wrong = 0;
  duplicates = 0;
  readonly perId = new Map<string, number>();
  readonly wrongExamples: string[] = [];
  /** Called for every new trail (not for duplicates). */
  onTrail: ((index: number, at: number) => void) | undefined;
  private readonly indexWaiters = new Map<number, (at: number) => void>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  private constructor(private readonly plan: RoutePlan) {}

  static async start(nc: NatsConnection, plan: RoutePlan): Promise<TrailWatcher> {
    const watcher = new TrailWatcher(plan);
    const consumer = await jetstream(nc).consumers.get(Streams.trails, { deliver_policy: DeliverPolicy.All });
    watcher.messages = await consumer.consume({ max_messages: 2048 });
    const messages = watcher.messages;
    watcher.loop = (async () => {
      for await (const m of messages) watcher.record(decodeMap(m.data), nowMs());
    })();
    return watcher;
  }

  private record(trail: Record<string, unknown>, at: number): void {
    const id = String(trail['tracebackId']);
    const seen = this.perId.get(id) ?? 0;
    this.perId.set(id, seen + 1);
    if (seen > 0) {
      this.duplicates++;
      return;
    }
    const hops = Array.isArray(trail['hops']) ? (trail['hops'] as unknown[]).length : 0;
    const call = trail['call'] as { time?: number } | undefined;
    const index = routeIndexOf(Number(call?.time ?? NaN));
    const route = routeOf(this.plan, index);
    this.count++;
    this.hops += hops;
    if (trail['outcome'] !== 'origin_found' || hops !== route.length || trail['endProvider'] !== route[route.length - 1]) {
      this.wrong++;
      if (this.wrongExamples.length < 5) this.wrongExamples.push(`${id}: ${String(trail['outcome'])} after ${hops} hops: ${String(trail['reason'])}`);
    }
    this.indexWaiters.get(index)?.(at);
    this.indexWaiters.delete(index);
    this.onTrail?.(index, at);
  }

  /** Resolves with the arrival time of the trail for route `index`. */
  waitForIndex(index: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.indexWaiters.delete(index);
        reject(new Error(`no trail for route ${index} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.indexWaiters.set(index, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  /** Polls until `count >= n`; false on timeout. */
  async waitForCount(n: number, timeoutMs: number, onTick?: () => void): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.count < n) {
      if (Date.now() > deadline) return false;
      onTick?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  }

  async close(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }
}

/**
 * Hop latency end to end as the engine recorded it in the audit stream: for each hop, the
 * `at` of its `asked` event (when the previous answer was applied, just before the query was
 * persisted and published) to the `at` of its `answered` event (when its answer was applied).
 * Only hops answered within [fromMs, toMs] count.
 */
export async function hopLatenciesFromEvents(nc: NatsConnection, fromMs: number, toMs: number, maxMessages = 1_500_000): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const figures = await streamFigures(jsm, Streams.events);
  if (!figures || figures.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(Streams.events, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(fromMs - 10_000).toISOString(),
  });
  const messages = await consumer.consume({ max_messages: 4096 });
  const asked = new Map<string, number>();
  const samples: number[] = [];
  let read = 0;
  for await (const m of messages) {
    read++;
    const event = decodeMap(m.data) as { type?: string; hopId?: string; at?: number };
    const at = Number(event.at);
    if (event.type === 'asked' && event.hopId) asked.set(event.hopId, at);
    else if (event.type === 'answered' && event.hopId) {
      const start = asked.get(event.hopId);
      asked.delete(event.hopId);
      if (start !== undefined && at >= fromMs && at <= toMs) samples.push(at - start);
    }
    if (m.seq >= figures.lastSeq || m.info.pending === 0 || read >= maxMessages || at > toMs + 5_000) break;
  }
  await messages.close();
  return samples;
}
