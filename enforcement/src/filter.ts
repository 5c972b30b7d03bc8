import { createHash } from 'node:crypto';
import { DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream';
import { OUTCOMES, SubjectWildcards, campaignToken, isSubjectToken } from '../../protocol/index.js';
import { EnforcementError, EnforcementErrorCode } from './errors.js';
import type { TrailFilter, TrailStart } from './types.js';

const PREFIX = 'tb.trail.';
/** Tokens after `tb.trail.`: outcome, campaign, provider, traceback. */
const TOKENS = 4;
const AGENCY = /^[A-Za-z0-9_-]{1,32}$/;

function bad(message: string): never {
  throw new EnforcementError(EnforcementErrorCode.BadFilter, message);
}

/**
 * The NATS filter subject of a {@link TrailFilter}, normalised so that equal filters give equal
 * subjects: trailing `*` tokens become one `>` (`origin_found.*.*.*` → `tb.trail.origin_found.>`),
 * and no filter at all is `tb.trail.>`.
 *
 * @throws EnforcementError `BAD_FILTER`
 */
export function trailSubject(filter: TrailFilter = '>'): string {
  let tokens: string[];
  if (typeof filter === 'string') {
    const text = filter.trim();
    const below = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : text === 'tb.trail' ? '>' : text;
    if (below === '') bad('empty trail filter');
    tokens = below.split('.');
    if (tokens.length > TOKENS) bad(`trail filter ${JSON.stringify(filter)} has more than ${TOKENS} tokens after tb.trail.`);
    tokens.forEach((token, i) => {
      if (token === '>' && i !== tokens.length - 1) bad(`'>' must be the last token of ${JSON.stringify(filter)}`);
      if (token !== '*' && token !== '>' && !isSubjectToken(token)) bad(`bad token ${JSON.stringify(token)} in trail filter ${JSON.stringify(filter)}`);
    });
    if (tokens.length < TOKENS && tokens[tokens.length - 1] !== '>') {
      bad(`trail filter ${JSON.stringify(filter)} matches nothing: trail subjects have ${TOKENS} tokens after tb.trail. (end it with '>')`);
    }
  } else {
    const { outcome, campaign, provider } = filter;
    if (provider !== undefined && !isSubjectToken(provider)) bad(`bad provider id ${JSON.stringify(provider)}`);
    tokens = [outcome ?? '*', campaign === undefined ? '*' : campaignToken(campaign), provider ?? '*', '*'];
  }
  const outcome = tokens[0];
  if (outcome !== undefined && outcome !== '*' && outcome !== '>' && !(OUTCOMES as readonly string[]).includes(outcome)) {
    bad(`unknown outcome ${JSON.stringify(outcome)}; one of ${OUTCOMES.join(', ')}`);
  }
  if (tokens.length === TOKENS) {
    while (tokens.length > 0 && tokens[tokens.length - 1] === '*') tokens.pop();
    if (tokens.length < TOKENS) tokens.push('>');
  }
  const subject = `${PREFIX}${tokens.join('.')}`;
  return subject === `${PREFIX}>` ? SubjectWildcards.trails : subject;
}

/**
 * Durable consumer name of an agency's subscription: `enf_<agency>_<h>`, where `<h>` is the first
 * 12 lowercase hex digits of SHA-256 of the normalised filter subject ({@link trailSubject}).
 * E.g. agency `NC-AGO` with no filter → `enf_NC-AGO_` + sha256("tb.trail.>")[0:12].
 *
 * @throws EnforcementError `BAD_AGENCY`, `BAD_FILTER`
 */
export function trailConsumerName(agency: string, filter?: TrailFilter): string {
  checkAgency(agency);
  const hash = createHash('sha256').update(trailSubject(filter)).digest('hex').slice(0, 12);
  return `enf_${agency}_${hash}`;
}

export function checkAgency(agency: string): void {
  if (!AGENCY.test(agency)) {
    throw new EnforcementError(EnforcementErrorCode.BadAgency, `agency must be 1-32 characters [A-Za-z0-9_-], got ${JSON.stringify(agency)}`);
  }
}

/** Consumer fields for a start position. */
export function deliverFrom(from: TrailStart = 'all'): Pick<ConsumerConfig, 'deliver_policy' | 'opt_start_time' | 'opt_start_seq'> {
  if (from === 'all') return { deliver_policy: DeliverPolicy.All };
  if (from === 'new') return { deliver_policy: DeliverPolicy.New };
  if (from instanceof Date) {
    if (Number.isNaN(from.getTime())) throw new EnforcementError(EnforcementErrorCode.BadFrom, 'from is an invalid Date');
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.toISOString() };
  }
  if (typeof from === 'object' && from !== null && Number.isSafeInteger(from.sequence) && from.sequence >= 1) {
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.sequence };
  }
  throw new EnforcementError(EnforcementErrorCode.BadFrom, `from must be 'all', 'new', a Date or { sequence: n ≥ 1 }, got ${JSON.stringify(from)}`);
}

/**
 * Parses a filter written on a command line: a subject filter (`origin_found.>`), or comma-separated
 * `outcome=…`, `campaign=…`, `provider=…` pairs.
 */
export function parseFilter(text: string): TrailFilter {
  if (!text.includes('=')) return text;
  const filter: { outcome?: (typeof OUTCOMES)[number]; campaign?: string; provider?: string } = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0 || value === '') bad(`filter part ${JSON.stringify(part)} is not name=value`);
    if (name === 'outcome') {
      if (!(OUTCOMES as readonly string[]).includes(value)) bad(`unknown outcome ${JSON.stringify(value)}; one of ${OUTCOMES.join(', ')}`);
      filter.outcome = value as (typeof OUTCOMES)[number];
    } else if (name === 'campaign') filter.campaign = value;
    else if (name === 'provider') filter.provider = value;
    else bad(`unknown filter field ${JSON.stringify(name)}: use outcome, campaign or provider`);
  }
  trailSubject(filter);
  return filter;
}
