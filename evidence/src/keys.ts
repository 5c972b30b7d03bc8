import { KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { EvidenceError, EvidenceErrorCode } from './errors.js';
import type { Ed25519Jwk, EngineKey, PublicKey, PublicKeyInfo } from './types.js';

/** A fresh Ed25519 key pair with its key id. */
export function generateEngineKey(): EngineKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: keyId(publicKey), privateKey, publicKey };
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new EvidenceError(EvidenceErrorCode.BadKey, `${what} is a ${key.asymmetricKeyType ?? key.type} key, not Ed25519`);
  }
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  assertEd25519(publicKey, 'public key');
  const { x } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new EvidenceError(EvidenceErrorCode.BadKey, 'public key has no x coordinate');
  return Buffer.from(x, 'base64url');
}

/** Key id: base64url (no padding) of SHA-256 of the 32-byte raw public key, first 16 characters. */
export function keyId(publicKey: KeyObject | Uint8Array): string {
  const raw = publicKey instanceof Uint8Array ? publicKey : rawPublicKey(publicKey);
  return createHash('sha256').update(raw).digest('base64url').slice(0, 16);
}

/** SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
export function exportPublicKeyPem(publicKey: KeyObject): string {
  assertEd25519(publicKey, 'public key');
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** RFC 8037 JWK with `kid` set to the key id. */
export function exportPublicKeyJwk(publicKey: KeyObject): Ed25519Jwk {
  const raw = rawPublicKey(publicKey);
  return { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url'), kid: keyId(raw), alg: 'EdDSA', use: 'sig' };
}

function isKeyObject(value: object): value is KeyObject {
  return value instanceof KeyObject;
}

/** Everything a verifier needs, as served on `tb.keys.engine`. */
export function publicKeyInfo(key: EngineKey | PublicKey | KeyObject): PublicKeyInfo {
  const publicKey = isKeyObject(key) ? key : 'publicKey' in key ? key.publicKey : key.key;
  const jwk = exportPublicKeyJwk(publicKey);
  return { keyId: jwk.kid, alg: 'Ed25519', publicKeyPem: exportPublicKeyPem(publicKey), jwk };
}

/**
 * Reads a public key from SPKI PEM, a JWK (object or JSON text), or a private key (whose public half is
 * taken). The key id is computed from the key, never trusted from a `kid`.
 *
 * @throws EvidenceError `BAD_KEY`
 */
export function importPublicKey(input: string | JsonWebKey | KeyObject): PublicKey {
  let key: KeyObject;
  try {
    if (typeof input === 'string') {
      const text = input.trim();
      key = text.startsWith('{') ? createPublicKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' }) : createPublicKey(text);
    } else if (isKeyObject(input)) {
      key = input.type === 'public' ? input : createPublicKey(input);
    } else {
      key = createPublicKey({ key: input, format: 'jwk' });
    }
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.BadKey, `not a public key (PEM or JWK expected): ${(cause as Error).message}`, { cause });
  }
  assertEd25519(key, 'the key');
  return { keyId: keyId(key), key };
}

/** PKCS#8 PEM of the private key (`-----BEGIN PRIVATE KEY-----`). Secret: store it only in `tb_keys`. */
export function exportPrivateKeyPem(key: EngineKey): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Rebuilds an engine key from its PKCS#8 PEM. @throws EvidenceError `BAD_KEY` */
export function importPrivateKey(pem: string): EngineKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.BadKey, `not a private key: ${(cause as Error).message}`, { cause });
  }
  assertEd25519(privateKey, 'private key');
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyId(publicKey), privateKey, publicKey };
}
