import type { Machine } from './proc.js';
import type { FailoverResult, FailoverRun, ScaleResult, ScaleRun } from './distributed.js';
import type { InFlightResult, LatencyResult, PhaseResult, RecoveryResult, ScenarioName, ThroughputResult } from './scenarios.js';
import { GiB, MiB, round } from './stats.js';

export interface BenchMeta {
  date: string;
  smoke: boolean;
  machine: Machine;
  node: string;
  natsServer: string;
  git: { commit: string; dirty: string[] };
  options: Record<string, unknown>;
  wallSeconds: number;
  /** /proc/loadavg at the start and the end: the machine may be shared with other work. */
  loadAverage: { start: number[]; end: number[] };
  /** mtime of the built engine at the start and the end (a rebuild mid-run would mix engines). */
  engineBuiltAt: { start: string; end: string };
  /** Set by `--merge`: the runs this result was put together from. */
  mergedFrom?: { date: string; commit: string; loadAverage: { start: number[]; end: number[] }; scenarios: string[] }[];
}

export interface BenchResult {
  meta: BenchMeta;
  uniform?: ThroughputResult;
  hotProvider?: ThroughputResult;
  latency?: LatencyResult;
  recovery?: RecoveryResult;
  inFlight?: InFlightResult;
  scale?: ScaleResult;
  failover?: FailoverResult;
  errors: { scenario: ScenarioName; error: string }[];
  targets: TargetRow[];
}

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export interface TargetRow {
  target: string;
  measured: string;
  verdict: Verdict;
  note: string;
}

const mib = (b: number) => `${Math.round(b / MiB)} MiB`;
const gib = (b: number) => `${round(b / GiB, 2)} GiB`;
const pct = (r: number) => `${Math.round(r * 100)}%`;
const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
const verdict = (ok: boolean): Verdict => (ok ? 'PASS' : 'MISS');

/** Every target of issue 6 against what was measured; `n/a` where the scenario did not run. */
export function evaluateTargets(r: BenchResult): TargetRow[] {
  const rows: TargetRow[] = [];
  const u = r.uniform;
  rows.push(
    u
      ? {
          target: '≥ 4,000 durable hops/s (uniform)',
          measured: `${n0(u.engine.peak.window.hopsPerSecond)} hops/s`,
          verdict: verdict(u.engine.peak.window.hopsPerSecond >= 4000),
          note: `${n0(u.engine.peak.window.tracebacksPerSecond)} tracebacks/s; CPU-bound projection on a dedicated machine ${n0(u.engine.peak.window.cpuBoundHopsPerSecond)} hops/s; other processes used ${u.engine.peak.window.otherCpuPercent}% of a core`,
        }
      : { target: '≥ 4,000 durable hops/s (uniform)', measured: '—', verdict: 'n/a', note: 'not run' },
  );
  rows.push(
    u
      ? {
          target: '≥ 60% of bare pipeline (uniform)',
          measured: `${pct(u.ratio)} (${n0(u.engine.peak.window.hopsPerSecond)} / ${n0(u.bare.peak.window.hopsPerSecond)})`,
          verdict: verdict(u.ratio >= 0.6),
          note: `from CPU per hop: ${pct(u.cpuRatio)}` + (u.ratioMatched !== undefined && u.bareMatched ? `; vs bare with the engine's full write set: ${pct(u.ratioMatched)} (${n0(u.bareMatched.peak.window.hopsPerSecond)} hops/s), from CPU per hop ${pct(u.cpuRatioMatched ?? 0)}` : ''),
        }
      : { target: '≥ 60% of bare pipeline (uniform)', measured: '—', verdict: 'n/a', note: 'not run' },
  );
  const h = r.hotProvider;
  if (h) {
    rows.push({ target: '≥ 4,000 durable hops/s (hot-provider)', measured: `${n0(h.engine.peak.window.hopsPerSecond)} hops/s`, verdict: verdict(h.engine.peak.window.hopsPerSecond >= 4000), note: `2-hop routes, half of all hops on one provider` });
    rows.push({
      target: '≥ 60% of bare pipeline (hot-provider)',
      measured: `${pct(h.ratio)} (${n0(h.engine.peak.window.hopsPerSecond)} / ${n0(h.bare.peak.window.hopsPerSecond)})`,
      verdict: verdict(h.ratio >= 0.6),
      note: `from CPU per hop: ${pct(h.cpuRatio)}` + (h.ratioMatched !== undefined ? `; vs full write set: ${pct(h.ratioMatched)}, from CPU per hop ${pct(h.cpuRatioMatched ?? 0)}` : ''),
    });
  } else {
    rows.push({ target: '≥ 4,000 durable hops/s, ≥ 60% of bare (hot-provider)', measured: '—', verdict: 'n/a', note: 'not run' });
  }
  const half = u?.engine.halfLoad;
  rows.push(
    half
      ? {
          target: 'engine-added p99 ≤ 10 ms at half of peak',
          measured: `p99 ${half.turnaroundMs.p99} ms (p50 ${half.turnaroundMs.p50} ms)`,
          verdict: verdict(half.turnaroundMs.p99 <= 10),
          note: `at ${n0(half.window.hopsPerSecond)} hops/s; bare at the same load p99 ${u?.bare.halfLoad?.turnaroundMs.p99 ?? '—'} ms`,
        }
      : { target: 'engine-added p99 ≤ 10 ms at half of peak', measured: '—', verdict: 'n/a', note: 'not run' },
  );
  const f = r.inFlight;
  if (f) {
    const reached = f.reached >= f.requested;
    const peak = Math.max(f.engineHwmBytes, f.engineRssAfterStartsBytes);
    // A provider record grows with the hops open or queued at that provider; past the server's
    // max_payload it can no longer be written, and that provider's hops stop for good.
    const projectedRecord = f.reached > 0 ? (f.providerRecords.maxBytes * f.requested) / f.reached : 0;
    const recordWall = f.providerRecords.maxBytes >= f.maxPayloadBytes * 0.98 || projectedRecord > f.maxPayloadBytes;
    const wallAt = f.providerRecords.maxBytes > 0 ? Math.round((f.reached * f.maxPayloadBytes) / f.providerRecords.maxBytes) : 0;
    rows.push({
      target: `${n0(f.requested)} in flight, engine RSS ≤ 2 GiB`,
      measured: reached ? `${gib(peak)} peak at ${n0(f.reached)}` : `${gib(f.engineRssAfterStartsBytes)} at ${n0(f.reached)} reached (RSS projected ${gib(f.projectedRssBytes)} at ${n0(f.requested)})`,
      verdict: recordWall || !reached ? 'MISS' : verdict(peak <= 2 * GiB),
      note:
        (recordWall
          ? `cannot reach ${n0(f.requested)}: the largest provider record is ${n0(f.providerRecords.maxBytes)} B and grows with its open hops; it passes nats-server's max_payload (${n0(f.maxPayloadBytes)} B) at ~${n0(wallAt)} in flight, after which that provider can no longer be written. `
          : '') +
        (reached
          ? `settled ${mib(f.engineRssSettledBytes)}; ${n0(f.startsPerSecond)} starts/s`
          : `starts: ${n0(f.reached)} in ${Math.round(f.startSeconds)} s, rate fell to ${n0(f.finalStartsPerSecond)}/s (≥ ${Math.round(f.projectedStartSeconds / 60)} min for ${n0(f.requested)}); ${n0(f.rssPerTracebackBytes)} B RSS per traceback`),
    });
  } else {
    rows.push({ target: '1,000,000 in flight, engine RSS ≤ 2 GiB', measured: '—', verdict: 'n/a', note: 'not run' });
  }
  const rec = r.recovery;
  rows.push(
    rec
      ? {
          target: 'processing resumes ≤ 5 s after a crash',
          measured: `${round(rec.killToResumeMs / 1000, 2)} s (${n0(rec.inFlightAtKill)} in flight${rec.tracebacks < rec.requested ? `, not ${n0(rec.requested)}: start budget` : ''})`,
          verdict: verdict(rec.killToResumeMs >= 0 && rec.killToResumeMs <= 5000 && rec.lost === 0 && rec.duplicates === 0),
          note: `engine ready after ${round(rec.killToReadyMs / 1000, 2)} s; ${rec.allDone ? `all done ${round(rec.killToAllDoneMs / 1000, 1)} s after the kill` : `${n0(rec.unfinished)} NOT finished ${round(rec.killToAllDoneMs / 1000)} s after the kill (budget)`}; lost ${rec.lost}, duplicates ${rec.duplicates}, wrong ${rec.wrong}`,
        }
      : { target: 'processing resumes ≤ 5 s after a crash', measured: '—', verdict: 'n/a', note: 'not run' },
  );
  const lat = r.latency;
  rows.push(
    lat
      ? {
          target: '6-hop traceback end to end < 1 s',
          measured: `p99 ${lat.engine.endToEndMs.p99} ms (p50 ${lat.engine.endToEndMs.p50} ms)`,
          verdict: verdict(lat.engine.endToEndMs.n > 0 && lat.engine.endToEndMs.p99 < 1000),
          note: `bare p50 ${lat.bare.endToEndMs.p50} ms, p99 ${lat.bare.endToEndMs.p99} ms; ${lat.runs} runs`,
        }
      : { target: '6-hop traceback end to end < 1 s', measured: '—', verdict: 'n/a', note: 'not run' },
  );
  return rows;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function phaseRows(phases: PhaseResult[]): string[][] {
  const col = (f: (p: PhaseResult) => string) => phases.map(f);
  const rows: [string, ...string[]][] = [
    ['durable hops/s', ...col((p) => n0(p.peak.window.hopsPerSecond))],
    ['CPU-bound hops/s on a dedicated machine (projection from CPU per hop)', ...col((p) => n0(p.peak.window.cpuBoundHopsPerSecond))],
    ['tracebacks/s', ...col((p) => n0(p.peak.window.tracebacksPerSecond))],
    ['hop latency at peak p50 / p99 (ms)', ...col((p) => `${p.peak.hopLatencyMs.p50} / ${p.peak.hopLatencyMs.p99}`)],
    ['turnaround at peak p50 / p99 (ms)', ...col((p) => `${p.peak.turnaroundMs.p50} / ${p.peak.turnaroundMs.p99}`)],
    ['CPU % of a core: pipeline / NATS / carriers / driver', ...col((p) => `${p.peak.window.cpuPercent.pipeline} / ${p.peak.window.cpuPercent.nats} / ${p.peak.window.cpuPercent.carriers} / ${p.peak.window.cpuPercent.driver}`)],
    ['CPU ms per hop: pipeline / NATS / carriers', ...col((p) => `${p.peak.window.cpuMsPerHop.pipeline} / ${p.peak.window.cpuMsPerHop.nats} / ${p.peak.window.cpuMsPerHop.carriers}`)],
    ['pipeline RSS at peak (peak RSS)', ...col((p) => `${mib(p.peak.window.pipelineRssBytes)} (${mib(p.pipelineHwmBytes)})`)],
    ['bytes stored per traceback', ...col((p) => n0(p.storage.bytesPerTraceback))],
    ['state record bytes (mean)', ...col((p) => n0(p.storage.stateRecordBytes))],
  ];
  if (phases.some((p) => p.halfLoad)) {
    rows.push(
      ['half-load: hops/s', ...col((p) => (p.halfLoad ? n0(p.halfLoad.window.hopsPerSecond) : '—'))],
      ['half-load: turnaround p50 / p99 (ms)', ...col((p) => (p.halfLoad ? `${p.halfLoad.turnaroundMs.p50} / ${p.halfLoad.turnaroundMs.p99}` : '—'))],
      ['half-load: hop latency p50 / p99 (ms)', ...col((p) => (p.halfLoad ? `${p.halfLoad.hopLatencyMs.p50} / ${p.halfLoad.hopLatencyMs.p99}` : '—'))],
      ['half-load: CPU % pipeline / NATS / carriers', ...col((p) => (p.halfLoad ? `${p.halfLoad.window.cpuPercent.pipeline} / ${p.halfLoad.window.cpuPercent.nats} / ${p.halfLoad.window.cpuPercent.carriers}` : '—'))],
    );
  }
  rows.push(['answers redelivered (past ack_wait) / delivered', ...col((p) => `${n0(p.answerConsumer.redelivered)} / ${n0(p.answerConsumer.delivered)}`)]);
  rows.push(['CPU % of a core used by other processes on the machine', ...col((p) => String(p.peak.window.otherCpuPercent))]);
  rows.push(['trails checked (wrong, duplicate)', ...col((p) => `${n0(p.verified.trails)} (${p.verified.wrong}, ${p.verified.duplicates})`)]);
  return rows;
}

const LABELS: Record<PhaseResult['pipeline'], string> = {
  engine: 'engine',
  bare: 'bare (minimal)',
  'bare-matched': 'bare (engine write set)',
  'engine-no-async-traces': 'experiment: engine with noAsyncTraces',
};

function throughputSection(title: string, t: ThroughputResult): string {
  const phases = [t.engine, t.bare, ...(t.bareMatched ? [t.bareMatched] : []), ...(t.experiments ?? [])];
  const header = ['figure', ...phases.map((p) => LABELS[p.pipeline])];
  const ratio = `engine/bare: **${pct(t.ratio)}** (from CPU per hop ${pct(t.cpuRatio)})${t.ratioMatched !== undefined ? `; engine/bare with the engine's full write set: **${pct(t.ratioMatched)}** (from CPU per hop ${pct(t.cpuRatioMatched ?? 0)})` : ''}`;
  return [
    `### ${title}`,
    '',
    `${t.plan.kind === 'hot' ? `2-hop routes, half of all hops through provider \`hot\`, ${t.plan.providers} other providers` : `${t.plan.hops}-hop routes over ${t.plan.providers} providers`}; ${t.window} tracebacks kept in flight; ${ratio}.`,
    '',
    table(header, phaseRows(phases)),
    '',
  ].join('\n');
}

export function markdown(r: BenchResult): string {
  const m = r.meta;
  const out: string[] = [
    '# robotrace benchmark results',
    '',
    `Generated by \`npm run bench\` (${m.smoke ? 'SMOKE run: small counts, not comparable' : 'full run'}). Re-run it to compare a change; the engine/bare ratios are the figures that count, since absolute rates on these machines vary by up to ±25%.`,
    '',
    table(
      ['', ''],
      [
        ['date', m.date],
        ['machine', `${m.machine.cpuModel}, ${m.machine.cores} cores, ${gib(m.machine.memoryBytes)} RAM, Linux ${m.machine.kernel}`],
        ['node', m.node],
        ['nats-server', `${m.natsServer} (file storage, loopback, fresh server per phase)`],
        ['commit', `${m.git.commit}${m.git.dirty.length > 0 ? ` + uncommitted changes in ${m.git.dirty.length} files` : ''}`],
        ['run time', `${Math.round(m.wallSeconds / 60)} min`],
        ['load average at start / end', `${m.loadAverage.start.join(' ')} / ${m.loadAverage.end.join(' ')} (the machine was${m.loadAverage.start[0] !== undefined && m.loadAverage.start[0] > 1.5 ? '' : ' not'} shared with other work; see "CPU used by other processes" per phase)`],
      ],
    ),
    '',
    '## Targets (issue 6)',
    '',
    table(['target', 'measured', 'verdict', 'note'], r.targets.map((t) => [t.target, t.measured, `**${t.verdict}**`, t.note])),
    '',
  ];
  if (r.errors.length > 0) {
    out.push('## Errors', '', ...r.errors.map((e) => `- \`${e.scenario}\`: ${e.error}`), '');
  }
  out.push('## Figures', '');
  out.push(
    'Definitions: *durable hops/s* — answers the pipeline acknowledged after persisting them, per second, in a steady window of a closed loop; ' +
      '*hop latency* — query published → answer applied (engine: `asked` → `answered` in `tb.events.<id>`; bare: its consume-to-consume time); ' +
      '*turnaround* (engine-added) — measured by the carriers: answer handed to the SDK → the same traceback\'s next query received; ' +
      '*bare (minimal)* — per hop: answer consume + ack, KV update with expected revision, query (or trail) publish; ' +
      '*bare (engine write set)* — the engine\'s whole per-hop write set: 3 KV writes (traceback CAS, 2 provider records), 4 audit events, the query, timer delete and put. CPU is utime+stime from /proc.',
    '',
  );
  if (r.uniform) out.push(throughputSection('uniform', r.uniform));
  if (r.hotProvider) out.push(throughputSection('hot-provider', r.hotProvider));
  if (r.latency) {
    const l = r.latency;
    out.push(
      '### latency',
      '',
      `One ${l.hops}-hop traceback at a time, instant carriers, ${l.runs} runs.`,
      '',
      table(
        ['figure', 'engine', 'bare (minimal)'],
        [
          ['end to end p50 / p99 / max (ms)', `${l.engine.endToEndMs.p50} / ${l.engine.endToEndMs.p99} / ${l.engine.endToEndMs.max}`, `${l.bare.endToEndMs.p50} / ${l.bare.endToEndMs.p99} / ${l.bare.endToEndMs.max}`],
          ['hop latency p50 / p99 (ms)', `${l.engine.hopLatencyMs.p50} / ${l.engine.hopLatencyMs.p99}`, `${l.bare.hopLatencyMs.p50} / ${l.bare.hopLatencyMs.p99}`],
          ['turnaround p50 / p99 (ms)', `${l.engine.turnaroundMs.p50} / ${l.engine.turnaroundMs.p99}`, `${l.bare.turnaroundMs.p50} / ${l.bare.turnaroundMs.p99}`],
          ['failures', String(l.engine.failures), String(l.bare.failures)],
        ],
      ),
      '',
    );
  }
  if (r.recovery) {
    const c = r.recovery;
    out.push(
      '### recovery',
      '',
      table(
        ['figure', 'value'],
        [
          ['tracebacks (started with carriers offline, then answered at once)', `${n0(c.tracebacks)} of ${n0(c.requested)} asked for (${c.routeHops}-hop routes; ${n0(c.startSeconds)} s to start)`],
          ['in flight at kill -9 / hops done', `${n0(c.inFlightAtKill)} / ${n0(c.hopsDoneAtKill)} of ${n0(c.hopsTotal)}`],
          ['kill → engine ready (`engine running`)', `${round(c.killToReadyMs / 1000, 2)} s (spawn → shards recovered: ${round(c.spawnToRecoveredMs / 1000, 2)} s)`],
          ['kill → processing resumes (first answer applied and acked)', `${round(c.killToResumeMs / 1000, 2)} s`],
          ['kill → all finished', `${round(c.killToAllDoneMs / 1000, 1)} s${c.allDone ? '' : ` (${n0(c.unfinished)} NOT finished within the budget)`}`],
          ['hops/s before / after the kill', `${n0(c.hopsPerSecondBefore)} / ${n0(c.hopsPerSecondAfter)}`],
          ['lost / duplicate / wrong trails', `${c.lost} / ${c.duplicates} / ${c.wrong}`],
          ['engine start-up log', c.engineStartup.map((s) => `${String(s['msg'])}: ${JSON.stringify(Object.fromEntries(Object.entries(s).filter(([k]) => !['level', 'time', 'pid', 'hostname', 'name', 'msg'].includes(k))))}`).join('; ')],
        ],
      ),
      '',
    );
  }
  if (r.inFlight) {
    const f = r.inFlight;
    out.push(
      '### in-flight',
      '',
      `Tracebacks started through the API with no carrier connected (hop deadline 24 h).${f.reached < f.requested ? ` **${n0(f.reached)} of ${n0(f.requested)} reached in the time budget; the 1M figures are extrapolated.**` : ''}`,
      '',
      table(
        ['figure', 'value'],
        [
          ['tracebacks in flight', `${n0(f.reached)} of ${n0(f.requested)} (${f.startErrors} start errors)`],
          ['starts/s: mean, at the end', `${n0(f.startsPerSecond)}, ${n0(f.finalStartsPerSecond)} (${Math.round(f.startSeconds)} s)`],
          ['engine RSS after the starts / after idle eviction (peak)', `${mib(f.engineRssAfterStartsBytes)} / ${mib(f.engineRssSettledBytes)} (${mib(f.engineHwmBytes)})`],
          ['engine RSS per traceback in flight (fit)', `${n0(f.rssPerTracebackBytes)} B`],
          ['projected engine RSS at the requested count', gib(f.projectedRssBytes)],
          ['nats-server RSS', mib(f.natsRssBytes)],
          ['KV (actors) bytes, per traceback', `${mib(f.kvBytes)}, ${n0(f.kvBytesPerTraceback)} B`],
          ['all stored bytes per traceback (actors, timers, events, queued query)', `${n0(f.bytesPerTraceback)} B`],
          ['provider actor records: count, mean / max bytes', `${f.providerRecords.count}, ${n0(f.providerRecords.meanBytes)} / ${n0(f.providerRecords.maxBytes)} B (max_payload ${n0(f.maxPayloadBytes)} B)`],
          ['start rate over time (s: tracebacks)', f.rssSamples.filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 8)) === 0 || i === a.length - 1).map((p) => `${Math.round(p.seconds)}: ${n0(p.tracebacks)}`).join(', ')],
          ['re-activation of evicted actors', f.reactivation ? `${n0(f.reactivation.applied)} answers applied in ${f.reactivation.seconds} s (${n0(f.reactivation.perSecond)}/s)` : '—'],
        ],
      ),
      '',
    );
  }
  if (r.scale || r.failover) out.push(distributedMarkdown(r));
  const profile = r.uniform?.engine.profile;
  if (profile) {
    out.push(
      '### engine CPU profile (uniform run)',
      '',
      table(['area', 'self %'], profile.byArea.slice(0, 12).map((a) => [a.area, String(a.percent)])),
      '',
      table(['function (self time)', 'where', 'self %'], profile.topSelf.slice(0, 15).map((f) => [f.fn, f.where, String(f.percent)])),
      '',
      table(['robotrace function (inclusive)', 'where', 'total %'], profile.topInclusive.slice(0, 15).map((f) => [f.fn, f.where, String(f.percent)])),
      '',
    );
  }
  return out.join('\n');
}

const SECTION_START = '<!-- several-engines:start (bench --scenario scale,failover rewrites this section) -->';
const SECTION_END = '<!-- several-engines:end -->';

/** Replaces the "several engines" section of an existing RESULTS.md (or appends it), leaving the rest as it is. */
export function spliceSection(existing: string, section: string): string {
  const start = existing.indexOf(SECTION_START);
  const end = existing.indexOf(SECTION_END);
  if (start >= 0 && end > start) return `${existing.slice(0, start)}${section}${existing.slice(end + SECTION_END.length)}`;
  return `${existing.replace(/\n*$/, '\n\n')}${section}\n`;
}

const sec = (ms: number, digits = 2) => (ms < 0 ? '—' : `${round(ms / 1000, digits)} s`);
const cores = (r: BenchResult) => r.meta.machine.cores || 2;

function cpuOf(run: ScaleRun, role: 'pipeline' | 'nats'): string {
  return Object.entries(run.peak.processes)
    .filter(([, p]) => p.role === role)
    .map(([name, p]) => (Object.keys(run.peak.processes).length > 4 ? `${name.replace(/^engine-/, 'e').replace(/^nats-/, 'n')} ${p.cpuPercent}` : String(p.cpuPercent)))
    .join(', ');
}

function scaleMarkdown(r: BenchResult, s: ScaleResult): string[] {
  const rows = s.runs.map((run) => [
    run.setup === 'cluster' ? `${run.natsNodes}-node cluster, R${run.replicas}` : 'single server, R1',
    String(run.engines),
    n0(run.peak.hopsPerSecond),
    run.ratio > 0 ? `**${run.ratio.toFixed(2)}**` : '—',
    n0(run.peak.tracebacksPerSecond),
    run.tracebacksRatio > 0 ? run.tracebacksRatio.toFixed(2) : '—',
    cpuOf(run, 'pipeline'),
    cpuOf(run, 'nats'),
    `${run.peak.cpuPercent.carriers} / ${run.peak.cpuPercent.driver}`,
    `${run.peak.machineBusyPercent} (others ${run.peak.otherCpuPercent})`,
    run.loadAverage.start.join(' '),
    String(run.forwardedPerHop),
    run.limit,
  ]);
  const lines = [
    '### scale',
    '',
    `The uniform closed loop (${s.plan.hops}-hop routes over ${s.plan.providers} providers, ${s.window} tracebacks in flight, the same carriers) against 1, 2 and 3 \`robotrace engine\` processes (each its own \`--id\`, \`--shards ${s.shards}\`, lease ${s.lease}) on one NATS setup, started fresh for each row; the load starts once every shard is leased and each engine holds its share. Ratios are against the 1-engine row of the same NATS setup in this run. CPU is % of one core from /proc (${cores(r)} cores = ${cores(r) * 100}%); *machine* is all CPU used on the machine, *others* the part not ours. *Forwarded/hop*: messages engines passed each other (or an engine to itself, while its own lease looked too old to write under) through \`TB_SHARD_INBOX\` per durable hop. *Tracebacks/s* counts trails stored in the window: below ~${Math.round((s.window * s.plan.hops) / 38)} hops/s a traceback of the ${s.window}-traceback window takes longer than warm-up plus window, and it undercounts (hops/s ÷ ${s.plan.hops} is then the better figure).`,
    '',
    table(['NATS', 'engines', 'durable hops/s', 'ratio', 'tracebacks/s', 'ratio', 'CPU % per engine', 'CPU % nats-server(s)', 'CPU % carriers / driver', 'machine busy % (others)', 'load avg (1/5/15 min) at start', 'forwarded/hop', 'limit'], rows),
    '',
  ];
  for (const setup of ['single', 'cluster'] as const) {
    const runs = s.runs.filter((run) => run.setup === setup);
    if (runs.length === 0) continue;
    const capacity = cores(r) * 100;
    const saturated = runs.filter((run) => run.peak.machineBusyPercent >= capacity * 0.9);
    const best = runs.reduce((a, b) => (b.peak.hopsPerSecond > a.peak.hopsPerSecond ? b : a));
    lines.push(
      `**${setup === 'single' ? 'Single server' : 'Cluster'}**: ${runs.map((run) => `${run.engines} engine${run.engines > 1 ? 's' : ''} ${n0(run.peak.hopsPerSecond)} hops/s${run.ratio > 0 ? ` (×${run.ratio.toFixed(2)})` : ''}`).join(', ')}; best: ${best.engines}. ` +
        (saturated.length === runs.length
          ? `The machine's ${cores(r)} cores were ≥ 90% busy in every run (${runs.map((run) => `${run.peak.machineBusyPercent}%, ${run.peak.otherCpuPercent}% of it others'`).join('; ')}): the limit is the machine's CPU, not the number of engines; more engine processes only split the same CPU, and add forwarding between them (${runs.map((run) => run.forwardedPerHop).join(' / ')} messages per hop).`
          : `Machine busy: ${runs.map((run) => `${run.peak.machineBusyPercent}%`).join(', ')} of ${capacity}%; limits: ${runs.map((run) => `${run.engines}: ${run.limit}`).join('; ')}.`),
      '',
    );
  }
  const bad = s.runs.filter((run) => run.verified.wrong > 0 || run.verified.duplicates > 0 || !run.drained || run.balancedAfterMs < 0 || run.startErrors > 0);
  lines.push(
    `Trails checked: ${s.runs.map((run) => `${run.setup} ${run.engines}: ${n0(run.verified.trails)} (${run.verified.wrong} wrong, ${run.verified.duplicates} duplicate)`).join('; ')}.` +
      (bad.length > 0 ? ` Anomalies: ${bad.map((run) => `${run.setup} ${run.engines}: ${[!run.drained ? 'not drained' : '', run.balancedAfterMs < 0 ? 'shards not balanced' : '', run.startErrors > 0 ? `${run.startErrors} start errors` : ''].filter(Boolean).join(', ')}`).join('; ')}.` : ''),
    '',
  );
  const losses = s.runs.filter((run) => run.leaseLosses.length > 0);
  if (losses.length > 0) {
    lines.push(
      `Shard leases lost under load (\`shard leases lost\`, "renewal refused: another engine holds the lease"): ${losses
        .map((run) => {
          const own = run.leaseLosses.filter((l) => !l.takenByAnother);
          return `${run.setup}, ${run.engines} engine${run.engines > 1 ? 's' : ''}: ${run.leaseLosses.length} times, ${own.length} of them with no other engine having taken the shards (e.g. ${run.leaseLosses.slice(0, 3).map((l) => `${l.engine} ${l.shards.length} shards at +${round(l.atMs / 1000, 1)} s`).join(', ')})`;
        })
        .join('; ')}.`,
      '',
    );
  }
  for (const run of s.runs.filter((r) => r.unfinished)) {
    const u = run.unfinished;
    if (!u) continue;
    lines.push(
      `${run.setup}, ${run.engines} engine${run.engines > 1 ? 's' : ''}: **${u.count} tracebacks without a trail** after the drain; queries pending at carriers ${u.hopQueriesPending}, answers queued ${u.hopAnswersPending}, shard inbox ${u.shardInboxPending}; e.g. ${u.examples.slice(0, 3).map((e) => `${e.tracebackId} (shard ${e.shard}, owner ${e.owner}, last event ${e.lastEvent.type} #${e.lastEvent.seq} by ${e.lastEvent.engine})`).join('; ')}.`,
      '',
    );
  }
  return lines;
}

function failoverColumn(run: FailoverRun): string {
  return `${run.setup === 'cluster' ? `cluster R${run.replicas}` : 'single R1'}, lease ${run.lease}`;
}

function failoverMarkdown(f: FailoverResult): string[] {
  const runs = f.runs;
  const col = (fn: (run: FailoverRun) => string) => runs.map(fn);
  const c = (run: FailoverRun) => run.correctness;
  return [
    '### failover',
    '',
    `3 engines (\`--shards ${f.shards}\`) under an open loop at ${pct(f.load)} of the closed-loop capacity measured just before in the same environment; the lease table (\`tb_shards\` \`lease.<n>\`) says which shards the victim holds; then \`kill -9\` of one engine. *First hop by the new owner*: the first \`answered\` event in \`TB_EVENTS\` (stream time) with \`Robotrace-Engine\` a survivor, \`at\` after the kill, for a traceback whose \`shardOf(tracebackId, ${f.shards})\` was the victim's. *Throughput back*: end of the first 1 s bucket after the dip whose trail rate (trails of the open loop's tracebacks only) is ≥ 90% of the rate before the kill. Correctness: every acknowledged start must end with exactly one correct trail.`,
    '',
    table(
      ['figure', ...runs.map(failoverColumn)],
      [
        ['capacity (3 engines, closed loop): tracebacks/s, hops/s', ...col((run) => `${n0(run.capacity.tracebacksPerSecond)}, ${n0(run.capacity.hopsPerSecond)}`)],
        ['load: target / measured before the kill (tracebacks/s); hops/s', ...col((run) => `${run.targetTracebacksPerSecond} / ${run.before.tracebacksPerSecond}; ${n0(run.before.hopsPerSecond)}`)],
        ['victim, its shards, tracebacks in flight at the kill', ...col((run) => `${run.victim.engine}: ${run.victim.shards.length} shards (${run.victim.shards.join(',')}); ~${n0(run.victim.inFlightTracebacks)}`)],
        ['**kill → first hop processed by the new owner** (stored; by its `at`)', ...col((run) => `**${sec(run.killToFirstNewHopMs)}** (${sec(run.killToFirstNewHopAtMs)})${run.firstNewHop ? `, ${run.firstNewHop.engine} epoch ${run.firstNewHop.epoch}, shard ${run.firstNewHop.shard}` : ''}`)],
        ['kill → first audit event by a survivor on a victim shard (any type, incl. replay)', ...col((run) => sec(run.killToFirstSurvivorEventMs))],
        ['kill → survivors log `shards acquired`: first / all victim shards', ...col((run) => `${sec(run.killToFirstAcquiredMs)} / ${sec(run.killToAllAcquiredMs)}`)],
        [
          '`shards acquired` lines (engine: victim shards @ after kill; recovery ms, actors replayed)',
          ...col((run) =>
            [
              ...run.acquired.slice(0, 3).map((a) => `${a.engine}: ${a.shards.join(',')} @ ${sec(a.afterKillMs)}${a.recoveryMs !== undefined ? `; ${a.recoveryMs} ms, ${a.replayed ?? 0} replayed` : ''}`),
              ...(run.acquired.length > 3 ? [`… ${run.acquired.length - 3} more (shards lost and taken again)`] : []),
            ].join('<br>'),
          ),
        ],
        ['new owners of the victim shards', ...col((run) => Object.entries(run.newOwners).map(([k, v]) => `${k} ${v}`).join(', '))],
        [
          '**kill → throughput back to ≥ 90%**; lowest 1 s rate ÷ rate before',
          ...col((run) =>
            run.before.tracebacksPerSecond < 0.8 * run.targetTracebacksPerSecond
              ? `n/a: the load was not steady before the kill (${run.before.tracebacksPerSecond} of ${run.targetTracebacksPerSecond} tracebacks/s finishing)`
              : `**${run.killToThroughput90Ms === 0 ? 'no dip' : sec(run.killToThroughput90Ms, 1)}**; ${pct(run.dipRatio)}`,
          ),
        ],
        ['trail rate per second from the kill (tracebacks/s)', ...col((run) => run.timeline.filter((b) => b.t >= 0 && b.t < 20).map((b) => String(Math.round(b.tracebacksPerSecond))).join(' '))],
        ['**started / finished / lost (no trail after the drain) / duplicate / wrong**', ...col((run) => `**${n0(c(run).started)} / ${n0(c(run).finished)} / ${c(run).lost} / ${c(run).duplicates} / ${c(run).wrong}**${c(run).allDone ? '' : ` (drained ${c(run).drainSeconds} s)`}`)],
        ['start errors (client saw a failure); trails of such starts', ...col((run) => `${c(run).startErrors}${c(run).lastStartError ? ` (${c(run).lastStartError})` : ''}; ${c(run).unacknowledgedStarts}`)],
        ['victim events stored after the kill; engine warnings logged', ...col((run) => `${run.victimEventsAfterKill}; ${run.engineWarnings}`)],
        [
          '`shard leases lost` while no other engine had taken them: before / after the kill (engine shards @ s from the kill)',
          ...col((run) => {
            const own = run.leaseLosses.filter((l) => !l.takenByAnother);
            const show = (l: (typeof own)[number]) => `${l.engine} ${l.shards.length} @ ${l.atMs < 0 ? '−' : '+'}${Math.abs(round(l.atMs / 1000, 1))}`;
            return own.length === 0 ? 'none' : `${own.filter((l) => l.atMs < 0).length} / ${own.filter((l) => l.atMs >= 0).length}: ${own.slice(0, 4).map(show).join(', ')}${own.length > 4 ? ', …' : ''}`;
          }),
        ],
        ['all tracebacks without a trail at the end (with the capacity loop\'s), last audit event', ...col((run) => (run.unfinished ? `${run.unfinished.count}; e.g. ${run.unfinished.examples.slice(0, 2).map((e) => `${e.tracebackId} last \`${e.lastEvent.type}\` by ${e.lastEvent.engine}`).join('; ')}` : '0'))],
        ['load average at start / end', ...col((run) => `${run.loadAverage.start.join(' ')} / ${run.loadAverage.end.join(' ')}`)],
      ],
    ),
    '',
  ];
}

/** The "several engines" section (scale, failover), between markers so a partial run can replace it in RESULTS.md. */
export function distributedMarkdown(r: BenchResult): string {
  const m = r.meta;
  const out = [
    SECTION_START,
    '## Several engines (issue 7)',
    '',
    `${m.smoke ? 'SMOKE run, not comparable. ' : ''}${
      m.mergedFrom
        ? `Merged (\`--merge\`) from ${m.mergedFrom.map((f) => `the ${f.scenarios.join('+')} run of ${f.date} (commit ${f.commit}, load average ${f.loadAverage.start.join(' ')} / ${f.loadAverage.end.join(' ')})`).join(' and ')}`
        : `Run ${m.date}, commit ${m.git.commit}${m.git.dirty.length > 0 ? ` + uncommitted changes in ${m.git.dirty.length} files` : ''}, load average at start / end ${m.loadAverage.start.join(' ')} / ${m.loadAverage.end.join(' ')}`
    }, on ${m.machine.cpuModel}, ${m.machine.cores} cores, nats-server ${m.natsServer}, node ${m.node}; the machine is shared with other work, so every row gives its own load and the CPU of other processes. \`node dist/bench/run.js --scenario scale,failover\`; figures in \`bench/results/${m.date.slice(0, 10)}-scale.json\`.`,
    '',
  ];
  const errors = r.errors.filter((e) => e.scenario === 'scale' || e.scenario === 'failover');
  if (errors.length > 0) out.push(...errors.map((e) => `- **${e.scenario} failed**: ${e.error}`), '');
  const runErrors = [
    ...(r.scale?.errors ?? []).map((e) => `- **scale ${e.setup}, ${e.engines} engine(s) failed**: ${e.error}`),
    ...(r.failover?.errors ?? []).map((e) => `- **failover ${e.setup}, lease ${e.lease} failed**: ${e.error}`),
  ];
  if (runErrors.length > 0) out.push(...runErrors, '');
  if (r.scale) out.push(...scaleMarkdown(r, r.scale));
  if (r.failover) out.push(...failoverMarkdown(r.failover));
  out.push(SECTION_END);
  return out.join('\n');
}

/** The console summary: targets, then the headline figures. */
export function consoleSummary(r: BenchResult): string {
  const lines = ['', `robotrace bench — ${r.meta.smoke ? 'smoke (no targets apply)' : 'full'} — nats-server ${r.meta.natsServer}, node ${r.meta.node}, ${r.meta.machine.cores} cores`, ''];
  const width = Math.max(...r.targets.map((t) => t.target.length));
  const mwidth = Math.max(...r.targets.map((t) => t.measured.length));
  for (const t of r.targets) lines.push(`${t.target.padEnd(width)}  ${t.measured.padEnd(mwidth)}  ${r.meta.smoke ? '' : t.verdict.padEnd(4)}  ${t.note}`);
  for (const run of r.scale?.runs ?? []) {
    lines.push(`scale ${run.setup} ${run.engines} engine(s): ${n0(run.peak.hopsPerSecond)} hops/s (×${run.ratio}), ${n0(run.peak.tracebacksPerSecond)} tracebacks/s; machine ${run.peak.machineBusyPercent}%; limit: ${run.limit}`);
  }
  for (const run of r.failover?.runs ?? []) {
    const c = run.correctness;
    lines.push(
      `failover ${run.setup} lease ${run.lease}: first new hop ${sec(run.killToFirstNewHopMs)}, shards acquired ${sec(run.killToFirstAcquiredMs)}..${sec(run.killToAllAcquiredMs)}, throughput ≥ 90% ${run.killToThroughput90Ms === 0 ? 'no dip' : sec(run.killToThroughput90Ms, 1)}; started ${c.started}, lost ${c.lost}, duplicates ${c.duplicates}, wrong ${c.wrong}`,
    );
  }
  for (const e of r.scale?.errors ?? []) lines.push(`ERROR in scale ${e.setup} ${e.engines} engine(s): ${e.error}`);
  for (const e of r.failover?.errors ?? []) lines.push(`ERROR in failover ${e.setup} lease ${e.lease}: ${e.error}`);
  for (const e of r.errors) lines.push(`ERROR in ${e.scenario}: ${e.error}`);
  lines.push('');
  return lines.join('\n');
}

export function formatBytes(b: number): string {
  return b >= GiB ? gib(b) : mib(b);
}
