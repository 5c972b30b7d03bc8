import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { findNatsServer } from '../../localnats/index.js';

const run = promisify(execFile);
const DEPLOY = fileURLToPath(new URL('..', import.meta.url));

async function filesUnder(dir: string, ext: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(ext) && !path.join(e.parentPath, e.name).includes(`${path.sep}test${path.sep}`))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const read = (rel: string) => readFile(path.join(DEPLOY, rel), 'utf8');

/** `nats-server -t`: parses the file as the server would, without starting it. */
async function natsConfigTest(file: string, env: Record<string, string> = {}): Promise<void> {
  const bin = await findNatsServer();
  const { stdout, stderr } = await run(bin, ['-t', '-c', file], { env: { ...process.env, ...env } });
  expect(`${stdout}${stderr}`).toMatch(/is valid/);
}

/** What a robotrace NATS config must say to be one node of the 3-node JetStream cluster. */
function clusterFacts(conf: string) {
  return {
    serverName: /^server_name:\s*"?([^"\s]+)"?/m.exec(conf)?.[1],
    clusterName: /cluster\s*\{[^}]*?name:\s*"?([\w-]+)"?/s.exec(conf)?.[1],
    routes: [...conf.matchAll(/"nats-route:\/\/([^:"]+):6222"/g)].map((m) => m[1]),
    jetstream: /^\s*jetstream\s*\{/m.test(conf),
  };
}

interface ComposeService {
  image?: string;
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

describe('deploy/ files', () => {
  test('every YAML file parses', async () => {
    const files = [...(await filesUnder(DEPLOY, '.yml')), ...(await filesUnder(DEPLOY, '.yaml'))];
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const docs = parseAllDocuments(await readFile(file, 'utf8'));
      const list = Array.isArray(docs) ? docs : [docs];
      for (const doc of list) expect(doc.errors.map((e) => `${path.basename(file)}: ${e.message}`)).toEqual([]);
    }
  });

  test('every NATS config passes nats-server -t and names the cluster the same way', async () => {
    const confs = await filesUnder(path.join(DEPLOY, 'nats'), '.conf');
    expect(confs.map((f) => path.relative(DEPLOY, f))).toEqual(
      expect.arrayContaining(['nats/single-node.conf', 'nats/cluster/nats-1.conf', 'nats/cluster/nats-2.conf', 'nats/cluster/nats-3.conf']),
    );
    for (const file of confs) await natsConfigTest(file);

    const nodes = await Promise.all([1, 2, 3].map(async (i) => clusterFacts(await read(`nats/cluster/nats-${i}.conf`))));
    expect(nodes.map((n) => n.serverName)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    for (const node of nodes) {
      expect(node.clusterName).toBe('robotrace');
      expect(node.jetstream).toBe(true);
      expect(node.routes).toEqual(['nats-1', 'nats-2', 'nats-3']);
    }
  });

  test('compose: 3 NATS services in one JetStream cluster, engines with NATS_URL naming all three', async () => {
    const compose = parseYaml(await read('docker/docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
    const services = Object.entries(compose.services);
    const nats = services.filter(([, s]) => s.image?.startsWith('nats:') === true);
    expect(nats.map(([name]) => name).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const clusterNames = new Set<string | undefined>();
    for (const [name, s] of nats) {
      const mount = (s.volumes ?? []).find((v) => v.endsWith(':/etc/nats/nats.conf:ro'));
      expect(mount, `${name} mounts a config`).toBeDefined();
      expect(s.command).toEqual(['--config', '/etc/nats/nats.conf']);
      const conf = await readFile(path.resolve(DEPLOY, 'docker', (mount as string).split(':')[0] as string), 'utf8');
      const facts = clusterFacts(conf);
      expect(facts.serverName).toBe(name);
      expect(facts.jetstream).toBe(true);
      expect(facts.routes.sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
      clusterNames.add(facts.clusterName);
      expect((s.volumes ?? []).some((v) => v.endsWith(':/var/lib/nats'))).toBe(true);
    }
    expect(clusterNames.size).toBe(1);

    const engines = services.filter(([, s]) => s.command?.[0] === 'engine');
    expect(engines.length).toBeGreaterThanOrEqual(2);
    const shards = new Set<string | undefined>();
    const ids = new Set<string | undefined>();
    for (const [name, s] of engines) {
      const urls = (s.environment?.['NATS_URL'] ?? '').split(',');
      expect(urls, `${name} NATS_URL`).toEqual(['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
      const flag = (f: string) => s.command?.[(s.command?.indexOf(f) ?? -2) + 1];
      expect(flag('--replicas')).toBe('3');
      shards.add(flag('--shards'));
      ids.add(flag('--id'));
    }
    // Every engine of one deployment must use the same --shards, and its own --id.
    expect(shards.size).toBe(1);
    expect(ids.size).toBe(engines.length);
  });

  test('Dockerfile: node:20-slim, npm ci, build, ENTRYPOINT the CLI', async () => {
    const dockerfile = await read('docker/Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:20-slim/m);
    expect(dockerfile).toMatch(/^RUN npm ci/m);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", ?"dist\/cli\/robotrace\.js"\]$/m);
  });

  test('k8s: NATS StatefulSet of 3 with PVCs, engine Deployment of >= 2, PDBs, valid NATS config', async () => {
    const objects: K8sObject[] = [];
    for (const file of await filesUnder(path.join(DEPLOY, 'k8s'), '.yaml')) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        const obj = doc.toJS() as K8sObject | null;
        if (obj !== null && typeof obj.kind === 'string' && obj.kind !== 'Kustomization') objects.push(obj);
      }
    }
    const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
    expect(find('Namespace', 'robotrace')).toBeDefined();
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('robotrace');

    const sts = find('StatefulSet', 'nats')?.spec as { replicas: number; serviceName: string; volumeClaimTemplates: { metadata: { name: string } }[] };
    expect(sts.replicas).toBe(3);
    expect(sts.volumeClaimTemplates.map((v) => v.metadata.name)).toContain('data');
    expect((find('Service', sts.serviceName)?.spec as { clusterIP: string }).clusterIP).toBe('None');

    const engine = find('Deployment', 'robotrace-engine')?.spec as { replicas: number };
    expect(engine.replicas).toBeGreaterThanOrEqual(2);
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name).sort()).toEqual(['nats', 'robotrace-engine']);

    const engineEnv = find('ConfigMap', 'robotrace-engine')?.data ?? {};
    expect(engineEnv['NATS_URL']?.split(',')).toHaveLength(3);
    expect(engineEnv['ROBOTRACE_SHARDS']).toMatch(/^\d+$/);

    const natsConf = find('ConfigMap', 'nats-config')?.data?.['nats.conf'];
    expect(natsConf).toBeDefined();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'robotrace-deploy-test-'));
    try {
      const file = path.join(dir, 'nats.conf');
      await writeFile(file, natsConf as string);
      await natsConfigTest(file, { POD_NAME: 'nats-0' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('systemd units have [Unit], [Service] with ExecStart, and [Install]; engines restart always', async () => {
    const units = await filesUnder(path.join(DEPLOY, 'systemd'), '.service');
    expect(units.map((f) => path.basename(f)).sort()).toEqual(['nats-server@.service', 'robotrace-engine@.service']);
    for (const file of units) {
      const text = await readFile(file, 'utf8');
      const sections = [...text.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]);
      expect(sections, path.basename(file)).toEqual(['Unit', 'Service', 'Install']);
      const service = text.slice(text.indexOf('[Service]'), text.indexOf('[Install]'));
      expect(service).toMatch(/^ExecStart=\/\S+/m);
      expect(service).toMatch(/^Restart=always$/m);
      expect(service).toMatch(/^NoNewPrivileges=yes$/m);
    }
  });
});
