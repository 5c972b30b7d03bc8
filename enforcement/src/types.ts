import type { Outcome, Trail } from '../../protocol/index.js';
import type { EngineKey, PublicKey, VerifyResult } from '../../evidence/index.js';

/**
 * Which trails to receive. Either fields (each omitted one matches anything), or a NATS subject
 * filter on `tb.trail.<outcome>.<campaign>.<provider>.<traceback>`, written in full
 * (`tb.trail.origin_found.>`) or below `tb.trail.` (`origin_found.>`, `*.SSA-CalltheSSA.>`,
 * `*.*.acme-voice.*`). nats-server 2.9 allows one filter subject per consumer, so there is no OR:
 * subscribe twice for two outcomes.
 *
 * @example
 * ```ts
 * { outcome: 'origin_found' }                  // tb.trail.origin_found.>
 * { campaign: 'SSA-CalltheSSA' }               // tb.trail.*.SSA-CalltheSSA.>
 * { provider: 'acme-voice' }                   // tb.trail.*.*.acme-voice.>
 * '*.*.*.tb-0m9x8kqz1abcdefghijk'              // one traceback
 * ```
 */
export type TrailFilter =
  | string
  | {
      outcome?: Outcome;
      /** Campaign name as in `call.campaign`; it is turned into its subject token (`campaignToken`). */
      campaign?: string;
      /** End provider: the origin, point of entry, dead end or non-responder. */
      provider?: string;
    };

/**
 * Where reading starts: `'all'` (every stored trail), `'new'` (only trails published from now on), a
 * time (trails stored at or after it) or a stream sequence.
 */
export type TrailStart = 'all' | 'new' | Date | { sequence: number };

/** Key(s) to verify trails with; each delivery then carries `verification`. */
export type VerificationKeys = PublicKey | EngineKey | readonly (PublicKey | EngineKey)[];

/** One trail as received from `TB_TRAILS`. */
export interface TrailDelivery {
  /** The trail, validated by the protocol's rules. */
  trail: Trail;
  /**
   * The trail exactly as received (the decoded MessagePack map, unknown fields included). Verify,
   * store and export this one: a signature covers fields a newer engine adds and `trail` drops.
   */
  wire: Record<string, unknown>;
  subject: string;
  /** Stream sequence in `TB_TRAILS`; a `{ sequence }` start resumes from here. */
  seq: number;
  /** When the trail was stored in the stream. */
  storedAt: Date;
  /** 1 on first delivery; more when it was not acknowledged before. */
  deliveryCount: number;
  /** Set when keys were given: the signature (and nothing else) checked. */
  verification?: VerifyResult;
}

/** A delivery from the iterator form of `subscribeTrails`, to be acknowledged. */
export interface TrailMessage extends TrailDelivery {
  /**
   * Marks the trail as received for good (waits for the server to confirm). Called for you when
   * the loop asks for the next trail; call it yourself before `break` to keep the last one.
   */
  ack(): Promise<void>;
  /** Hands the trail back: it is delivered again after `delayMs`. @default 0 */
  nak(delayMs?: number): void;
}

/** Called for each trail; resolve to acknowledge, throw to have it delivered again. */
export type TrailHandler = (delivery: TrailDelivery) => void | Promise<void>;

/** Options of `subscribeTrails`. */
export interface SubscribeOptions {
  /**
   * The agency: names its durable consumer, so each agency (and each of its filters) receives
   * every trail once, however many of its processes pull from it. 1-32 characters `[A-Za-z0-9_-]`.
   */
  agency: string;
  /** Which trails. @default every trail */
  filter?: TrailFilter;
  /**
   * Where a NEW durable consumer starts. An existing one resumes where the agency left off and
   * ignores this (see `created` on the subscription), unless `reset` is set.
   * @default 'all'
   */
  from?: TrailStart;
  /** Delete the agency's consumer for this filter first, so it starts again at `from`. @default false */
  reset?: boolean;
  /** Override the consumer name (see `trailConsumerName`). */
  durable?: string;
  /** How long a delivered trail may stay unacknowledged before the server delivers it again, ms. @default 30000 */
  ackWaitMs?: number;
  /** Delay before a trail whose handler threw is delivered again, ms. @default 1000 */
  nakDelayMs?: number;
  /** Trails pulled ahead of the handler. @default 16 */
  batch?: number;
  /** Verify each trail's signature with these keys and set `verification` on the delivery. */
  keys?: VerificationKeys;
  /**
   * Told of a handler that threw (the trail is redelivered) and of a message on a trail subject that
   * is not a valid trail (it is terminated: never delivered again).
   * @default emits a process warning
   */
  onError?: (error: Error, context: { subject: string; seq: number }) => void;
}

/** A running durable subscription. `await using` stops it. */
export interface TrailSubscription extends AsyncDisposable {
  /** Name of the durable consumer on `TB_TRAILS`. */
  readonly consumer: string;
  /** The filter subject it was created with. */
  readonly subject: string;
  /** True when this call created the consumer (so `from` applied). */
  readonly created: boolean;
  /** Stops pulling; a trail being handled finishes first, unacknowledged ones are redelivered later. */
  stop(): Promise<void>;
  /** Resolves when the subscription has stopped. */
  readonly done: Promise<void>;
}

/** The iterator form of a subscription. */
export interface TrailIterator extends TrailSubscription, AsyncIterable<TrailMessage> {}

/** Options of `readTrails` and `followTrails` (no consumer is left behind). */
export interface ReadOptions {
  /** @default every trail */
  filter?: TrailFilter;
  /** @default 'all' */
  from?: TrailStart;
  /** Verify each trail's signature with these keys. */
  keys?: VerificationKeys;
}
