import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, encodeMessage } from '../../protocol/index.js';
import { setup, type NatsFixture } from '../../test/harness/nats-server.js';
import {
  ENGINE_KEY_NAME,
  EvidenceErrorCode,
  KEY_BUCKET,
  KEY_SUBJECT,
  exportPublicKeyPem,
  fetchPublicKey,
  generateEngineKey,
  loadOrCreateEngineKey,
  openKeyBucket,
  servePublicKey,
  verifyTrail,
} from '../index.js';
import { signedSample } from './samples.js';

let t: NatsFixture;
beforeAll(async () => {
  t = await setup();
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

describe('engine key storage', () => {
  it('creates the key on first start and loads the same key afterwards', async () => {
    const kv = await openKeyBucket(t.nc);
    const first = await loadOrCreateEngineKey(kv, { now: () => new Date('2026-01-02T03:04:05Z') });
    expect(first.created).toBe(true);
    const again = await loadOrCreateEngineKey(await openKeyBucket(t.nc));
    expect(again.created).toBe(false);
    expect(again.key.keyId).toBe(first.key.keyId);
    const entry = await kv.get(ENGINE_KEY_NAME);
    const stored = JSON.parse(new TextDecoder().decode(entry!.value)) as Record<string, unknown>;
    expect(stored).toMatchObject({ v: 1, alg: 'Ed25519', keyId: first.key.keyId, createdAt: '2026-01-02T03:04:05.000Z' });
    expect(stored['privateKeyPem']).toMatch(/BEGIN PRIVATE KEY/);
    expect((await kv.status()).bucket).toBe(KEY_BUCKET);
  });

  it('ends up with ONE key when several engines start at once', async () => {
    await using fresh = await setup();
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect({ servers: fresh.ns.url })));
    try {
      const results = await Promise.all(clients.map(async (nc) => loadOrCreateEngineKey(await openKeyBucket(nc))));
      const ids = new Set(results.map((r) => r.key.keyId));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const stored = await (await openKeyBucket(fresh.nc)).get(ENGINE_KEY_NAME);
      expect(stored?.revision).toBe(1);
    } finally {
      await Promise.all(clients.map((nc) => nc.close()));
    }
  });

  it('refuses a corrupt key record instead of replacing it', async () => {
    await using fresh = await setup();
    const kv = await new Kvm(fresh.nc).create(KEY_BUCKET, { history: 5 });
    await kv.put(ENGINE_KEY_NAME, new TextEncoder().encode('{"v":1,"alg":"Ed25519","keyId":"x","privateKeyPem":"nope"}'));
    await expect(loadOrCreateEngineKey(kv)).rejects.toMatchObject({ code: EvidenceErrorCode.BadKey });
    const other = generateEngineKey();
    const mismatched = { v: 1, alg: 'Ed25519', keyId: 'AAAAAAAAAAAAAAAA', privateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    await kv.put(ENGINE_KEY_NAME, new TextEncoder().encode(JSON.stringify(mismatched)));
    await expect(loadOrCreateEngineKey(kv)).rejects.toMatchObject({ code: EvidenceErrorCode.KeyStore });
    await kv.put(ENGINE_KEY_NAME, new TextEncoder().encode('not json'));
    await expect(loadOrCreateEngineKey(kv)).rejects.toMatchObject({ code: EvidenceErrorCode.KeyStore });
  });
});

describe('public key service', () => {
  it('serves the public key on tb.keys.engine, and fetchPublicKey checks it', async () => {
    const key = generateEngineKey();
    {
      await using service = servePublicKey(t.nc, key);
      expect(service.keyId).toBe(key.keyId);
      const fetched = await fetchPublicKey(t.nc);
      expect(fetched).toMatchObject({ keyId: key.keyId, alg: 'Ed25519', publicKeyPem: exportPublicKeyPem(key.publicKey) });
      expect(fetched.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: key.keyId });
      expect(JSON.stringify(fetched)).not.toMatch(/PRIVATE/);
      expect(verifyTrail(signedSample(key).trail, fetched.key)).toMatchObject({ ok: true });
    }
    // Stopped: nobody answers now.
    await expect(fetchPublicKey(t.nc, { timeoutMs: 500 })).rejects.toMatchObject({ code: EvidenceErrorCode.KeyServiceUnavailable });
  });

  it('answers once when several engines serve the key', async () => {
    const key = generateEngineKey();
    await using a = servePublicKey(t.nc, key);
    await using b = servePublicKey(t.nc, key);
    const inbox = t.nc.subscribe('_INBOX.keys-test', { max: 2 });
    t.nc.publish(KEY_SUBJECT, new Uint8Array(0), { reply: '_INBOX.keys-test' });
    await t.nc.flush();
    const first = await inbox[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
    // A second reply would have arrived by the time a round trip completes.
    await t.nc.flush();
    expect(inbox.getProcessed()).toBe(1);
    inbox.unsubscribe();
    expect(a.keyId).toBe(b.keyId);
  });

  it('rejects a reply whose key id does not match its key, or that is not a key', async () => {
    const key = generateEngineKey();
    const forged = t.nc.subscribe(KEY_SUBJECT, {
      callback: (_err, msg) => {
        msg.respond(encodeMessage({ v: PROTOCOL_VERSION, kind: 'engine_key', alg: 'Ed25519', keyId: 'AAAAAAAAAAAAAAAA', publicKeyPem: exportPublicKeyPem(key.publicKey) }));
      },
    });
    await expect(fetchPublicKey(t.nc)).rejects.toMatchObject({ code: EvidenceErrorCode.BadKeyReply });
    forged.unsubscribe();
    const junk = t.nc.subscribe(KEY_SUBJECT, {
      callback: (_err, msg) => {
        msg.respond(new TextEncoder().encode('hello'));
      },
    });
    await expect(fetchPublicKey(t.nc)).rejects.toMatchObject({ code: EvidenceErrorCode.BadKeyReply });
    junk.unsubscribe();
  });
});
