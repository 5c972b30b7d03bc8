import { decodeTrail, encodeMessage, type Answer, type ProviderInfo, type Trail, type TrailHop, type TrailStirShaken } from '../../protocol/index.js';
import { verifyTrail, type VerifyResult } from '../../evidence/index.js';
import type { VerificationKeys } from './types.js';

/** Options of {@link renderReport}. */
export interface ReportOptions {
  /** The engine's public key(s): the report then states whether the signature verifies. */
  keys?: VerificationKeys;
  /** The traceback's audit events (`fetchEvents`): listed, and checked against the chain head. */
  events?: readonly unknown[];
  /** Time printed as the report's date. @default now */
  generatedAt?: Date;
}

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const utc = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, ' UTC'));

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

function answerSummary(answer: Answer | undefined): string {
  if (answer === undefined) return 'no answer';
  switch (answer.type) {
    case 'upstream':
      return `received the call from ${answer.provider}${answer.trunk ? ` (trunk ${answer.trunk})` : ''}`;
    case 'originator':
      return `originated by its customer ${answer.customer.name}; action: ${answer.action}`;
    case 'foreign_entry':
      return `point of entry; came from ${answer.carrier} (${answer.country})`;
    case 'not_found':
      return `no record: ${answer.reason}`;
    case 'dispute':
      return `disputed: ${answer.reason}`;
    default:
      return answer satisfies never;
  }
}

const RMD_LABELS: Record<NonNullable<ProviderInfo['rmdStatus']>, string> = {
  certified: 'RMD: certified',
  not_filed: 'RMD: not filed',
  removed: 'RMD: REMOVED',
  unknown: 'RMD: unknown',
};

/** Legal name, ids, RMD status and flags of a provider as its hop recorded them. */
function providerCell(h: TrailHop): string {
  const info = h.providerInfo;
  const downstream = h.downstream ? `<div class="muted">handed the call to ${escapeHtml(h.downstream)}</div>` : '';
  if (info === undefined) return `<strong>${escapeHtml(h.provider)}</strong><div class="muted">no directory snapshot</div>${downstream}`;
  const ids = [info.frn ? `FRN ${info.frn}` : '', info.ocn ? `OCN ${info.ocn}` : '', info.rmdStatus ? RMD_LABELS[info.rmdStatus] : ''].filter((x) => x !== '');
  const verified = info.verified ? '' : '<div class="warn">not in the directory: only named by another provider</div>';
  return `<strong>${escapeHtml(info.name ?? h.provider)}</strong>
<div class="mono">${escapeHtml(h.provider)}</div>
${ids.length > 0 ? `<div class="muted">${escapeHtml(ids.join(' · '))}</div>` : ''}${verified}${flagList(info)}${downstream}`;
}

function flagList(info: ProviderInfo): string {
  if (info.flags.length === 0) return '<div class="muted">no flags at the time</div>';
  const items = info.flags.map((f) => `<li><strong>${escapeHtml(f.name)}</strong> since ${escapeHtml(utc(f.raisedAt))}: ${escapeHtml(f.reason)}</li>`);
  return `<div class="bad">flags at the time:</div><ul class="flags">${items.join('')}</ul>`;
}

/** Attestation, origid, the PASSporT's claims and each check against the call. */
function stirShakenCell(s: TrailStirShaken | undefined): string {
  if (s === undefined) return '<span class="muted">none given</span>';
  const lines = [`<div>attestation <strong>${escapeHtml(s.attestation)}</strong></div>`, `<div class="mono">origid ${escapeHtml(s.origId)}</div>`];
  if (s.passport) {
    const p = s.passport;
    lines.push(
      `<div class="muted">PASSporT: attest ${escapeHtml(p.attest)}, orig ${escapeHtml(p.origTn)}, dest ${escapeHtml(p.destTn.join(' '))}, iat ${escapeHtml(utc(p.iat * 1000))}</div>`,
      `<div class="muted">certificate <span class="mono">${escapeHtml(p.x5u)}</span> (${escapeHtml(p.alg)})</div>`,
      `<div class="warn">signature not verified${p.signatureVerified ? '' : ' (needs the STI-CA certificate chain)'}</div>`,
    );
  }
  if (s.findings.length > 0) {
    lines.push(`<ul class="findings">${s.findings.map((f) => `<li class="${f.ok ? 'ok' : 'bad'}">${f.ok ? '✓' : '✗'} ${escapeHtml(f.detail)}</li>`).join('')}</ul>`);
  }
  return lines.join('\n');
}

function hopRow(h: TrailHop): string {
  const kept = h.status === 'answered' ? (h.deadlineKept ? '<span class="ok">kept</span>' : '<span class="bad">late</span>') : h.status === 'missed' ? '<span class="bad">missed</span>' : escapeHtml(h.status);
  const responded = h.answeredAt === undefined ? '' : `<div class="muted">after ${escapeHtml(duration(h.answeredAt - h.askedAt))}</div>`;
  const reminders = h.remindedAt.length === 0 ? 'none' : h.remindedAt.map((t) => escapeHtml(utc(t))).join('<br>');
  const verbatim = h.answer === undefined ? '' : `<pre>${escapeHtml(JSON.stringify(h.answer, null, 2))}</pre>`;
  return `<tr>
<td class="num">${escapeHtml(h.hop)}</td>
<td>${providerCell(h)}</td>
<td>${escapeHtml(utc(h.askedAt))}</td>
<td>${escapeHtml(utc(h.answeredAt))}${responded}</td>
<td>${escapeHtml(utc(h.deadline))}<div>${kept}</div></td>
<td>${reminders}</td>
<td>${stirShakenCell(h.stirShaken)}</td>
<td>${escapeHtml(answerSummary(h.answer))}${verbatim}</td>
</tr>`;
}

/** The end provider's legal name, ids and flags when it handled its hop, as the last hop recorded them. */
function endProviderDetails(t: Trail): string {
  const info = t.hops[t.hops.length - 1]?.providerInfo;
  if (info === undefined) return '';
  const ids = [info.frn ? `FRN ${info.frn}` : '', info.ocn ? `OCN ${info.ocn}` : ''].filter((x) => x !== '').join(', ');
  return `<dt>Legal name</dt><dd>${escapeHtml(info.name ?? '— (not in the directory)')}${ids ? ` (${escapeHtml(ids)})` : ''}</dd>
<dt>Flags at the time</dt><dd>${info.flags.length === 0 ? 'none' : escapeHtml(info.flags.map((f) => f.name).join(', '))}</dd>`;
}

function endBlock(t: Trail): string {
  if (t.origin) {
    const c = t.origin.customer;
    return `<dl>
<dt>Originating provider</dt><dd>${escapeHtml(t.origin.provider)}</dd>
${endProviderDetails(t)}
<dt>Customer</dt><dd>${escapeHtml(c.name)}</dd>
${c.address ? `<dt>Address</dt><dd>${escapeHtml(c.address)}</dd>` : ''}
${c.contact ? `<dt>Contact</dt><dd>${escapeHtml(c.contact)}</dd>` : ''}
${c.accountSince ? `<dt>Account since</dt><dd>${escapeHtml(c.accountSince)}</dd>` : ''}
<dt>Action taken</dt><dd>${escapeHtml(t.origin.action)}</dd>
</dl>`;
  }
  if (t.entry) {
    return `<dl>
<dt>US point of entry</dt><dd>${escapeHtml(t.entry.provider)}</dd>
${endProviderDetails(t)}
<dt>Foreign upstream</dt><dd>${escapeHtml(t.entry.foreignCarrier)} (${escapeHtml(t.entry.country)})</dd>
</dl>`;
  }
  const label = t.outcome === 'noncooperative' ? 'Provider that did not answer' : 'Last provider';
  return `<dl><dt>${label}</dt><dd>${escapeHtml(t.endProvider)}</dd>
${endProviderDetails(t)}</dl>`;
}

function verificationBlock(result: VerifyResult | undefined, hasEvents: boolean): string {
  if (result === undefined) return '<p class="warn">Not verified: no public key was given. Verify with <code>robotrace verify</code>.</p>';
  if (!result.ok) return `<p class="bad"><strong>VERIFICATION FAILED</strong> (${escapeHtml(result.code)}): ${escapeHtml(result.reason)}</p>`;
  const chain = result.chainChecked
    ? `the ${escapeHtml(result.eventCount)} audit events chain to the recorded head`
    : hasEvents
      ? 'the audit events were not checked'
      : 'the audit events were not available, so the chain was not checked';
  return `<p class="ok"><strong>VERIFIED</strong>: Ed25519 signature by engine key ${escapeHtml(result.keyId)} is valid; ${chain}.</p>`;
}

function eventsBlock(events: readonly unknown[]): string {
  const rows = events.map((e) => {
    const m = (e ?? {}) as Record<string, unknown>;
    const cell = (k: string) => (m[k] === undefined ? '' : escapeHtml(k === 'at' && typeof m[k] === 'number' ? utc(m[k]) : m[k]));
    return `<tr><td class="num">${cell('seq')}</td><td>${cell('at')}</td><td>${cell('type')}</td><td>${cell('state')}</td><td>${cell('provider')}</td><td>${cell('hopId')}</td></tr>`;
  });
  return `<h2>Audit history (${events.length} events)</h2>
<table><thead><tr><th>#</th><th>at</th><th>event</th><th>state</th><th>provider</th><th>hop</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

const CSS = `
body{font:11pt/1.4 Georgia,"Times New Roman",serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:18pt;margin:0 0 .2rem}h2{font-size:13pt;border-bottom:1px solid #999;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-size:9.5pt}th,td{border:1px solid #bbb;padding:.3rem .4rem;vertical-align:top;text-align:left}
th{background:#eee}td.num{text-align:right}tr{page-break-inside:avoid}
dl{display:grid;grid-template-columns:13rem 1fr;gap:.2rem .8rem;margin:.4rem 0}dt{font-weight:bold}dd{margin:0}
pre{white-space:pre-wrap;word-break:break-word;font:8.5pt/1.3 "Courier New",monospace;background:#f6f6f6;padding:.3rem;margin:.3rem 0 0}
code,.mono{font-family:"Courier New",monospace;word-break:break-all}
.muted{color:#555;font-size:9pt}.ok{color:#0a5c1f}.bad{color:#a30000}.warn{color:#8a5a00}
.outcome{display:inline-block;border:2px solid #111;padding:.1rem .5rem;font-weight:bold;text-transform:uppercase;letter-spacing:.05em}
ul.flags,ul.findings{margin:.2rem 0 0;padding-left:1rem;font-size:9pt}
.transcript{white-space:pre-wrap;border-left:3px solid #999;padding-left:.6rem}
footer{margin-top:2rem;font-size:9pt;color:#444;border-top:1px solid #999;padding-top:.4rem}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}
`;

/**
 * A standalone, printable HTML report of one trail: the call, the hop timeline, the outcome and the
 * evidence (with the verification result when keys are given). Inline CSS, no scripts, no external
 * assets; every value from the trail is HTML-escaped.
 *
 * `trail` may be the wire map or parsed JSON (preferred: the signature is checked over exactly
 * that) or a decoded `Trail`.
 *
 * @throws ProtocolError when `trail` is not a valid trail.
 */
export function renderReport(trail: Trail | Record<string, unknown>, options: ReportOptions = {}): string {
  const t = decodeTrail(encodeMessage(trail));
  const verification = options.keys === undefined ? undefined : verifyTrail(trail, options.keys, options.events === undefined ? {} : { events: options.events });
  const call = t.call;
  const generated = (options.generatedAt ?? new Date()).toISOString();
  const evidence = t.evidence
    ? `<dl>
<dt>Audit events</dt><dd>${escapeHtml(t.evidence.eventCount)}</dd>
<dt>Chain head (SHA-256)</dt><dd class="mono">${escapeHtml(t.evidence.chainHead)}</dd>
<dt>Signed by key</dt><dd class="mono">${escapeHtml(t.evidence.keyId)} (${escapeHtml(t.evidence.alg)})</dd>
<dt>Signature</dt><dd class="mono">${escapeHtml(t.evidence.signature)}</dd>
</dl>
${verificationBlock(verification, options.events !== undefined)}`
    : `<p class="bad">This trail carries no evidence block: it was not signed by the engine.</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Traceback report ${escapeHtml(t.tracebackId)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Robocall traceback report</h1>
<div class="mono">${escapeHtml(t.tracebackId)}</div>
<p><span class="outcome">${escapeHtml(t.outcome.replace(/_/g, ' '))}</span> ${escapeHtml(t.reason)}</p>
</header>

<h2>Call</h2>
<dl>
<dt>Caller ID</dt><dd>${escapeHtml(call.calling)}</dd>
<dt>Called number</dt><dd>${escapeHtml(call.called)}</dd>
<dt>Time of call</dt><dd>${escapeHtml(utc(call.time))}</dd>
<dt>Campaign</dt><dd>${escapeHtml(call.campaign ?? '—')}</dd>
<dt>Requested by</dt><dd>${escapeHtml(t.requester)}</dd>
<dt>Traceback</dt><dd>${escapeHtml(utc(t.startedAt))} to ${escapeHtml(utc(t.endedAt))} (${escapeHtml(duration(t.endedAt - t.startedAt))})</dd>
<dt>Terminating provider</dt><dd>${escapeHtml(t.terminatingProvider)}</dd>
${call.identity ? `<dt>SIP Identity (STIR/SHAKEN)</dt><dd class="mono">${escapeHtml(call.identity)}</dd>` : ''}
</dl>
${call.transcript ? `<h3>Transcript</h3><div class="transcript">${escapeHtml(call.transcript)}</div>` : ''}

<h2>Hops (${t.hops.length}), from the terminating provider upstream</h2>
<p class="muted">Each provider's legal name, FRN, OCN, RMD status and flags are as the directory stood when it answered or missed its hop.
STIR/SHAKEN claims are read from the Identity header the provider gave; their signature is not verified here, so they are evidence to confirm, not proof.</p>
<table>
<thead><tr><th>#</th><th>provider (as the directory stood)</th><th>asked</th><th>answered</th><th>deadline</th><th>reminders</th><th>STIR/SHAKEN</th><th>answer (verbatim)</th></tr></thead>
<tbody>
${t.hops.map(hopRow).join('\n')}
</tbody>
</table>

<h2>Outcome: ${escapeHtml(t.outcome)}</h2>
<p>${escapeHtml(t.reason)}</p>
${endBlock(t)}

<h2>Evidence</h2>
${evidence}
${options.events === undefined ? '' : eventsBlock(options.events)}

<footer>
Generated ${escapeHtml(generated)} by robotrace. The trail is signed over its canonical JSON (see the robotrace protocol,
"Trails for enforcement"); check a copy with <code>robotrace verify trail.json --key engine.pem</code>.
</footer>
</body>
</html>
`;
}
