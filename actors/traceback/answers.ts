import { isDeepStrictEqual } from 'node:util';
import { ErrorCode, parseHopId, type Answer, type ProviderId } from '../../protocol/index.js';
import type { TracebackContext } from './types.js';

/** The verdict on an inbound answer, decided before the machine sees it. */
export type AnswerCheck =
  | { kind: 'accept' }
  /** The same answer for the same hop arrived again (carrier retry, redelivery): ignore quietly. */
  | { kind: 'duplicate' }
  | { kind: 'reject'; code: ErrorCode; message: string };

/**
 * A copy without `undefined` members, which the wire and a persisted snapshot both drop:
 * `{ trunk: undefined }` and no `trunk` are the same answer.
 */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, withoutUndefined(v)]),
    );
  }
  return value;
}

/**
 * Decides whether an answer may advance the traceback. Pure, so the engine can tell the
 * carrier exactly why an answer was refused without touching the actor.
 */
export function checkAnswer(
  context: TracebackContext,
  answer: { hopId: string; provider: ProviderId; answer: Answer },
): AnswerCheck {
  let hopNumber: number;
  try {
    hopNumber = parseHopId(answer.hopId).hop;
  } catch {
    return { kind: 'reject', code: ErrorCode.UnknownHop, message: `${answer.hopId} is not a hop id` };
  }
  const hop = context.hops[hopNumber - 1];
  if (hop === undefined || hop.hopId !== answer.hopId) {
    return { kind: 'reject', code: ErrorCode.UnknownHop, message: `hop ${answer.hopId} was never asked` };
  }
  if (hop.provider !== answer.provider) {
    return {
      kind: 'reject',
      code: ErrorCode.WrongProvider,
      message: `hop ${answer.hopId} was asked of ${hop.provider}, not ${answer.provider}`,
    };
  }
  if (hop.status === 'answered') {
    return isDeepStrictEqual(withoutUndefined(hop.answer), withoutUndefined(answer.answer))
      ? { kind: 'duplicate' }
      : { kind: 'reject', code: ErrorCode.HopClosed, message: `hop ${answer.hopId} was already answered differently` };
  }
  if (hop.status !== 'open') {
    return { kind: 'reject', code: ErrorCode.HopClosed, message: `hop ${answer.hopId} is ${hop.status}` };
  }
  if (context.outcome !== undefined) {
    return { kind: 'reject', code: ErrorCode.HopClosed, message: `traceback ended: ${context.outcome}` };
  }
  return { kind: 'accept' };
}
