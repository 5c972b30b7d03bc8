import { describe, expect, it } from 'vitest';
import {
  Buckets,
  ErrorCode,
  OUTCOMES,
  Streams,
  SubjectWildcards,
  Subjects,
  campaignToken,
  carrierConsumerName,
  isSubjectToken,
} from '../index.js';
import { TB, expectProtocolError } from './samples.js';

const UNSAFE = ['a.b', '*', '>', 'a*', 'a>', 'a b', ' a', 'a\tb', 'a\nb', '', 'x'.repeat(65), 'é', 'a/b', 'a:b'];

describe('subject names', () => {
  it('builds the documented subjects', () => {
    expect(Subjects.start).toBe('tb.api.start');
    expect(Subjects.cancel).toBe('tb.api.cancel');
    expect(Subjects.status).toBe('tb.api.status');
    expect(Subjects.get).toBe('tb.api.get');
    expect(Subjects.hopQuery('acme-voice')).toBe('tb.hop.req.acme-voice');
    expect(Subjects.hopAnswer('acme-voice')).toBe('tb.hop.ans.acme-voice');
    expect(Subjects.hopError('acme-voice')).toBe('tb.hop.err.acme-voice');
    expect(Subjects.trail('origin_found', 'SSA-CalltheSSA', 'acme-voice', TB)).toBe(`tb.trail.origin_found.SSA-CalltheSSA.acme-voice.${TB}`);
    expect(Subjects.trail('noncooperative', undefined, 'acme-voice', TB)).toBe(`tb.trail.noncooperative.none.acme-voice.${TB}`);
    expect(Subjects.trail('loop', 'Amazon Impers.P2', 'p_1', TB)).toBe(`tb.trail.loop.Amazon_Impers_P2.p_1.${TB}`);
    expect(Subjects.events(TB)).toBe(`tb.events.${TB}`);
    expect(carrierConsumerName('acme-voice')).toBe('carrier-acme-voice');
  });

  it('accepts 64-character tokens of [A-Za-z0-9_-]', () => {
    const id = 'A-z_9'.repeat(12) + 'abcd';
    expect(id).toHaveLength(64);
    expect(Subjects.hopQuery(id)).toBe(`tb.hop.req.${id}`);
    expect(isSubjectToken(id)).toBe(true);
  });

  it.each(UNSAFE)('rejects the unsafe provider token %j', (provider) => {
    expect(isSubjectToken(provider)).toBe(false);
    for (const build of [Subjects.hopQuery, Subjects.hopAnswer, Subjects.hopError, carrierConsumerName]) {
      expectProtocolError(() => build(provider), ErrorCode.InvalidField, 'provider');
    }
    expectProtocolError(() => Subjects.trail('origin_found', 'c', provider, TB), ErrorCode.InvalidField, 'provider');
  });

  it.each(UNSAFE)('rejects the unsafe traceback and outcome token %j', (value) => {
    expectProtocolError(() => Subjects.events(value), ErrorCode.InvalidField, 'tracebackId');
    expectProtocolError(() => Subjects.trail('origin_found', 'c', 'p', value), ErrorCode.InvalidField, 'tracebackId');
    expectProtocolError(() => Subjects.trail(value, 'c', 'p', TB), ErrorCode.InvalidField, 'outcome');
  });

  it('every outcome is a subject token', () => {
    for (const outcome of OUTCOMES) expect(isSubjectToken(outcome)).toBe(true);
  });

  it('wildcards cover the per-provider and per-traceback subjects', () => {
    expect(SubjectWildcards).toStrictEqual({
      hopQueries: 'tb.hop.req.>',
      hopAnswers: 'tb.hop.ans.>',
      hopErrors: 'tb.hop.err.>',
      trails: 'tb.trail.>',
      events: 'tb.events.>',
      providerFlags: 'tb.provider.flag.>',
      providerEvents: 'tb.provider.events.>',
      shardInbox: 'tb.shard.>',
    });
  });

  it('stream and bucket names are the documented ones', () => {
    expect(Streams).toStrictEqual({
      hopQueries: 'TB_HOP_QUERIES',
      hopAnswers: 'TB_HOP_ANSWERS',
      hopErrors: 'TB_HOP_ERRORS',
      trails: 'TB_TRAILS',
      events: 'TB_EVENTS',
      providerFlags: 'TB_PROVIDER_FLAGS',
      providerEvents: 'TB_PROVIDER_EVENTS',
      shardInbox: 'TB_SHARD_INBOX',
    });
    expect(Buckets).toStrictEqual({ actors: 'tb_actors', timers: 'tb_timers', engine: 'tb_engine', shards: 'tb_shards' });
  });

  it('internal shard subjects: per-shard inbox and request subjects, answers keep their provider', () => {
    expect(Subjects.shardDelivery(7)).toBe('tb.shard.7.deliver');
    expect(Subjects.shardAnswer(7, 'P1')).toBe('tb.shard.7.answer.P1');
    expect(Subjects.shardRequest(7, 'start')).toBe('tb.internal.shard.7.start');
    expect(Subjects.shardRequest(7, '*')).toBe('tb.internal.shard.7.*');
    expect(() => Subjects.shardAnswer(7, 'a.b')).toThrow(/provider/);
  });
});

describe('campaignToken', () => {
  it.each([
    [undefined, 'none'],
    ['', 'none'],
    ['   ', 'none'],
    ['SSA-CalltheSSA', 'SSA-CalltheSSA'],
    ['Utility-30MinDisconnect', 'Utility-30MinDisconnect'],
    ['  Amazon Impers.P2  ', 'Amazon_Impers_P2'],
    ['a.b', 'a_b'],
    ['*', '_'],
    ['>', '_'],
    ['Pólizas', 'P_lizas'],
    ['x'.repeat(100), 'x'.repeat(64)],
  ])('%j → %j', (campaign, token) => {
    expect(campaignToken(campaign)).toBe(token);
    expect(isSubjectToken(token)).toBe(true);
  });
});
