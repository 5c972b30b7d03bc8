import { once } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Trail } from '../../protocol/index.js';
import { readTrails, type Stored } from './read.js';
import type { TrailDelivery, TrailFilter, TrailStart } from './types.js';

/** Options of {@link exportTrails}. */
export interface ExportOptions {
  /** @default every trail */
  filter?: TrailFilter;
  /** Trails stored at or after this time (or from this start). @default 'all' */
  since?: Date | TrailStart;
  /**
   * `json`: JSON Lines, one trail per line exactly as received (every field, evidence included), so
   * each line verifies with `robotrace verify`. `csv`: one row per trail for spreadsheets (not
   * verifiable: it leaves out the hops' details).
   */
  format: 'csv' | 'json';
  /** Told of stored messages that are not valid trails (they are skipped). */
  onInvalid?: (error: Error, m: Stored) => void;
}

/** Columns of the CSV export, in order. Times are ISO 8601 UTC. */
export const CSV_COLUMNS = [
  'tracebackId',
  'outcome',
  'campaign',
  'callTime',
  'calling',
  'called',
  'terminatingProvider',
  'endProvider',
  'endProviderName',
  'endProviderFrn',
  'endProviderOcn',
  'endProviderRmdStatus',
  'endProviderFlags',
  'hops',
  'path',
  'pathNames',
  'flaggedProviders',
  'missedDeadlines',
  'attestations',
  'stirShakenMismatches',
  'originCustomer',
  'originAction',
  'foreignCarrier',
  'foreignCountry',
  'reason',
  'requester',
  'transcript',
  'startedAt',
  'endedAt',
  'keyId',
  'chainHead',
  'eventCount',
  'signature',
  'streamSeq',
] as const;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One CSV row's values for a trail, in {@link CSV_COLUMNS} order. Provider names and flags are the
 * hops' snapshots (as the directory stood when each provider handled its hop); `attestations` lists
 * `hop:letter` for hops with STIR/SHAKEN data, `stirShakenMismatches` counts failed PASSporT checks.
 */
export function csvValues(trail: Trail, seq?: number): string[] {
  const end = trail.hops[trail.hops.length - 1]?.providerInfo;
  const row: Record<(typeof CSV_COLUMNS)[number], string> = {
    tracebackId: trail.tracebackId,
    outcome: trail.outcome,
    campaign: trail.call.campaign ?? '',
    callTime: iso(trail.call.time),
    calling: trail.call.calling,
    called: trail.call.called,
    terminatingProvider: trail.terminatingProvider,
    endProvider: trail.endProvider,
    endProviderName: end?.name ?? '',
    endProviderFrn: end?.frn ?? '',
    endProviderOcn: end?.ocn ?? '',
    endProviderRmdStatus: end?.rmdStatus ?? '',
    endProviderFlags: end?.flags.map((f) => f.name).join(' ') ?? '',
    hops: String(trail.hops.length),
    path: trail.hops.map((h) => h.provider).join(' < '),
    pathNames: trail.hops.map((h) => h.providerInfo?.name ?? h.provider).join(' < '),
    flaggedProviders: trail.hops
      .filter((h) => (h.providerInfo?.flags.length ?? 0) > 0)
      .map((h) => `${h.provider}: ${h.providerInfo?.flags.map((f) => f.name).join(' ') ?? ''}`)
      .join('; '),
    missedDeadlines: String(trail.hops.filter((h) => h.status === 'missed').length),
    attestations: trail.hops.flatMap((h) => (h.stirShaken ? [`${h.hop}:${h.stirShaken.attestation}`] : [])).join(' '),
    stirShakenMismatches: String(trail.hops.reduce((n, h) => n + (h.stirShaken?.findings.filter((f) => !f.ok).length ?? 0), 0)),
    originCustomer: trail.origin?.customer.name ?? '',
    originAction: trail.origin?.action ?? '',
    foreignCarrier: trail.entry?.foreignCarrier ?? '',
    foreignCountry: trail.entry?.country ?? '',
    reason: trail.reason,
    requester: trail.requester,
    transcript: trail.call.transcript ?? '',
    startedAt: iso(trail.startedAt),
    endedAt: iso(trail.endedAt),
    keyId: trail.evidence?.keyId ?? '',
    chainHead: trail.evidence?.chainHead ?? '',
    eventCount: trail.evidence === undefined ? '' : String(trail.evidence.eventCount),
    signature: trail.evidence?.signature ?? '',
    streamSeq: seq === undefined ? '' : String(seq),
  };
  return CSV_COLUMNS.map((column) => row[column]);
}

const NUMBER_LIKE = /^[+-]?[0-9][0-9 ().-]*$/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. Text that
 * a spreadsheet would run as a formula (starting with `=`, `@`, tab or CR, or `+`/`-` followed by
 * anything but a number such as `+12155550121`) gets a leading `'`: carriers' answers are untrusted.
 */
export function csvField(value: string): string {
  let v = value;
  if (/^[=@\t\r]/.test(v) || (/^[+-]/.test(v) && !NUMBER_LIKE.test(v))) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One CSV line (with CRLF, as RFC 4180 has it). */
export function csvLine(values: readonly string[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** Writes, waiting for `drain` when the stream's buffer is full. */
async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

function toStart(since: ExportOptions['since']): TrailStart {
  return since ?? 'all';
}

/** One line of the JSON export: the trail exactly as received. */
export function jsonLine(delivery: TrailDelivery): string {
  return `${JSON.stringify(delivery.wire)}\n`;
}

/**
 * Writes the stored trails that match (up to the moment of the call) to `out`, and resolves to how
 * many were written. Does not end `out`.
 *
 * @example
 * ```ts
 * const file = createWriteStream('trails.jsonl');
 * await exportTrails(nc, { format: 'json', filter: { campaign: 'SSA-CalltheSSA' }, since: new Date('2026-01-01') }, file);
 * file.end();
 * ```
 */
export async function exportTrails(nc: NatsConnection, options: ExportOptions, out: NodeJS.WritableStream): Promise<{ count: number }> {
  const trails = readTrails(nc, {
    from: toStart(options.since),
    ...(options.filter === undefined ? {} : { filter: options.filter }),
    ...(options.onInvalid === undefined ? {} : { onInvalid: options.onInvalid }),
  });
  let count = 0;
  if (options.format === 'csv') await write(out, csvLine(CSV_COLUMNS));
  for await (const delivery of trails) {
    await write(out, options.format === 'csv' ? csvLine(csvValues(delivery.trail, delivery.seq)) : jsonLine(delivery));
    count++;
  }
  return { count };
}
