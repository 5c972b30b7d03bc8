import type { RecordView } from '../../shared/api.js';
import { JsonView } from './JsonView.js';

/**
 * The record's outbox as stored: the commands of its last writes, kept until known to be
 * carried out (a restart replays them; carrying them out is idempotent).
 */
export function Outbox(props: { record: RecordView }) {
  const { outbox, nextCommandId } = props.record;
  if (outbox.length === 0) return null;
  return (
    <details data-testid="outbox" title="commands written with the record's transitions, kept until known to be carried out; a restart replays them">
      <summary>
        Outbox as stored: {outbox.length} command{outbox.length === 1 ? '' : 's'} (next command id {nextCommandId})
      </summary>
      <ol class="outbox">
        {outbox.map((e) => (
          <li key={e.id}>
            <span class="muted">#{e.id}</span> <code>{e.type}</code>
            <JsonView value={e.command} open={0} />
          </li>
        ))}
      </ol>
    </details>
  );
}
