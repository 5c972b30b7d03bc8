import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../localnats/index.js';

/**
 * Clusters started by this file's tests. A test that times out never reaches its `await using`
 * disposal; `test/harness/cleanup.ts` stops whatever is left after each file.
 */
export const startedClusters = new Set<LocalCluster>();

/** A running local cluster and one client connected to all of its nodes; `await using` tears both down. */
export interface ClusterFixture extends AsyncDisposable {
  cluster: LocalCluster;
  nc: NatsConnection;
}

/** Options of {@link setupCluster}. */
export interface SetupClusterOptions extends LocalClusterOptions {
  /** Extra client options (merged over the test defaults: every node's URL, fast, unlimited reconnects). */
  connect?: Partial<NodeConnectionOptions>;
}

/**
 * Starts a local JetStream cluster (3 nodes by default, random ports, temp stores) and connects a client
 * that knows every node, so it fails over when one is killed.
 *
 * @example
 * ```ts
 * await using t = await setupCluster();
 * await t.cluster.nodes[0].kill();
 * ```
 */
export async function setupCluster(options: SetupClusterOptions = {}): Promise<ClusterFixture> {
  const { connect: connectOptions, ...clusterOptions } = options;
  const cluster = await startLocalCluster(clusterOptions);
  startedClusters.add(cluster);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: cluster.urls,
      name: 'robotrace-test',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      ...connectOptions,
    });
  } catch (err) {
    await cluster.stop();
    startedClusters.delete(cluster);
    throw err;
  }
  return {
    cluster,
    nc,
    async [Symbol.asyncDispose]() {
      try {
        if (!nc.isClosed()) await nc.close();
      } finally {
        await cluster.stop();
        startedClusters.delete(cluster);
      }
    },
  };
}
