import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { startLocalNats, type LocalNats, type LocalNatsOptions } from '../../localnats/index.js';

/** A running server and one client connected to it; `await using` tears both down. */
export interface NatsFixture extends AsyncDisposable {
  ns: LocalNats;
  nc: NatsConnection;
}

/** Options of {@link setup}. */
export interface SetupOptions extends LocalNatsOptions {
  /** Extra client options (merged over the test defaults: fast, unlimited reconnects). */
  connect?: Partial<NodeConnectionOptions>;
}

/**
 * Starts a real nats-server (random port, temp JetStream store) and connects a client.
 * The client reconnects quickly and forever, so it survives `ns.kill()` + `ns.restart()`.
 *
 * @example
 * ```ts
 * await using t = await setup();
 * const jsm = await jetstreamManager(t.nc);
 * ```
 */
/**
 * Servers started by this file's tests. A test that times out never reaches its `await using`
 * disposal; `test/harness/cleanup.ts` stops whatever is left after each file.
 */
export const startedServers = new Set<LocalNats>();

export async function setup(options: SetupOptions = {}): Promise<NatsFixture> {
  const { connect: connectOptions, ...serverOptions } = options;
  const ns = await startLocalNats(serverOptions);
  startedServers.add(ns);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: ns.url,
      name: 'robotrace-test',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      ...connectOptions,
    });
  } catch (err) {
    await ns.stop();
    throw err;
  }
  return {
    ns,
    nc,
    async [Symbol.asyncDispose]() {
      try {
        if (!nc.isClosed()) await nc.close();
      } finally {
        await ns.stop();
        startedServers.delete(ns);
      }
    },
  };
}

/**
 * Resolves on the client's next `reconnect` status. Call it *before* `ns.kill()`/`ns.restart()`, and await it
 * before issuing requests: a request sent while the client is still disconnected can be lost and only
 * fail after its own timeout.
 *
 * @example
 * ```ts
 * const back = reconnected(t.nc);
 * await t.ns.kill();
 * await t.ns.restart();
 * await back;
 * ```
 */
export async function reconnected(nc: NatsConnection, timeoutMs = 10_000): Promise<void> {
  const statuses = nc.status()[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs}ms waiting for the client to reconnect`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const next = await Promise.race([statuses.next(), timedOut]);
      if (next.done === true) throw new Error('connection closed while waiting for it to reconnect');
      if (next.value.type === 'reconnect') return;
    }
  } finally {
    clearTimeout(timer);
    // Detached on purpose: ending the iterator must not block on a pending next().
    statuses.return?.().catch(() => {});
  }
}
