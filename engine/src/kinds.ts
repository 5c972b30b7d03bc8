import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import {
  buildTrail,
  restoreProvider,
  restoreTraceback,
  PROVIDER_MACHINE_VERSION,
  TRACEBACK_MACHINE_VERSION,
  type AuditRecord,
  type ProviderActor,
  type ProviderCommand,
  type ProviderContext,
  type ProviderEventIn,
  type TracebackEventIn,
  type TracebackActor,
  type TracebackCommand,
  type TracebackContext,
} from '../../actors/index.js';
import {
  PROTOCOL_VERSION,
  Streams,
  Subjects,
  decodeMap,
  encodeMessage,
  type TracebackEvent,
} from '../../protocol/index.js';
import { emptyChain, extendChain, signTrail, type ChainState, type EngineKey } from '../../evidence/index.js';
import type { KindSpec } from './actor-host.js';
import { EngineError, EngineErrorCode } from './errors.js';
import { migrateTraceback } from './migrate.js';
import type { ActorRecord, WriterStamp } from './record.js';
import type { TimerService } from './timer-service.js';

/** What carrying out a command may need besides NATS: the other actors. */
export interface Router {
  toProvider(provider: string, event: ProviderEventIn): Promise<void>;
  toTraceback(tracebackId: string, event: TracebackEventIn): Promise<void>;
  now(): number;
}

export interface EffectDeps {
  /** The engine's signing key; trails are signed with it. */
  signingKey: EngineKey;
  js: JetStreamClient;
  jsm: JetStreamManager;
  timers: TimerService;
  router: Router;
}

/**
 * Audit events carry their writer in headers (not in the chained body): an investigator or
 * a test can check from the history that no actor was advanced by two engines at once.
 */
function writerHeaders(stamp: WriterStamp): MsgHdrs {
  const h = headers();
  h.set(WRITER_ENGINE_HEADER, stamp.engine);
  h.set(WRITER_EPOCH_HEADER, String(stamp.epoch));
  return h;
}

async function lastSeq(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  try {
    const msg = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    if (!msg) return 0;
    const seq = decodeMap(msg.data)['seq'];
    return typeof seq === 'number' ? seq : 0;
  } catch {
    return 0;
  }
}

async function exists(jsm: JetStreamManager, stream: string, subject: string): Promise<boolean> {
  try {
    return Boolean(await jsm.streams.getMessage(stream, { last_by_subj: subject }));
  } catch {
    return false;
  }
}

/** The audit event exactly as published on `tb.events.<id>`; the chain covers these bytes' content. */
function auditEvent(record: AuditRecord): TracebackEvent {
  return { v: PROTOCOL_VERSION, kind: 'traceback_event', ...record };
}

/** Header names on `tb.events.*` and `tb.provider.events.*` messages. */
export const WRITER_ENGINE_HEADER = 'Robotrace-Engine';
export const WRITER_EPOCH_HEADER = 'Robotrace-Epoch';

function timerKey(kind: string, id: string, timer: string): string {
  return `${kind}.${id}.${timer}`;
}

export function tracebackSpec(deps: EffectDeps): KindSpec<TracebackActor, TracebackEventIn, TracebackCommand> {
  return {
    kind: 'traceback',
    version: TRACEBACK_MACHINE_VERSION,
    restore: (record: ActorRecord<TracebackCommand>) => {
      if (record.machineVersion === TRACEBACK_MACHINE_VERSION) return restoreTraceback(record.snapshot);
      if (record.machineVersion === 1) return restoreTraceback(migrateTraceback(record));
      throw new EngineError(EngineErrorCode.UnknownRecordVersion, `traceback record version ${record.machineVersion} is newer than this engine (${TRACEBACK_MACHINE_VERSION})`);
    },
    extend: (extra, commands) => {
      // The hash chain over the audit events, persisted with the very write that emits them.
      let chain = (extra as ChainState | { broken: true } | undefined) ?? emptyChain();
      if ('broken' in chain) return chain;
      try {
        for (const c of commands) if (c.type === 'cmd.audit') chain = extendChain(chain, auditEvent(c.record));
      } catch {
        // A record from before chaining (its events did not start at 1): its trail goes out unsigned.
        return { broken: true };
      }
      return chain;
    },
    execute: async (id, actor, commands, recovery, extra, writer) => {
      const context = actor.getSnapshot().context as TracebackContext;
      const lastAudit = recovery ? await lastSeq(deps.jsm, Streams.events, Subjects.events(id)) : 0;
      await Promise.all(
        commands.map(async (command) => {
          switch (command.type) {
            case 'cmd.askProvider':
              await deps.router.toProvider(command.provider, { type: 'ASK', query: command.query, at: deps.router.now() });
              return;
            case 'cmd.cancelHop':
              await deps.router.toProvider(command.provider, { type: 'CANCEL_HOP', hopId: command.hopId, at: deps.router.now() });
              return;
            case 'cmd.trailEnded': {
              const event: ProviderEventIn = { type: 'TRAIL_ENDED', tracebackId: context.tracebackId, outcome: command.outcome, at: deps.router.now() };
              if (command.campaign !== undefined) event.campaign = command.campaign;
              await deps.router.toProvider(command.provider, event);
              return;
            }
            case 'cmd.audit': {
              if (command.record.seq <= lastAudit) return;
              await deps.js.publish(Subjects.events(id), encodeMessage(auditEvent(command.record)), {
                msgID: `${id}.e${command.record.seq}`,
                headers: writerHeaders(writer),
              });
              return;
            }
            case 'cmd.publishTrail': {
              const chain = extra as ChainState | { broken: true } | undefined;
              const trail = chain && !('broken' in chain) ? signTrail(buildTrail(context), deps.signingKey, chain) : buildTrail(context);
              const subject = Subjects.trail(trail.outcome, trail.call.campaign, trail.endProvider, trail.tracebackId);
              if (recovery && (await exists(deps.jsm, Streams.trails, subject))) return;
              await deps.js.publish(subject, encodeMessage(trail), { msgID: `${id}.trail` });
              return;
            }
            default:
              return command satisfies never;
          }
        }),
      );
    },
  };
}

export function providerSpec(deps: EffectDeps): KindSpec<ProviderActor, ProviderEventIn, ProviderCommand> {
  return {
    kind: 'provider',
    version: PROVIDER_MACHINE_VERSION,
    restore: (record: ActorRecord<ProviderCommand>) => {
      if (record.machineVersion !== PROVIDER_MACHINE_VERSION) {
        throw new EngineError(EngineErrorCode.UnknownRecordVersion, `provider record version ${record.machineVersion} is not ${PROVIDER_MACHINE_VERSION}`);
      }
      return restoreProvider(record.snapshot);
    },
    supersedeKey: (command) =>
      command.type === 'cmd.scheduleTimer' || command.type === 'cmd.cancelTimer' ? `timer:${command.timer}` : undefined,
    execute: async (id, actor, commands, recovery, _extra, writer) => {
      const context = actor.getSnapshot().context as ProviderContext;
      const lastAudit = recovery ? await lastSeq(deps.jsm, Streams.providerEvents, Subjects.providerEvents(id)) : 0;
      await Promise.all(
        commands.map(async (command) => {
          switch (command.type) {
            case 'cmd.hopQuery': {
              const q = command.query;
              await deps.js.publish(Subjects.hopQuery(q.provider), encodeMessage(q), { msgID: `${q.hopId}.q${q.reminder}` });
              return;
            }
            case 'cmd.scheduleTimer':
              await deps.timers.schedule(timerKey('provider', id, command.timer), command.dueAt, { kind: 'provider', id, timer: command.timer });
              return;
            case 'cmd.cancelTimer':
              await deps.timers.cancel(timerKey('provider', id, command.timer));
              return;
            case 'cmd.hopResult':
              await deps.router.toTraceback(command.tracebackId, {
                type: 'HOP_RESULT',
                hopId: command.hopId,
                result: command.result,
                timing: command.timing,
                ...(command.providerInfo === undefined ? {} : { providerInfo: command.providerInfo }),
                at: deps.router.now(),
              });
              return;
            case 'cmd.publishFlag': {
              const message = {
                v: PROTOCOL_VERSION,
                kind: 'provider_flag',
                provider: context.id,
                state: command.state,
                flag: command.flag.name,
                raisedAt: command.flag.raisedAt,
                reason: command.flag.reason,
                evidence: command.flag.evidence,
                ...(command.cleared ? { clearedAt: command.cleared.clearedAt, clearedBy: command.cleared.clearedBy, clearReason: command.cleared.clearReason } : {}),
              };
              const stamp = command.cleared ? command.cleared.clearedAt : command.flag.raisedAt;
              await deps.js.publish(Subjects.providerFlag(context.id), encodeMessage(message), {
                msgID: `${context.id}.${command.flag.name}.${command.state}.${stamp}`,
              });
              return;
            }
            case 'cmd.providerAudit': {
              if (command.record.seq <= lastAudit) return;
              await deps.js.publish(Subjects.providerEvents(id), encodeMessage({ v: PROTOCOL_VERSION, kind: 'provider_event', ...command.record }), {
                msgID: `${id}.pe${command.record.seq}`,
                headers: writerHeaders(writer),
              });
              return;
            }
            default:
              return command satisfies never;
          }
        }),
      );
    },
  };
}
