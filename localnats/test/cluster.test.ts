import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { LocalNatsErrorCode, NatsServerMissingError, startLocalCluster, versionAtLeast } from '../index.js';
import { check, uniqueName } from '../../test/harness/check.js';
import { setupCluster, type ClusterFixture } from '../../test/harness/nats-cluster.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Leader plus replicas that are current and online; 3 means every copy has caught up. */
function currentCopies(info: StreamInfo): number {
  const replicas = info.cluster?.replicas ?? [];
  const leader = info.cluster?.leader === undefined || info.cluster.leader === '' ? 0 : 1;
  return leader + replicas.filter((r) => r.current && r.offline !== true).length;
}

async function addR3Stream(jsm: JetStreamManager): Promise<string> {
  const stream = uniqueName('CL');
  // File storage: what the engine uses, and the only kind that survives a restart.
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: 3 });
  return stream;
}

/** Publishes with a message id, so a retry after an unknown outcome cannot store a duplicate. */
function publishOnce(js: JetStreamClient, subject: string, id: string): Promise<unknown> {
  return js.publish(subject, id, { msgID: id, timeout: 2_000 });
}

describe('startLocalCluster (shared cluster)', { timeout: 60_000 }, () => {
  let t: ClusterFixture;
  beforeAll(async () => {
    t = await setupCluster();
  });
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  test('three named nodes on distinct loopback ports, one meta leader', async () => {
    const { cluster } = t;
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.urls).toEqual(cluster.nodes.map((n) => n.url));
    expect(new Set(cluster.urls).size).toBe(3);
    for (const [i, node] of cluster.nodes.entries()) {
      expect(node.name).toBe(`${cluster.name}-${i + 1}`);
      expect(node.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      expect(node.url).not.toContain(':4222');
      expect(node.state).toBe('running');
      expect(alive(node.pid)).toBe(true);
      expect(existsSync(node.storeDir)).toBe(true);
    }
    expect(versionAtLeast(cluster.version, '2.9.0')).toBe(true);
    const leader = await cluster.metaLeader();
    expect(cluster.nodes.map((n) => n.name)).toContain(leader);
  });

  test('a stream with num_replicas 3 is created on all nodes and takes writes', async () => {
    const jsm = await jetstreamManager(t.nc);
    const stream = await addR3Stream(jsm);
    const js = jetstream(t.nc);
    for (const n of [1, 2, 3]) await publishOnce(js, `${stream}.m`, `m${n}`);
    const info = await check(
      async () => {
        const i = await jsm.streams.info(stream);
        return currentCopies(i) === 3 && i;
      },
      10_000,
      { name: 'three current copies' },
    );
    expect(info.config.num_replicas).toBe(3);
    expect(info.state.messages).toBe(3);
    expect(info.cluster?.name).toBe(t.cluster.name);
  });
});

describe('startLocalCluster (own clusters)', { timeout: 90_000 }, () => {
  test('a SIGKILLed node: writes go on through the others; after restart it rejoins and catches up', async () => {
    await using t = await setupCluster();
    const { cluster, nc } = t;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const stream = await addR3Stream(jsm);
    await publishOnce(js, `${stream}.m`, 'before');

    // Kill the stream's leader: the worst case, the survivors must elect a new one.
    const leaderName = (await jsm.streams.info(stream)).cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === leaderName) ?? cluster.nodes[0];
    if (victim === undefined) throw new Error('no node');
    const { url, storeDir, pid: oldPid } = victim;
    await victim.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(victim.state).toBe('exited');
    expect(alive(oldPid)).toBe(false);

    for (const n of [1, 2, 3]) {
      await check(() => publishOnce(js, `${stream}.m`, `during-${n}`), 30_000, { name: `write ${n} with one node down` });
    }
    const during = await check(() => jsm.streams.info(stream), 10_000, { name: 'stream info with one node down' });
    expect(during.state.messages).toBe(4);
    expect(during.cluster?.leader).not.toBe(victim.name);

    await victim.restart();
    expect(victim.state).toBe('running');
    expect(victim.url).toBe(url);
    expect(victim.storeDir).toBe(storeDir);
    expect(victim.pid).not.toBe(oldPid);
    const after = await check(
      async () => {
        const i = await jsm.streams.info(stream);
        return currentCopies(i) === 3 && i;
      },
      30_000,
      { name: `${victim.name} current again` },
    );
    expect(after.state.messages).toBe(4);
    const names = [after.cluster?.leader, ...(after.cluster?.replicas ?? []).map((r) => r.name)];
    expect(names).toContain(victim.name);
  });

  test('stop() leaves no process behind and removes its temp dirs; idempotent', async () => {
    const cluster = await startLocalCluster({ size: 3 });
    const pids = cluster.nodes.map((n) => n.pid);
    const stores = cluster.nodes.map((n) => n.storeDir);
    const root = path.dirname(stores[0] as string);
    expect(pids.every(alive)).toBe(true);
    await cluster.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(stores.filter((d) => existsSync(d))).toEqual([]);
    expect(existsSync(root)).toBe(false);
    expect(cluster.nodes.map((n) => n.state)).toEqual(['stopped', 'stopped', 'stopped']);
    await cluster.stop();
  });

  test('a given storeRoot and name are used and the stores are kept', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'robotrace-cluster-test-'));
    try {
      const name = uniqueName('rt').replace(/_/g, '-');
      const cluster = await startLocalCluster({ size: 3, name, storeRoot: root });
      expect(cluster.name).toBe(name);
      expect(cluster.nodes.map((n) => n.storeDir)).toEqual([1, 2, 3].map((i) => path.join(root, `${name}-${i}`)));
      await cluster.stop();
      expect(existsSync(path.join(root, `${name}-1`, 'jetstream'))).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('bad options are rejected before anything starts', async () => {
    await expect(startLocalCluster({ size: 0 })).rejects.toThrow(/size must be/);
    await expect(startLocalCluster({ name: 'has space' })).rejects.toThrow(/name must match/);
  });

  test('missing binary gives NatsServerMissingError', async () => {
    vi.stubEnv('NATS_SERVER_BIN', '/nonexistent');
    try {
      const err: unknown = await startLocalCluster().catch((e: unknown) => e);
      expect(NatsServerMissingError.is(err)).toBe(true);
      expect((err as NatsServerMissingError).code).toBe(LocalNatsErrorCode.Missing);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
