import type { MachineGraph } from '../../shared/api.js';

const NODE_W = 160;
const NODE_H = 36;
const GAP = 250;
const ROW = 48;
const MARGIN = 24;
const LOOP_LINE = 15;

type Transition = MachineGraph['transitions'][number];

/**
 * `current ∧ answerIs(originator)` → `originator`: the part that tells transitions apart
 * (`current`, "the result is for the hop being asked", guards every `HOP_RESULT`).
 */
function shortGuard(guard: string | undefined): string {
  if (!guard) return '';
  return guard
    .split(' ∧ ')
    .filter((g) => g !== 'current' && g !== 'acceptable')
    .map((g) => g.replace(/^answerIs\((.*)\)$/, '$1'))
    .join(' ∧ ');
}

function label(t: Transition): string {
  const guard = shortGuard(t.guard);
  return guard ? `${t.event} [${guard}]` : t.event;
}

function tooltip(t: Transition): string {
  const parts = [`on ${t.event}`];
  if (t.guard) parts.push(`if ${t.guard}`);
  if (t.actions.length) parts.push(`do ${t.actions.join(', ')}`);
  if (t.reenter) parts.push('(re-enters the state)');
  if (!t.target) parts.push('(stays: no state change)');
  return parts.join(' ');
}

interface Placed {
  id: string;
  key: string;
  type: string;
  entry: string[];
  x: number;
  y: number;
}

/** Columns by distance from the initial state; states no transition reaches go last. */
function layout(graph: MachineGraph): { nodes: Map<string, Placed>; width: number; height: number; top: number } {
  const level = new Map<string, number>([[graph.initial, 0]]);
  const queue = [graph.initial];
  while (queue.length) {
    const id = queue.shift() as string;
    for (const t of graph.transitions) {
      if (t.source !== id || !t.target || t.target === id || level.has(t.target)) continue;
      level.set(t.target, (level.get(id) ?? 0) + 1);
      queue.push(t.target);
    }
  }
  const maxLevel = Math.max(0, ...level.values());
  const columns: MachineGraph['states'][] = [];
  for (const state of graph.states) {
    const l = level.get(state.id) ?? maxLevel + 1;
    (columns[l] ??= []).push(state);
  }
  const loops = new Map<string, number>();
  for (const t of graph.transitions) if (!t.target || t.target === t.source) loops.set(t.source, (loops.get(t.source) ?? 0) + 1);
  const top = MARGIN + Math.max(0, ...loops.values()) * LOOP_LINE + (loops.size ? 30 : 0);
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = top + tallest * ROW + MARGIN;
  const nodes = new Map<string, Placed>();
  columns.forEach((column, l) => {
    if (!column) return;
    const offset = top + ((tallest - column.length) * ROW) / 2;
    column.forEach((state, i) => nodes.set(state.id, { ...state, x: MARGIN + l * (NODE_W + GAP), y: offset + i * ROW }));
  });
  const width = MARGIN * 2 + columns.length * NODE_W + (columns.length - 1) * GAP;
  return { nodes, width, height, top };
}

/**
 * The traceback machine drawn from its XState definition: states as boxes (finals with a
 * double border), transitions as arrows labelled `EVENT [guard]`, the current state filled.
 */
export function Statechart(props: { graph: MachineGraph; current?: string; visited?: Set<string> }) {
  const { graph } = props;
  const { nodes, width, height } = layout(graph);
  const currentId = props.current === undefined ? undefined : graph.states.find((s) => s.key === props.current || s.id === props.current)?.id;
  const visited = new Set([...(props.visited ?? [])].map((key) => graph.states.find((s) => s.key === key)?.id ?? key));
  const edges = graph.transitions.filter((t) => t.target && t.target !== t.source);
  const loops = graph.transitions.filter((t) => !t.target || t.target === t.source);
  const loopsBySource = new Map<string, Transition[]>();
  for (const t of loops) loopsBySource.set(t.source, [...(loopsBySource.get(t.source) ?? []), t]);

  return (
    <svg
      class="statechart"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={`statechart of the ${graph.id} machine${props.current ? `, current state ${props.current}` : ''}`}
      data-testid="statechart"
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
        <marker id="arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead taken" />
        </marker>
      </defs>
      {edges.map((t, i) => {
        const s = nodes.get(t.source);
        const d = nodes.get(t.target as string);
        if (!s || !d) return null;
        const x1 = s.x + NODE_W;
        const y1 = s.y + NODE_H / 2;
        const x2 = d.x;
        const y2 = d.y + NODE_H / 2;
        const dx = (x2 - x1) / 2;
        const taken = currentId === t.target && visited.has(t.source) && currentId !== t.source;
        return (
          <g class={`edge${taken ? ' taken' : ''}`} key={`e${i}`}>
            <title>{tooltip(t)}</title>
            <path d={`M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`} marker-end={taken ? 'url(#arrow-taken)' : 'url(#arrow)'} />
            <text x={x2 - 8} y={y2 - 5} text-anchor="end">
              {label(t)}
            </text>
          </g>
        );
      })}
      {[...loopsBySource].map(([source, list]) => {
        const s = nodes.get(source);
        if (!s) return null;
        const a = s.x + 30;
        const b = s.x + NODE_W - 30;
        return (
          <g class="edge loop" key={`l${source}`}>
            <path d={`M${a},${s.y} C${a},${s.y - 34} ${b},${s.y - 34} ${b},${s.y}`} marker-end="url(#arrow)" />
            {list.map((t, i) => (
              <text x={s.x + NODE_W / 2} y={s.y - 34 - (list.length - 1 - i) * LOOP_LINE} text-anchor="middle" key={i}>
                <title>{tooltip(t)}</title>
                {label(t)}
                {t.reenter ? ' ↻' : t.target ? '' : ' (stays)'}
              </text>
            ))}
          </g>
        );
      })}
      {(() => {
        const init = nodes.get(graph.initial);
        if (!init) return null;
        return (
          <g class="initial">
            <circle cx={init.x - 14} cy={init.y + NODE_H / 2} r={5} />
            <path d={`M${init.x - 9},${init.y + NODE_H / 2} L${init.x},${init.y + NODE_H / 2}`} marker-end="url(#arrow)" />
          </g>
        );
      })()}
      {[...nodes.values()].map((n) => {
        const current = n.id === currentId;
        const cls = ['node', n.type, current ? 'current' : '', visited.has(n.id) && !current ? 'visited' : ''].filter(Boolean).join(' ');
        return (
          <g class={cls} key={n.id} data-state={n.key} data-current={current ? 'true' : undefined}>
            <title>{`${n.key} (${n.type})${n.entry.length ? ` — on entry: ${n.entry.join(', ')}` : ''}`}</title>
            <rect x={n.x} y={n.y} width={NODE_W} height={NODE_H} rx={8} />
            {n.type === 'final' && <rect class="inner" x={n.x + 3} y={n.y + 3} width={NODE_W - 6} height={NODE_H - 6} rx={6} />}
            <text x={n.x + NODE_W / 2} y={n.y + NODE_H / 2 + 5} text-anchor="middle">
              {n.key}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
