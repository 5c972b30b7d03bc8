import { readFile } from 'node:fs/promises';
import { readCsv } from '../carrier/index.js';
import { isSubjectToken, type DirectoryDeadline, type DirectoryProvider } from '../protocol/index.js';
import { CliError } from './common.js';

/**
 * Reads a provider directory file: JSON (`{ "providers": [...] }` or a bare array; the
 * simulator's `providers.json` qualifies) or CSV with the header
 * `id,name,frn,ocn,contact,rmd_status,roles,deadline_hours,time_zone,opens_at,closes_at,holidays,max_in_flight`
 * (roles and holidays separated by `;`; a time zone makes the deadline business-hours).
 * Every problem is reported with its line number; nothing is imported unless all are valid.
 */
export async function readDirectoryFile(file: string): Promise<DirectoryProvider[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const entries = file.toLowerCase().endsWith('.csv') || !/^\s*[[{]/.test(text) ? fromCsv(text, file) : fromJson(text, file);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { line, entry } of entries) {
    const where = `${file} line ${line}`;
    if (!isSubjectToken(entry.id)) problems.push(`${where}: id ${JSON.stringify(entry.id)} must be 1-64 characters [A-Za-z0-9_-]`);
    if (seen.has(entry.id)) problems.push(`${where}: duplicate id ${entry.id}`);
    seen.add(entry.id);
    if (entry.frn !== undefined && !/^\d{10}$/.test(entry.frn)) problems.push(`${where}: frn must be 10 digits`);
    if (entry.ocn !== undefined && !/^[0-9A-Z]{4}$/.test(entry.ocn)) problems.push(`${where}: ocn must be 4 characters [0-9A-Z]`);
    const d = entry.deadline;
    if (d && !(d.hours > 0)) problems.push(`${where}: deadline hours must be > 0`);
    if (d?.kind === 'business') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: d.timeZone });
      } catch {
        problems.push(`${where}: unknown time zone ${d.timeZone}`);
      }
      if (!(d.opensAt >= 0 && d.opensAt < d.closesAt && d.closesAt <= 24)) problems.push(`${where}: business hours must satisfy 0 <= opens_at < closes_at <= 24`);
      for (const h of d.holidays) if (!/^\d{4}-\d{2}-\d{2}$/.test(h)) problems.push(`${where}: holiday ${JSON.stringify(h)} is not YYYY-MM-DD`);
    }
    if (entry.maxInFlight !== undefined && !(Number.isInteger(entry.maxInFlight) && entry.maxInFlight > 0)) {
      problems.push(`${where}: max_in_flight must be a positive integer`);
    }
  }
  if (problems.length > 0) throw new CliError(`${problems.length} problem(s) in the directory:\n  ${problems.slice(0, 50).join('\n  ')}`);
  return entries.map((e) => e.entry);
}

function fromJson(text: string, file: string): { line: number; entry: DirectoryProvider }[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(data) ? data : (data as { providers?: unknown })?.providers;
  if (!Array.isArray(list)) throw new CliError(`${file}: expected an array of providers or { "providers": [...] }`);
  // Line of each entry: the line of its n-th `"id"` key, good enough to point a person at it.
  const idLines: number[] = [];
  text.split('\n').forEach((l, i) => {
    if (/"id"\s*:/.test(l)) idLines.push(i + 1);
  });
  return list.map((raw, i) => {
    const line = idLines[i] ?? 1;
    if (raw === null || typeof raw !== 'object') throw new CliError(`${file} line ${line}: provider ${i} is not an object`);
    const r = raw as Record<string, unknown>;
    const entry: DirectoryProvider = { id: String(r['id'] ?? '') };
    for (const field of ['name', 'frn', 'ocn', 'contact'] as const) if (typeof r[field] === 'string') entry[field] = r[field];
    if (typeof r['rmdStatus'] === 'string') entry.rmdStatus = r['rmdStatus'] as DirectoryProvider['rmdStatus'];
    if (Array.isArray(r['roles'])) entry.roles = r['roles'].map(String);
    if (r['deadline'] && typeof r['deadline'] === 'object') entry.deadline = r['deadline'] as DirectoryDeadline;
    if (Array.isArray(r['reminders'])) entry.reminders = r['reminders'].map(Number);
    if (r['maxInFlight'] !== undefined) entry.maxInFlight = Number(r['maxInFlight']);
    return { line, entry };
  });
}

function fromCsv(text: string, file: string): { line: number; entry: DirectoryProvider }[] {
  const rows = [...readCsv(text)];
  const broken = rows.find((r) => r.problem);
  if (broken?.problem) throw new CliError(`${file} line ${broken.line}: ${broken.problem.message}`);
  const header = rows[0]?.fields;
  if (!header || !header.includes('id')) throw new CliError(`${file} line 1: a CSV directory needs a header row with an id column`);
  const col = (row: string[], name: string) => {
    const i = header.indexOf(name);
    const v = i >= 0 ? row[i]?.trim() : undefined;
    return v === '' ? undefined : v;
  };
  return rows.slice(1).map(({ fields, line }) => {
    const entry: DirectoryProvider = { id: col(fields, 'id') ?? '' };
    for (const [field, name] of [['name', 'name'], ['frn', 'frn'], ['ocn', 'ocn'], ['contact', 'contact']] as const) {
      const v = col(fields, name);
      if (v !== undefined) entry[field] = v;
    }
    const rmd = col(fields, 'rmd_status');
    if (rmd !== undefined) entry.rmdStatus = rmd as DirectoryProvider['rmdStatus'];
    const roles = col(fields, 'roles');
    if (roles !== undefined) entry.roles = roles.split(';').map((s) => s.trim()).filter(Boolean);
    const hours = Number(col(fields, 'deadline_hours') ?? 24);
    const timeZone = col(fields, 'time_zone');
    if (timeZone !== undefined) {
      entry.deadline = {
        kind: 'business',
        hours,
        timeZone,
        opensAt: Number(col(fields, 'opens_at') ?? 8),
        closesAt: Number(col(fields, 'closes_at') ?? 17),
        businessDays: [1, 2, 3, 4, 5],
        holidays: (col(fields, 'holidays') ?? '').split(';').map((s) => s.trim()).filter(Boolean),
      };
    } else if (col(fields, 'deadline_hours') !== undefined) {
      entry.deadline = { kind: 'fixed', hours };
    }
    const max = col(fields, 'max_in_flight');
    if (max !== undefined) entry.maxInFlight = Number(max);
    return { line, entry };
  });
}
