import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EvidenceErrorCode,
  exportPrivateKeyPem,
  exportPublicKeyJwk,
  exportPublicKeyPem,
  generateEngineKey,
  importPrivateKey,
  importPublicKey,
  keyId,
  publicKeyInfo,
  rawPublicKey,
  verifyTrail,
} from '../index.js';
import { signedSample } from './samples.js';

describe('engine keys', () => {
  const key = generateEngineKey();

  it('key id is base64url SHA-256 of the raw 32-byte public key, 16 characters', () => {
    const raw = rawPublicKey(key.publicKey);
    expect(raw).toHaveLength(32);
    expect(key.keyId).toBe(createHash('sha256').update(raw).digest('base64url').slice(0, 16));
    expect(key.keyId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(keyId(raw)).toBe(key.keyId);
    expect(generateEngineKey().keyId).not.toBe(key.keyId);
  });

  it('round-trips the public key through PEM and JWK, keeping the key id', () => {
    const pem = exportPublicKeyPem(key.publicKey);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const jwk = exportPublicKeyJwk(key.publicKey);
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from(rawPublicKey(key.publicKey)).toString('base64url'), kid: key.keyId, alg: 'EdDSA', use: 'sig' });
    const { trail } = signedSample(key);
    for (const input of [pem, jwk, JSON.stringify(jwk), `\n  ${pem}`, key.publicKey, key.privateKey]) {
      const imported = importPublicKey(input as string);
      expect(imported.keyId).toBe(key.keyId);
      expect(exportPublicKeyPem(imported.key)).toBe(pem);
      expect(verifyTrail(trail, imported)).toMatchObject({ ok: true });
    }
    expect(publicKeyInfo(key)).toEqual({ keyId: key.keyId, alg: 'Ed25519', publicKeyPem: pem, jwk });
  });

  it('computes the key id itself rather than trusting a kid', () => {
    const jwk = { ...exportPublicKeyJwk(key.publicKey), kid: 'forged' };
    expect(importPublicKey(jwk).keyId).toBe(key.keyId);
  });

  it('round-trips the private key through PKCS#8 PEM', () => {
    const pem = exportPrivateKeyPem(key);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const back = importPrivateKey(pem);
    expect(back.keyId).toBe(key.keyId);
    const { trail } = signedSample(back);
    expect(verifyTrail(trail, importPublicKey(exportPublicKeyPem(key.publicKey)))).toMatchObject({ ok: true });
  });

  it('refuses keys that are not Ed25519 and text that is not a key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const bad of [
      rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ec.publicKey.export({ format: 'jwk' }),
      'not a key',
      '{"kty":"OKP","crv":"Ed25519"}',
      '{ not json',
    ]) {
      expect(() => importPublicKey(bad as string)).toThrow(expect.objectContaining({ code: EvidenceErrorCode.BadKey }) as Error);
    }
    expect(() => importPrivateKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(/not Ed25519/);
    expect(() => importPrivateKey('garbage')).toThrow(expect.objectContaining({ code: EvidenceErrorCode.BadKey }) as Error);
  });
});
