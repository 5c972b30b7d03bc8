import { describe, expect, it } from 'vitest';
import { campaignToken } from '../../protocol/index.js';
import { CAMPAIGNS, campaignSpec } from '../index.js';

describe('CAMPAIGNS', () => {
  it('holds 30-60 real transcripts under unique consortium-style names', () => {
    const transcripts = CAMPAIGNS.flatMap((c) => c.transcripts);
    expect(transcripts.length).toBeGreaterThanOrEqual(30);
    expect(transcripts.length).toBeLessThanOrEqual(60);
    expect(new Set(CAMPAIGNS.map((c) => c.name)).size).toBe(CAMPAIGNS.length);
    expect(new Set(transcripts.map((t) => t.source)).size).toBe(transcripts.length);
    for (const c of CAMPAIGNS) {
      expect(c.name).toMatch(/^[A-Za-z0-9]+(-[A-Za-z0-9]+)+$/);
      expect(campaignToken(c.name)).toBe(c.name);
      expect(c.weight).toBeGreaterThan(0);
      expect(c.transcripts.length).toBeGreaterThan(0);
      for (const t of c.transcripts) {
        expect(t.text.length).toBeGreaterThan(40);
        expect(t.source).toMatch(/\.wav$/);
      }
    }
    expect(campaignSpec('SSA-CalltheSSA').topic).toMatch(/Social Security/);
    expect(campaignSpec('Amazon-Impers-P2').transcripts[0]?.text).toMatch(/Amazon/);
    expect(() => campaignSpec('nope')).toThrow(RangeError);
  });
});
