/**
 * Starts and stops a local `nats-server` child process (JetStream on, loopback only). Used by the
 * product CLI to run without a deployed broker, and by the tests as their real broker.
 */
export { startLocalNats } from './src/server.js';
export { findNatsServer, ensureNatsServer } from './src/find.js';
export { MIN_NATS_SERVER_VERSION, versionAtLeast } from './src/version.js';
export {
  LocalNatsErrorCode,
  NatsServerMissingError,
  NatsServerStartError,
  NatsServerVersionError,
} from './src/errors.js';
export type {
  LocalNats,
  LocalNatsExit,
  LocalNatsLogger,
  LocalNatsOptions,
  LocalNatsState,
  EnsureNatsServerOptions,
} from './src/types.js';
