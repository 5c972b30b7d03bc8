import { describe, expect, it } from 'vitest';
import { decodeMap, decodeTrail, encodeMessage, type Trail } from '../../protocol/index.js';
import {
  EvidenceErrorCode,
  VerifyFailure,
  canonicalJson,
  emptyChain,
  extendChain,
  generateEngineKey,
  importPublicKey,
  exportPublicKeyPem,
  signTrail,
  signingInput,
  verifyTrail,
  type PublicKey,
} from '../index.js';
import { sampleEvents, sampleIdentity, sampleTrail, signedSample } from './samples.js';

const key = generateEngineKey();
const pub: PublicKey = importPublicKey(exportPublicKeyPem(key.publicKey));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const clone = <T>(v: T): T => structuredClone(v);

/** Every path to a leaf value, e.g. `['hops', 2, 'answer', 'customer', 'name']`. */
function leaves(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.length === 0 ? [path] : value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [path];
}

function setAt(root: Json, path: (string | number)[], change: (old: Json | undefined) => Json | undefined): Json {
  const copy = clone(root);
  let node = copy as Record<string | number, Json>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  const next = change(node[last]);
  if (next === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = next;
  return copy;
}

function mutate(old: Json | undefined): Json {
  if (typeof old === 'number') return old + 1;
  if (typeof old === 'boolean') return !old;
  if (typeof old === 'string') return old.length > 0 ? `${old.slice(0, -1)}${old.endsWith('a') ? 'b' : 'a'}` : 'a';
  if (Array.isArray(old)) return [...old, 1];
  return 'x';
}

describe('signTrail and verifyTrail', () => {
  const { trail, events, chain } = signedSample(key);

  it('signs every field but the signature, with the chain head, count and key id', () => {
    expect(trail.evidence).toMatchObject({ chainHead: chain.head, eventCount: events.length, keyId: key.keyId, alg: 'Ed25519' });
    expect(trail.evidence!.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const text = new TextDecoder().decode(signingInput(trail));
    expect(text).not.toContain(trail.evidence!.signature);
    expect(text).toContain(`"keyId":"${key.keyId}"`);
    expect(text).toBe(canonicalJson({ ...trail, evidence: { ...trail.evidence, signature: undefined } }));
  });

  it('verifies, with and without the audit events', () => {
    expect(verifyTrail(trail, pub)).toEqual({
      ok: true,
      tracebackId: trail.tracebackId,
      keyId: key.keyId,
      chainHead: chain.head,
      eventCount: events.length,
      chainChecked: false,
    });
    expect(verifyTrail(trail, [generateEngineKey(), pub], { events })).toMatchObject({ ok: true, chainChecked: true });
  });

  it('survives the wire and JSON: MessagePack and JSON round trips still verify', () => {
    const wire = decodeMap(encodeMessage(trail));
    expect(verifyTrail(wire, pub)).toMatchObject({ ok: true });
    expect(verifyTrail(JSON.parse(JSON.stringify(trail)), pub)).toMatchObject({ ok: true });
    expect(decodeTrail(encodeMessage(trail)).evidence).toEqual(trail.evidence);
  });

  it('replaces any evidence already on the input, and refuses a chain of another traceback', () => {
    const again = signTrail(trail, key, chain);
    expect(again).toEqual(trail);
    const foreign = extendChain(emptyChain(), ...sampleEvents(sampleTrail()));
    expect(() => signTrail(sampleTrail(), key, foreign)).toThrow(expect.objectContaining({ code: EvidenceErrorCode.ChainOrder }) as Error);
    expect(() => signTrail({ ...sampleTrail(), startedAt: 1.5 }, key, emptyChain())).toThrow(expect.objectContaining({ code: EvidenceErrorCode.NotCanonical }) as Error);
  });

  it.each([
    ['a hop time', (t: Trail) => void (t.hops[1]!.answeredAt! += 1000)],
    ['a deadline', (t: Trail) => void (t.hops[0]!.deadline += 1)],
    ['a reminder time', (t: Trail) => void (t.hops[1]!.remindedAt[0]! -= 60_000)],
    ['deadline kept', (t: Trail) => void (t.hops[0]!.deadlineKept = false)],
    ['a provider', (t: Trail) => void (t.hops[1]!.provider = 'W3')],
    ['the upstream named in an answer', (t: Trail) => void ((t.hops[0]!.answer as { provider: string }).provider = 'W9')],
    ['the customer name', (t: Trail) => void (t.origin!.customer.name = 'Someone Else LLC')],
    ['the customer name in the hop answer', (t: Trail) => void ((t.hops[2]!.answer as { customer: { name: string } }).customer.name = 'X')],
    ['the action taken', (t: Trail) => void (t.origin!.action = 'none')],
    ['the outcome', (t: Trail) => void (t.outcome = 'not_found')],
    ['the reason', (t: Trail) => void (t.reason = 'nothing to see')],
    ['the calling number', (t: Trail) => void ((t.call as { calling: string }).calling = '+12155550122')],
    ['the called number', (t: Trail) => void ((t.call as { called: string }).called = '+12025550144')],
    ['the call time', (t: Trail) => void (t.call.time -= 1)],
    ['the campaign', (t: Trail) => void (t.call.campaign = 'Other')],
    ['the transcript', (t: Trail) => void (t.call.transcript = `${t.call.transcript ?? ''} `)],
    ['the requester', (t: Trail) => void (t.requester = 'FTC')],
    ['the chain head', (t: Trail) => void (t.evidence!.chainHead = '0'.repeat(64))],
    ['the event count', (t: Trail) => void (t.evidence!.eventCount -= 1)],
    // Never a no-op: a signature that already ends in AA gets BA (1 in 256 keys would otherwise pass).
    ['the signature', (t: Trail) => void (t.evidence!.signature = `${t.evidence!.signature.slice(0, -2)}${t.evidence!.signature.endsWith('AA') ? 'BA' : 'AA'}`)],
    ['a provider legal name', (t: Trail) => void (t.hops[2]!.providerInfo!.name = 'Honest Voice LLC')],
    ['a provider FRN', (t: Trail) => void (t.hops[0]!.providerInfo!.frn = '0001234568')],
    ['a provider OCN', (t: Trail) => void (t.hops[0]!.providerInfo!.ocn = '6215')],
    ['a provider RMD status', (t: Trail) => void (t.hops[2]!.providerInfo!.rmdStatus = 'removed')],
    ['whether a provider is verified', (t: Trail) => void (t.hops[1]!.providerInfo!.verified = true)],
    ['a removed provider flag', (t: Trail) => void t.hops[2]!.providerInfo!.flags.pop()],
    ['an added provider flag', (t: Trail) => void t.hops[0]!.providerInfo!.flags.push({ name: 'noncooperative', raisedAt: 1, reason: 'x' })],
    ['when a flag was raised', (t: Trail) => void (t.hops[2]!.providerInfo!.flags[0]!.raisedAt += 1)],
    ['a removed provider snapshot', (t: Trail) => void delete t.hops[2]!.providerInfo],
    ['a STIR/SHAKEN attestation', (t: Trail) => void (t.hops[2]!.stirShaken!.attestation = 'C')],
    ['a STIR/SHAKEN origid', (t: Trail) => void (t.hops[0]!.stirShaken!.origId = '00000000-0000-4000-8000-000000000000')],
    ['a PASSporT claim', (t: Trail) => void (t.hops[2]!.stirShaken!.passport!.origTn = '12155550199')],
    ['a STIR/SHAKEN finding', (t: Trail) => void (t.hops[2]!.stirShaken!.findings[2]!.ok = false)],
    ['the Identity header in an answer', (t: Trail) => void ((t.hops[2]!.answer as { stirShaken: { identity: string } }).stirShaken.identity = sampleIdentity('B'))],
    ['removed STIR/SHAKEN data', (t: Trail) => void delete t.hops[0]!.stirShaken],
    ['the hop order', (t: Trail) => void t.hops.reverse()],
    ['a removed hop', (t: Trail) => void t.hops.pop()],
    ['a removed optional field', (t: Trail) => void delete t.call.transcript],
    ['an added field', (t: Trail) => void Object.assign(t, { note: 'added later' })],
  ])('rejects a trail whose %s was changed, with BAD_SIGNATURE', (_what, tamper) => {
    const copy = clone(trail);
    tamper(copy);
    const result = verifyTrail(copy, pub);
    expect(result).toMatchObject({ ok: false, code: VerifyFailure.BadSignature, tracebackId: trail.tracebackId });
    expect(!result.ok && result.reason).toMatch(/changed after it was signed/);
  });

  it('rejects a change to ANY leaf, any removed member and any added array element', () => {
    const root = trail as unknown as Json;
    const paths = leaves(root);
    expect(paths.length).toBeGreaterThan(50);
    const tampered: Json[] = [];
    for (const path of paths) {
      tampered.push(setAt(root, path, mutate));
      tampered.push(setAt(root, path, () => undefined));
    }
    for (const result of tampered.map((t) => verifyTrail(t, pub))) expect(result.ok).toBe(false);
  });

  it('names the reason for each kind of failure', () => {
    expect(verifyTrail(sampleTrail(), pub)).toMatchObject({ ok: false, code: VerifyFailure.Unsigned });
    expect(verifyTrail({ ...trail, kind: 'hop_query' }, pub)).toMatchObject({ ok: false, code: VerifyFailure.NotATrail });
    expect(verifyTrail([trail], pub)).toMatchObject({ ok: false, code: VerifyFailure.NotATrail });
    expect(verifyTrail('trail', pub)).toMatchObject({ ok: false, code: VerifyFailure.NotATrail });
    const badHop = verifyTrail({ ...trail, hops: [{ ...trail.hops[0], hopId: 'h1' }] }, pub);
    expect(badHop).toMatchObject({ ok: false, code: VerifyFailure.NotATrail });
    expect(!badHop.ok && badHop.reason).toMatch(/hops\[0\]\.hopId/);
    expect(verifyTrail({ ...trail, evidence: { ...trail.evidence, alg: 'ES256' } }, pub)).toMatchObject({ ok: false, code: VerifyFailure.UnsupportedAlg });
    const other = generateEngineKey();
    const unknown = verifyTrail(trail, other);
    expect(unknown).toMatchObject({ ok: false, code: VerifyFailure.UnknownKey });
    expect(!unknown.ok && unknown.reason).toContain(key.keyId);
    // Same key id claimed, another key: the signature fails.
    expect(verifyTrail(trail, { keyId: key.keyId, key: other.publicKey })).toMatchObject({ ok: false, code: VerifyFailure.BadSignature });
    expect(verifyTrail({ ...trail, extra: 1.5 }, pub)).toMatchObject({ ok: false, code: VerifyFailure.NotATrail });
  });

  it('checks the audit events against the chain head when given', () => {
    expect(verifyTrail(trail, pub, { events: events.slice(0, -1) })).toMatchObject({ ok: false, code: VerifyFailure.ChainMismatch });
    const edited = events.map((e, i) => (i === 2 ? { ...e, at: e.at + 1 } : e));
    const result = verifyTrail(trail, pub, { events: edited });
    expect(result).toMatchObject({ ok: false, code: VerifyFailure.ChainMismatch });
    expect(!result.ok && result.reason).toMatch(/was edited/);
    const foreign = sampleEvents(sampleTrail());
    expect(verifyTrail(trail, pub, { events: foreign })).toMatchObject({ ok: false, code: VerifyFailure.ChainMismatch });
    expect(verifyTrail(trail, pub, { events: [...events.slice(1), events[0]!] })).toMatchObject({ ok: false, code: VerifyFailure.ChainMismatch });
  });
});
