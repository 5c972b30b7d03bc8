import { afterAll } from 'vitest';
import { runningEngines } from './engine-process.js';
import { startedServers } from './nats-server.js';

// Runs after every test file: stop servers whose test timed out before disposing them.
afterAll(async () => {
  for (const child of runningEngines) child.kill('SIGKILL');
  runningEngines.clear();
  await Promise.all([...startedServers].map((ns) => ns.stop().catch(() => undefined)));
  startedServers.clear();
});
