import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { TRACEBACK_MACHINE_VERSION, tracebackMachine } from '../../actors/index.js';
import type { MachineGraph } from '../shared/api.js';

/** A readable name for a guard: `acceptable ∧ answerIs(upstream)`. */
function describeGuard(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    // XState's higher-order guards are functions named and/or/not carrying their operands.
    const g = guard as { guards?: unknown[]; guard?: unknown; name?: string; check?: { name?: string } };
    const op = { checkAnd: 'and', checkOr: 'or', checkNot: 'not' }[g.check?.name ?? ''] ?? g.name;
    if (op === 'and' || op === 'or') {
      return (g.guards ?? []).map(describeGuard).join(op === 'and' ? ' ∧ ' : ' ∨ ');
    }
    if (op === 'not') return `¬${describeGuard(g.guards?.[0] ?? g.guard) ?? '?'}`;
    return g.name || 'guard';
  }
  if (typeof guard === 'object') {
    const { type, params } = guard as { type?: string; params?: Record<string, unknown> };
    const args = params ? Object.values(params).map(String).join(', ') : '';
    return args ? `${type ?? 'guard'}(${args})` : (type ?? 'guard');
  }
  return String(guard);
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') return (action as { name?: string }).name || 'action';
  const { type, params } = (action ?? {}) as { type?: string; params?: Record<string, unknown> };
  const args = params ? Object.values(params).map(String).join(', ') : '';
  return args ? `${type ?? 'action'}(${args})` : (type ?? 'action');
}

/** The states and transitions of a machine's definition, as a graph the browser draws. */
export function machineGraph(machine: AnyStateMachine, version: number): MachineGraph {
  const states: MachineGraph['states'] = [];
  const transitions: MachineGraph['transitions'] = [];
  const visit = (node: AnyStateNode) => {
    if (node !== machine.root) {
      states.push({ id: node.id, key: node.key, type: node.type, entry: node.entry.map(actionName) });
    }
    for (const [event, list] of node.transitions) {
      for (const t of list) {
        const target = t.target?.[0]?.id;
        const transition: MachineGraph['transitions'][number] = {
          source: node.id,
          event,
          actions: t.actions.map(actionName),
          reenter: t.reenter,
        };
        if (target !== undefined) transition.target = target;
        const guard = describeGuard(t.guard);
        if (guard !== undefined) transition.guard = guard;
        transitions.push(transition);
      }
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  const initial = machine.root.initial?.target?.[0]?.id ?? states[0]?.id ?? '';
  return { id: machine.id, initial, version, states, transitions };
}

let cached: MachineGraph | undefined;

/** The traceback machine's graph (computed once). */
export function tracebackGraph(): MachineGraph {
  cached ??= machineGraph(tracebackMachine, TRACEBACK_MACHINE_VERSION);
  return cached;
}
