import { describe, expect, it } from 'vitest';
import { ErrorCode, ProtocolError, decodeProtocolError, encodeMessage, errorMessage, isErrorCode } from '../index.js';
import { TB, hop } from './samples.js';

describe('ProtocolError', () => {
  it('carries name, code, path and cause', () => {
    const cause = new Error('root');
    const err = new ProtocolError(ErrorCode.InvalidField, 'answer.country must be …', { path: 'answer.country', cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ProtocolError');
    expect(err.code).toBe('INVALID_FIELD');
    expect(err.path).toBe('answer.country');
    expect(err.cause).toBe(cause);
  });

  it('is() recognises copies from another module instance by marker, not instanceof', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ProtocolError', code: 'HOP_CLOSED' });
    expect(ProtocolError.is(foreign)).toBe(true);
    expect(ProtocolError.is(Object.assign(new Error('x'), { name: 'ProtocolError', code: 'NOPE' }))).toBe(false);
    expect(ProtocolError.is(new Error('x'))).toBe(false);
    expect(ProtocolError.is({ name: 'ProtocolError', code: 'INTERNAL' })).toBe(false);
  });

  it('has the sixteen documented codes', () => {
    expect(Object.values(ErrorCode)).toStrictEqual([
      'MALFORMED',
      'UNSUPPORTED_VERSION',
      'TOO_LARGE',
      'UNKNOWN_KIND',
      'MISSING_FIELD',
      'INVALID_FIELD',
      'INVALID_NUMBER',
      'UNKNOWN_TRACEBACK',
      'UNKNOWN_HOP',
      'WRONG_PROVIDER',
      'HOP_CLOSED',
      'TRACEBACK_CLOSED',
      'UNKNOWN_PROVIDER',
      'FLAG_NOT_SET',
      'UNAVAILABLE',
      'INTERNAL',
    ]);
    for (const code of Object.values(ErrorCode)) expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode('malformed')).toBe(false);
    expect(isErrorCode(1)).toBe(false);
  });
});

describe('errorMessage', () => {
  it('turns a ProtocolError into its wire form, which round-trips', () => {
    const err = new ProtocolError(ErrorCode.WrongProvider, 'hop was asked of acme-voice', { path: 'provider' });
    const msg = errorMessage(err, { hopId: hop(2), tracebackId: TB });
    expect(msg).toStrictEqual({
      v: 1,
      kind: 'error',
      code: 'WRONG_PROVIDER',
      message: 'hop was asked of acme-voice',
      path: 'provider',
      hopId: hop(2),
      tracebackId: TB,
    });
    expect(decodeProtocolError(encodeMessage(msg))).toStrictEqual(msg);
  });

  it('hides unknown errors behind INTERNAL', () => {
    expect(errorMessage(new TypeError('secret stack detail'))).toStrictEqual({ v: 1, kind: 'error', code: 'INTERNAL', message: 'internal error' });
    expect(errorMessage('thrown string')).toStrictEqual({ v: 1, kind: 'error', code: 'INTERNAL', message: 'internal error' });
  });

  it('omits absent path and refs', () => {
    expect(errorMessage(new ProtocolError(ErrorCode.Malformed, 'empty message'))).toStrictEqual({
      v: 1,
      kind: 'error',
      code: 'MALFORMED',
      message: 'empty message',
    });
  });
});
