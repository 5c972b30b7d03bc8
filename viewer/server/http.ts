import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ErrorCode, ProtocolError } from '../../protocol/index.js';
import type { ApiErrorBody } from '../shared/api.js';
import { ViewerError, ViewerErrorCode } from './errors.js';

export const SESSION_COOKIE = 'robotrace_session';
const MAX_BODY_BYTES = 128 * 1024;

/** Headers on every response: no framing, no sniffing, no referrer, only our own scripts. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** HTTP status for a protocol error coming back from the engine or from local validation. */
function protocolStatus(code: string): number {
  switch (code) {
    case ErrorCode.Unavailable:
    case ErrorCode.Internal:
      return 503;
    case ErrorCode.UnknownTraceback:
    case ErrorCode.UnknownHop:
      return 404;
    case ErrorCode.TracebackClosed:
    case ErrorCode.HopClosed:
      return 409;
    default:
      return 400;
  }
}

/** A NATS request nobody answered (engine not running), timed out, or a connection that is gone. */
function isUnavailable(err: unknown): boolean {
  return (
    err instanceof RequestError ||
    err instanceof TimeoutError ||
    err instanceof NoRespondersError ||
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof ConnectionError ||
    (err instanceof Error && err.cause !== undefined && err.cause !== err && isUnavailable(err.cause))
  );
}

/** Turns anything thrown by a handler into a JSON error `{ error: { code, message, path? } }`. */
export function errorBody(err: unknown): { status: number; body: ApiErrorBody } {
  if (ViewerError.is(err)) {
    const error: ApiErrorBody['error'] = { code: err.code, message: err.message };
    if (err.path !== undefined) error.path = err.path;
    return { status: err.status, body: { error } };
  }
  if (ProtocolError.is(err)) {
    const error: ApiErrorBody['error'] = { code: err.code, message: err.message };
    if (err.path !== undefined) error.path = err.path;
    return { status: protocolStatus(err.code), body: { error } };
  }
  const message = err instanceof Error ? err.message : String(err);
  if (isUnavailable(err)) {
    return { status: 503, body: { error: { code: ViewerErrorCode.Unavailable, message: `NATS or the engine did not answer: ${message}` } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message } } };
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = errorBody(err);
  sendJson(res, status, body);
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name) {
      try {
        cookies.set(name, decodeURIComponent(value));
      } catch {
        // A cookie we did not set; ignore it.
      }
    }
  }
  return cookies;
}

export function sessionCookie(token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ViewerError(ViewerErrorCode.BadRequest, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a JSON object body. Requires `Content-Type: application/json`, which a cross-site
 * form cannot send, on top of the SameSite=Strict session cookie.
 */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/json')) {
    throw new ViewerError(ViewerErrorCode.BadRequest, 'send the body as application/json');
  }
  const text = await readBody(req);
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ViewerError(ViewerErrorCode.BadRequest, 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ViewerError(ViewerErrorCode.BadRequest, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export function redirect(res: ServerResponse, location: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, 'cache-control': 'no-store', ...extra });
  res.end();
}

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
