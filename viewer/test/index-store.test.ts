import { describe, expect, it } from 'vitest';
import { TRACEBACK_MACHINE_VERSION, createTraceback, type TracebackActor, type TracebackEventIn } from '../../actors/index.js';
import { hopIdOf, type TracebackId } from '../../protocol/index.js';
import { Access, hashPassword, parseLogins, verifyPassword } from '../server/auth.js';
import { ViewerError, ViewerErrorCode } from '../server/errors.js';
import { TracebackIndex, type IndexChange, type IndexEntry } from '../server/index-store.js';
import { encodeStoredRecord } from '../server/records.js';
import { tracebackGraph } from '../server/statechart.js';
import { compileViewerOptions } from '../server/viewer.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
let revision = 0;

function id(n: number): TracebackId {
  return `tb-${n.toString(36).padStart(9, '0')}aaaaaaaaaaa` as TracebackId;
}

/** A real traceback actor, driven through `events`, stored the way the engine stores it. */
function record(n: number, options: { terminating: string; campaign?: string; calling?: string; events?: (a: TracebackActor) => TracebackEventIn[] }): IndexEntry {
  const tracebackId = id(n);
  const actor = createTraceback({
    tracebackId,
    call: { calling: (options.calling ?? '+12155550121') as never, called: '+12025550143' as never, time: T0 - 60_000, ...(options.campaign ? { campaign: options.campaign } : {}) },
    terminatingProvider: options.terminating,
    requester: 'test',
    now: T0 + n * 1000,
    policy: { deadlineMs: 10_000 },
  });
  actor.start();
  for (const event of options.events?.(actor) ?? []) actor.send(event);
  const value = encodeStoredRecord({
    kind: 'traceback',
    machineVersion: TRACEBACK_MACHINE_VERSION,
    snapshot: actor.getPersistedSnapshot() as never,
    outbox: [],
    updatedAt: T0 + n * 1000 + 500,
  });
  return { key: `traceback.${tracebackId}`, value, revision: ++revision, operation: 'PUT' };
}

const answer = (n: number, hop: number, provider: string, a: Extract<TracebackEventIn, { type: 'ANSWER' }>['answer']): TracebackEventIn => ({
  type: 'ANSWER',
  hopId: hopIdOf(id(n), hop),
  provider,
  answer: a,
  at: T0 + n * 1000 + hop * 100,
});

function sample(): TracebackIndex {
  const index = new TracebackIndex();
  // 1: T1 → M1 → originator (done); 2: asking at M1; 3: asking at T2; 4: T1 missed the deadline.
  index.applyActor(
    record(1, {
      terminating: 'T1',
      campaign: 'SSA-CalltheSSA',
      events: () => [
        answer(1, 1, 'T1', { type: 'upstream', provider: 'M1' }),
        answer(1, 2, 'M1', { type: 'originator', customer: { name: 'Acme' }, action: 'warned' }),
      ],
    }),
  );
  index.applyActor(record(2, { terminating: 'T1', campaign: 'IRS-BackTax', calling: '+13035550188', events: () => [answer(2, 1, 'T1', { type: 'upstream', provider: 'M1' })] }));
  index.applyActor(record(3, { terminating: 'T2' }));
  index.applyActor(record(4, { terminating: 'T1', events: () => [{ type: 'TIMER_FIRED', timer: 'hop1', at: T0 + 4000 + 10_000 }] }));
  return index;
}

describe('TracebackIndex', () => {
  it('lists, sorts, filters and pages tracebacks from stored records', () => {
    const index = sample();
    const all = index.list({}, T0);
    expect(all.total).toBe(4);
    expect(all.rows.map((r) => r.id)).toEqual([id(4), id(3), id(2), id(1)]);
    expect(all.rows[3]).toMatchObject({ state: 'origin_found', outcome: 'origin_found', active: false, currentProvider: 'M1', hops: 2, campaign: 'SSA-CalltheSSA' });
    expect(all.rows[2]).toMatchObject({ state: 'asking', active: true, currentProvider: 'M1', deadline: T0 + 2000 + 100 + 10_000 });
    expect(all.rows[0]).toMatchObject({ state: 'noncooperative', currentProvider: 'T1' });

    expect(index.list({ sort: 'startedAt', dir: 'asc', size: 2, page: 1 }, T0).rows.map((r) => r.id)).toEqual([id(3), id(4)]);
    expect(index.list({ sort: 'deadline', dir: 'asc' }, T0).rows.map((r) => r.id)).toEqual([id(2), id(3), id(1), id(4)]);
    expect(index.list({ state: 'active' }, T0).total).toBe(2);
    expect(index.list({ state: 'done' }, T0).total).toBe(2);
    expect(index.list({ outcome: 'noncooperative' }, T0).rows.map((r) => r.id)).toEqual([id(4)]);
    expect(index.list({ campaign: 'none' }, T0).total).toBe(2);
    expect(index.list({ provider: 'M1' }, T0).total).toBe(2);
    expect(index.list({ q: '303-555-0188' }, T0).rows.map((r) => r.id)).toEqual([id(2)]);
    expect(index.list({ q: `${id(3)}-h1` }, T0).rows.map((r) => r.id)).toEqual([id(3)]);
    expect(index.list({ q: 'irs-back' }, T0).rows.map((r) => r.id)).toEqual([id(2)]);
    expect(index.list({ size: 10_000 }, T0).size).toBe(200);
  });

  it('pages deep into a large index the same way as near the top', () => {
    const index = new TracebackIndex();
    for (let n = 1; n <= 3000; n++) index.applyActor(record(n, { terminating: `P${n % 7}` }));
    const deep = index.list({ sort: 'startedAt', dir: 'desc', size: 200, page: 12 }, T0);
    expect(deep.rows[0]?.id).toBe(id(3000 - 12 * 200));
    const near = index.list({ sort: 'startedAt', dir: 'desc', size: 200, page: 1 }, T0);
    expect(near.rows[0]?.id).toBe(id(3000 - 200));
    expect(near.rows.length).toBe(200);
  });

  it('keeps the start-time order through out-of-order inserts, updates and deletes', () => {
    const index = new TracebackIndex();
    const order = Array.from({ length: 300 }, (_, i) => i + 1);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const n of order) index.applyActor(record(n, { terminating: n % 3 === 0 ? 'T3' : 'T1' }));
    for (const n of order.slice(0, 40)) index.applyActor({ key: `traceback.${id(n)}`, value: new Uint8Array(), revision: ++revision, operation: 'DEL' });
    for (const n of order.slice(40, 80)) index.applyActor(record(n, { terminating: 'T3', events: () => [{ type: 'CANCEL', reason: 'x', by: 'y', at: T0 + n * 1000 + 5 }] }));
    const alive = order.slice(40).sort((a, b) => a - b);
    const expectPage = (query: Parameters<TracebackIndex['list']>[0], expected: number[]) =>
      expect(index.list(query, T0).rows.map((r) => r.id)).toEqual(expected.map(id));
    expectPage({ size: 7, page: 3 }, [...alive].reverse().slice(21, 28));
    expectPage({ dir: 'asc', size: 7, page: 3 }, alive.slice(21, 28));
    const t3 = alive.filter((n) => n % 3 === 0 || order.slice(40, 80).includes(n));
    expectPage({ provider: 'T3', size: 5, page: 2 }, [...t3].reverse().slice(10, 15));
    expect(index.list({ provider: 'T3' }, T0).total).toBe(t3.length);
    expect(index.list({ state: 'cancelled' }, T0).total).toBe(40);
    expect(index.list({ size: 200, page: 0 }, T0).total).toBe(260);
  });

  it('keeps carrier inboxes: only the open current hop of active tracebacks', () => {
    const index = sample();
    expect(index.inbox('M1').map((i) => i.hopId)).toEqual([hopIdOf(id(2), 2)]);
    expect(index.inbox('T2').map((i) => i.hopId)).toEqual([hopIdOf(id(3), 1)]);
    expect(index.inbox('T1')).toEqual([]);
    expect(index.inbox('M1')[0]).toMatchObject({ downstream: 'T1', call: { calling: '+13035550188', campaign: 'IRS-BackTax' } });
    expect(index.openHop(id(2), 2)?.provider).toBe('M1');
    expect(index.openHop(id(2), 1)).toBeUndefined();
    expect(index.hop(id(2), 1)?.status).toBe('answered');

    // The traceback moves on: M1's inbox empties.
    index.applyActor(
      record(2, {
        terminating: 'T1',
        events: () => [answer(2, 1, 'T1', { type: 'upstream', provider: 'M1' }), answer(2, 2, 'M1', { type: 'not_found', reason: 'no CDR' })],
      }),
    );
    expect(index.inbox('M1')).toEqual([]);
  });

  it('derives provider scorecards and facets', () => {
    const index = sample();
    const stats = Object.fromEntries(index.providerStats().map((s) => [s.provider, s]));
    expect(stats['T1']).toMatchObject({ asked: 3, answered: 2, missed: 1, open: 0, endedHere: { noncooperative: 1 } });
    expect(stats['M1']).toMatchObject({ asked: 2, answered: 1, open: 1, endedHere: { origin_found: 1 } });
    expect(stats['T1']?.meanResponseMs).toBe(100);
    const facets = index.facets();
    expect(facets.states).toEqual([
      { value: 'asking', count: 2 },
      { value: 'noncooperative', count: 1 },
      { value: 'origin_found', count: 1 },
    ]);
    expect(facets.campaigns.find((c) => c.value === 'none')?.count).toBe(2);
  });

  it('tolerates provider records of any shape, unreadable records and deletes; reports changes', () => {
    const index = sample();
    const changes: IndexChange[] = [];
    index.onChange((c) => changes.push(c));
    const provider = encodeStoredRecord({
      kind: 'provider',
      machineVersion: 1,
      snapshot: { status: 'active', value: 'listed', context: { providerId: 'M1', strikes: 2, flags: ['noncooperative'] } },
      outbox: [],
      updatedAt: T0,
    });
    index.applyActor({ key: 'provider.M1', value: provider, revision: 99, operation: 'PUT' });
    index.applyActor({ key: 'provider.odd', value: new Uint8Array([0x93, 1, 2, 3]), revision: 100, operation: 'PUT' });
    index.applyActor({ key: 'traceback.tb-broken', value: new Uint8Array([0xc1]), revision: 101, operation: 'PUT' });
    index.applyActor({ key: `traceback.${id(3)}`, value: new Uint8Array(), revision: 102, operation: 'DEL' });
    const records = index.providerRecordList();
    expect(records[0]).toMatchObject({ id: 'M1', kind: 'provider', state: 'listed', context: { strikes: 2 } });
    expect(records[1]?.id).toBe('odd');
    expect(records[1]?.error).toBeTruthy();
    expect(index.unreadable).toBe(1);
    expect(index.size).toBe(3);
    expect(index.inbox('T2')).toEqual([]);
    expect(changes.map((c) => c.kind)).toEqual(['provider', 'provider', 'traceback', 'traceback']);
  });

  it('keeps pending timers per traceback and names what they are for', () => {
    const index = sample();
    const tb = id(2);
    const hop2 = index.get(tb)?.current;
    expect(index.get(tb)?.row.hops).toBe(2);
    const put = (timer: string, dueAt: number) => ({
      key: `traceback.${tb}.${timer}`,
      value: encodeStoredRecord({ dueAt, payload: { tracebackId: tb, timer } } as never),
      revision: ++revision,
      operation: 'PUT' as const,
    });
    index.applyTimer(put('hop2', (hop2?.deadline ?? 0) - 5000));
    expect(index.timersOf(tb)).toEqual([{ timer: 'hop2', key: `traceback.${tb}.hop2`, dueAt: (hop2?.deadline ?? 0) - 5000, purpose: 'reminder' }]);
    index.applyTimer(put('hop2', hop2?.deadline ?? 0));
    expect(index.timersOf(tb)[0]?.purpose).toBe('deadline');
    index.applyTimer({ key: `traceback.${tb}.hop2`, value: new Uint8Array(), revision: ++revision, operation: 'DEL' });
    expect(index.timersOf(tb)).toEqual([]);
  });
});

describe('statechart graph', () => {
  it('is drawn from the traceback machine definition', () => {
    const graph = tracebackGraph();
    expect(graph.initial).toBe('traceback.asking');
    expect(graph.states.map((s) => s.key)).toEqual([
      'asking',
      'origin_found',
      'foreign_entry',
      'not_found',
      'disputed',
      'noncooperative',
      'loop',
      'max_hops',
      'cancelled',
    ]);
    expect(graph.states.filter((s) => s.type === 'final')).toHaveLength(8);
    const byGuard = Object.fromEntries(graph.transitions.map((t) => [t.guard ?? t.event, t]));
    expect(byGuard['acceptable ∧ answerIs(upstream)']).toMatchObject({ source: 'traceback.asking', target: 'traceback.asking', reenter: true });
    expect(byGuard['acceptable ∧ upstreamLoops']?.target).toBe('traceback.loop');
    expect(byGuard['reminderDue']?.target).toBeUndefined();
    expect(byGuard['CANCEL']?.target).toBe('traceback.cancelled');
  });
});

describe('access', () => {
  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct hors', hash)).toBe(false);
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(hash);
  });

  it('checks the logins file and names what is wrong', async () => {
    const hash = await hashPassword('pw');
    expect(parseLogins({ logins: [{ user: 'a', role: 'carrier', provider: 'acme', passwordHash: hash }] })).toHaveLength(1);
    const bad = (logins: unknown, message: RegExp) => {
      try {
        parseLogins(logins, 'f.json');
        throw new Error('accepted');
      } catch (err) {
        expect(ViewerError.is(err) && err.code).toBe(ViewerErrorCode.InvalidConfig);
        expect((err as Error).message).toMatch(message);
      }
    };
    bad({}, /"logins" array/);
    bad({ logins: [{ user: 'a', role: 'carrier', passwordHash: hash }] }, /logins\[0\]\.provider/);
    bad({ logins: [{ user: 'a', role: 'operator', password: 'pw' }] }, /passwordHash/);
    bad({ logins: [{ user: 'a', role: 'admin', passwordHash: hash }] }, /role/);
    bad({ logins: [{ user: 'a', role: 'operator', passwordHash: hash }, { user: 'a', role: 'operator', passwordHash: hash }] }, /twice/);
  });

  it('opens sessions on login, locks out after repeated failures, expires sessions', async () => {
    let now = T0;
    const access = new Access([{ user: 'ops', role: 'operator', passwordHash: await hashPassword('pw') }], 60_000, () => now);
    const { token } = await access.login('ops', 'pw');
    expect(access.session(token)).toEqual({ user: 'ops', role: 'operator' });
    for (let i = 0; i < 5; i++) await expect(access.login('ops', 'nope')).rejects.toMatchObject({ code: ViewerErrorCode.Unauthenticated });
    await expect(access.login('ops', 'pw')).rejects.toMatchObject({ code: ViewerErrorCode.TooManyAttempts });
    await expect(access.login('nobody', 'pw')).rejects.toMatchObject({ code: ViewerErrorCode.Unauthenticated });
    now += 61_000;
    expect(access.session(token)).toBeUndefined();
    expect((await access.login('ops', 'pw')).principal.role).toBe('operator');
  });

  it('serves without login only in demo mode on loopback, and never with no way in', () => {
    expect(() => compileViewerOptions({ demo: true, host: '0.0.0.0' })).toThrow(/loopback/);
    expect(() => compileViewerOptions({ demo: true, host: '10.1.2.3' })).toThrow(expect.objectContaining({ code: ViewerErrorCode.DemoNotLoopback }));
    expect(() => compileViewerOptions({})).toThrow(expect.objectContaining({ code: ViewerErrorCode.NoLogins }));
    expect(compileViewerOptions({ demo: true, host: '::1' }).demo).toBe(true);
    expect(compileViewerOptions({ demo: true, host: 'localhost', port: 0 }).port).toBe(0);
  });
});
