/**
 * `npm run bench:viewer`: stores 100,000 traceback records in `tb_actors` (the engine's record
 * encoding: standard MessagePack), starts the viewer on them and measures, in Chromium, the
 * time from navigation to the first page of the list on screen. Also reports how long the
 * index takes to load and how long the list API takes for a few filters and sorts.
 *
 * Options: `--tracebacks N` (default 100000), `--runs N` (default 5), `--json`.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { startLocalNats } from '../../localnats/index.js';
import { Buckets, OUTCOMES } from '../../protocol/index.js';
import { TRACEBACK_MACHINE_VERSION } from '../../actors/index.js';
import { encodeStoredRecord, startViewer } from '../index.js';
import { launchChromium } from './chromium.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer`);
  return value;
}

const N = arg('tracebacks', 100_000);
const RUNS = arg('runs', 5);
const JSON_OUT = process.argv.includes('--json');
const CAMPAIGNS = ['SSA-CalltheSSA', 'IRS-BackTax', 'Amazon-Impers-P2', 'CBP-SeizedPackage', 'AutoWarranty-FinalNotice', 'Utility-30MinDisconnect'];
const B36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A deterministic pseudo-random source (mulberry32), so every run stores the same records. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tracebackId(startedAt: number, random: () => number): string {
  let tail = '';
  for (let i = 0; i < 11; i++) tail += B36[Math.floor(random() * 36)];
  return `tb-${startedAt.toString(36).padStart(9, '0').slice(-9)}${tail}`;
}

function phone(random: () => number): string {
  return `+1${200 + Math.floor(random() * 700)}555${String(Math.floor(random() * 10_000)).padStart(4, '0')}`;
}

/** One traceback record as the engine stores it (machine version 2): a persisted XState snapshot plus an (empty) outbox. */
function makeRecord(i: number, now: number, random: () => number): { key: string; value: Uint8Array } {
  const startedAt = now - (N - i) * 900 - Math.floor(random() * 500);
  const id = tracebackId(startedAt, random);
  const deadlineMs = 24 * 3600_000;
  const active = random() < 0.3;
  const hopCount = 1 + Math.floor(random() * 7);
  const outcome = active ? undefined : OUTCOMES[Math.floor(random() * 7)];
  const hops = [];
  let at = startedAt;
  let downstream: string | undefined;
  for (let h = 1; h <= hopCount; h++) {
    const provider = `p${String(Math.floor(random() * 400)).padStart(4, '0')}`;
    const last = h === hopCount;
    const status = last ? (active ? 'open' : outcome === 'noncooperative' ? 'missed' : 'answered') : 'answered';
    const answeredAt = status === 'answered' ? at + Math.floor(random() * 3600_000) : undefined;
    hops.push({
      hop: h,
      hopId: `${id}-h${h}`,
      provider,
      ...(downstream ? { downstream } : {}),
      askedAt: at,
      deadline: at + deadlineMs,
      remindedAt: [],
      status,
      ...(answeredAt === undefined ? {} : { answeredAt, answer: last ? { type: 'not_found', reason: 'no CDR matches' } : { type: 'upstream', provider: 'next' } }),
    });
    downstream = provider;
    at = answeredAt ?? at;
  }
  const context = {
    tracebackId: id,
    call: {
      calling: phone(random),
      called: phone(random),
      time: startedAt - 3600_000,
      campaign: CAMPAIGNS[Math.floor(random() * CAMPAIGNS.length)],
    },
    terminatingProvider: hops[0]?.provider,
    requester: 'bench',
    policy: { deadlineMs, reminderFractions: [0.5], maxHops: 15 },
    startedAt,
    hops,
    eventSeq: hopCount * 2 + 1,
    ...(outcome ? { outcome, reason: `bench outcome ${outcome}`, endedAt: at } : {}),
  };
  const value = encodeStoredRecord({
    kind: 'traceback',
    machineVersion: TRACEBACK_MACHINE_VERSION,
    snapshot: { status: active ? 'active' : 'done', value: outcome ?? 'asking', historyValue: {}, context, children: {} },
    outbox: [],
    updatedAt: at,
  });
  return { key: `traceback.${id}`, value };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

async function main(): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const note = (text: string) => {
    if (!JSON_OUT) process.stderr.write(`${text}\n`);
  };
  const ns = await startLocalNats();
  const nc = await connect({ servers: ns.url, name: 'viewer-bench' });
  let viewer: Awaited<ReturnType<typeof startViewer>> | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    // The engine creates these buckets; the bench stands in for it with the same settings.
    const kvm = new Kvm(nc);
    const actors = await kvm.create(Buckets.actors, { history: 1, storage: StorageType.File });
    await kvm.create(Buckets.timers, { history: 1, storage: StorageType.File });

    note(`storing ${N.toLocaleString('en-US')} traceback records in ${Buckets.actors} (nats-server ${ns.version})…`);
    const random = rng(1);
    const now = Date.now();
    const writeStart = performance.now();
    let bytes = 0;
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < N; i++) {
      const { key, value } = makeRecord(i, now, random);
      bytes += value.length;
      const put = actors.put(key, value).finally(() => inflight.delete(put));
      inflight.add(put);
      if (inflight.size >= 512) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const writeMs = performance.now() - writeStart;
    note(`stored in ${(writeMs / 1000).toFixed(1)} s (${Math.round(bytes / N)} bytes per record)`);

    const loadStart = performance.now();
    viewer = await startViewer({ connection: nc, port: 0, host: '127.0.0.1', demo: true, logger });
    await viewer.ready(300_000);
    const indexLoadMs = performance.now() - loadStart;
    const heapMb = process.memoryUsage().heapUsed / 1024 / 1024;
    note(`viewer index loaded ${viewer.index.size.toLocaleString('en-US')} tracebacks in ${(indexLoadMs / 1000).toFixed(1)} s (heap ${Math.round(heapMb)} MiB)`);

    const api: Record<string, number> = {};
    const queries = {
      'first page, newest first': '',
      'sorted by deadline': '?sort=deadline&dir=asc',
      'filter state=asking + campaign': '?state=asking&campaign=SSA-CalltheSSA',
      'search by number': '?q=555',
      'page 1000 of 2000': '?page=1000&size=50',
    };
    for (const [name, query] of Object.entries(queries)) {
      const times: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const t0 = performance.now();
        const res = await fetch(new URL(`/api/tracebacks${query}`, viewer.url));
        await res.json();
        times.push(performance.now() - t0);
      }
      api[name] = round(median(times));
    }

    browser = await launchChromium();
    // What a page load costs here at all: the server-rendered login page (no data, no script).
    const baseline: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(new URL('/login', viewer.url).href);
      await page.locator('#user').waitFor();
      baseline.push(performance.now() - t0);
      await context.close();
    }
    const renders: number[] = [];
    const inPage: number[] = [];
    const phases: { html: number; script: number; domContentLoaded: number; rendered: number }[] = [];
    for (let r = 0; r < RUNS; r++) {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(viewer.url);
      await page.locator('[data-testid=traceback-list] tbody tr[data-id]').first().waitFor({ timeout: 30_000 });
      renders.push(performance.now() - t0);
      // The browser's own clock: from the start of navigation to the app's "rows on screen" mark.
      const timing = await page.evaluate(() => {
        // Runs in the browser; Node's lib types do not know navigation timing entries.
        const nav = performance.getEntriesByType('navigation' as never)[0] as unknown as { responseEnd: number; domContentLoadedEventEnd: number } | undefined;
        const script = performance.getEntriesByType('resource').find((e) => e.name.includes('/assets/') && e.name.endsWith('.js'));
        return {
          html: nav?.responseEnd ?? Number.NaN,
          script: (script as unknown as { responseEnd?: number } | undefined)?.responseEnd ?? Number.NaN,
          domContentLoaded: nav?.domContentLoadedEventEnd ?? Number.NaN,
          rendered: performance.getEntriesByName('robotrace:list-rendered')[0]?.startTime ?? Number.NaN,
        };
      });
      inPage.push(timing.rendered);
      phases.push(timing);
      const rows = await page.locator('[data-testid=traceback-list] tbody tr[data-id]').count();
      if (rows !== 50) throw new Error(`expected 50 rows on the first page, got ${rows}`);
      await context.close();
    }
    const result = {
      tracebacks: viewer.index.size,
      natsServer: ns.version,
      storeSeconds: round(writeMs / 1000),
      bytesPerRecord: Math.round(bytes / N),
      indexLoadSeconds: round(indexLoadMs / 1000),
      viewerHeapMiB: Math.round(heapMb),
      firstPageRenderMs: { median: round(median(renders)), runs: renders.map(round), cold: round(renders[0] ?? 0) },
      inPageRenderMs: {
        median: round(median(inPage)),
        runs: inPage.map(round),
        htmlReceived: round(median(phases.map((p) => p.html))),
        scriptReceived: round(median(phases.map((p) => p.script))),
        domContentLoaded: round(median(phases.map((p) => p.domContentLoaded))),
      },
      staticPageLoadMs: round(median(baseline)),
      loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10),
      listApiMs: api,
    };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      process.stdout.write(
        [
          `robotrace viewer list benchmark — ${result.tracebacks.toLocaleString('en-US')} tracebacks in KV, nats-server ${result.natsServer}, Chromium headless`,
          `index load            ${result.indexLoadSeconds} s   (viewer heap ${result.viewerHeapMiB} MiB)`,
          `first page rendered   median ${result.firstPageRenderMs.median} ms over ${RUNS} page loads (cold ${result.firstPageRenderMs.cold} ms; runs ${result.firstPageRenderMs.runs.join(', ')})`,
          `  by the page's clock  median ${result.inPageRenderMs.median} ms from navigation start to rows rendered (runs ${result.inPageRenderMs.runs.join(', ')})`,
          `  phases (medians)     HTML in ${result.inPageRenderMs.htmlReceived} ms, script in ${result.inPageRenderMs.scriptReceived} ms, DOMContentLoaded ${result.inPageRenderMs.domContentLoaded} ms`,
          `static login page     median ${result.staticPageLoadMs} ms (browser and HTTP overhead alone, for comparison)`,
          `load average          ${result.loadAverage.join(' ')} on ${os.cpus().length} cores`,
          `list API (median of ${RUNS}):`,
          ...Object.entries(api).map(([name, ms]) => `  ${name.padEnd(34)}${ms} ms`),
          '',
        ].join('\n'),
      );
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await viewer?.stop().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await ns.stop();
  }
}

await main();
