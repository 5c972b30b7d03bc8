import { decodeMap } from './codec.js';
import { ErrorCode, ProtocolError } from './errors.js';
import { isSubjectToken } from './subjects.js';
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS, type ProtocolVersion } from './version.js';

/** Provider flag names (see actors/provider for thresholds). */
export const PROVIDER_FLAGS = ['noncooperative', 'high_risk_origin', 'high_risk_entry', 'insufficient_records'] as const;
export type ProviderFlagName = (typeof PROVIDER_FLAGS)[number];

/** A provider's deadline clock as the directory states it. */
export type DirectoryDeadline =
  | { kind: 'fixed'; hours: number }
  | { kind: 'business'; hours: number; timeZone: string; opensAt: number; closesAt: number; businessDays: number[]; holidays: string[] };

/** One provider in the directory, as an operator imports it. */
export interface DirectoryProvider {
  id: string;
  name?: string;
  frn?: string;
  ocn?: string;
  contact?: string;
  rmdStatus?: 'certified' | 'not_filed' | 'removed' | 'unknown';
  roles?: string[];
  deadline?: DirectoryDeadline;
  /** Reminder times as fractions of the deadline. */
  reminders?: number[];
  maxInFlight?: number;
}

/** Operator → engine on `tb.api.provider.upsert`. */
export interface UpsertProviders {
  v: ProtocolVersion;
  kind: 'upsert_providers';
  providers: DirectoryProvider[];
  requester: string;
}

/** Engine → operator: how many providers were created or updated. */
export interface ProvidersUpserted {
  v: ProtocolVersion;
  kind: 'providers_upserted';
  count: number;
}

/** Operator → engine on `tb.api.provider.clear_flag`. */
export interface ClearProviderFlag {
  v: ProtocolVersion;
  kind: 'clear_provider_flag';
  provider: string;
  flag: ProviderFlagName;
  reason: string;
  requester: string;
}

export interface ProviderFlagCleared {
  v: ProtocolVersion;
  kind: 'provider_flag_cleared';
  provider: string;
  flag: ProviderFlagName;
}

/** Engine → subscribers on `tb.provider.flag.<provider>`: a flag raised or cleared, with its evidence. */
export interface ProviderFlagMessage {
  v: ProtocolVersion;
  kind: 'provider_flag';
  provider: string;
  flag: ProviderFlagName;
  state: 'raised' | 'cleared';
  raisedAt: number;
  reason: string;
  /** The strikes behind the flag: which tracebacks, when. */
  evidence: { tracebackId: string; hopId?: string; at: number; campaign?: string }[];
  clearedAt?: number;
  clearedBy?: string;
  clearReason?: string;
}

function fail(code: ErrorCode, message: string, path: string): never {
  throw new ProtocolError(code, message, { path });
}

function envelope(bytes: Uint8Array, kind: string): Record<string, unknown> {
  const map = decodeMap(bytes);
  if (typeof map['v'] !== 'number' || !SUPPORTED_VERSIONS.includes(map['v'])) {
    fail(ErrorCode.UnsupportedVersion, `protocol version ${JSON.stringify(map['v'] ?? null)} is not supported`, 'v');
  }
  if (map['kind'] !== kind) fail(ErrorCode.UnknownKind, `expected kind ${kind}, got ${JSON.stringify(map['kind'] ?? null)}`, 'kind');
  return map;
}

function str(map: Record<string, unknown>, name: string, path: string, max = 256): string {
  const value = map[name];
  if (value === undefined || value === null) fail(ErrorCode.MissingField, `missing field ${path}`, path);
  if (typeof value !== 'string' || value.length === 0 || value.length > max) fail(ErrorCode.InvalidField, `${path} must be a non-empty string of at most ${max} characters`, path);
  return value;
}

function providerId(map: Record<string, unknown>, name: string, path: string): string {
  const value = str(map, name, path, 64);
  if (!isSubjectToken(value)) fail(ErrorCode.InvalidField, `${path} must be 1-64 characters [A-Za-z0-9_-]`, path);
  return value;
}

function readDeadline(raw: unknown, path: string): DirectoryDeadline {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(ErrorCode.InvalidField, `${path} must be a map`, path);
  const d = raw as Record<string, unknown>;
  const hours = d['hours'];
  if (typeof hours !== 'number' || !(hours > 0) || hours > 24 * 30) fail(ErrorCode.InvalidField, `${path}.hours must be a number of hours in (0, 720]`, `${path}.hours`);
  if (d['kind'] === 'fixed') return { kind: 'fixed', hours };
  if (d['kind'] !== 'business') fail(ErrorCode.InvalidField, `${path}.kind must be fixed or business`, `${path}.kind`);
  const timeZone = str(d, 'timeZone', `${path}.timeZone`, 64);
  const hour = (name: string) => {
    const h = d[name];
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > 24) fail(ErrorCode.InvalidField, `${path}.${name} must be an hour 0-24`, `${path}.${name}`);
    return h;
  };
  const businessDays = d['businessDays'] ?? [1, 2, 3, 4, 5];
  if (!Array.isArray(businessDays) || !businessDays.every((x) => Number.isInteger(x) && x >= 1 && x <= 7)) {
    fail(ErrorCode.InvalidField, `${path}.businessDays must be ISO weekdays 1-7`, `${path}.businessDays`);
  }
  const holidays = d['holidays'] ?? [];
  if (!Array.isArray(holidays) || !holidays.every((x) => typeof x === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(x))) {
    fail(ErrorCode.InvalidField, `${path}.holidays must be dates YYYY-MM-DD`, `${path}.holidays`);
  }
  return { kind: 'business', hours, timeZone, opensAt: hour('opensAt'), closesAt: hour('closesAt'), businessDays: businessDays as number[], holidays: holidays as string[] };
}

export function decodeClearProviderFlag(bytes: Uint8Array): ClearProviderFlag {
  const map = envelope(bytes, 'clear_provider_flag');
  const flag = str(map, 'flag', 'flag', 64);
  if (!(PROVIDER_FLAGS as readonly string[]).includes(flag)) fail(ErrorCode.InvalidField, `flag must be one of ${PROVIDER_FLAGS.join(', ')}`, 'flag');
  return {
    v: PROTOCOL_VERSION,
    kind: 'clear_provider_flag',
    provider: providerId(map, 'provider', 'provider'),
    flag: flag as ProviderFlagName,
    reason: str(map, 'reason', 'reason', 1024),
    requester: str(map, 'requester', 'requester', 128),
  };
}

export function decodeProviderFlagCleared(bytes: Uint8Array): ProviderFlagCleared {
  const map = envelope(bytes, 'provider_flag_cleared');
  return { v: PROTOCOL_VERSION, kind: 'provider_flag_cleared', provider: providerId(map, 'provider', 'provider'), flag: str(map, 'flag', 'flag') as ProviderFlagName };
}

/**
 * Decodes an upsert. Entries are validated again by the directory parser that builds
 * them; here the engine guards its own input: ids, types and ranges.
 */
export function decodeUpsertProviders(bytes: Uint8Array): UpsertProviders {
  const map = envelope(bytes, 'upsert_providers');
  const list = map['providers'];
  if (!Array.isArray(list)) fail(ErrorCode.MissingField, 'providers must be an array', 'providers');
  if (list.length > 5000) fail(ErrorCode.TooLarge, 'at most 5000 providers per request', 'providers');
  const providers = list.map((raw, i) => {
    const path = `providers[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(ErrorCode.InvalidField, `${path} must be a map`, path);
    const entry = raw as Record<string, unknown>;
    const out: DirectoryProvider = { id: providerId(entry, 'id', `${path}.id`) };
    for (const field of ['name', 'frn', 'ocn', 'contact'] as const) {
      if (entry[field] !== undefined && entry[field] !== null) out[field] = str(entry, field, `${path}.${field}`);
    }
    if (entry['rmdStatus'] !== undefined) {
      const status = str(entry, 'rmdStatus', `${path}.rmdStatus`);
      if (!['certified', 'not_filed', 'removed', 'unknown'].includes(status)) fail(ErrorCode.InvalidField, `${path}.rmdStatus is not a known status`, `${path}.rmdStatus`);
      out.rmdStatus = status as DirectoryProvider['rmdStatus'];
    }
    if (entry['roles'] !== undefined) {
      if (!Array.isArray(entry['roles']) || !entry['roles'].every((r) => typeof r === 'string')) fail(ErrorCode.InvalidField, `${path}.roles must be strings`, `${path}.roles`);
      out.roles = entry['roles'] as string[];
    }
    if (entry['deadline'] !== undefined) out.deadline = readDeadline(entry['deadline'], `${path}.deadline`);
    if (entry['reminders'] !== undefined) {
      const r = entry['reminders'];
      if (!Array.isArray(r) || !r.every((f) => typeof f === 'number' && f > 0 && f < 1)) fail(ErrorCode.InvalidField, `${path}.reminders must be fractions in (0,1)`, `${path}.reminders`);
      out.reminders = r as number[];
    }
    if (entry['maxInFlight'] !== undefined) {
      const m = entry['maxInFlight'];
      if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) fail(ErrorCode.InvalidField, `${path}.maxInFlight must be a positive integer`, `${path}.maxInFlight`);
      out.maxInFlight = m;
    }
    return out;
  });
  return { v: PROTOCOL_VERSION, kind: 'upsert_providers', providers, requester: str(map, 'requester', 'requester', 128) };
}

export function decodeProvidersUpserted(bytes: Uint8Array): ProvidersUpserted {
  const map = envelope(bytes, 'providers_upserted');
  const count = map['count'];
  if (typeof count !== 'number') fail(ErrorCode.InvalidField, 'count must be a number', 'count');
  return { v: PROTOCOL_VERSION, kind: 'providers_upserted', count };
}

export function decodeProviderFlag(bytes: Uint8Array): ProviderFlagMessage {
  const map = envelope(bytes, 'provider_flag');
  return map as unknown as ProviderFlagMessage;
}
