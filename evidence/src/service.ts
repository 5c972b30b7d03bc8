import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PROTOCOL_VERSION, decodeMap, encodeMessage } from '../../protocol/index.js';
import { EvidenceError, EvidenceErrorCode } from './errors.js';
import { importPublicKey, publicKeyInfo } from './keys.js';
import type { EngineKey, PublicKey, PublicKeyInfo } from './types.js';

/** Request/reply subject on which engines publish their public key. */
export const KEY_SUBJECT = 'tb.keys.engine';
/** Queue group of the key service: several engines answer a request once. */
export const KEY_SERVICE_QUEUE = 'robotrace-engine';

/** A running key service; `await using` stops it. */
export interface KeyService extends AsyncDisposable {
  readonly keyId: string;
  /** Stops answering (drains the subscription). */
  stop(): Promise<void>;
}

/**
 * Answers every request on {@link KEY_SUBJECT} with the public half of `key`: a MessagePack map
 * `{ v: 1, kind: "engine_key", keyId, alg: "Ed25519", publicKeyPem, jwk }`. The request body is
 * ignored. Never sends the private key.
 */
export function servePublicKey(nc: NatsConnection, key: EngineKey | PublicKey, options: { queue?: string } = {}): KeyService {
  const info = publicKeyInfo(key);
  const reply = encodeMessage({ v: PROTOCOL_VERSION, kind: 'engine_key', ...info });
  const sub: Subscription = nc.subscribe(KEY_SUBJECT, {
    queue: options.queue ?? KEY_SERVICE_QUEUE,
    callback: (err, msg) => {
      if (err) return;
      msg.respond(reply);
    },
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= nc.isClosed() ? Promise.resolve() : sub.drain().catch(() => undefined);
    return stopped;
  };
  return { keyId: info.keyId, stop, [Symbol.asyncDispose]: stop };
}

/** A key fetched from {@link KEY_SUBJECT}, checked, and ready for `verifyTrail`. */
export interface FetchedKey extends PublicKeyInfo {
  key: PublicKey;
}

/**
 * Asks {@link KEY_SUBJECT} for the engine's public key. The key id in the reply is recomputed from
 * the key and must match.
 *
 * @throws EvidenceError `KEY_SERVICE_UNAVAILABLE` when nobody answers; `BAD_KEY_REPLY` for a bad reply.
 */
export async function fetchPublicKey(nc: NatsConnection, options: { timeoutMs?: number } = {}): Promise<FetchedKey> {
  let data: Uint8Array;
  try {
    data = (await nc.request(KEY_SUBJECT, new Uint8Array(0), { timeout: options.timeoutMs ?? 5_000 })).data;
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.KeyServiceUnavailable, `no engine answered on ${KEY_SUBJECT} (is an engine running?): ${(cause as Error).message}`, { cause });
  }
  let map: Record<string, unknown>;
  try {
    map = decodeMap(data);
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.BadKeyReply, `reply on ${KEY_SUBJECT} is not a MessagePack map`, { cause });
  }
  if (map['kind'] !== 'engine_key' || map['alg'] !== 'Ed25519' || typeof map['publicKeyPem'] !== 'string' || typeof map['keyId'] !== 'string') {
    throw new EvidenceError(EvidenceErrorCode.BadKeyReply, `reply on ${KEY_SUBJECT} is not an Ed25519 engine_key message`);
  }
  let key: PublicKey;
  try {
    key = importPublicKey(map['publicKeyPem']);
  } catch (cause) {
    throw new EvidenceError(EvidenceErrorCode.BadKeyReply, `reply on ${KEY_SUBJECT} holds no valid key: ${(cause as Error).message}`, { cause });
  }
  if (key.keyId !== map['keyId']) {
    throw new EvidenceError(EvidenceErrorCode.BadKeyReply, `reply on ${KEY_SUBJECT} names key ${map['keyId']} but holds key ${key.keyId}`);
  }
  return { ...publicKeyInfo(key), key };
}
