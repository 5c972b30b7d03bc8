import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { round } from './stats.js';

/** Where a CPU profile's time went: top functions by self time, and by area (package or part). */
export interface ProfileSummary {
  file: string;
  sampledMs: number;
  byArea: { area: string; selfMs: number; percent: number }[];
  topSelf: { fn: string; where: string; selfMs: number; percent: number }[];
  /** Inclusive time of robotrace's own functions (what a call costs with everything it calls). */
  topInclusive: { fn: string; where: string; totalMs: number; percent: number }[];
}

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}

export function newestProfile(dir: string): string | undefined {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f));
    return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  } catch {
    return undefined;
  }
}

function areaOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : 'native';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const part = /\/dist\/([^/]+)\//.exec(url);
  if (part?.[1]) return `robotrace/${part[1]}`;
  if (url.startsWith('node:')) return 'node core';
  return 'other';
}

function whereOf(url: string, line: number): string {
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
  return `${short}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const idle = [...byId.values()].filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (self.get(n.id) ?? 0), 0);
  const busy = Math.max(1e-9, total - idle);
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  for (const node of byId.values()) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0 || node.callFrame.functionName === '(idle)') continue;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const key = `${node.callFrame.functionName}@${node.callFrame.url}:${node.callFrame.lineNumber}`;
    const entry = fns.get(key) ?? { fn: node.callFrame.functionName || '(anonymous)', where: whereOf(node.callFrame.url, node.callFrame.lineNumber), ms: 0 };
    entry.ms += ms;
    fns.set(key, entry);
  }
  // Inclusive time per robotrace function, counting each function once per stack (recursion-safe).
  const inclusive = new Map<string, { fn: string; where: string; ms: number }>();
  const parent = new Map<number, number>();
  for (const node of byId.values()) for (const child of node.children ?? []) parent.set(child, node.id);
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node || !/\/dist\//.test(node.callFrame.url)) continue;
      const key = `${node.callFrame.functionName}@${node.callFrame.url}:${node.callFrame.lineNumber}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = inclusive.get(key) ?? { fn: node.callFrame.functionName || '(anonymous)', where: whereOf(node.callFrame.url, node.callFrame.lineNumber), ms: 0 };
      entry.ms += ms;
      inclusive.set(key, entry);
    }
  }
  const pct = (ms: number) => round((100 * ms) / busy, 1);
  return {
    file,
    sampledMs: round(busy),
    byArea: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, selfMs: round(ms), percent: pct(ms) })),
    topSelf: [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ fn: e.fn, where: e.where, selfMs: round(e.ms), percent: pct(e.ms) })),
    topInclusive: [...inclusive.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ fn: e.fn, where: e.where, totalMs: round(e.ms), percent: pct(e.ms) })),
  };
}
