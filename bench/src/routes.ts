import type { Answer, HopQuery, ProviderId } from '../../protocol/index.js';
import type { StartRequest } from '../../engine/index.js';
import { Rng, mix32, randomUsNumber } from '../../sim/index.js';

/**
 * The scripted network the benchmark drives. A traceback's route is a pure function of
 * (plan, index), and the index rides in the call itself (`call.time = BASE_CALL_TIME + index`),
 * so carriers in another process answer from the same table without any shared state.
 *
 * - `uniform`: `hops` distinct providers drawn evenly from `providers`.
 * - `hot`: half of all hops go through one provider (`hot`). The machine ends a traceback
 *   with `loop` when a provider appears twice, so one provider can carry at most one hop of
 *   each traceback; a 50% share therefore means 2-hop routes, `hot` first or second.
 */
export type RouteKind = 'uniform' | 'hot';

export interface RoutePlan {
  kind: RouteKind;
  providers: number;
  hops: number;
  seed: number;
}

export const HOT_PROVIDER: ProviderId = 'hot';
export const BASE_CALL_TIME = Date.UTC(2025, 0, 1);
export const BENCH_REQUESTER = 'robotrace-bench';

const TRANSCRIPT =
  'This is an important message from the Social Security Administration. Your social security number has been ' +
  'suspended because of suspicious activity. Press one now to speak with an officer.';

export function providerId(i: number): ProviderId {
  return `p${String(i).padStart(4, '0')}`;
}

export function providersOf(plan: RoutePlan): ProviderId[] {
  const ids = Array.from({ length: plan.providers }, (_, i) => providerId(i));
  if (plan.kind === 'hot') ids.push(HOT_PROVIDER);
  return ids;
}

export function routeOf(plan: RoutePlan, index: number): ProviderId[] {
  let h = mix32(Math.imul(plan.seed + 1, 0x9e3779b9) ^ index);
  if (plan.kind === 'hot') {
    const other = providerId(h % plan.providers);
    return index % 2 === 0 ? [HOT_PROVIDER, other] : [other, HOT_PROVIDER];
  }
  const used = new Set<number>();
  const route: ProviderId[] = [];
  const hops = Math.min(plan.hops, plan.providers);
  while (route.length < hops) {
    h = mix32(h + 0x6d2b79f5);
    const p = h % plan.providers;
    if (used.has(p)) continue;
    used.add(p);
    route.push(providerId(p));
  }
  return route;
}

export function routeIndexOf(callTime: number): number {
  return callTime - BASE_CALL_TIME;
}

/** The start request for route `index`: valid US numbers, a transcript, the route's first provider. */
export function startRequestOf(plan: RoutePlan, index: number): StartRequest {
  const route = routeOf(plan, index);
  const rng = new Rng(plan.seed * 1_000_003 + index);
  return {
    call: { calling: randomUsNumber(rng), called: randomUsNumber(rng), time: BASE_CALL_TIME + index, campaign: 'bench', transcript: TRANSCRIPT },
    terminatingProvider: route[0] ?? providerId(0),
    requester: BENCH_REQUESTER,
  };
}

/** What a carrier on the route answers: the next provider, or "my customer" at the end. */
export function answerFor(plan: RoutePlan, query: Pick<HopQuery, 'call' | 'hop' | 'provider'>): Answer {
  const route = routeOf(plan, routeIndexOf(query.call.time));
  if (route[query.hop - 1] !== query.provider) return { type: 'not_found', reason: 'benchmark: provider not on this route' };
  const next = route[query.hop];
  if (next !== undefined) return { type: 'upstream', provider: next, trunk: 'tg-bench' };
  return { type: 'originator', customer: { name: 'Bench Dialer LLC', accountSince: '2024-01-01' }, action: 'terminated' };
}
