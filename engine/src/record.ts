import { Packr } from 'msgpackr';
import type { Snapshot } from 'xstate';
import { TRACEBACK_MACHINE_VERSION, type TracebackCommand } from '../../actors/index.js';
import { EngineError, EngineErrorCode } from './errors.js';

/**
 * What the engine stores per actor in KV: the machine's persisted snapshot plus the
 * commands of its last transition (the outbox). The outbox is carried out after the
 * write; a restart replays outboxes written after the last checkpoint.
 */
export interface ActorRecord {
  kind: 'traceback';
  machineVersion: number;
  snapshot: Snapshot<unknown>;
  outbox: TracebackCommand[];
  updatedAt: number;
}

/** Plain MessagePack, so the viewer and other languages can read stored records too. */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

export function encodeRecord(record: ActorRecord): Uint8Array {
  return packr.pack(JSON.parse(JSON.stringify(record)) as unknown);
}

export function decodeRecord(bytes: Uint8Array): ActorRecord {
  const record = packr.unpack(bytes) as ActorRecord;
  if (record.kind !== 'traceback') {
    throw new EngineError(EngineErrorCode.UnknownRecordVersion, `unknown actor kind ${String(record.kind)}`);
  }
  if (record.machineVersion !== TRACEBACK_MACHINE_VERSION) {
    // No older versions exist yet; when one does, migrate here instead of refusing.
    throw new EngineError(
      EngineErrorCode.UnknownRecordVersion,
      `traceback record version ${record.machineVersion} is not readable by machine version ${TRACEBACK_MACHINE_VERSION}`,
    );
  }
  return record;
}

export function actorKey(tracebackId: string): string {
  return `traceback.${tracebackId}`;
}
