import { describe, expect, it } from 'vitest';
import { decodeMap, encodeMessage } from '../../protocol/index.js';
import { generateEngineKey } from '../../evidence/index.js';
import { sampleTrail, signedSample } from '../../evidence/test/samples.js';
import { escapeHtml, renderReport } from '../index.js';

const key = generateEngineKey();
const EVIL = '<script>alert("x")</script> & \'quoted\'';

describe('renderReport', () => {
  const { trail, events } = signedSample(key, { customerName: EVIL });
  const at = new Date('2026-12-01T09:00:00Z');

  it('renders a standalone printable page: call, hops, outcome and a verified evidence block', () => {
    const html = renderReport(decodeMap(encodeMessage(trail)), { keys: key, events, generatedAt: at });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(`<title>Traceback report ${trail.tracebackId}</title>`);
    expect(html).toContain('+12155550121');
    expect(html).toContain('2026-11-29 15:04:05 UTC');
    expect(html).toContain('SSA-CalltheSSA');
    // One row per hop, in order, with deadline, reminder and the answer verbatim.
    const rows = html.split('<tbody>')[1]!.split('</tbody>')[0]!.match(/<tr>/g);
    expect(rows).toHaveLength(3);
    expect(html.indexOf('<strong>Big National Wireless Inc</strong>')).toBeLessThan(html.indexOf('<strong>W2</strong>'));
    expect(html).toContain('2026-11-30 05:04:05 UTC'); // W2's reminder
    expect(html).toContain('<span class="ok">kept</span>');
    expect(html).toContain('&quot;type&quot;: &quot;originator&quot;');
    expect(html).toContain('Action taken</dt><dd>terminated');
    expect(html).toContain(trail.evidence!.chainHead);
    expect(html).toContain(trail.evidence!.signature);
    expect(html).toMatch(/<strong>VERIFIED<\/strong>: Ed25519 signature by engine key [\w-]+ is valid; the 9 audit events chain/);
    expect(html).toContain('Audit history (9 events)');
    expect(html).toContain('Generated 2026-12-01T09:00:00.000Z');
  });

  it('shows each provider as the directory stood: legal name, FRN, OCN, RMD status, verified or not, flags at the time', () => {
    const html = renderReport(trail, { generatedAt: at });
    const rows = html.split('<tbody>')[1]!.split('</tbody>')[0]!.split('<tr>').slice(1);
    expect(rows[0]).toContain('<strong>Big National Wireless Inc</strong>');
    expect(rows[0]).toContain('<div class="mono">T1</div>');
    expect(rows[0]).toContain('FRN 0001234567 · OCN 6214 · RMD: certified');
    expect(rows[0]).toContain('no flags at the time');
    expect(rows[1]).toContain('not in the directory: only named by another provider');
    expect(rows[2]).toContain('<strong>Acme Voice LLC</strong>');
    expect(rows[2]).toMatch(/flags at the time:.*<strong>high_risk_origin<\/strong> since 2026-11-28 15:04:05 UTC: 3 trails of illegal calls/s);
    // The end block repeats the end provider's legal name, ids and flags.
    expect(html).toContain('<dt>Legal name</dt><dd>Acme Voice LLC (FRN 0007654321, OCN 123A)</dd>');
    expect(html).toContain('<dt>Flags at the time</dt><dd>high_risk_origin</dd>');
  });

  it('shows STIR/SHAKEN per hop: attestation, origid, the PASSporT claims, each check, and that the signature was not verified', () => {
    const html = renderReport(trail, { generatedAt: at });
    const rows = html.split('<tbody>')[1]!.split('</tbody>')[0]!.split('<tr>').slice(1);
    expect(rows[2]).toContain('attestation <strong>A</strong>');
    expect(rows[2]).toContain('origid 6f0c4e1a-2b3d-4c5e-8f70-91a2b3c4d5e6');
    expect(rows[2]).toContain('PASSporT: attest A, orig 12155550121, dest 12025550143, iat 2026-11-29 15:04:05 UTC');
    expect(rows[2]).toContain('signature not verified (needs the STI-CA certificate chain)');
    expect(rows[2]).toContain('<li class="ok">✓ orig.tn 12155550121 = caller ID +12155550121</li>');
    expect(rows[1]).not.toContain('PASSporT');
    const mismatched = structuredClone(trail);
    mismatched.hops[2]!.stirShaken!.findings[4] = { check: 'iat', ok: false, detail: 'iat +3600 s from the call time (over 60 s)' };
    expect(renderReport(mismatched)).toContain('<li class="bad">✗ iat +3600 s from the call time (over 60 s)</li>');
    const none = sampleTrail();
    for (const h of none.hops) delete h.stirShaken;
    expect(renderReport(none).split('<tbody>')[1]).toContain('none given');
  });

  it('escapes every value and loads nothing from outside', () => {
    const html = renderReport(trail, { keys: key, generatedAt: at });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;');
    expect(html).toContain('Press 1 &lt;now&gt; &amp; &quot;urgently&quot;.');
    expect(html).not.toMatch(/<link|<img|<iframe|src=|href=|@import|url\(/i);
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });

  it('states a failed or missing verification plainly', () => {
    const tampered = { ...trail, reason: 'edited' };
    expect(renderReport(tampered, { keys: key })).toMatch(/VERIFICATION FAILED<\/strong> \(BAD_SIGNATURE\)/);
    expect(renderReport(trail, { keys: generateEngineKey() })).toMatch(/VERIFICATION FAILED<\/strong> \(UNKNOWN_KEY\)/);
    expect(renderReport(trail, { keys: key, events: events.slice(1) })).toMatch(/CHAIN_MISMATCH/);
    expect(renderReport(trail)).toMatch(/Not verified: no public key/);
    expect(renderReport(sampleTrail())).toMatch(/carries no evidence block/);
    expect(renderReport(trail, { keys: key })).toMatch(/audit events were not available/);
  });

  it('describes other outcomes', () => {
    const silent = sampleTrail({ outcome: 'noncooperative', endProvider: 'silent-7' });
    silent.hops[2] = { ...silent.hops[2]!, status: 'missed', deadlineKept: false };
    delete silent.hops[2]!.answer;
    delete silent.hops[2]!.answeredAt;
    delete silent.origin;
    const html = renderReport(silent);
    expect(html).toContain('Provider that did not answer</dt><dd>silent-7');
    expect(html).toContain('<span class="bad">missed</span>');
    expect(() => renderReport({ v: 1, kind: 'trail' })).toThrow(/missing field/);
  });
});
