import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NatsClusterStartError, NatsServerStartError } from './errors.js';
import { ensureNatsServer, findNatsServer } from './find.js';
import { fetchMetaCluster, type MetaCluster } from './monitor.js';
import { reservePorts } from './ports.js';
import { installExitHook, LocalNatsImpl } from './server.js';
import type {
  LocalCluster,
  LocalClusterNode,
  LocalClusterOptions,
  LocalNatsExit,
  LocalNatsLogger,
  LocalNatsState,
} from './types.js';

const HOST = '127.0.0.1';
const POLL_MS = 50;
const MONITOR_TIMEOUT_MS = 1_000;
/** Fresh ports are tried this many times when another process took one between reserving and binding. */
const PORT_ATTEMPTS = 3;
const MAX_SIZE = 9;
/** Cluster and server names end up in config files and JetStream peer names: keep them plain. */
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

interface CompiledClusterOptions {
  size: number;
  name: string;
  storeRoot: string | undefined;
  logger: LocalNatsLogger | undefined;
  install: boolean;
  startTimeoutMs: number;
}

function compileClusterOptions(options: LocalClusterOptions): CompiledClusterOptions {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE) {
    throw new Error(`startLocalCluster: size must be an integer in 1..${MAX_SIZE}, got ${size}`);
  }
  const name = options.name ?? `robotrace-local-${randomBytes(4).toString('hex')}`;
  if (!NAME_PATTERN.test(name)) throw new Error(`startLocalCluster: name must match ${NAME_PATTERN}, got ${JSON.stringify(name)}`);
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!(startTimeoutMs > 0)) throw new Error(`startLocalCluster: startTimeoutMs must be positive, got ${startTimeoutMs}`);
  return {
    size,
    name,
    storeRoot: options.storeRoot === undefined ? undefined : path.resolve(options.storeRoot),
    logger: options.logger,
    install: options.install ?? false,
    startTimeoutMs,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Temp store roots not yet removed; a last-resort 'exit' hook removes them (the nodes are killed by server.ts's hook). */
const tempRoots = new Set<string>();
let rootHookInstalled = false;

function trackTempRoot(root: string): void {
  tempRoots.add(root);
  if (rootHookInstalled) return;
  rootHookInstalled = true;
  process.on('exit', () => {
    for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
  });
}

interface NodePorts {
  client: number;
  route: number;
  monitor: number;
}

class ClusterNodeImpl implements LocalClusterNode {
  readonly name: string;
  readonly server: LocalNatsImpl;
  readonly ports: NodePorts;
  readonly #cluster: LocalClusterImpl;

  constructor(name: string, server: LocalNatsImpl, ports: NodePorts, cluster: LocalClusterImpl) {
    this.name = name;
    this.server = server;
    this.ports = ports;
    this.#cluster = cluster;
  }

  get url(): string {
    return `nats://${HOST}:${this.ports.client}`;
  }
  get routeUrl(): string {
    return `nats-route://${HOST}:${this.ports.route}`;
  }
  get monitorUrl(): string {
    return `http://${HOST}:${this.ports.monitor}`;
  }
  get pid(): number {
    return this.server.pid;
  }
  get storeDir(): string {
    return this.server.storeDir;
  }
  get state(): LocalNatsState {
    return this.server.state;
  }
  get exited(): Promise<LocalNatsExit> {
    return this.server.exited;
  }

  kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    return this.server.kill(signal);
  }

  async restart(): Promise<void> {
    await this.server.restart();
    await this.#cluster.waitFormed();
  }
}

class LocalClusterImpl implements LocalCluster {
  readonly name: string;
  readonly nodes: ClusterNodeImpl[] = [];
  readonly #o: CompiledClusterOptions;
  readonly #root: string;
  readonly #ownsRoot: boolean;
  #stopping: Promise<void> | undefined;

  constructor(o: CompiledClusterOptions, root: string, ownsRoot: boolean) {
    this.#o = o;
    this.name = o.name;
    this.#root = root;
    this.#ownsRoot = ownsRoot;
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }
  get version(): string {
    return this.nodes.find((n) => n.server.version !== '')?.server.version ?? '';
  }

  /** Each running node's view of the meta group; a node whose monitor does not answer maps to its error text. */
  async #views(): Promise<Map<ClusterNodeImpl, MetaCluster | string>> {
    const running = this.nodes.filter((n) => n.state === 'running');
    const views = await Promise.all(
      running.map((n) => fetchMetaCluster(n.monitorUrl, MONITOR_TIMEOUT_MS).catch((err: unknown) => errorText(err))),
    );
    return new Map(running.map((n, i) => [n, views[i] as MetaCluster | string]));
  }

  async metaLeader(): Promise<string | undefined> {
    // A follower keeps naming a dead leader for seconds; only a node that calls itself leader counts.
    for (const [node, view] of await this.#views()) {
      if (typeof view !== 'string' && view.leader === node.name) return node.name;
    }
    return undefined;
  }

  /** Why the cluster is not formed yet, or `undefined` when it is. */
  async #notFormed(): Promise<string | undefined> {
    const views = await this.#views();
    if (views.size === 0) return 'no node is running';
    for (const [node, view] of views) if (typeof view === 'string') return `${node.name} monitor: ${view}`;
    const leaders = [...views].filter(([node, view]) => (view as MetaCluster).leader === node.name).map(([node]) => node);
    const leader = leaders[0];
    if (leader === undefined) return 'no meta leader elected';
    if (leaders.length > 1) return `several nodes claim leadership: ${leaders.map((n) => n.name).join(', ')}`;
    for (const [node, view] of views) {
      if ((view as MetaCluster).leader !== leader.name) {
        return `${node.name} sees leader ${JSON.stringify((view as MetaCluster).leader ?? '')}, not ${leader.name}`;
      }
    }
    const replicas = (views.get(leader) as MetaCluster).replicas ?? [];
    for (const node of views.keys()) {
      if (node === leader) continue;
      const peer = replicas.find((r) => r.name === node.name);
      if (peer === undefined || !peer.current || peer.offline === true) return `leader ${leader.name} does not list ${node.name} as current`;
    }
    return undefined;
  }

  async waitFormed(timeoutMs = this.#o.startTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reason = await this.#notFormed();
      if (reason === undefined) return;
      if (Date.now() > deadline) {
        throw new NatsClusterStartError(`cluster ${this.name} not formed after ${timeoutMs}ms: ${reason}`);
      }
      await delay(POLL_MS);
    }
  }

  /** Starts every node at once (a lone node cannot elect a meta leader) and waits until the cluster formed. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((n) => n.server.start(n.ports.client)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed !== -1) {
      const node = this.nodes[failed] as ClusterNodeImpl;
      const cause = (results[failed] as PromiseRejectedResult).reason as unknown;
      throw new NatsClusterStartError(`cluster node ${node.name} failed to start: ${errorText(cause)}`, { node: node.name, cause });
    }
    await this.waitFormed();
    this.#o.logger?.info({ cluster: this.name, urls: this.urls, version: this.version }, 'nats cluster formed');
  }

  /** Stops the node processes and their run dirs; keeps the store root (a retry reuses it). */
  async stopNodes(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.stop().catch(() => undefined)));
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.stopNodes();
      if (this.#ownsRoot) {
        await rm(this.#root, { recursive: true, force: true });
        tempRoots.delete(this.#root);
      }
      this.#o.logger?.info({ cluster: this.name }, 'nats cluster stopped');
    })();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function buildCluster(o: CompiledClusterOptions, bin: string, root: string, ownsRoot: boolean): Promise<LocalClusterImpl> {
  const cluster = new LocalClusterImpl(o, root, ownsRoot);
  const flat = await reservePorts(HOST, o.size * 3);
  const ports: NodePorts[] = Array.from({ length: o.size }, (_, i) => ({
    client: flat[i * 3] as number,
    route: flat[i * 3 + 1] as number,
    monitor: flat[i * 3 + 2] as number,
  }));
  // Every node lists every route, itself included (the server skips its own), so any two nodes that are
  // up find each other, whichever was restarted.
  const routes = ports.map((p) => `nats-route://${HOST}:${p.route}`);
  for (const [i, p] of ports.entries()) {
    const name = `${o.name}-${i + 1}`;
    const storeDir = path.join(root, name);
    await mkdir(storeDir, { recursive: true });
    const server = new LocalNatsImpl({
      bin,
      host: HOST,
      storeDir,
      // The cluster owns the stores (it removes the root), so a node's stop() leaves its store alone.
      ownsStore: false,
      keepStore: true,
      runDir: await mkdtemp(path.join(os.tmpdir(), 'robotrace-nats-run-')),
      jetstream: true,
      debug: false,
      logger: o.logger,
      startTimeoutMs: o.startTimeoutMs,
      serverName: name,
      httpPort: p.monitor,
      cluster: { name: o.name, port: p.route, routes },
    });
    cluster.nodes.push(new ClusterNodeImpl(name, server, p, cluster));
  }
  return cluster;
}

/**
 * Starts `size` local nats-servers with JetStream as one cluster on loopback (random free client, route
 * and monitoring ports, one store directory each) and resolves once JetStream has a meta leader that
 * lists every node as current, so streams with `num_replicas: size` can be created right away.
 *
 * @throws NatsServerMissingError when the binary is missing (see `install`).
 * @throws NatsClusterStartError when a node fails to start or the cluster does not form in time.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const o = compileClusterOptions(options);
  const bin = o.install ? await ensureNatsServer({ install: true, logger: o.logger }) : await findNatsServer();
  installExitHook();
  const ownsRoot = o.storeRoot === undefined;
  const root = o.storeRoot ?? (await mkdtemp(path.join(os.tmpdir(), 'robotrace-cluster-')));
  if (ownsRoot) trackTempRoot(root);
  else await mkdir(root, { recursive: true });

  for (let attempt = 1; ; attempt++) {
    const cluster = await buildCluster(o, bin, root, ownsRoot);
    try {
      await cluster.start();
      return cluster;
    } catch (err) {
      await cluster.stopNodes();
      const portTaken = NatsClusterStartError.is(err) && NatsServerStartError.is(err.cause) && err.cause.addressInUse;
      if (portTaken && attempt < PORT_ATTEMPTS) {
        o.logger?.debug({ cluster: o.name, attempt }, 'a reserved port was taken; retrying with fresh ports');
        // Our own fresh stores may hold a half-formed meta group; start the retry clean.
        if (ownsRoot) for (const node of cluster.nodes) await rm(node.storeDir, { recursive: true, force: true });
        continue;
      }
      await cluster.stop();
      throw err;
    }
  }
}
