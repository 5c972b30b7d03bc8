import { ensureNatsServer } from '../../localnats/index.js';

/**
 * Runs once before any test file: every integration test needs a real nats-server, so
 * install the OS package now (as root on Debian/Ubuntu) rather than fail in each file.
 */
export default async function globalSetup(): Promise<void> {
  const bin = await ensureNatsServer({ install: true });
  process.env['NATS_SERVER_BIN'] ??= bin;
}
