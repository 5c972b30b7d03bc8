import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION, type Outcome, type Trail, type TracebackEvent, type TracebackId, type HopId, type E164 } from '../../protocol/index.js';
import { emptyChain, extendChain, signTrail, type ChainState, type EngineKey } from '../index.js';

const T0 = Date.UTC(2026, 10, 29, 15, 4, 5);
const HOUR = 3_600_000;

/** A fresh valid traceback id. */
export function newId(): TracebackId {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `tb-${[...randomBytes(20)].map((b) => alphabet[b % 36]).join('')}` as TracebackId;
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
        answer: { type: 'upstream', provider: 'W2', trunk: 'TG-12', hopTime: T0 },
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
        answer: { type: 'upstream', provider: end },
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
        },
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
