import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, startTraceback } from '../../engine/index.js';
import { setup, type NatsFixture } from '../harness/nats-server.js';
import { check } from '../harness/check.js';
import { call, collectTrails, originator, quiet, scriptedCarriers, upstream } from './fixtures.js';

describe('engine end to end', () => {
  let t: NatsFixture;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  it('traces a call through three providers to its originator', async () => {
    await using engine = await Engine.start({ servers: t.ns.url, logger: quiet, hopDeadline: '5s' });
    const carriers = await scriptedCarriers(t.ns.url, { T1: upstream('M1'), M1: upstream('O1'), O1: originator });
    const watch = await collectTrails(t.nc);
    const { tracebackId } = await startTraceback(t.nc, { call, terminatingProvider: 'T1', requester: 'test' });
    const trail = await check(() => watch.trails.find((x) => x.tracebackId === tracebackId), 10_000, { name: 'trail' });
    expect(trail.outcome).toBe('origin_found');
    expect(trail.hops.map((h) => h.provider)).toEqual(['T1', 'M1', 'O1']);
    expect(trail.origin?.customer.name).toBe('Acme Dialer LLC');
    expect(engine.stats().answersApplied).toBe(3);
    await watch.close();
    await Promise.all(carriers.map((c) => c.stop()));
  });
});
