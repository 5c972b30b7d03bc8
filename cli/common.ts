import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Option } from 'commander';
import { pino, type Logger } from 'pino';
import { ProtocolError } from '../protocol/index.js';
import { EngineError } from '../engine/index.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** `--nats URL`, shared by every command. */
export function natsOption(): Option {
  return new Option('--nats <url>', 'NATS server URL (several servers of one cluster: comma-separated)').env('NATS_URL').default(DEFAULT_NATS_URL);
}

/**
 * `--nats` / `NATS_URL` may list several servers of one cluster, comma-separated; the client needs them
 * as an array (nats.js does not split a string), so it can fail over between them.
 */
export function parseServers(value: string | readonly string[]): string[] {
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(','));
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

export async function connectTo(url: string | readonly string[], name: string): Promise<NatsConnection> {
  const servers = parseServers(url);
  try {
    return await connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 });
  } catch (cause) {
    throw new CliError(`cannot connect to NATS at ${servers.join(',')}: ${(cause as Error).message} (start one with \`robotrace nats\`)`);
  }
}

/** Logs go to stderr so stdout stays clean for tables and JSON. */
export function cliLogger(name: string, level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}

/** An error meant for the person at the terminal: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
  readonly code = 'CLI_ERROR';
}

export function describeError(err: unknown): string {
  if (ProtocolError.is(err)) return `${err.code}: ${err.message}`;
  if (err instanceof EngineError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseFractions(value: string): number[] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.some((n) => !Number.isFinite(n) || n <= 0 || n >= 1)) {
    throw new CliError(`--reminders takes fractions in (0,1) separated by commas, e.g. 0.5,0.9; got ${JSON.stringify(value)}`);
  }
  return parts;
}

/** Resolves on SIGINT/SIGTERM so foreground commands can shut down cleanly. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
