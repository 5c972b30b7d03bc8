/**
 * Starts and stops a local `nats-server` child process (JetStream on, loopback only), or a local
 * JetStream cluster of several. Used by the product CLI to run without a deployed broker, and by the
 * tests as their real broker.
 */
export { startLocalNats } from './src/server.js';
export { startLocalCluster } from './src/cluster.js';
export { findNatsServer, ensureNatsServer } from './src/find.js';
export { MIN_NATS_SERVER_VERSION, versionAtLeast } from './src/version.js';
export {
  LocalNatsErrorCode,
  NatsClusterStartError,
  NatsServerMissingError,
  NatsServerStartError,
  NatsServerVersionError,
} from './src/errors.js';
export type {
  LocalCluster,
  LocalClusterNode,
  LocalClusterOptions,
  LocalNats,
  LocalNatsExit,
  LocalNatsLogger,
  LocalNatsOptions,
  LocalNatsState,
  EnsureNatsServerOptions,
} from './src/types.js';
