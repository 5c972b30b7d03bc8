/**
 * Tamper evidence for trails: canonical JSON, the hash chain over a traceback's audit events,
 * Ed25519 engine keys (generation, storage in KV, publication on `tb.keys.engine`), signing and
 * verifying trails. Depends on `protocol` only; the engine, the enforcement SDK and the CLI use it.
 */
export { canonicalJson, canonicalBytes } from './src/canonical.js';
export { GENESIS, chainHash, emptyChain, extendChain, verifyChain, isChainHash } from './src/chain.js';
export {
  generateEngineKey,
  keyId,
  rawPublicKey,
  exportPublicKeyPem,
  exportPublicKeyJwk,
  publicKeyInfo,
  importPublicKey,
  exportPrivateKeyPem,
  importPrivateKey,
} from './src/keys.js';
export { signTrail, verifyTrail, signingInput } from './src/sign.js';
export { KEY_BUCKET, ENGINE_KEY_NAME, openKeyBucket, loadOrCreateEngineKey } from './src/store.js';
export type { KeyBucketOptions } from './src/store.js';
export { KEY_SUBJECT, KEY_SERVICE_QUEUE, servePublicKey, fetchPublicKey } from './src/service.js';
export type { KeyService, FetchedKey } from './src/service.js';
export { EvidenceError, EvidenceErrorCode } from './src/errors.js';
export { VerifyFailure } from './src/types.js';
export type {
  TrailEvidence,
  UnsignedTrail,
  ChainState,
  ChainCheck,
  EngineKey,
  PublicKey,
  PublicKeyInfo,
  Ed25519Jwk,
  VerifyResult,
  VerifyOptions,
} from './src/types.js';
