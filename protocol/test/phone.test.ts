import { describe, expect, it } from 'vitest';
import { ErrorCode, normalizeE164 } from '../index.js';
import { expectProtocolError } from './samples.js';

describe('normalizeE164', () => {
  it.each([
    ['+1 (215) 555-0121', '+12155550121'],
    ['+12155550121', '+12155550121'],
    ['+1.215.555.0121', '+12155550121'],
    ['+1-215-555-0121', '+12155550121'],
    ['  +1 215 555 0121  ', '+12155550121'],
    ['12155550121', '+12155550121'], // PASSporT `tn`: digits with country code, no +
    ['442079460958', '+442079460958'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+49 30 901820', '+4930901820'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeE164(input)).toBe(expected);
  });

  it.each([
    ['national format without country code', '(215) 555-0121'],
    ['national format with dashes', '215-555-0121'],
    ['ten bare digits that are a North American number', '2155550121'],
    ['ten bare digits that read as Luxembourg but are a North American number', '3525550121'],
    ['too short', '+1215555'],
    ['too short, bare', '1215555'],
    ['too long', '+12155550121999999'],
    ['letters (vanity number)', '+1 215 555 CALL'],
    ['letters after the number', '+12155550121abc'],
    ['text before the number', 'call +12155550121'],
    ['an extension', '+1 215 555 0121 ext. 5'],
    ['a tel URI', 'tel:+12155550121'],
    ['a phone-context parameter', '+12155550121;phone-context=example.com'],
    ['two plus signs', '++12155550121'],
    ['a plus alone', '+'],
    ['empty', ''],
    ['invalid area code 011', '+1 011 555 0121'],
    ['invalid area code 115', '+1 115 555 0121'],
    ['unassigned country code', '+2155550121'],
    ['full-width digits', '+１２１５５５５０１２１'],
  ])('rejects %s: %j', (_name, input) => {
    expectProtocolError(() => normalizeE164(input), ErrorCode.InvalidNumber, 'number');
  });

  it('reports the given path', () => {
    expectProtocolError(() => normalizeE164('215-555-0121', 'call.called'), ErrorCode.InvalidNumber, 'call.called');
  });

  it('keeps the cause of a parse failure', () => {
    const err = expectProtocolError(() => normalizeE164('+2155550121'), ErrorCode.InvalidNumber, 'number');
    expect(err.cause).toBeInstanceOf(Error);
  });
});
