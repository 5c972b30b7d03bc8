import { ErrorCode, PROTOCOL_VERSION, ProtocolError, decodeMap, encodeMessage } from '../../../protocol/index.js';
import type { ProviderEventIn, TracebackEventIn } from '../../../actors/index.js';

/** An event for an actor whose shard another engine holds, queued on `tb.shard.<shard>.deliver`. */
export type ShardDelivery =
  | { target: 'provider'; id: string; event: ProviderEventIn }
  | { target: 'traceback'; id: string; event: TracebackEventIn };

/** A client request handed to the shard's owner over `tb.internal.shard.<shard>.<op>`. */
export interface ShardRequest {
  op: string;
  /** Chosen by the engine that took the request, so the owner keeps the id it was routed by. */
  tracebackId?: string;
  payload: Uint8Array;
}

export function encodeDelivery(delivery: ShardDelivery): Uint8Array {
  return encodeMessage({ v: PROTOCOL_VERSION, kind: 'shard_delivery', ...delivery });
}

export function decodeDelivery(bytes: Uint8Array): ShardDelivery {
  const map = decodeMap(bytes);
  const { target, id, event } = map;
  if ((target !== 'provider' && target !== 'traceback') || typeof id !== 'string' || typeof event !== 'object' || event === null) {
    throw new ProtocolError(ErrorCode.InvalidField, 'not a shard delivery');
  }
  return { target, id, event } as ShardDelivery;
}

export function encodeShardRequest(request: ShardRequest): Uint8Array {
  return encodeMessage({ v: PROTOCOL_VERSION, kind: 'shard_request', ...request });
}

export function decodeShardRequest(bytes: Uint8Array): ShardRequest {
  const map = decodeMap(bytes);
  if (typeof map['op'] !== 'string' || !(map['payload'] instanceof Uint8Array)) throw new ProtocolError(ErrorCode.InvalidField, 'not a shard request');
  const request: ShardRequest = { op: map['op'], payload: map['payload'] };
  if (typeof map['tracebackId'] === 'string') request.tracebackId = map['tracebackId'];
  return request;
}

/**
 * The message id that makes a forwarded delivery idempotent within the stream's duplicate
 * window: each of these events happens once per hop (or per trail and provider).
 */
export function deliveryMsgId(delivery: ShardDelivery): string {
  const e = delivery.event as { type: string; hopId?: string; query?: { hopId: string }; tracebackId?: string };
  const key = e.hopId ?? e.query?.hopId ?? e.tracebackId ?? '';
  return `${delivery.target}.${delivery.id}.${e.type}.${key}`;
}
