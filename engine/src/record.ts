import { Packr } from 'msgpackr';
import type { Snapshot } from 'xstate';
import { EngineError, EngineErrorCode } from './errors.js';

export type ActorKindName = 'traceback' | 'provider';

/** The engine that wrote a record and the epoch of its shard lease at the time. */
export interface WriterStamp {
  engine: string;
  epoch: number;
}

/** A command waiting in an actor's outbox, numbered so execution can be tracked. */
export interface OutboxEntry<C> {
  id: number;
  command: C;
}

/**
 * What the engine stores per actor in KV: the machine's persisted snapshot plus every
 * command not yet known to be carried out (the outbox). The outbox is carried out after
 * the write; a restart replays outboxes written after the last checkpoint.
 */
export interface ActorRecord<C = unknown> {
  kind: ActorKindName;
  machineVersion: number;
  snapshot: Snapshot<unknown>;
  outbox: OutboxEntry<C>[];
  nextCommandId: number;
  updatedAt: number;
  /** Which engine wrote this revision, under which epoch of the actor's shard (fencing). */
  writer?: WriterStamp;
  /** Kind-specific state kept beside the snapshot (the traceback's evidence hash chain). */
  extra?: unknown;
}

/** Plain MessagePack, so the viewer and other languages can read stored records too. */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

export function encodeRecord(record: ActorRecord): Uint8Array {
  // JSON round trip drops `undefined`, which msgpackr would write as a non-standard extension.
  return packr.pack(JSON.parse(JSON.stringify(record)) as unknown);
}

export function decodeRecord(bytes: Uint8Array): ActorRecord {
  const record = packr.unpack(bytes) as ActorRecord & { outbox: unknown[] };
  if (record.kind !== 'traceback' && record.kind !== 'provider') {
    throw new EngineError(EngineErrorCode.UnknownRecordVersion, `unknown actor kind ${String(record.kind)}`);
  }
  // Version-1 records stored bare commands; number them.
  if (record.outbox.length > 0 && !(typeof record.outbox[0] === 'object' && record.outbox[0] !== null && 'command' in record.outbox[0])) {
    record.outbox = record.outbox.map((command, i) => ({ id: i + 1, command }));
  }
  record.nextCommandId ??= record.outbox.length + 1;
  return record;
}

export function actorKey(kind: ActorKindName, id: string): string {
  return `${kind}.${id}`;
}
