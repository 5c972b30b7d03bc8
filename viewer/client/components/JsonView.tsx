import { fmtTime } from '../format.js';

const EPOCH_MIN = Date.UTC(2000, 0, 1);
const EPOCH_MAX = Date.UTC(2100, 0, 1);

function Primitive(props: { value: unknown }) {
  const { value } = props;
  if (value === null || value === undefined) return <span class="j-null">null</span>;
  if (typeof value === 'string') return <span class="j-str">"{value}"</span>;
  if (typeof value === 'number') {
    const isTime = Number.isInteger(value) && value >= EPOCH_MIN && value <= EPOCH_MAX;
    return (
      <span class="j-num">
        {value}
        {isTime && <span class="j-hint"> {fmtTime(value)}</span>}
      </span>
    );
  }
  if (typeof value === 'boolean') return <span class="j-bool">{String(value)}</span>;
  return <span>{String(value)}</span>;
}

function Node(props: { name?: string; value: unknown; depth: number; open: number }) {
  const { name, value, depth } = props;
  const label = name === undefined ? null : <span class="j-key">{name}: </span>;
  if (value === null || typeof value !== 'object') {
    return (
      <div class="j-row">
        {label}
        <Primitive value={value} />
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  const [openBracket, closeBracket] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="j-row">
        {label}
        <span class="j-punct">{openBracket + closeBracket}</span>
      </div>
    );
  }
  return (
    <details class="j-node" open={depth < props.open}>
      <summary>
        {label}
        <span class="j-punct">{openBracket}</span>
        <span class="j-count"> {entries.length} {Array.isArray(value) ? 'items' : 'keys'} </span>
        <span class="j-punct">{closeBracket}</span>
      </summary>
      <div class="j-children">
        {entries.map(([k, v]) => (
          <Node key={k} name={k} value={v} depth={depth + 1} open={props.open} />
        ))}
      </div>
    </details>
  );
}

/** Decoded MessagePack as a collapsible tree; ms-epoch numbers get their UTC time beside them. */
export function JsonView(props: { value: unknown; open?: number; testId?: string }) {
  return (
    <div class="json" data-testid={props.testId}>
      <Node value={props.value} depth={0} open={props.open ?? 2} />
    </div>
  );
}
