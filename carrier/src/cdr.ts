/**
 * Call detail records (CDRs) and the lookup a carrier does to answer a hop query:
 * "who sent you the call from `calling` to `called` at `time`?". No I/O, no NATS.
 *
 * The CSV formats are documented in `carrier/CDR.md`.
 */
import { ATTESTATIONS, isSubjectToken, isUuid, normalizeE164, parsePassport, ANSWER_IDENTITY_MAX, ProtocolError } from '../../protocol/index.js';
import type { Answer, Attestation, E164, HopQuery, ProviderId, StirShaken } from '../../protocol/index.js';
import { formatCsvRow, readCsv } from './cdr-csv.js';
import { CdrFileError, CdrFileErrorCode, FILE_LEVEL_CODES } from './cdr-errors.js';

export { CdrFileError, CdrFileErrorCode } from './cdr-errors.js';
export { readCsv, formatCsvField, formatCsvRow } from './cdr-csv.js';
export type { CsvRecord } from './cdr-csv.js';

/** Where a call entered this provider. */
export type IngressKind = 'provider' | 'customer' | 'foreign';

/** One call as one provider recorded it. */
export interface CdrRecord {
  /** This provider's call id (the SIP Call-ID changes at every carrier, so it is only local). */
  callId: string;
  /** When the call reached this provider, ms since epoch UTC, by this provider's clock. */
  startUtc: number;
  /** Caller ID as received. */
  calling: E164;
  called: E164;
  /** `provider`: a US provider sent it; `customer`: our customer placed it; `foreign`: a foreign carrier sent it. */
  ingressKind: IngressKind;
  /** Provider id, customer account, or foreign carrier name, per `ingressKind`. */
  ingressId: string;
  /** Trunk group the call arrived on. */
  ingressTrunk?: string;
  /** ISO 3166-1 alpha-2 country of a foreign upstream (required when `ingressKind` is `foreign`). */
  ingressCountry?: string;
  /** Provider id the call was sent on to; absent when this provider delivered it to the called party. */
  egressId?: ProviderId;
  /** STIR/SHAKEN of the call as this provider signed it or received it from upstream. */
  stirShaken?: StirShaken;
}

/** What a provider did about a customer that placed illegal calls. */
export type CustomerAction = 'warned' | 'terminated' | 'none';

/** A customer of an originating provider, as listed in customers.csv. */
export interface Customer {
  account: string;
  /** Legal name. */
  name: string;
  address?: string;
  contact?: string;
  /** Date the account was opened, `YYYY-MM-DD`. */
  accountSince?: string;
  action: CustomerAction;
}

/** Column order of cdr.csv. */
export const CDR_COLUMNS = [
  'call_id',
  'start_utc',
  'calling',
  'called',
  'ingress_kind',
  'ingress_id',
  'ingress_trunk',
  'ingress_country',
  'egress_id',
  'shaken_attest',
  'shaken_origid',
  'identity',
] as const;

/** The first columns of cdr.csv; the STIR/SHAKEN ones are written only when a record has them. */
const BASE_CDR_COLUMNS = CDR_COLUMNS.slice(0, 9);

/** Column order of customers.csv. */
export const CUSTOMER_COLUMNS = ['account', 'name', 'address', 'contact', 'account_since', 'action'] as const;

const CDR_REQUIRED = ['call_id', 'start_utc', 'calling', 'called', 'ingress_kind', 'ingress_id'] as const;
const CUSTOMER_REQUIRED = ['account', 'name'] as const;
const INGRESS_KINDS: readonly IngressKind[] = ['provider', 'customer', 'foreign'];
const ACTIONS: readonly CustomerAction[] = ['warned', 'terminated', 'none'];

/** Options of the CSV parsers. */
export interface CdrParseOptions {
  /** File name used in error messages. */
  source?: string;
  /**
   * Called with each bad row, which is then skipped. Without it the first bad row throws.
   * File-level problems (missing or bad header, unterminated quote) always throw.
   */
  onError?: (error: CdrFileError) => void;
}

type Row<C extends string> = { get(column: C): string; line: number };

/** Reads the header, then hands each well-formed row to `build`; reports or throws on bad ones. */
function parseTable<C extends string, T>(
  text: string,
  known: readonly C[],
  required: readonly C[],
  options: CdrParseOptions,
  build: (row: Row<C>, bad: (code: CdrFileErrorCode, column: C | undefined, detail: string, cause?: unknown) => CdrFileError) => T,
): T[] {
  const { source, onError } = options;
  const out: T[] = [];
  let header: string[] | undefined;
  let positions: Map<C, number> | undefined;
  const report = (err: CdrFileError): void => {
    if (onError === undefined || FILE_LEVEL_CODES.has(err.code)) throw err;
    onError(err);
  };
  for (const record of readCsv(text)) {
    if (record.problem !== undefined) {
      report(new CdrFileError(record.problem.code, record.problem.message, { line: record.line, source }));
      continue;
    }
    if (header === undefined) {
      header = record.fields.map((f) => f.trim().toLowerCase());
      positions = new Map();
      for (const column of known) {
        const first = header.indexOf(column);
        if (first !== -1 && header.indexOf(column, first + 1) !== -1) {
          throw new CdrFileError(CdrFileErrorCode.BadHeader, `column ${column} appears twice in the header`, { line: record.line, source });
        }
        if (first !== -1) positions.set(column, first);
      }
      const missing = required.filter((c) => !positions?.has(c));
      if (missing.length > 0) {
        throw new CdrFileError(
          CdrFileErrorCode.BadHeader,
          `header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (expected ${known.join(',')})`,
          { line: record.line, source },
        );
      }
      continue;
    }
    if (record.fields.length !== header.length) {
      report(
        new CdrFileError(
          CdrFileErrorCode.ColumnCount,
          `row has ${record.fields.length} fields, the header has ${header.length}`,
          { line: record.line, source },
        ),
      );
      continue;
    }
    const fields = record.fields;
    const pos = positions as Map<C, number>;
    const row: Row<C> = {
      line: record.line,
      get: (column) => {
        const p = pos.get(column);
        return p === undefined ? '' : (fields[p] ?? '');
      },
    };
    try {
      out.push(
        build(row, (code, column, detail, cause) => new CdrFileError(code, detail, { line: record.line, source, column }, { cause })),
      );
    } catch (err) {
      if (!CdrFileError.is(err)) throw err;
      report(err);
    }
  }
  if (header === undefined) {
    throw new CdrFileError(CdrFileErrorCode.MissingHeader, 'file is empty: no header row', { line: 1, source });
  }
  return out;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function validDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Parses an ISO-8601 timestamp with `Z` or a numeric offset; undefined when malformed or impossible. */
export function parseUtcTime(value: string): number | undefined {
  const m = ISO_TIME.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, Number(frac.padEnd(3, '0').slice(0, 3)));
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offH = Number(digits.slice(0, 2));
    const offM = Number(digits.slice(2));
    if (offH > 23 || offM > 59) return undefined;
    ms -= sign * (offH * 60 + offM) * 60_000;
  }
  return ms;
}

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * Parses cdr.csv. Columns are matched by header name (any order, unknown columns ignored);
 * `ingress_trunk`, `ingress_country` and `egress_id` may be left out.
 * @throws CdrFileError for the first bad row unless `onError` is given, and for file-level problems.
 */
export function parseCdrCsv(text: string, options: CdrParseOptions = {}): CdrRecord[] {
  const numbers = new Map<string, E164>();
  return parseTable(text, CDR_COLUMNS, CDR_REQUIRED, options, (row, bad) => {
    const required = (column: (typeof CDR_COLUMNS)[number]): string => {
      const value = row.get(column);
      if (value === '') throw bad(CdrFileErrorCode.MissingValue, column, `${column} is empty`);
      return value;
    };
    const number = (column: 'calling' | 'called'): E164 => {
      const raw = required(column);
      let e164 = numbers.get(raw);
      if (e164 === undefined) {
        try {
          e164 = normalizeE164(raw, column);
        } catch (cause) {
          throw bad(CdrFileErrorCode.BadNumber, column, `${column} ${JSON.stringify(raw)} is not a valid E.164 number`, cause);
        }
        numbers.set(raw, e164);
      }
      return e164;
    };
    const callId = required('call_id');
    if (callId.length > 256) throw bad(CdrFileErrorCode.BadValue, 'call_id', 'call_id is longer than 256 characters');
    const timeText = required('start_utc');
    const startUtc = parseUtcTime(timeText);
    if (startUtc === undefined) {
      throw bad(CdrFileErrorCode.BadTime, 'start_utc', `start_utc ${JSON.stringify(timeText)} is not an ISO-8601 UTC time like 2026-11-30T07:00:00.000Z`);
    }
    const calling = number('calling');
    const called = number('called');
    const kind = required('ingress_kind').toLowerCase() as IngressKind;
    if (!INGRESS_KINDS.includes(kind)) {
      throw bad(CdrFileErrorCode.BadValue, 'ingress_kind', `ingress_kind ${JSON.stringify(row.get('ingress_kind'))} is not one of ${INGRESS_KINDS.join(', ')}`);
    }
    const ingressId = required('ingress_id');
    if (kind === 'provider' && !isSubjectToken(ingressId)) {
      throw bad(CdrFileErrorCode.BadValue, 'ingress_id', `ingress_id ${JSON.stringify(ingressId)} is not a provider id (1-64 characters [A-Za-z0-9_-])`);
    }
    if (ingressId.length > 256) throw bad(CdrFileErrorCode.BadValue, 'ingress_id', 'ingress_id is longer than 256 characters');
    const record: CdrRecord = { callId, startUtc, calling, called, ingressKind: kind, ingressId };
    const trunk = row.get('ingress_trunk');
    if (trunk !== '') {
      if (trunk.length > 128) throw bad(CdrFileErrorCode.BadValue, 'ingress_trunk', 'ingress_trunk is longer than 128 characters');
      record.ingressTrunk = trunk;
    }
    const country = row.get('ingress_country').toUpperCase();
    if (country !== '') {
      if (!/^[A-Z]{2}$/.test(country)) {
        throw bad(CdrFileErrorCode.BadValue, 'ingress_country', `ingress_country ${JSON.stringify(country)} is not an ISO 3166-1 alpha-2 code`);
      }
      record.ingressCountry = country;
    } else if (kind === 'foreign') {
      throw bad(CdrFileErrorCode.MissingValue, 'ingress_country', 'ingress_country is empty but ingress_kind is foreign');
    }
    const egress = row.get('egress_id');
    if (egress !== '') {
      if (!isSubjectToken(egress)) {
        throw bad(CdrFileErrorCode.BadValue, 'egress_id', `egress_id ${JSON.stringify(egress)} is not a provider id (1-64 characters [A-Za-z0-9_-])`);
      }
      record.egressId = egress;
    }
    const attest = row.get('shaken_attest').toUpperCase();
    const origId = row.get('shaken_origid');
    const identity = row.get('identity');
    if (attest !== '' || origId !== '' || identity !== '') {
      if (!(ATTESTATIONS as readonly string[]).includes(attest)) {
        throw bad(attest === '' ? CdrFileErrorCode.MissingValue : CdrFileErrorCode.BadValue, 'shaken_attest', `shaken_attest ${JSON.stringify(row.get('shaken_attest'))} is not one of ${ATTESTATIONS.join(', ')}`);
      }
      if (!isUuid(origId)) throw bad(origId === '' ? CdrFileErrorCode.MissingValue : CdrFileErrorCode.BadValue, 'shaken_origid', `shaken_origid ${JSON.stringify(origId)} is not a UUID`);
      record.stirShaken = { attestation: attest as Attestation, origId };
      if (identity !== '') {
        if (identity.length > ANSWER_IDENTITY_MAX) throw bad(CdrFileErrorCode.BadValue, 'identity', `identity is longer than ${ANSWER_IDENTITY_MAX} characters`);
        try {
          parsePassport(identity, 'identity');
        } catch (cause) {
          throw bad(CdrFileErrorCode.BadValue, 'identity', ProtocolError.is(cause) ? cause.message : 'identity is not a SHAKEN PASSporT', cause);
        }
        record.stirShaken.identity = identity;
      }
    }
    return record;
  });
}

/**
 * Parses customers.csv. Only `account` and `name` are required; an empty `action` means `none`.
 * @throws CdrFileError for the first bad row unless `onError` is given, and for file-level problems.
 */
export function parseCustomersCsv(text: string, options: CdrParseOptions = {}): Customer[] {
  const seen = new Map<string, number>();
  return parseTable(text, CUSTOMER_COLUMNS, CUSTOMER_REQUIRED, options, (row, bad) => {
    const text = (column: (typeof CUSTOMER_COLUMNS)[number], max: number, required = false): string => {
      const value = row.get(column);
      if (required && value === '') throw bad(CdrFileErrorCode.MissingValue, column, `${column} is empty`);
      if (value.length > max) throw bad(CdrFileErrorCode.BadValue, column, `${column} is longer than ${max} characters`);
      return value;
    };
    const account = text('account', 256, true);
    const earlier = seen.get(account);
    if (earlier !== undefined) {
      throw bad(CdrFileErrorCode.DuplicateAccount, 'account', `account ${JSON.stringify(account)} is already listed on line ${earlier}`);
    }
    const customer: Customer = { account, name: text('name', 256, true), action: 'none' };
    const address = text('address', 512);
    const contact = text('contact', 256);
    const since = text('account_since', 32);
    const action = row.get('action').toLowerCase();
    if (address !== '') customer.address = address;
    if (contact !== '') customer.contact = contact;
    if (since !== '') {
      if (!isIsoDate(since)) throw bad(CdrFileErrorCode.BadDate, 'account_since', `account_since ${JSON.stringify(since)} is not a date like 2024-03-01`);
      customer.accountSince = since;
    }
    if (action !== '') {
      if (!(ACTIONS as readonly string[]).includes(action)) {
        throw bad(CdrFileErrorCode.BadValue, 'action', `action ${JSON.stringify(row.get('action'))} is not one of ${ACTIONS.join(', ')}`);
      }
      customer.action = action as CustomerAction;
    }
    seen.set(account, row.line);
    return customer;
  });
}

/**
 * Writes cdr.csv (header plus one line per record, LF line ends); `parseCdrCsv` reads it back
 * unchanged. The STIR/SHAKEN columns appear only when some record has STIR/SHAKEN data.
 */
export function formatCdrCsv(records: Iterable<CdrRecord>): string {
  const all = [...records];
  const shaken = all.some((r) => r.stirShaken !== undefined);
  const lines = [(shaken ? CDR_COLUMNS : BASE_CDR_COLUMNS).join(',')];
  for (const r of all) {
    const row = [
      r.callId,
      new Date(r.startUtc).toISOString(),
      r.calling,
      r.called,
      r.ingressKind,
      r.ingressId,
      r.ingressTrunk ?? '',
      r.ingressCountry ?? '',
      r.egressId ?? '',
    ];
    if (shaken) row.push(r.stirShaken?.attestation ?? '', r.stirShaken?.origId ?? '', r.stirShaken?.identity ?? '');
    lines.push(formatCsvRow(row));
  }
  return lines.join('\n') + '\n';
}

/** Writes customers.csv; `parseCustomersCsv` reads it back unchanged. */
export function formatCustomersCsv(customers: Iterable<Customer>): string {
  const lines = [CUSTOMER_COLUMNS.join(',')];
  for (const c of customers) {
    lines.push(formatCsvRow([c.account, c.name, c.address ?? '', c.contact ?? '', c.accountSince ?? '', c.action]));
  }
  return lines.join('\n') + '\n';
}

/** What to look for in the CDRs. */
export interface CdrLookup {
  calling: E164;
  called: E164;
  /** Time of the call as the requester saw it, ms since epoch. */
  time: number;
  /**
   * Largest accepted difference between `time` and a record's `startUtc` (clocks differ, and
   * each hop adds setup latency).
   * @default 5000
   */
  skewMs?: number;
  /**
   * The provider this one handed the call to, if known. Records sent to it are preferred;
   * without it, records of calls this provider delivered itself (no `egressId`) are preferred.
   */
  downstream?: ProviderId;
}

/** Default clock-skew allowance of a lookup. */
export const DEFAULT_SKEW_MS = 5000;

/**
 * A provider's CDRs indexed by called number, each list sorted by time, plus its customers.
 * Building is O(n); a lookup is a map hit and a binary search.
 */
export class CdrIndex {
  private readonly byCalled = new Map<string, CdrRecord[]>();
  private readonly unsorted = new Set<CdrRecord[]>();
  private readonly customers = new Map<string, Customer>();
  private count = 0;

  constructor(records: Iterable<CdrRecord> = [], customers: Iterable<Customer> = []) {
    for (const r of records) this.add(r);
    for (const c of customers) this.addCustomer(c);
  }

  /**
   * Parses cdr.csv and customers.csv text into an index.
   * @throws CdrFileError as `parseCdrCsv` / `parseCustomersCsv` do.
   */
  static fromCsv(
    cdrCsv: string,
    customersCsv?: string,
    options: { cdrSource?: string; customersSource?: string; onError?: (error: CdrFileError) => void } = {},
  ): CdrIndex {
    const base = options.onError === undefined ? {} : { onError: options.onError };
    const records = parseCdrCsv(cdrCsv, { ...base, ...(options.cdrSource === undefined ? {} : { source: options.cdrSource }) });
    const customers =
      customersCsv === undefined
        ? []
        : parseCustomersCsv(customersCsv, { ...base, ...(options.customersSource === undefined ? {} : { source: options.customersSource }) });
    return new CdrIndex(records, customers);
  }

  /** Number of records. */
  get size(): number {
    return this.count;
  }

  add(record: CdrRecord): void {
    let list = this.byCalled.get(record.called);
    if (list === undefined) {
      list = [];
      this.byCalled.set(record.called, list);
    }
    const last = list[list.length - 1];
    if (last !== undefined && last.startUtc > record.startUtc) this.unsorted.add(list);
    list.push(record);
    this.count++;
  }

  /** Adds or replaces a customer (a later entry for the same account wins). */
  addCustomer(customer: Customer): void {
    this.customers.set(customer.account, customer);
  }

  customer(account: string): Customer | undefined {
    return this.customers.get(account);
  }

  /**
   * Records with the same calling and called number within `skewMs` of `time`, best first:
   * the preferred egress (see `CdrLookup.downstream`), then the smallest time difference.
   */
  find(lookup: CdrLookup): CdrRecord[] {
    const skew = lookup.skewMs ?? DEFAULT_SKEW_MS;
    if (!Number.isFinite(skew) || skew < 0) throw new RangeError(`skewMs must be a finite number >= 0, got ${skew}`);
    const list = this.byCalled.get(lookup.called);
    if (list === undefined) return [];
    if (this.unsorted.has(list)) {
      list.sort((a, b) => a.startUtc - b.startUtc);
      this.unsorted.delete(list);
    }
    const from = lookup.time - skew;
    const to = lookup.time + skew;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as CdrRecord).startUtc < from) lo = mid + 1;
      else hi = mid;
    }
    const matches: CdrRecord[] = [];
    for (let i = lo; i < list.length; i++) {
      const r = list[i] as CdrRecord;
      if (r.startUtc > to) break;
      if (r.calling === lookup.calling) matches.push(r);
    }
    if (matches.length > 1) {
      const rank = (r: CdrRecord): number =>
        lookup.downstream === undefined ? (r.egressId === undefined ? 0 : 1) : r.egressId === lookup.downstream ? 0 : 1;
      matches.sort(
        (a, b) =>
          rank(a) - rank(b) ||
          Math.abs(a.startUtc - lookup.time) - Math.abs(b.startUtc - lookup.time) ||
          (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0),
      );
    }
    return matches;
  }
}

/** Options of `answerFromCdr`. */
export interface AnswerFromCdrOptions {
  /** How long this provider keeps records; a call older than this is `not_found`. Unlimited when absent. */
  retentionMs?: number;
  /** The provider's current time, ms since epoch. @default Date.now() */
  now?: number;
  /** Clock-skew allowance of the lookup. @default 5000 */
  skewMs?: number;
}

const DAY_MS = 86_400_000;

function describeRetention(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${Math.round(ms / 1000)} s`;
}

/**
 * Answers a hop query from the provider's own CDRs: the upstream provider, the customer that
 * placed the call, the foreign carrier it came from, or `not_found`.
 * A customer missing from customers.csv is still named, by its account.
 */
export function answerFromCdr(index: CdrIndex, query: Pick<HopQuery, 'call' | 'downstream'>, options: AnswerFromCdrOptions = {}): Answer {
  const { call } = query;
  const when = new Date(call.time).toISOString();
  if (options.retentionMs !== undefined) {
    const now = options.now ?? Date.now();
    if (now - call.time > options.retentionMs) {
      return { type: 'not_found', reason: `the call of ${when} is older than our record retention of ${describeRetention(options.retentionMs)}` };
    }
  }
  const skewMs = options.skewMs ?? DEFAULT_SKEW_MS;
  const lookup: CdrLookup = { calling: call.calling, called: call.called, time: call.time, skewMs };
  if (query.downstream !== undefined) lookup.downstream = query.downstream;
  const record = index.find(lookup)[0];
  if (record === undefined) {
    return {
      type: 'not_found',
      reason: `no call detail record from ${call.calling} to ${call.called} within ${skewMs / 1000} s of ${when}`,
    };
  }
  const answer = answerOf(index, record);
  if (record.stirShaken !== undefined && answer.type !== 'not_found') answer.stirShaken = { ...record.stirShaken };
  return answer;
}

function answerOf(index: CdrIndex, record: CdrRecord): Answer {
  switch (record.ingressKind) {
    case 'provider': {
      const answer: Answer = { type: 'upstream', provider: record.ingressId, hopTime: record.startUtc };
      if (record.ingressTrunk !== undefined) answer.trunk = record.ingressTrunk;
      return answer;
    }
    case 'customer': {
      const customer = index.customer(record.ingressId);
      if (customer === undefined) return { type: 'originator', customer: { name: `account ${record.ingressId}` }, action: 'none' };
      const details: Extract<Answer, { type: 'originator' }>['customer'] = { name: customer.name };
      if (customer.address !== undefined) details.address = customer.address;
      if (customer.contact !== undefined) details.contact = customer.contact;
      if (customer.accountSince !== undefined) details.accountSince = customer.accountSince;
      return { type: 'originator', customer: details, action: customer.action };
    }
    case 'foreign':
      // 'ZZ' is the ISO user-assigned code for "unknown"; parsed files always carry a country.
      return { type: 'foreign_entry', carrier: record.ingressId, country: record.ingressCountry ?? 'ZZ' };
    default:
      return record.ingressKind satisfies never;
  }
}
