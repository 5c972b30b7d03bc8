import { afterAll } from 'vitest';
import { runningEngines } from './engine-process.js';
import { startedClusters } from './nats-cluster.js';
import { startedServers } from './nats-server.js';

// Runs after every test file: stop servers and clusters whose test timed out before disposing them.
afterAll(async () => {
  for (const child of runningEngines) child.kill('SIGKILL');
  runningEngines.clear();
  await Promise.all([
    ...[...startedServers].map((ns) => ns.stop().catch(() => undefined)),
    ...[...startedClusters].map((cluster) => cluster.stop().catch(() => undefined)),
  ]);
  startedServers.clear();
  startedClusters.clear();
});
