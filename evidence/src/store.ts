import type { NatsConnection } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { EvidenceError, EvidenceErrorCode } from './errors.js';
import { exportPrivateKeyPem, generateEngineKey, importPrivateKey } from './keys.js';
import type { EngineKey } from './types.js';

/** KV bucket holding the engine's signing key. Engine-internal: clients must be denied `$KV.tb_keys.>`. */
export const KEY_BUCKET = 'tb_keys';
/** Key of the engine's signing key in {@link KEY_BUCKET}. */
export const ENGINE_KEY_NAME = 'engine.signing';

/** What is stored under {@link ENGINE_KEY_NAME}: UTF-8 JSON. */
interface StoredKey {
  v: 1;
  alg: 'Ed25519';
  keyId: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** ISO 8601 time of generation. */
  createdAt: string;
}

/** Options of {@link openKeyBucket}. */
export interface KeyBucketOptions {
  /** Replicas of the bucket's stream: 1 on a single node, 3 in a cluster. @default 1 */
  replicas?: number;
}

/** Creates (or binds to) the {@link KEY_BUCKET} bucket: file storage, history 5 (a rotation stays visible). */
export async function openKeyBucket(nc: NatsConnection, options: KeyBucketOptions = {}): Promise<KV> {
  // Leader reads: a replica catching up could answer "no key yet" and a second key would be tried.
  return new Kvm(nc).create(KEY_BUCKET, { history: 5, replicas: options.replicas ?? 1, storage: StorageType.File, allow_direct: false });
}

function decodeStored(value: Uint8Array): EngineKey {
  let stored: Partial<StoredKey>;
  try {
    stored = JSON.parse(new TextDecoder().decode(value)) as Partial<StoredKey>;
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.KeyStore, `${KEY_BUCKET}/${ENGINE_KEY_NAME} is not JSON`, { cause });
  }
  if (stored.v !== 1 || stored.alg !== 'Ed25519' || typeof stored.privateKeyPem !== 'string') {
    throw new EvidenceError(EvidenceErrorCode.KeyStore, `${KEY_BUCKET}/${ENGINE_KEY_NAME} is not a version 1 Ed25519 key record`);
  }
  const key = importPrivateKey(stored.privateKeyPem);
  if (key.keyId !== stored.keyId) {
    throw new EvidenceError(EvidenceErrorCode.KeyStore, `${KEY_BUCKET}/${ENGINE_KEY_NAME} records key id ${String(stored.keyId)} but holds key ${key.keyId}`);
  }
  return key;
}

async function read(kv: KV): Promise<EngineKey | undefined> {
  const entry = await kv.get(ENGINE_KEY_NAME);
  if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
  return decodeStored(entry.value);
}

/**
 * The engine's signing key: read from `kv` (the {@link KEY_BUCKET} bucket), or generated and stored on
 * first start. Creation is a compare-and-set (`kv.create`), so engines starting at once all end up
 * with the one key that was stored first.
 *
 * @throws EvidenceError `KEY_STORE` when the stored record is unreadable (it is never overwritten).
 * @example
 * ```ts
 * const { key } = await loadOrCreateEngineKey(await openKeyBucket(nc));
 * await using service = servePublicKey(nc, key);
 * ```
 */
export async function loadOrCreateEngineKey(kv: KV, options: { now?: () => Date } = {}): Promise<{ key: EngineKey; created: boolean }> {
  const existing = await read(kv);
  if (existing) return { key: existing, created: false };
  const key = generateEngineKey();
  const record: StoredKey = {
    v: 1,
    alg: 'Ed25519',
    keyId: key.keyId,
    privateKeyPem: exportPrivateKeyPem(key),
    createdAt: (options.now?.() ?? new Date()).toISOString(),
  };
  try {
    await kv.create(ENGINE_KEY_NAME, new TextEncoder().encode(JSON.stringify(record)));
    return { key, created: true };
  } catch (err) {
    // Another engine stored its key first (or our write landed and its reply was lost): use what is stored.
    const winner = await read(kv);
    if (winner) return { key: winner, created: winner.keyId === key.keyId };
    throw new EvidenceError(EvidenceErrorCode.KeyStore, `could not store the engine key in ${KEY_BUCKET}: ${(err as Error).message}`, { cause: err });
  }
}
