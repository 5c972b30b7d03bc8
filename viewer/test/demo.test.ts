import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Engine, startTraceback } from '../../engine/index.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { startViewer, type InboxPage, type ListPage, type Me, type ProviderDetail, type ProvidersPage, type TracebackDetail, type Viewer } from '../index.js';

const quiet = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** Fails with `name` if `promise` takes longer than `ms`, so a stuck step says which it was. */
async function within<T>(ms: number, name: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.end();
  });
}

describe('viewer in loopback demo mode', () => {
  let t: NatsFixture;
  let viewer: Viewer;

  beforeAll(async () => {
    t = await setup();
    // Started before any engine: the buckets do not exist yet.
    viewer = await startViewer({ servers: t.ns.url, port: 0, demo: true, logger: quiet });
  });

  afterAll(async () => {
    await viewer?.stop();
    await t?.[Symbol.asyncDispose]();
  });

  it('waits for the engine to create its buckets, then indexes what it stores', async () => {
    const before = JSON.parse((await get(new URL('/api/tracebacks', viewer.url).href)).body) as ListPage;
    expect(before).toMatchObject({ ready: false, indexed: 0 });
    const engine = await within(20_000, 'Engine.start', Engine.start({ servers: t.ns.url, hopDeadline: '5s', logger: quiet }));
    try {
      await expectIndexed(engine);
    } finally {
      await within(20_000, 'engine.stop', engine.stop());
    }
  });

  /** Starts a traceback through the engine and finds it in the viewer's list. */
  async function expectIndexed(engine: Engine): Promise<void> {
    const { tracebackId } = await startTraceback(t.nc, {
      call: { calling: '+12155550121', called: '+12025550143', time: Date.UTC(2026, 0, 2) },
      terminatingProvider: 'acme-voice',
      requester: 'test',
    });
    await viewer.ready(15_000);
    const page = await check(
      async () => {
        const list = JSON.parse((await get(new URL('/api/tracebacks', viewer.url).href)).body) as ListPage;
        return list.rows[0]?.id === tracebackId && list;
      },
      10_000,
      { name: 'traceback in the list' },
    );
    expect(page.rows[0]).toMatchObject({ state: 'asking', currentProvider: 'acme-voice', hops: 1 });
    expect(engine.state).toBe('running');

    // The engine made acme-voice's provider actor on first use; its record is on the providers page.
    const acme = await check(
      async () => {
        const providers = JSON.parse((await get(new URL('/api/providers', viewer.url).href)).body) as ProvidersPage;
        const found = providers.providers.find((p) => p.id === 'acme-voice');
        return found?.actor && found.score?.asked === 1 && found;
      },
      10_000,
      { name: 'acme-voice provider actor record' },
    );
    expect(acme).toMatchObject({ directory: { verified: false }, policy: { deadlineKind: 'fixed', deadlineMs: 5_000, reminderFractions: [0.5] } });

    // The traceback record: numbered outbox entries, the evidence chain; its hop on the provider's clock.
    const detail = await check(
      async () => {
        const d = JSON.parse((await get(new URL(`/api/tracebacks/${tracebackId}`, viewer.url).href)).body) as TracebackDetail;
        return d.hops[0]?.timing !== 'estimate' && d;
      },
      10_000,
      { name: 'hop 1 timing from the provider actor' },
    );
    expect(detail.record.machineVersion).toBe(2);
    expect(detail.record.nextCommandId).toBeGreaterThan(1);
    for (const entry of detail.record.outbox) expect(entry).toMatchObject({ id: expect.any(Number), type: expect.stringMatching(/^cmd\./) });
    expect(detail.record.extra).toMatchObject({ count: expect.any(Number), head: expect.stringMatching(/^[0-9a-f]{64}$/) });
  }

  it('serves operators without a login, but only under a loopback host name', async () => {
    const me = JSON.parse((await get(new URL('/api/me', viewer.url).href)).body) as Me;
    expect(me).toEqual({ user: 'demo', role: 'operator', demo: true });
    const { port } = new URL(viewer.url);
    expect((await get(new URL('/api/me', viewer.url).href, { host: `localhost:${port}` })).status).toBe(200);
    const rebound = await get(new URL('/api/me', viewer.url).href, { host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain('loopback host name');
  });

  it('opens a carrier inbox without a password, and a carrier session sees only that inbox', async () => {
    const login = await fetch(new URL('/login', viewer.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ demo: 'carrier', provider: 'acme-voice' }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0] as string;
    const me = (await (await fetch(new URL('/api/me', viewer.url), { headers: { cookie: session } })).json()) as Me;
    expect(me).toMatchObject({ role: 'carrier', provider: 'acme-voice' });
    // The inbox lists what acme-voice's provider actor has open (the engine is stopped: nothing moves now).
    const inbox = (await (await fetch(new URL('/api/inbox', viewer.url), { headers: { cookie: session } })).json()) as InboxPage;
    const provider = JSON.parse((await get(new URL('/api/providers/acme-voice', viewer.url).href)).body) as ProviderDetail;
    expect(inbox.items.map((i) => [i.hopId, i.deadline])).toEqual(provider.open.map((o) => [o.hopId, o.deadline]));
    expect(inbox.items.length).toBeLessThanOrEqual(1);
    expect((await fetch(new URL('/api/providers/acme-voice', viewer.url), { headers: { cookie: session } })).status).toBe(403);
    expect((await fetch(new URL('/api/tracebacks', viewer.url), { headers: { cookie: session } })).status).toBe(403);
    const bad = await fetch(new URL('/login', viewer.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ demo: 'carrier', provider: 'not a provider!' }),
    });
    expect(bad.status).toBe(400);
  });
});
