import { ErrorCode, ProtocolError } from './errors.js';

/**
 * Subject, stream and bucket names. Every subject starts with `tb.` so one account
 * export or permission block covers the protocol.
 */
export const Subjects = {
  /** Request/reply: start a traceback. Request `StartTraceback`, reply `TracebackStarted` or `ProtocolErrorMessage`. */
  start: 'tb.api.start',
  /** Request/reply: cancel a traceback. Request `CancelTraceback`, reply `TracebackCancelled` or error. */
  cancel: 'tb.api.cancel',
  /** Request/reply: counts of tracebacks by state. Request `StatusRequest`, reply `StatusReply`. */
  status: 'tb.api.status',
  /** Request/reply: one traceback's current record. Request `GetTraceback`, reply `TracebackView` or error. */
  get: 'tb.api.get',
  /** Engine → carrier hop queries, one subject per provider: `tb.hop.req.<provider>`. */
  hopQuery: (provider: string) => `tb.hop.req.${token(provider, 'provider')}`,
  /** Carrier → engine hop answers: `tb.hop.ans.<provider>`. */
  hopAnswer: (provider: string) => `tb.hop.ans.${token(provider, 'provider')}`,
  /** Engine → carrier rejections of its answers: `tb.hop.err.<provider>`. */
  hopError: (provider: string) => `tb.hop.err.${token(provider, 'provider')}`,
  /**
   * Completed trails: `tb.trail.<outcome>.<campaign>.<provider>.<traceback>`, where
   * `<provider>` is the last provider of the trail (origin, point of entry, or the one
   * that did not answer) and `<campaign>` is `campaignToken(campaign)`.
   */
  trail: (outcome: string, campaign: string | undefined, provider: string, tracebackId: string) =>
    `tb.trail.${token(outcome, 'outcome')}.${campaignToken(campaign)}.${token(provider, 'provider')}.${token(tracebackId, 'tracebackId')}`,
  /** Flags raised and cleared on a provider: `tb.provider.flag.<provider>`. */
  providerFlag: (provider: string) => `tb.provider.flag.${token(provider, 'provider')}`,
  /** Every state change of one provider actor: `tb.provider.events.<provider>`. */
  providerEvents: (provider: string) => `tb.provider.events.${token(provider, 'provider')}`,
  /** Request/reply: clear a provider flag. Request `ClearProviderFlag`, reply `ProviderFlagCleared` or error. */
  clearFlag: 'tb.api.provider.clear_flag',
  /** Request/reply: add or update directory entries and policies. Request `UpsertProviders`, reply `ProvidersUpserted`. */
  upsertProviders: 'tb.api.provider.upsert',
  /** Every state change of one traceback: `tb.events.<traceback>`. */
  events: (tracebackId: string) => `tb.events.${token(tracebackId, 'tracebackId')}`,
  /**
   * Engine ↔ engine (internal): messages for the actors of one shard, consumed only by the
   * engine holding that shard's lease: `tb.shard.<shard>.deliver` and
   * `tb.shard.<shard>.answer.<provider>` (a carrier answer forwarded verbatim).
   */
  shardDelivery: (shard: number) => `tb.shard.${shard}.deliver`,
  shardAnswer: (shard: number, provider: string) => `tb.shard.${shard}.answer.${token(provider, 'provider')}`,
  /** Engine ↔ engine (internal) request/reply, served by the shard's owner: `tb.internal.shard.<shard>.<op>`. */
  shardRequest: (shard: number, op: string) => `tb.internal.shard.${shard}.${op === '*' ? '*' : token(op, 'op')}`,
} as const;

/** Wildcards used for stream subjects and subscriptions. */
export const SubjectWildcards = {
  hopQueries: 'tb.hop.req.>',
  hopAnswers: 'tb.hop.ans.>',
  hopErrors: 'tb.hop.err.>',
  trails: 'tb.trail.>',
  events: 'tb.events.>',
  providerFlags: 'tb.provider.flag.>',
  providerEvents: 'tb.provider.events.>',
  shardInbox: 'tb.shard.>',
} as const;

export const Streams = {
  /** Work queue of hop queries; a durable consumer per carrier. */
  hopQueries: 'TB_HOP_QUERIES',
  /** Work queue of hop answers consumed by the engine. */
  hopAnswers: 'TB_HOP_ANSWERS',
  /** Rejected answers, kept 7 days so an offline carrier can read why. */
  hopErrors: 'TB_HOP_ERRORS',
  /** Completed trails, long retention, replayable. */
  trails: 'TB_TRAILS',
  /** Audit history of every traceback. */
  events: 'TB_EVENTS',
  /** Provider flags with their evidence, long retention. */
  providerFlags: 'TB_PROVIDER_FLAGS',
  /** Audit history of every provider actor. */
  providerEvents: 'TB_PROVIDER_EVENTS',
  /** Internal work queue between engines: messages for each shard's actors (`tb.shard.>`). */
  shardInbox: 'TB_SHARD_INBOX',
} as const;

export const Buckets = {
  /** Actor records (snapshot + outbox), key `traceback.<id>` or `provider.<id>`. */
  actors: 'tb_actors',
  /** Durable timers, key `<kind>.<id>.<timer>`. */
  timers: 'tb_timers',
  /** Engine metadata: outbox checkpoints per shard, counters. */
  engine: 'tb_engine',
  /** Shard ownership: `config`, `member.<engine>`, `lease.<shard>`. */
  shards: 'tb_shards',
} as const;

/** Durable consumer name a carrier uses for its own queue. */
export function carrierConsumerName(provider: string): string {
  return `carrier-${token(provider, 'provider')}`;
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Provider ids and other ids that appear in subjects must be a single safe token. */
export function isSubjectToken(value: string): boolean {
  return TOKEN.test(value);
}

function token(value: string, field: string): string {
  if (!TOKEN.test(value)) {
    throw new ProtocolError(ErrorCode.InvalidField, `${field} must match ${TOKEN.source}, got ${JSON.stringify(value)}`, {
      path: field,
    });
  }
  return value;
}

/**
 * Campaign names are free text; in subjects they become a token of letters, digits,
 * `_` and `-` (other characters → `_`, at most 64), and `none` when absent.
 */
export function campaignToken(campaign: string | undefined): string {
  if (campaign === undefined || campaign.trim() === '') return 'none';
  return campaign.trim().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}
