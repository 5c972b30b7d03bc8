import { randomBytes } from 'node:crypto';
import {
  PROTOCOL_VERSION,
  trailStirShaken,
  type Outcome,
  type ProviderInfo,
  type StirShaken,
  type Trail,
  type TracebackEvent,
  type TracebackId,
  type HopId,
  type E164,
} from '../../protocol/index.js';
import { emptyChain, extendChain, signTrail, type ChainState, type EngineKey } from '../index.js';

const T0 = Date.UTC(2026, 10, 29, 15, 4, 5);
const HOUR = 3_600_000;

/** A fresh valid traceback id. */
export function newId(): TracebackId {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `tb-${[...randomBytes(20)].map((b) => alphabet[b % 36]).join('')}` as TracebackId;
}

const ORIGID = '6f0c4e1a-2b3d-4c5e-8f70-91a2b3c4d5e6';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A SHAKEN Identity header for the sample call as `signer` would sign it (the signature is filler). */
export function sampleIdentity(attest: 'A' | 'B' | 'C' = 'A', origid = ORIGID): string {
  const header = { alg: 'ES256', typ: 'passport', ppt: 'shaken', x5u: 'https://cert.acme-voice.example/sti.pem' };
  const payload = { attest, dest: { tn: ['12025550143'] }, iat: Math.floor(T0 / 1000), orig: { tn: '12155550121' }, origid };
  return `${b64(header)}.${b64(payload)}.${Buffer.alloc(64, 9).toString('base64url')};info=<https://cert.acme-voice.example/sti.pem>;alg=ES256;ppt=shaken`;
}

/** A directory snapshot as a provider actor reports it. */
function info(name: string, frn: string, ocn: string, flags: ProviderInfo['flags'] = []): ProviderInfo {
  return { name, frn, ocn, rmdStatus: 'certified', verified: true, flags };
}

export interface SampleOptions {
  id?: TracebackId;
  outcome?: Outcome;
  campaign?: string;
  endProvider?: string;
  customerName?: string;
}

/** An unsigned three-hop trail: T1 ← W2 ← end provider, with a reminder, an origin and a transcript. */
export function sampleTrail(options: SampleOptions = {}): Trail {
  const id = options.id ?? newId();
  const end = options.endProvider ?? 'acme-voice';
  const outcome = options.outcome ?? 'origin_found';
  const hop = (n: number): HopId => `${id}-h${n}` as HopId;
  const signedAtOrigin: StirShaken = { attestation: 'A', origId: ORIGID, identity: sampleIdentity() };
  const callTimes = { calling: '+12155550121' as E164, called: '+12025550143' as E164, time: T0 };
  const trail: Trail = {
    v: PROTOCOL_VERSION,
    kind: 'trail',
    tracebackId: id,
    call: {
      calling: '+12155550121' as E164,
      called: '+12025550143' as E164,
      time: T0,
      ...(options.campaign === undefined ? { campaign: 'SSA-CalltheSSA' } : options.campaign === '' ? {} : { campaign: options.campaign }),
      transcript: 'This is the Social Security Administration. Press 1 <now> & "urgently".',
    },
    requester: 'NC Attorney General',
    terminatingProvider: 'T1',
    startedAt: T0 + HOUR,
    endedAt: T0 + 30 * HOUR,
    outcome,
    reason: `${end} named its customer`,
    hops: [
      {
        hop: 1,
        hopId: hop(1),
        provider: 'T1',
        askedAt: T0 + HOUR,
        deadline: T0 + 25 * HOUR,
        remindedAt: [],
        answeredAt: T0 + 2 * HOUR,
        status: 'answered',
        deadlineKept: true,
        answer: { type: 'upstream', provider: 'W2', trunk: 'TG-12', hopTime: T0, stirShaken: signedAtOrigin },
        providerInfo: info('Big National Wireless Inc', '0001234567', '6214'),
        stirShaken: trailStirShaken(signedAtOrigin, callTimes),
      },
      {
        hop: 2,
        hopId: hop(2),
        provider: 'W2',
        downstream: 'T1',
        askedAt: T0 + 2 * HOUR,
        deadline: T0 + 26 * HOUR,
        remindedAt: [T0 + 14 * HOUR],
        answeredAt: T0 + 20 * HOUR,
        status: 'answered',
        deadlineKept: true,
        answer: { type: 'upstream', provider: end, stirShaken: { attestation: 'A', origId: ORIGID } },
        providerInfo: { verified: false, rmdStatus: 'unknown', flags: [] },
        stirShaken: trailStirShaken({ attestation: 'A', origId: ORIGID }, callTimes),
      },
      {
        hop: 3,
        hopId: hop(3),
        provider: end,
        downstream: 'W2',
        askedAt: T0 + 20 * HOUR,
        deadline: T0 + 44 * HOUR,
        remindedAt: [],
        answeredAt: T0 + 30 * HOUR,
        status: 'answered',
        deadlineKept: true,
        answer: {
          type: 'originator',
          customer: { name: options.customerName ?? 'Acme Dialer LLC', address: '1 Main St, Dover DE', accountSince: '2025-01-02' },
          action: 'terminated',
          stirShaken: signedAtOrigin,
        },
        providerInfo: info('Acme Voice LLC', '0007654321', '123A', [
          { name: 'high_risk_origin', raisedAt: T0 - 86_400_000, reason: '3 trails of illegal calls originated by this provider within 60 days (threshold 3)' },
        ]),
        stirShaken: trailStirShaken(signedAtOrigin, callTimes),
      },
    ],
    endProvider: end,
  };
  const last = trail.hops[2]!.answer!;
  if (last.type === 'originator') trail.origin = { provider: end, customer: last.customer, action: last.action };
  return trail;
}

/** The audit events an engine would have published for {@link sampleTrail}. */
export function sampleEvents(trail: Trail): TracebackEvent[] {
  const base = { v: PROTOCOL_VERSION, kind: 'traceback_event' as const, tracebackId: trail.tracebackId };
  const events: TracebackEvent[] = [{ ...base, seq: 1, at: trail.startedAt, type: 'started', state: 'asking' }];
  for (const h of trail.hops) {
    events.push({ ...base, seq: events.length + 1, at: h.askedAt, type: 'asked', state: 'asking', hopId: h.hopId, provider: h.provider });
    for (const at of h.remindedAt) events.push({ ...base, seq: events.length + 1, at, type: 'reminded', state: 'asking', hopId: h.hopId, provider: h.provider });
    if (h.answer && h.answeredAt !== undefined) {
      events.push({ ...base, seq: events.length + 1, at: h.answeredAt, type: 'answered', state: 'asking', hopId: h.hopId, provider: h.provider, answer: h.answer });
    }
  }
  events.push({ ...base, seq: events.length + 1, at: trail.endedAt, type: 'ended', state: trail.outcome, outcome: trail.outcome, provider: trail.endProvider });
  return events;
}

/** Signs a sample trail over its sample events, as the engine will. */
export function signedSample(key: EngineKey, options: SampleOptions = {}): { trail: Trail; events: TracebackEvent[]; chain: ChainState } {
  const unsigned = sampleTrail(options);
  const events = sampleEvents(unsigned);
  const chain = extendChain(emptyChain(), ...events);
  return { trail: signTrail(unsigned, key, chain), events, chain };
}
