import { describe, expect, it } from 'vitest';
import { normalizeE164, validateAnswer } from '../../protocol/index.js';
import type { HopQuery } from '../../protocol/index.js';
import {
  CdrFileError,
  CdrFileErrorCode,
  CdrIndex,
  answerFromCdr,
  formatCdrCsv,
  formatCustomersCsv,
  parseCdrCsv,
  parseCustomersCsv,
  parseUtcTime,
  type CdrRecord,
  type Customer,
} from '../src/cdr.js';
import { readCsv } from '../src/cdr-csv.js';

const A = normalizeE164('+12025550143');
const B = normalizeE164('+13125550187');
const C = normalizeE164('+14155550122');
const T0 = Date.UTC(2026, 10, 30, 7, 0, 0);

const HEADER = 'call_id,start_utc,calling,called,ingress_kind,ingress_id,ingress_trunk,ingress_country,egress_id';

function rec(over: Partial<CdrRecord> = {}): CdrRecord {
  return { callId: 'c1', startUtc: T0, calling: A, called: B, ingressKind: 'provider', ingressId: 'p0002', ingressTrunk: 'TG1042', ...over };
}

function query(over: Partial<HopQuery['call']> = {}, downstream?: string): Pick<HopQuery, 'call' | 'downstream'> {
  const q: Pick<HopQuery, 'call' | 'downstream'> = { call: { calling: A, called: B, time: T0, ...over } };
  if (downstream !== undefined) q.downstream = downstream;
  return q;
}

describe('CSV reader', () => {
  it('handles quotes, escaped quotes, commas and line breaks in quotes, CRLF, BOM and blank lines', () => {
    const text = '\uFEFFa,b,c\r\n"x, y","say ""hi""","two\r\nlines"\r\n\r\n  plain  ,"",\n';
    const rows = [...readCsv(text)];
    expect(rows).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['x, y', 'say "hi"', 'two\r\nlines'] },
      { line: 5, fields: ['plain', '', ''] },
    ]);
  });

  it('reports text after a closing quote and an unterminated quote with their lines', () => {
    const rows = [...readCsv('a,b\n"x"y,z\n"open,b\nc,d\n')];
    expect(rows[1]?.problem?.code).toBe(CdrFileErrorCode.BadQuote);
    expect(rows[1]?.line).toBe(2);
    expect(rows[2]?.problem?.code).toBe(CdrFileErrorCode.UnterminatedQuote);
    expect(rows[2]?.line).toBe(3);
  });
});

describe('cdr.csv', () => {
  const records: CdrRecord[] = [
    rec(),
    rec({ callId: 'c2, "odd" id', startUtc: T0 + 1234, ingressKind: 'customer', ingressId: 'ACCT 7', ingressTrunk: undefined, egressId: 'p0009' }),
    rec({ callId: 'c3', ingressKind: 'foreign', ingressId: 'Mumbai Telelink Pvt Ltd', ingressCountry: 'IN', ingressTrunk: ' INTL-7 ' }),
  ];
  for (const r of records) if (r.ingressTrunk === undefined) delete r.ingressTrunk;

  it('round-trips through format and parse', () => {
    const text = formatCdrCsv(records);
    expect(text.split('\n')[0]).toBe(HEADER);
    expect(parseCdrCsv(text)).toEqual(records);
  });

  it('writes ISO-8601 UTC times and E.164 numbers', () => {
    expect(formatCdrCsv([rec()]).split('\n')[1]).toBe('c1,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,TG1042,,');
  });

  it('matches columns by name, normalises numbers and accepts offsets and missing optional columns', () => {
    const text = 'called,calling,ingress_id,ingress_kind,start_utc,call_id,note\n' + '312-555-0187 x,,,,,,\n';
    expect(() => parseCdrCsv(text)).toThrow(CdrFileError);
    const ok = 'called,calling,ingress_id,ingress_kind,start_utc,call_id,note\n"+1 (312) 555-0187",12025550143,p0002,PROVIDER,2026-11-30T09:00:00+02:00,c1,whatever\n';
    expect(parseCdrCsv(ok)).toEqual([{ callId: 'c1', startUtc: T0, calling: A, called: B, ingressKind: 'provider', ingressId: 'p0002' }]);
  });

  it('throws a typed error naming the 1-based line of the first bad row', () => {
    const text = `${HEADER}\nc1,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,,,\n"multi\nline id",2026-13-01T00:00:00Z,+12025550143,+13125550187,provider,p0002,,,\n`;
    try {
      parseCdrCsv(text, { source: 'cdr-p0001.csv' });
      expect.unreachable();
    } catch (err) {
      expect(CdrFileError.is(err)).toBe(true);
      const e = err as CdrFileError;
      expect(e.code).toBe(CdrFileErrorCode.BadTime);
      expect(e.line).toBe(3);
      expect(e.column).toBe('start_utc');
      expect(e.message).toMatch(/^cdr-p0001\.csv line 3: start_utc/);
    }
  });

  it('reports every bad row through onError and keeps the good ones', () => {
    const lines = [
      HEADER,
      'ok1,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,,,',
      'bad-number,2026-11-30T07:00:00.000Z,+1555,+13125550187,provider,p0002,,,',
      'bad-kind,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,carrier,p0002,,,',
      'bad-id,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p 2,,,',
      'no-country,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,foreign,Far Tel,,,',
      'short,2026-11-30T07:00:00.000Z',
      ',2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,,,',
      'bad-egress,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,,,p.9',
      'feb30,2026-02-30T07:00:00Z,+12025550143,+13125550187,provider,p0002,,,',
      '"q"x,2026-11-30T07:00:00.000Z,+12025550143,+13125550187,provider,p0002,,,',
      'ok2,2026-11-30T07:00:01.000Z,+12025550143,+13125550187,customer,A1,,,p0003',
    ];
    const errors: CdrFileError[] = [];
    const records = parseCdrCsv(lines.join('\r\n'), { onError: (e) => errors.push(e) });
    expect(records.map((r) => r.callId)).toEqual(['ok1', 'ok2']);
    expect(errors.map((e) => [e.line, e.code])).toEqual([
      [3, CdrFileErrorCode.BadNumber],
      [4, CdrFileErrorCode.BadValue],
      [5, CdrFileErrorCode.BadValue],
      [6, CdrFileErrorCode.MissingValue],
      [7, CdrFileErrorCode.ColumnCount],
      [8, CdrFileErrorCode.MissingValue],
      [9, CdrFileErrorCode.BadValue],
      [10, CdrFileErrorCode.BadTime],
      [11, CdrFileErrorCode.BadQuote],
    ]);
    for (const e of errors) expect(e.message).toContain(`line ${e.line}:`);
  });

  it('always throws on file-level problems', () => {
    const onError = (): void => {};
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return CdrFileError.is(e) ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => parseCdrCsv('', { onError }))).toBe(CdrFileErrorCode.MissingHeader);
    expect(code(() => parseCdrCsv('call_id,start_utc,calling\n', { onError }))).toBe(CdrFileErrorCode.BadHeader);
    expect(code(() => parseCdrCsv(`${HEADER},call_id\n`, { onError }))).toBe(CdrFileErrorCode.BadHeader);
    expect(code(() => parseCdrCsv(`${HEADER}\n"c1,2026`, { onError }))).toBe(CdrFileErrorCode.UnterminatedQuote);
  });

  it('parses times strictly', () => {
    expect(parseUtcTime('2026-11-30T07:00:00.000Z')).toBe(T0);
    expect(parseUtcTime('2026-11-30T07:00:00.5z')).toBe(T0 + 500);
    expect(parseUtcTime('2026-11-30T02:00:00-05:00')).toBe(T0);
    expect(parseUtcTime('2026-11-30 07:00:00Z')).toBe(T0);
    expect(parseUtcTime('2026-11-30T07:00:00')).toBeUndefined();
    expect(parseUtcTime('2026-11-31T07:00:00Z')).toBeUndefined();
    expect(parseUtcTime('2026-11-30T24:00:00Z')).toBeUndefined();
    expect(parseUtcTime('1764486000000')).toBeUndefined();
  });
});

describe('customers.csv', () => {
  const customers: Customer[] = [
    { account: 'A1', name: 'Apex Lead Solutions, LLC', address: '12 Oak St\nSuite 4, Austin, TX 78701', contact: 'ops@apex.example', accountSince: '2024-03-01', action: 'terminated' },
    { account: 'A2', name: 'Quiet "Q" Corp', action: 'none' },
  ];

  it('round-trips through format and parse', () => {
    const text = formatCustomersCsv(customers);
    expect(text.split('\n')[0]).toBe('account,name,address,contact,account_since,action');
    expect(parseCustomersCsv(text)).toEqual(customers);
  });

  it('reports duplicates, bad dates and unknown actions with line numbers; empty action means none', () => {
    const text = [
      'account,name,address,contact,account_since,action',
      'A1,One,,,,',
      'A1,Again,,,,none',
      'A2,Two,,,2024-02-30,warned',
      'A3,Three,,,,banned',
      'A4,,,,,none',
    ].join('\n');
    const errors: CdrFileError[] = [];
    const parsed = parseCustomersCsv(text, { source: 'customers-p0001.csv', onError: (e) => errors.push(e) });
    expect(parsed).toEqual([{ account: 'A1', name: 'One', action: 'none' }]);
    expect(errors.map((e) => [e.line, e.code])).toEqual([
      [3, CdrFileErrorCode.DuplicateAccount],
      [4, CdrFileErrorCode.BadDate],
      [5, CdrFileErrorCode.BadValue],
      [6, CdrFileErrorCode.MissingValue],
    ]);
    expect(errors[0]?.message).toBe('customers-p0001.csv line 3: account "A1" is already listed on line 2');
  });
});

describe('CdrIndex.find', () => {
  it('matches calling, called and time within the skew', () => {
    const index = new CdrIndex([
      rec({ callId: 'in', startUtc: T0 + 4000 }),
      rec({ callId: 'late', startUtc: T0 + 5001 }),
      rec({ callId: 'other-caller', calling: C }),
      rec({ callId: 'other-called', called: C }),
      rec({ callId: 'early', startUtc: T0 - 5000 }),
    ]);
    expect(index.size).toBe(5);
    expect(index.find({ calling: A, called: B, time: T0 }).map((r) => r.callId)).toEqual(['in', 'early']);
    expect(index.find({ calling: A, called: B, time: T0, skewMs: 1000 })).toEqual([]);
    expect(index.find({ calling: A, called: C, time: T0 }).map((r) => r.callId)).toEqual(['other-called']);
    expect(index.find({ calling: B, called: A, time: T0 })).toEqual([]);
    expect(() => index.find({ calling: A, called: B, time: T0, skewMs: -1 })).toThrow(RangeError);
  });

  it('prefers the record sent to the downstream provider, then the closest in time', () => {
    const index = new CdrIndex([
      rec({ callId: 'to-p7', startUtc: T0 + 3000, egressId: 'p0007' }),
      rec({ callId: 'to-p8', startUtc: T0 + 100, egressId: 'p0008' }),
      rec({ callId: 'delivered', startUtc: T0 + 2000 }),
    ]);
    expect(index.find({ calling: A, called: B, time: T0, downstream: 'p0007' }).map((r) => r.callId)).toEqual(['to-p7', 'to-p8', 'delivered']);
    expect(index.find({ calling: A, called: B, time: T0, downstream: 'p0009' }).map((r) => r.callId)).toEqual(['to-p8', 'delivered', 'to-p7']);
    // Without a downstream the provider is asked as terminating provider: prefer what it delivered.
    expect(index.find({ calling: A, called: B, time: T0 })[0]?.callId).toBe('delivered');
  });

  it('stays correct when records are added out of order', () => {
    const index = new CdrIndex();
    for (let i = 0; i < 1000; i++) index.add(rec({ callId: `r${i}`, startUtc: T0 + ((i * 7919) % 1000) * 60_000 }));
    index.add(rec({ callId: 'target', startUtc: T0 + 123 * 60_000 + 10 }));
    expect(index.find({ calling: A, called: B, time: T0 + 123 * 60_000 + 2000 }).map((r) => r.callId)).toEqual(['target', `r${[...Array(1000).keys()].find((i) => (i * 7919) % 1000 === 123)}`]);
  });

  it('is fast on 100k records', () => {
    const numbers = Array.from({ length: 1000 }, (_, i) => normalizeE164(`+1312555${String(i).padStart(4, '0')}`));
    const records: CdrRecord[] = [];
    for (let i = 0; i < 100_000; i++) {
      records.push(rec({ callId: `r${i}`, called: numbers[i % numbers.length] as CdrRecord['called'], startUtc: T0 + i * 1000 }));
    }
    const start = performance.now();
    const index = new CdrIndex(records);
    let wrong = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = records[(i * 37) % records.length] as CdrRecord;
      if (index.find({ calling: r.calling, called: r.called, time: r.startUtc + 1500 })[0] !== r) wrong++;
    }
    const ms = performance.now() - start;
    expect(wrong).toBe(0);
    // Typically ~50 ms; the bound only catches a lost index (a linear scan takes minutes).
    expect(ms).toBeLessThan(3000);
  });
});

describe('answerFromCdr', () => {
  const customers: Customer[] = [
    { account: 'ACCT-7', name: 'Apex Lead Solutions LLC', address: '12 Oak St, Austin, TX 78701', contact: 'ops@apex.example', accountSince: '2025-06-01', action: 'warned' },
  ];
  const index = new CdrIndex(
    [
      rec({ callId: 'up', startUtc: T0 + 800, calling: A, called: B, egressId: 'p0001' }),
      rec({ callId: 'cust', calling: C, called: B, ingressKind: 'customer', ingressId: 'ACCT-7', egressId: 'p0001' }),
      rec({ callId: 'lost', calling: B, called: C, ingressKind: 'customer', ingressId: 'ACCT-404' }),
      rec({ callId: 'frgn', calling: A, called: C, ingressKind: 'foreign', ingressId: 'Manila Voice Exchange Inc.', ingressCountry: 'PH', ingressTrunk: 'INTL-2' }),
    ],
    customers,
  );

  it('answers upstream with trunk and hop time', () => {
    const answer = answerFromCdr(index, query({}, 'p0001'));
    expect(answer).toEqual({ type: 'upstream', provider: 'p0002', trunk: 'TG1042', hopTime: T0 + 800 });
    expect(validateAnswer(answer)).toEqual(answer);
  });

  it('answers originator with the customer from customers.csv', () => {
    const answer = answerFromCdr(index, query({ calling: C }, 'p0001'));
    expect(answer).toEqual({
      type: 'originator',
      customer: { name: 'Apex Lead Solutions LLC', address: '12 Oak St, Austin, TX 78701', contact: 'ops@apex.example', accountSince: '2025-06-01' },
      action: 'warned',
    });
    expect(validateAnswer(answer)).toEqual(answer);
    expect(answerFromCdr(index, query({ calling: B, called: C }))).toEqual({ type: 'originator', customer: { name: 'account ACCT-404' }, action: 'none' });
  });

  it('answers foreign_entry with carrier and country', () => {
    const answer = answerFromCdr(index, query({ called: C }));
    expect(answer).toEqual({ type: 'foreign_entry', carrier: 'Manila Voice Exchange Inc.', country: 'PH' });
    expect(validateAnswer(answer)).toEqual(answer);
  });

  it('answers not_found without a match', () => {
    const answer = answerFromCdr(index, query({ time: T0 + 60_000 }));
    expect(answer.type).toBe('not_found');
    expect(validateAnswer(answer)).toEqual(answer);
  });

  it('answers not_found for a call older than the retention window', () => {
    const retentionMs = 30 * 86_400_000;
    expect(answerFromCdr(index, query({}, 'p0001'), { retentionMs, now: T0 + retentionMs }).type).toBe('upstream');
    const old = answerFromCdr(index, query({}, 'p0001'), { retentionMs, now: T0 + retentionMs + 1 });
    expect(old).toEqual({ type: 'not_found', reason: 'the call of 2026-11-30T07:00:00.000Z is older than our record retention of 30 days' });
  });

  it('builds from CSV text', () => {
    const built = CdrIndex.fromCsv(formatCdrCsv([rec({ calling: C, ingressKind: 'customer', ingressId: 'ACCT-7' })]), formatCustomersCsv(customers));
    expect(answerFromCdr(built, query({ calling: C })).type).toBe('originator');
  });
});

describe('STIR/SHAKEN columns', () => {
  const ORIGID = '0b5d2c4e-7f61-4a8b-9c3d-2e1f0a9b8c7d';
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const identity = `${b64({ alg: 'ES256', ppt: 'shaken', typ: 'passport', x5u: 'https://sti.p0002.example/cert.pem' })}.${b64({
    attest: 'A',
    dest: { tn: [B.slice(1)] },
    iat: T0 / 1000,
    orig: { tn: A.slice(1) },
    origid: ORIGID,
  })}.${Buffer.alloc(64, 3).toString('base64url')};info=<https://sti.p0002.example/cert.pem>;alg=ES256;ppt=shaken`;
  const SHAKEN_HEADER = `${HEADER},shaken_attest,shaken_origid,identity`;

  it('round-trip, and are left out of the header when no record has them', () => {
    const records = [rec({ stirShaken: { attestation: 'A', origId: ORIGID, identity } }), rec({ callId: 'c2', stirShaken: { attestation: 'C', origId: ORIGID } }), rec({ callId: 'c3' })];
    const text = formatCdrCsv(records);
    expect(text.split('\n')[0]).toBe(SHAKEN_HEADER);
    expect(parseCdrCsv(text)).toEqual(records);
    expect(formatCdrCsv([rec()]).split('\n')[0]).toBe(HEADER);
    // Lower-case attestation letters are accepted.
    expect(parseCdrCsv(`${SHAKEN_HEADER}\nc1,2026-11-30T07:00:00.000Z,${A},${B},provider,p0002,,,,b,${ORIGID},\n`)[0]?.stirShaken).toEqual({ attestation: 'B', origId: ORIGID });
  });

  it.each([
    ['an unknown attestation', `D,${ORIGID},`, 'shaken_attest', CdrFileErrorCode.BadValue],
    ['an origid without attestation', `,${ORIGID},`, 'shaken_attest', CdrFileErrorCode.MissingValue],
    ['an attestation without origid', 'A,,', 'shaken_origid', CdrFileErrorCode.MissingValue],
    ['an origid that is not a UUID', 'A,1234,', 'shaken_origid', CdrFileErrorCode.BadValue],
    ['an identity that is not a PASSporT', `A,${ORIGID},abc.def`, 'identity', CdrFileErrorCode.BadValue],
  ])('rejects %s, naming the column', (_what, cells, column, code) => {
    let error: CdrFileError | undefined;
    try {
      parseCdrCsv(`${SHAKEN_HEADER}\nc1,2026-11-30T07:00:00.000Z,${A},${B},provider,p0002,,,,${cells}\n`);
    } catch (err) {
      error = err as CdrFileError;
    }
    expect(error).toBeInstanceOf(CdrFileError);
    expect({ code: error?.code, column: error?.column, line: error?.line }).toEqual({ code, column, line: 2 });
  });

  it('answerFromCdr passes the record’s STIR/SHAKEN data on in every answer but not_found', () => {
    const stirShaken = { attestation: 'A' as const, origId: ORIGID, identity };
    const index = new CdrIndex(
      [
        rec({ egressId: 'p0001', stirShaken }),
        rec({ callId: 'cust', calling: C, ingressKind: 'customer', ingressId: 'ACCT-1', stirShaken }),
        rec({ callId: 'frgn', called: C, ingressKind: 'foreign', ingressId: 'Far Telecom', ingressCountry: 'GB', stirShaken: { attestation: 'C', origId: ORIGID } }),
      ],
      [],
    );
    const upstream = answerFromCdr(index, query({}, 'p0001'));
    expect(upstream).toMatchObject({ type: 'upstream', stirShaken });
    expect(validateAnswer(upstream)).toEqual(upstream);
    expect(answerFromCdr(index, query({ calling: C }))).toMatchObject({ type: 'originator', stirShaken });
    expect(answerFromCdr(index, query({ called: C }))).toMatchObject({ type: 'foreign_entry', stirShaken: { attestation: 'C', origId: ORIGID } });
    expect(answerFromCdr(index, query({ time: T0 + 60_000 }))).not.toHaveProperty('stirShaken');
    // The answer holds a copy: changing it does not change the record.
    (upstream as { stirShaken: { origId: string } }).stirShaken.origId = 'x';
    expect(answerFromCdr(index, query({}, 'p0001'))).toMatchObject({ stirShaken });
  });
});
