import type { Attestation, StirShaken } from '../../protocol/index.js';
import { hashString, mix32 } from './rng.js';
import type { SimCall, SimProvider } from './types.js';

/**
 * Simulated STIR/SHAKEN: the first US provider on a call's path signs it (attestation A for most of
 * its own customers' calls, B for some, C as a gateway for foreign calls), and every provider after
 * it records the Identity header it received, until a provider that does not support SHAKEN (about
 * one in ten, e.g. a TDM interconnect) drops it. Derived from hashes of ids, not from the network's
 * random stream, so networks and calls generated before this existed stay the same.
 */

/** True for a provider whose equipment signs and passes on SIP Identity headers. */
export function supportsShaken(provider: Pick<SimProvider, 'id'>): boolean {
  return hashString(`shaken:${provider.id}`) % 10 !== 0;
}

/** A UUID (version-4 layout) determined by `key`. */
export function simulatedUuid(key: string): string {
  const words = [0, 1, 2, 3].map((i) => mix32(hashString(key, i)).toString(16).padStart(8, '0')).join('');
  const variant = ((parseInt(words[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${words.slice(0, 8)}-${words.slice(8, 12)}-4${words.slice(13, 16)}-${variant}${words.slice(17, 20)}-${words.slice(20, 32)}`;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The SIP Identity header the signer would add. The signature is 64 bytes of filler derived from the
 * claims: the simulator has no STI certificate, and nothing in robotrace verifies signatures.
 */
export function simulatedIdentity(signer: Pick<SimProvider, 'id'>, attest: Attestation, origId: string, call: Pick<SimCall, 'calling' | 'called' | 'hopTimes'>): string {
  const x5u = `https://sti.${signer.id}.example/cert.pem`;
  const header = { alg: 'ES256', typ: 'passport', ppt: 'shaken', x5u };
  const payload = { attest, dest: { tn: [call.called.slice(1)] }, iat: Math.floor((call.hopTimes[0] ?? 0) / 1000), orig: { tn: call.calling.slice(1) }, origid: origId };
  const seed = hashString(`${header.x5u}|${JSON.stringify(payload)}`);
  const signature = Buffer.from(Uint32Array.from({ length: 16 }, (_, i) => mix32(seed + i)).buffer).toString('base64url');
  return `${b64(header)}.${b64(payload)}.${signature};info=<${x5u}>;alg=ES256;ppt=shaken`;
}

/**
 * What each provider on the call's path (in path order, origin first) knows of the call's
 * STIR/SHAKEN signature: an entry per provider up to the first one that does not support SHAKEN.
 * Empty when the signer itself does not sign.
 */
export function shakenAlongPath(call: SimCall, byId: ReadonlyMap<string, SimProvider>): StirShaken[] {
  const signer = byId.get(call.path[0] ?? '');
  if (signer === undefined || !supportsShaken(signer)) return [];
  const source = call.origin.kind === 'customer' ? call.origin.account : call.origin.carrier;
  // A gateway cannot vouch for a foreign caller (C); an originator knows its customer and mostly the number too.
  const attestation: Attestation = call.origin.kind === 'foreign' ? 'C' : hashString(`attest:${source}`) % 4 === 0 ? 'B' : 'A';
  const origId = simulatedUuid(`origid:${signer.id}:${source}`);
  const signed: StirShaken = { attestation, origId, identity: simulatedIdentity(signer, attestation, origId, call) };
  const out: StirShaken[] = [];
  for (const id of call.path) {
    const provider = byId.get(id);
    if (provider === undefined || !supportsShaken(provider)) break;
    out.push(signed);
  }
  return out;
}
