import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EnforcementErrorCode, parseFilter, trailConsumerName, trailSubject } from '../index.js';

describe('trail filters', () => {
  it.each([
    [undefined, 'tb.trail.>'],
    ['>', 'tb.trail.>'],
    ['tb.trail.>', 'tb.trail.>'],
    ['*.*.*.*', 'tb.trail.>'],
    ['origin_found.>', 'tb.trail.origin_found.>'],
    ['origin_found.*.*.*', 'tb.trail.origin_found.>'],
    ['tb.trail.origin_found.*.*.*', 'tb.trail.origin_found.>'],
    ['*.SSA-CalltheSSA.>', 'tb.trail.*.SSA-CalltheSSA.>'],
    ['*.*.acme-voice.*', 'tb.trail.*.*.acme-voice.>'],
    ['*.*.*.tb-0m9x8kqz1abcdefghijk', 'tb.trail.*.*.*.tb-0m9x8kqz1abcdefghijk'],
    [{}, 'tb.trail.>'],
    [{ outcome: 'noncooperative' as const }, 'tb.trail.noncooperative.>'],
    [{ campaign: 'Amazon Impers P2' }, 'tb.trail.*.Amazon_Impers_P2.>'],
    [{ provider: 'acme-voice' }, 'tb.trail.*.*.acme-voice.>'],
    [{ outcome: 'foreign_entry' as const, campaign: 'X', provider: 'gw-1' }, 'tb.trail.foreign_entry.X.gw-1.>'],
  ])('%j → %s', (filter, subject) => {
    expect(trailSubject(filter)).toBe(subject);
  });

  it.each(['', 'origin_found', 'origin_found.x', 'bogus.>', '>.x', 'a.b.c.d.e', 'origin_found.a b.>', 'origin_found..>'])('refuses %j', (filter) => {
    expect(() => trailSubject(filter)).toThrow(expect.objectContaining({ code: EnforcementErrorCode.BadFilter }) as Error);
  });

  it('refuses a bad provider or outcome in a field filter', () => {
    expect(() => trailSubject({ provider: 'a.b' })).toThrow(/bad provider/);
    expect(() => trailSubject({ outcome: 'nope' as never })).toThrow(/unknown outcome/);
  });

  it('names the durable consumer enf_<agency>_<12 hex of sha256(subject)>, equal for equal filters', () => {
    const h = createHash('sha256').update('tb.trail.origin_found.>').digest('hex').slice(0, 12);
    expect(trailConsumerName('NC-AGO', { outcome: 'origin_found' })).toBe(`enf_NC-AGO_${h}`);
    expect(trailConsumerName('NC-AGO', 'origin_found.*.*.*')).toBe(`enf_NC-AGO_${h}`);
    expect(trailConsumerName('NC-AGO')).not.toBe(trailConsumerName('NC-AGO', { outcome: 'origin_found' }));
    expect(trailConsumerName('FTC')).not.toBe(trailConsumerName('NC-AGO'));
    for (const agency of ['', 'a.b', 'has space', 'x'.repeat(33), 'a>']) {
      expect(() => trailConsumerName(agency)).toThrow(expect.objectContaining({ code: EnforcementErrorCode.BadAgency }) as Error);
    }
  });

  it('parses command-line filters', () => {
    expect(parseFilter('origin_found.>')).toBe('origin_found.>');
    expect(parseFilter('outcome=origin_found,campaign=SSA-CalltheSSA')).toEqual({ outcome: 'origin_found', campaign: 'SSA-CalltheSSA' });
    expect(parseFilter('provider=acme-voice')).toEqual({ provider: 'acme-voice' });
    expect(() => parseFilter('outcome=won')).toThrow(/unknown outcome/);
    expect(() => parseFilter('color=red')).toThrow(/unknown filter field/);
    expect(() => parseFilter('provider=')).toThrow(/not name=value/);
  });
});
