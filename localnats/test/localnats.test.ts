import { existsSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  ensureNatsServer,
  LocalNatsErrorCode,
  NatsServerMissingError,
  NatsServerStartError,
  startLocalNats,
  versionAtLeast,
  type LocalNatsLogger,
} from '../index.js';
import { check, uniqueName } from '../../test/harness/check.js';
import { reconnected, setup, type NatsFixture } from '../../test/harness/nats-server.js';

describe('startLocalNats (shared server)', { timeout: 20_000 }, () => {
  let t: NatsFixture;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  test('listens on a random loopback port and reports its version', () => {
    expect(t.ns.url).toBe(`nats://127.0.0.1:${t.ns.port}`);
    expect(t.ns.port).toBeGreaterThan(0);
    expect(t.ns.port).not.toBe(4222);
    expect(t.ns.pid).toBeGreaterThan(0);
    expect(t.ns.state).toBe('running');
    expect(versionAtLeast(t.ns.version, '2.9.0')).toBe(true);
    expect(t.nc.info?.version).toBe(t.ns.version);
  });

  test('core publish/subscribe works', async () => {
    const subject = uniqueName('localnats.test');
    const sub = t.nc.subscribe(subject, { max: 1 });
    t.nc.publish(subject, 'hello');
    for await (const m of sub) expect(m.string()).toBe('hello');
  });

  test('JetStream works', async () => {
    const stream = uniqueName('LN');
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    const ack = await jetstream(t.nc).publish(`${stream}.a`, 'x');
    expect(ack.stream).toBe(stream);
    expect(ack.seq).toBe(1);
  });
});

describe('startLocalNats (own servers)', { timeout: 30_000 }, () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('kill() then restart() keeps the port and the stream messages', async () => {
    await using t = await setup();
    const { ns, nc } = t;
    const stream = uniqueName('RESTART');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    const js = jetstream(nc);
    for (const n of [1, 2, 3]) await js.publish(`${stream}.m`, `msg ${n}`);

    const port = ns.port;
    const oldPid = ns.pid;
    const back = reconnected(nc);
    await ns.kill();
    expect(ns.state).toBe('exited');
    expect((await ns.exited).signal).toBe('SIGKILL');
    expect(existsSync(ns.storeDir)).toBe(true);

    await ns.restart();
    expect(ns.state).toBe('running');
    expect(ns.port).toBe(port);
    expect(ns.pid).not.toBe(oldPid);

    // The fixture's client reconnects on its own; requests sent before that can be lost.
    await back;
    const info = await jsm.streams.info(stream);
    expect(info.state.messages).toBe(3);
    const last = await jsm.streams.getMessage(stream, { seq: 3 });
    expect(last?.string()).toBe('msg 3');
  });

  test('an outside crash is noticed and reported; kill() is not', async () => {
    const warnings: string[] = [];
    const logger: LocalNatsLogger = { debug: () => {}, info: () => {}, warn: (_o, msg) => warnings.push(msg ?? '') };
    await using ns = await startLocalNats({ jetstream: false, logger });
    await ns.kill();
    await ns.restart();
    expect(warnings).toEqual([]);

    process.kill(ns.pid, 'SIGKILL');
    await check(() => ns.state === 'exited', 5_000, { name: 'state exited after outside SIGKILL' });
    expect(warnings).toEqual(['nats-server exited unexpectedly']);
  });

  test('restart() of a running server stops it gracefully first', async () => {
    await using ns = await startLocalNats();
    const port = ns.port;
    await ns.restart();
    expect(ns.port).toBe(port);
    expect(ns.state).toBe('running');
  });

  test('stop() removes the temp store, keepStore keeps it', async () => {
    const ns = await startLocalNats();
    const dir = ns.storeDir;
    expect(existsSync(dir)).toBe(true);
    await ns.stop();
    expect(existsSync(dir)).toBe(false);
    expect(ns.state).toBe('stopped');
    expect((await ns.exited).signal ?? (await ns.exited).code).not.toBeUndefined();
    await ns.stop(); // idempotent
    await expect(ns.restart()).rejects.toThrow(/stopped/);

    const kept = await startLocalNats({ keepStore: true });
    await kept.stop();
    expect(existsSync(kept.storeDir)).toBe(true);
    const { rm } = await import('node:fs/promises');
    await rm(kept.storeDir, { recursive: true, force: true });
  });

  test('two servers at once get distinct ports', async () => {
    await using a = await startLocalNats();
    await using b = await startLocalNats();
    expect(a.port).not.toBe(b.port);
    expect(a.storeDir).not.toBe(b.storeDir);
    const nc = await connect({ servers: b.url });
    await nc.flush();
    await nc.close();
  });

  test('a taken port fails fast with the server log tail', async () => {
    await using a = await startLocalNats({ jetstream: false });
    const err: unknown = await startLocalNats({ port: a.port, jetstream: false }).catch((e: unknown) => e);
    expect(NatsServerStartError.is(err)).toBe(true);
    const startErr = err as NatsServerStartError;
    expect(startErr.code).toBe(LocalNatsErrorCode.StartFailed);
    expect(startErr.addressInUse).toBe(true);
    expect(startErr.message).toMatch(/exited .* before it was ready/);
  });

  test('missing binary gives NatsServerMissingError', async () => {
    vi.stubEnv('NATS_SERVER_BIN', '/nonexistent');
    const err: unknown = await startLocalNats({ install: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsServerMissingError);
    expect(NatsServerMissingError.is(err)).toBe(true);
    expect((err as NatsServerMissingError).code).toBe('NATS_SERVER_MISSING');
    expect((err as Error).message).toContain('apt-get install nats-server');
    expect((err as Error).message).not.toContain('\n');
    // An explicit NATS_SERVER_BIN is never "fixed" by installing.
    await expect(ensureNatsServer({ install: true })).rejects.toBeInstanceOf(NatsServerMissingError);
  });

  test('rejects a bad port before spawning', async () => {
    await expect(startLocalNats({ port: 0 })).rejects.toThrow(/port must be/);
  });
});

describe('versionAtLeast', () => {
  test('compares numerically and ignores pre-release suffixes', () => {
    expect(versionAtLeast('2.9.10', '2.9.0')).toBe(true);
    expect(versionAtLeast('v2.10.0', '2.9.0')).toBe(true);
    expect(versionAtLeast('2.8.4', '2.9.0')).toBe(false);
    expect(versionAtLeast('2.9.0-beta.1', '2.9.0')).toBe(true);
    expect(versionAtLeast('garbage', '2.9.0')).toBe(false);
  });
});

test('a pino logger fits LocalNatsLogger', () => {
  const logger: LocalNatsLogger = pino({ enabled: false });
  expect(typeof logger.info).toBe('function');
});
