import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { Engine, clearProviderFlag, startTraceback, upsertProviders, watchTrails } from '../../engine/index.js';
import { connectCarrier, type Carrier } from '../../carrier/index.js';
import type { Answer, HopQuery, Trail } from '../../protocol/index.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';
import { check } from '../../test/harness/check.js';
import { hashPassword, startViewer, type Login, type Viewer } from '../index.js';
import { ensureClientBuilt, launchBrowser, loggedIn, screenshot } from './browser.js';

const quiet = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const call = { calling: '+12155550121', called: '+12025550143', time: Date.UTC(2026, 10, 29, 15, 4, 5), campaign: 'SSA-CalltheSSA' };
const originator: Answer = { type: 'originator', customer: { name: 'Acme Dialer LLC', address: '1 Main St, Dover DE' }, action: 'terminated' };

/** A promise the test resolves by hand: a carrier that answers only when told to. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
}

describe('trace viewer in Chromium', () => {
  let t: NatsFixture;
  let engine: Engine;
  let viewer: Viewer;
  let browser: Browser;
  const carriers: Carrier[] = [];
  const trails: Trail[] = [];
  let stopTrails: () => Promise<void>;
  let base: string;

  beforeAll(async () => {
    await ensureClientBuilt();
    t = await setup();
    engine = await Engine.start({ servers: t.ns.url, hopDeadline: '5s', logger: quiet });
    const logins: Login[] = [
      { user: 'ops', role: 'operator', passwordHash: await hashPassword('ops-secret') },
      { user: 'acme-staff', role: 'carrier', provider: 'acme-voice', passwordHash: await hashPassword('acme-secret') },
      { user: 'bravo-staff', role: 'carrier', provider: 'bravo-tel', passwordHash: await hashPassword('bravo-secret') },
    ];
    viewer = await startViewer({ servers: t.ns.url, port: 0, host: '127.0.0.1', logins, logger: quiet });
    base = viewer.url;
    await viewer.ready(20_000);
    browser = await launchBrowser();
    const watch = await watchTrails(t.nc, { all: true });
    const loop = (async () => {
      for await (const trail of watch) trails.push(trail);
    })();
    stopTrails = async () => {
      await watch.close();
      await loop;
    };
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.allSettled(carriers.map((c) => c.stop()));
    await stopTrails?.();
    await viewer?.stop();
    await engine?.stop();
    await t?.[Symbol.asyncDispose]();
  });

  it('serves nothing without a login', async () => {
    const api = await fetch(new URL('/api/tracebacks', base));
    expect(api.status).toBe(401);
    const page = await fetch(new URL('/', base), { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login');
    const assets = await fetch(new URL('/assets/anything.js', base), { redirect: 'manual' });
    expect(assets.status).toBe(303);
    const login = await fetch(new URL('/login', base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'user=ops&password=wrong',
    });
    expect(login.status).toBe(401);
    expect(await login.text()).toContain('wrong user name or password');
  });

  it('an operator starts a traceback and watches it move live to its trail; the statechart shows where it is', async () => {
    const release = gate();
    const script: Record<string, (q: HopQuery) => Promise<Answer> | Answer> = {
      T1: () => ({ type: 'upstream', provider: 'M1', trunk: 'TG-12' }),
      // M1 holds its answer until the test has seen the traceback waiting on it.
      M1: async () => {
        await release.wait;
        return { type: 'upstream', provider: 'O1' };
      },
      O1: () => originator,
    };
    for (const [provider, lookup] of Object.entries(script)) {
      carriers.push(await connectCarrier({ servers: t.ns.url, provider, lookup, logger: quiet }));
    }
    const { context, page } = await loggedIn(browser, base, 'ops', 'ops-secret');
    try {
      await page.getByRole('link', { name: 'Start a traceback' }).click();
      // A number the protocol refuses: the form says which field and why.
      await page.fill('#f-calling', '215-555-0121');
      await page.fill('#f-called', call.called);
      await page.fill('#f-campaign', call.campaign);
      await page.fill('#f-terminatingProvider', 'T1');
      await page.click('[data-testid=start-form] button[type=submit]');
      const fieldError = page.locator('[data-field-error=calling]');
      await fieldError.waitFor({ timeout: 20_000 });
      expect(await fieldError.textContent()).toContain('INVALID_NUMBER');
      await screenshot(page, '01-start-form-validation');

      await page.fill('#f-calling', call.calling);
      await page.click('[data-testid=start-form] button[type=submit]');
      await page.waitForURL(/\/tracebacks\/tb-[0-9a-z]{20}$/, { timeout: 20_000 });
      const id = new URL(page.url()).pathname.split('/').pop() as string;
      // Marks this document: a reload would lose it, so its survival proves updates came live.
      await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'no-reload'));

      const current = page.locator('[data-testid=statechart] [data-current=true]');
      // Hop 2 is open, on M1's provider actor clock (its real deadline), not the traceback's estimate.
      const hop2 = page.locator('[data-testid=hop-timeline] tr[data-hop="2"]');
      await check(async () => (await hop2.getAttribute('data-status')) === 'open' && (await hop2.getAttribute('data-timing')) === 'provider', 30_000, {
        name: 'hop 2 (M1) open on the page with the provider clock',
      });
      expect(await current.getAttribute('data-state')).toBe('asking');
      expect(await page.locator('[data-testid=deadline]').getAttribute('data-source')).toBe('provider');
      // M1's actor keeps the hop's timer (tb_timers provider.M1.h.<hopId>); it shows with this traceback.
      const timer = page.locator('[data-testid=timers] tbody tr').first();
      await timer.waitFor({ timeout: 20_000 });
      expect(await timer.locator('td').first().textContent()).toBe('M1');
      expect(await timer.locator('td.countdown').textContent()).toMatch(/^in \d/);
      await screenshot(page, '02-traceback-asking-M1');

      release.open();
      // Transition labels come from the v2 machine: HOP_RESULT guarded by the answer type.
      expect(await page.locator('svg.statechart text', { hasText: 'HOP_RESULT [originator]' }).count()).toBe(1);
      expect(await page.locator('svg.statechart text', { hasText: 'HOP_RESULT [missed]' }).count()).toBe(1);
      await check(async () => (await current.getAttribute('data-state')) === 'origin_found', 30_000, { name: 'statechart at origin_found' });
      await page.locator('[data-testid=trail]').waitFor({ timeout: 20_000 });
      const chain = await page.locator('[data-testid=trail] .chain').textContent();
      expect(chain?.replace(/\s+/g, ' ').trim()).toBe('T1 ← M1 ← O1');
      expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('no-reload');
      expect(await page.locator('[data-testid=events] li').count()).toBeGreaterThanOrEqual(7);
      expect(await page.locator('svg.statechart .edge.taken').count()).toBe(1);
      await page.locator('#statechart').scrollIntoViewIfNeeded();
      await screenshot(page, '03-traceback-trail-statechart');

      const trail = await check(() => trails.find((x) => x.tracebackId === id), 20_000, { name: 'trail on tb.trail.>' });
      expect(trail.outcome).toBe('origin_found');

      // The list shows it too, found by number.
      await page.getByRole('link', { name: 'Tracebacks' }).click();
      await page.fill('input[name=q]', '2155550121');
      await check(async () => (await page.locator(`tr[data-id="${id}"]`).getAttribute('data-state')) === 'origin_found', 20_000, {
        name: 'list row origin_found',
      });
      await screenshot(page, '04-list-search-by-number');
      // And from the list, open it again: its statechart shows where it ended.
      await page.locator(`tr[data-id="${id}"] a`).click();
      await check(async () => (await current.getAttribute('data-state')) === 'origin_found', 20_000, { name: 'statechart opened from the list' });
    } finally {
      await context.close();
    }
  });

  it('a carrier answers a hop in its inbox and the traceback moves on', async () => {
    carriers.push(await connectCarrier({ servers: t.ns.url, provider: 'up-2', lookup: () => originator, logger: quiet }));
    const { context, page } = await loggedIn(browser, base, 'acme-staff', 'acme-secret');
    try {
      expect(new URL(page.url()).pathname).toBe('/');
      await page.locator('[data-testid=inbox-empty]').waitFor({ timeout: 20_000 });
      // Live: the query appears in the open inbox without a reload.
      const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'acme-voice', requester: 'test' });
      const hopId = `${tracebackId}-h1`;
      const row = page.locator(`tr[data-hop-id="${hopId}"]`);
      await row.waitFor({ timeout: 20_000 });
      await screenshot(page, '05-carrier-inbox', { fullPage: false });

      await row.getByRole('link', { name: 'Answer' }).click();
      await page.locator('[data-testid=answer-form]').waitFor();
      // Upstream without a provider: the protocol's validation names the field.
      await page.click('[data-testid=answer-form] button[type=submit]');
      const missing = page.locator('[data-field-error=provider]');
      await missing.waitFor({ timeout: 5_000 });
      expect(await missing.textContent()).toContain('MISSING_FIELD');
      await page.fill('#a-provider', 'up-2');
      await page.fill('#a-trunk', 'TG-7');
      await screenshot(page, '06-carrier-answer-form', { fullPage: false });
      await page.click('[data-testid=answer-form] button[type=submit]');
      await page.locator('[data-testid=answer-sent]').waitFor({ timeout: 5_000 });
      await screenshot(page, '07-carrier-answer-sent');

      const trail = await check(() => trails.find((x) => x.tracebackId === tracebackId), 30_000, { name: 'trail after the inbox answer' });
      expect(trail.outcome).toBe('origin_found');
      expect(trail.hops.map((h) => [h.provider, h.answer?.type])).toEqual([
        ['acme-voice', 'upstream'],
        ['up-2', 'originator'],
      ]);
      expect(trail.hops[0]?.answer).toEqual({ type: 'upstream', provider: 'up-2', trunk: 'TG-7' });

      // The answered query leaves the inbox.
      await page.getByRole('link', { name: 'Back to the inbox' }).first().click();
      await check(async () => (await page.locator(`tr[data-hop-id="${hopId}"]`).count()) === 0, 20_000, { name: 'query gone from the inbox' });
    } finally {
      await context.close();
    }
  });

  it("a carrier cannot open another carrier's query (403), nor anything but its inbox", async () => {
    const bravo = await loggedIn(browser, base, 'bravo-staff', 'bravo-secret');
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'bravo-tel', requester: 'test' });
    const hopId = `${tracebackId}-h1`;
    await check(() => viewer.index.openHop(tracebackId, 1), 20_000, { name: 'hop indexed' });
    // bravo-tel's own staff sees and may open it (within its 5 s deadline).
    try {
      expect((await bravo.page.goto(new URL(`/inbox/${hopId}`, base).href))?.status()).toBe(200);
      await bravo.page.locator('[data-testid=answer-form]').waitFor({ timeout: 20_000 });
    } finally {
      await bravo.context.close();
    }
    const { context, page } = await loggedIn(browser, base, 'acme-staff', 'acme-secret');
    try {
      const response = await page.goto(new URL(`/inbox/${hopId}`, base).href);
      expect(response?.status()).toBe(403);
      await page.locator('[data-testid=forbidden]').waitFor({ timeout: 20_000 });
      await screenshot(page, '08-carrier-403-other-carrier');

      const api = await page.request.get(new URL(`/api/inbox/${hopId}`, base).href);
      expect(api.status()).toBe(403);
      const answer = await page.request.post(new URL(`/api/inbox/${hopId}/answer`, base).href, {
        data: { answer: { type: 'not_found', reason: 'not ours' } },
      });
      expect(answer.status()).toBe(403);
      expect((await page.request.get(new URL('/api/tracebacks', base).href)).status()).toBe(403);
      expect((await page.request.get(new URL(`/api/tracebacks/${tracebackId}`, base).href)).status()).toBe(403);
      expect((await page.request.get(new URL('/api/inbox?provider=bravo-tel', base).href)).status()).toBe(403);
      expect((await page.goto(new URL(`/tracebacks/${tracebackId}`, base).href))?.status()).toBe(403);
      const inbox = (await (await page.request.get(new URL('/api/inbox', base).href)).json()) as { items: { hopId: string }[] };
      expect(inbox.items.map((i) => i.hopId)).not.toContain(hopId);
    } finally {
      await context.close();
    }
  });

  it('an operator cancels a traceback and sees the providers page', async () => {
    const { context, page } = await loggedIn(browser, base, 'ops', 'ops-secret');
    // Nobody answers silent-1: the traceback waits (5 s deadline) until it is cancelled.
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'silent-1', requester: 'test' });
    try {
      await page.goto(new URL(`/tracebacks/${tracebackId}`, base).href);
      await page.getByRole('button', { name: 'Cancel traceback…' }).click();
      await page.getByRole('button', { name: 'Cancel it' }).click();
      const error = page.locator('.cancel-form [role=alert]');
      await error.waitFor({ timeout: 20_000 });
      expect(await error.textContent()).toContain('say why');
      await page.fill('input[name=reason]', 'opened by mistake');
      await page.getByRole('button', { name: 'Cancel it' }).click();
      const current = page.locator('[data-testid=statechart] [data-current=true]');
      await check(async () => (await current.getAttribute('data-state')) === 'cancelled', 20_000, { name: 'cancelled on the page' });

      await page.getByRole('link', { name: 'Providers' }).click();
      const row = page.locator('[data-testid=provider-stats] tr[data-provider="acme-voice"]');
      await row.waitFor({ timeout: 20_000 });
      // From acme-voice's provider actor: the engine's default clock, and the hop it answered in the inbox test.
      expect(await row.locator('[data-testid=policy]').textContent()).toBe('5.0 s from receipt');
      expect(await row.locator('[data-testid=answer-rate]').textContent()).toBe('100%');
      // The cancelled hop left silent-1's actor: nothing open there any more.
      const silent = page.locator('[data-testid=provider-stats] tr[data-provider="silent-1"]');
      await check(async () => (await silent.locator('td.num').nth(7).textContent()) === '0', 20_000, { name: 'silent-1 has no open query' });
      await screenshot(page, '09-providers');
    } finally {
      await context.close();
    }
  });
});

describe('provider flags in Chromium', () => {
  let t: NatsFixture;
  let engine: Engine;
  let viewer: Viewer;
  let browser: Browser;
  let carrier: Carrier | undefined;
  const many = { count: 100, windowMs: 86_400_000 };

  beforeAll(async () => {
    await ensureClientBuilt();
    t = await setup();
    // One missed deadline flags a provider here; the others would need 100 strikes.
    engine = await Engine.start({
      servers: t.ns.url,
      hopDeadline: '2s',
      reminderFractions: [0.5],
      flagThresholds: { noncooperative: { count: 1, windowMs: 86_400_000 }, high_risk_origin: many, high_risk_entry: many, insufficient_records: many },
      logger: quiet,
    });
    viewer = await startViewer({ servers: t.ns.url, port: 0, host: '127.0.0.1', demo: true, logger: quiet });
    await viewer.ready(20_000);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await carrier?.stop();
    await viewer?.stop();
    await engine?.stop();
    await t?.[Symbol.asyncDispose]();
  });

  it('a silent provider misses its deadline and the providers page shows the flag, live, with the traceback as evidence', async () => {
    await upsertProviders(
      t.nc,
      [
        { id: 'quiet-tel', name: 'Quiet Telecom LLC', frn: '0012345678', ocn: '9Q7Z', rmdStatus: 'certified' },
        {
          id: 'biz-hours',
          name: 'Business Hours Voice',
          deadline: { kind: 'business', hours: 24, timeZone: 'America/Chicago', opensAt: 8, closesAt: 17, businessDays: [1, 2, 3, 4, 5], holidays: [] },
        },
      ],
      'test',
    );
    carrier = await connectCarrier({ servers: t.ns.url, provider: 'fast-1', lookup: () => originator, logger: quiet });
    const answered = await startTraceback(t.nc, { call, terminatingProvider: 'fast-1', requester: 'test' });
    await check(() => viewer.index.get(answered.tracebackId)?.row.outcome === 'origin_found', 30_000, { name: 'fast-1 answered' });

    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const page = await context.newPage();
    try {
      await page.goto(new URL('/providers', viewer.url).href);
      const quiet = page.locator('[data-testid=provider-stats] tr[data-provider="quiet-tel"]');
      await quiet.waitFor({ timeout: 20_000 });
      expect(await page.locator('[data-testid=no-flags]').count()).toBe(1);
      await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'no-reload'));

      // Nobody answers for quiet-tel: its 2 s deadline passes, the traceback ends noncooperative, quiet-tel is flagged.
      const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'quiet-tel', requester: 'test' });
      const flag = page.locator('[data-testid=flags] [data-testid=flag][data-provider="quiet-tel"][data-flag="noncooperative"]');
      await flag.waitFor({ timeout: 30_000 });
      const evidence = flag.locator(`[data-testid=evidence] li[data-traceback-id="${tracebackId}"]`);
      await evidence.waitFor({ timeout: 20_000 });
      expect(await evidence.locator('a').getAttribute('href')).toBe(`/tracebacks/${tracebackId}`);
      expect(await flag.locator('.flag-reason').textContent()).toContain('1 missed traceback deadlines');
      expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('no-reload');

      // The scorecards: directory, policy and the provider actors' counts.
      await check(async () => (await quiet.getAttribute('data-flags')) === 'noncooperative', 20_000, { name: 'quiet-tel row flagged' });
      const cells = await quiet.locator('td').allTextContents();
      expect(cells[0]).toContain('Quiet Telecom LLC');
      expect(cells[0]).toContain('verified');
      expect(cells[0]).not.toContain('unverified');
      expect(cells[1]).toContain('0012345678');
      expect(cells[1]).toContain('9Q7Z');
      expect(cells[2]).toBe('2.0 s from receipt');
      expect(cells.slice(3, 8)).toEqual(['1', '0', '1', '0', '0%']);
      const fast = page.locator('[data-testid=provider-stats] tr[data-provider="fast-1"]');
      expect(await fast.locator('[data-testid=answer-rate]').textContent()).toBe('100%');
      expect(await fast.locator('td').nth(8).textContent()).toMatch(/\d/); // p50
      expect(await fast.locator('td').first().textContent()).toContain('unverified');
      const biz = page.locator('[data-testid=provider-stats] tr[data-provider="biz-hours"] [data-testid=policy]');
      expect(await biz.textContent()).toBe('24 h, business hours 8–17 America/Chicago, Mon–Fri');
      // Flagged providers first.
      expect(await page.locator('[data-testid=provider-stats] tbody tr').first().getAttribute('data-provider')).toBe('quiet-tel');
      await screenshot(page, '10-providers-flag-with-evidence');

      // The evidence opens the traceback that missed.
      await evidence.locator('a').click();
      await page.waitForURL(new RegExp(`/tracebacks/${tracebackId}$`), { timeout: 20_000 });
      const state = page.locator('[data-testid=statechart] [data-current=true]');
      await check(async () => (await state.getAttribute('data-state')) === 'noncooperative', 20_000, { name: 'evidence traceback noncooperative' });
      expect(await page.locator('[data-testid=hop-timeline] tr[data-hop="1"]').getAttribute('data-status')).toBe('missed');
      expect(await page.locator('svg.statechart .edge.taken text').textContent()).toBe('HOP_RESULT [missed]');
      await screenshot(page, '11-evidence-traceback-noncooperative');

      // The provider's own page; an operator clears the flag and the page follows live.
      await page.goto(new URL('/providers/quiet-tel', viewer.url).href);
      const providerFlag = page.locator('[data-testid=provider-page] [data-testid=flag][data-flag="noncooperative"]');
      await providerFlag.waitFor({ timeout: 20_000 });
      expect(await page.locator('[data-testid=directory]').textContent()).toContain('certified');
      await clearProviderFlag(t.nc, 'quiet-tel', 'noncooperative', 'carrier restored its traceback desk', 'ops-jane');
      const cleared = page.locator('[data-testid=cleared-flags] tr[data-flag="noncooperative"]');
      await cleared.waitFor({ timeout: 20_000 });
      expect(await providerFlag.count()).toBe(0);
      expect(await cleared.textContent()).toContain('carrier restored its traceback desk');
      expect(await cleared.textContent()).toContain('ops-jane');
      await screenshot(page, '12-provider-flag-cleared');
    } finally {
      await context.close();
    }
  });
});
