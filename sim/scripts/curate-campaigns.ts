/**
 * Regenerates `sim/src/campaigns-data.ts` from the public robocall transcript set
 * (FTC Project Point of No Entry recordings, via wspr-ncsu/robocall-audio-dataset; public domain).
 *
 *   npm run build && node dist/sim/scripts/curate-campaigns.js <transcripts.csv> sim/src/campaigns-data.ts
 *
 * Each campaign is a regular expression over the transcript; up to three distinct transcripts
 * (complete sentences first, near-duplicates skipped) are kept per campaign.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readCsv } from '../src/carrier.js';

interface Rule {
  name: string;
  topic: string;
  weight: number;
  include: RegExp;
  exclude?: RegExp;
  language?: 'zh';
}

const RULES: Rule[] = [
  { name: 'SSA-CalltheSSA', topic: 'Social Security Administration impersonation: number suspended', weight: 9, include: /suspend(ed)? your social security/ },
  {
    name: 'SSA-LegalEnforcement',
    topic: 'Social Security Administration impersonation: legal enforcement action',
    weight: 8,
    include: /legal enforcement action.*social security|social security.*legal enforcement action/,
    exclude: /warrant/,
  },
  { name: 'SSA-TexasBorder', topic: 'Law-enforcement impersonation: SSN used at the Texas border', weight: 4, include: /border of texas/ },
  { name: 'Amazon-Impers-P2', topic: 'Amazon impersonation: unauthorised iPhone order', weight: 10, include: /order placed for .*amazon account/ },
  {
    name: 'Amazon-SuspiciousCharge',
    topic: 'Amazon impersonation: suspicious charge on account',
    weight: 6,
    include: /amazon.*suspicious activity|suspicious activity.*amazon/,
    exclude: /order placed for/,
  },
  { name: 'Apple-iCloudBreach', topic: 'Apple impersonation: iCloud account breached', weight: 5, include: /apple support|icloud/, exclude: /amazon/ },
  { name: 'AutoWarranty-FinalNotice', topic: 'Vehicle service contract: final warranty notice', weight: 8, include: /warranty/ },
  {
    name: 'CreditCard-0Interest',
    topic: 'Credit card interest-rate reduction',
    weight: 6,
    include: /0% interest|zero percent interest|interest rate reduction|below 6/,
  },
  { name: 'Utility-30MinDisconnect', topic: 'Utility impersonation: power disconnected in 30 minutes', weight: 6, include: /disconnect/ },
  {
    name: 'CBP-SeizedPackage',
    topic: 'Customs and Border Protection impersonation: seized package',
    weight: 4,
    include: /customs and border protection|package filled with drugs/,
  },
  { name: 'Legal-WarrantFinalAttempt', topic: 'Law-enforcement impersonation: warrant, final attempt', weight: 4, include: /warrant against your name/ },
  { name: 'Legal-FederalAgent', topic: 'Legal department impersonation: connect to federal agent', weight: 5, include: /leave your work aside/ },
  { name: 'Hotel-ComplimentaryStay', topic: 'Hotel brand impersonation: complimentary stay', weight: 3, include: /hilton|marriott/ },
  { name: 'IRS-BackTax', topic: 'IRS back-tax negotiation', weight: 3, include: /irs back tax/ },
  { name: 'PayPal-GiftCardCharge', topic: 'PayPal impersonation: gift-card charges', weight: 3, include: /paypal/ },
  { name: 'Solar-EnergyAdvocates', topic: 'Solar and home-energy programme lead generation', weight: 2, include: /solar/ },
  { name: 'StudentLoan-Forgiveness', topic: 'Student loan forgiveness pre-enrolment', weight: 2, include: /student loan/ },
  { name: 'DebtRelief-Lenders', topic: 'Debt relief', weight: 2, include: /debt release/ },
  { name: 'FedReserve-AccountSuspend', topic: 'Federal Reserve impersonation: bank account suspended', weight: 2, include: /federal reserve/ },
  { name: 'Courier-ParcelUnsigned-ZH', topic: 'Mandarin courier notice: parcel delivered twice, unsigned', weight: 3, include: /国际快递/, language: 'zh' },
];

const PER_CAMPAIGN = 3;

function words(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .replace(/[^a-z0-9\u4e00-\u9fff]+/g, ' ')
      .trim()
      .split(' '),
  );
}

function similar(a: Set<string>, b: Set<string>): boolean {
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared) > 0.6;
}

function main(): void {
  const [input, output] = process.argv.slice(2);
  if (input === undefined || output === undefined) {
    console.error('usage: curate-campaigns <transcripts.csv> <campaigns-data.ts>');
    process.exit(2);
  }
  const rows: { file: string; language: string; transcript: string }[] = [];
  let header: string[] | undefined;
  for (const record of readCsv(readFileSync(input, 'utf8'))) {
    if (record.problem !== undefined) throw new Error(`${input} line ${record.line}: ${record.problem.message}`);
    if (header === undefined) {
      header = record.fields;
      continue;
    }
    const get = (name: string): string => record.fields[(header as string[]).indexOf(name)] ?? '';
    rows.push({ file: get('file_name'), language: get('language'), transcript: get('transcript').replace(/\s+/g, ' ').trim() });
  }
  const used = new Set<string>();
  const campaigns = RULES.map((rule) => {
    const candidates = rows.filter((r) => {
      const t = r.transcript.toLowerCase();
      if (!rule.include.test(t) || rule.exclude?.test(t) === true) return false;
      if (rule.language !== undefined && r.language !== rule.language) return false;
      return r.transcript.length >= 50 && r.transcript.length <= 700 && !used.has(r.file);
    });
    const complete = (t: string): boolean => /^[A-Z\u4e00-\u9fff]/.test(t);
    candidates.sort((a, b) => Number(complete(b.transcript)) - Number(complete(a.transcript)) || b.transcript.length - a.transcript.length);
    const picked: typeof rows = [];
    const seen: Set<string>[] = [];
    for (const c of candidates) {
      const w = words(c.transcript);
      if (seen.some((s) => similar(s, w))) continue;
      seen.push(w);
      picked.push(c);
      if (picked.length === PER_CAMPAIGN) break;
    }
    for (const p of picked) used.add(p.file);
    return {
      name: rule.name,
      topic: rule.topic,
      weight: rule.weight,
      language: rule.language ?? 'en',
      transcripts: picked.map((p) => ({ text: p.transcript, source: p.file.split('/').pop() ?? p.file })),
    };
  });
  const body = JSON.stringify(campaigns, null, 2);
  writeFileSync(
    output,
    `// Generated by sim/scripts/curate-campaigns.ts; edit the rules there, not this file.
// Transcripts: robocall recordings attached to the FTC's Project Point of No Entry letters
// (public domain), speech-to-text by Whisper, from wspr-ncsu/robocall-audio-dataset.
// Campaign names are invented in the consortium's style.
import type { CampaignSpec } from './types.js';

export const CAMPAIGN_DATA: readonly CampaignSpec[] = ${body};
`,
  );
  console.log(`${campaigns.length} campaigns, ${campaigns.reduce((n, c) => n + c.transcripts.length, 0)} transcripts → ${output}`);
}

main();
