import { ErrorCode, ProtocolError } from './errors.js';
import type { ProtocolErrorMessage } from './messages.js';
import { PROTOCOL_VERSION } from './version.js';

/** Builds the wire form of an error; unknown errors become `INTERNAL` without leaking internals. */
export function errorMessage(err: unknown, ref: { hopId?: string; tracebackId?: string } = {}): ProtocolErrorMessage {
  const msg: ProtocolErrorMessage = ProtocolError.is(err)
    ? { v: PROTOCOL_VERSION, kind: 'error', code: err.code, message: err.message }
    : { v: PROTOCOL_VERSION, kind: 'error', code: ErrorCode.Internal, message: 'internal error' };
  if (ProtocolError.is(err) && err.path !== undefined) msg.path = err.path;
  if (ref.hopId !== undefined) msg.hopId = ref.hopId;
  if (ref.tracebackId !== undefined) msg.tracebackId = ref.tracebackId;
  return msg;
}
