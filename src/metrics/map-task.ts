/**
 * Pure: the last maintenance DAG → the current-task gauge samples. No I/O, no clock: the poll
 * time is passed in. Times reset to the epoch (contract §4.5) are never exported, nor anything
 * computed from them; running or finished is read from state, never from end_time.
 */
import type { Dag, DagNode, TaskState } from '../obshell/schema.js';
import { taskOperators, taskStates, unknownEnumValue } from '../obshell/schema.js';
import { realTime } from '../obshell/time.js';
import type { TaskGauge } from './catalogue.js';
import type { Labels, Sample, SeriesSet } from './sample.js';

export type TaskLabelContext = {
  readonly target: string;
  readonly taskType: string;
  /** Maps a raw node name to its bounded label value. */
  readonly nodeLabel: (name: string) => string;
  /** Bounds a free-text label value (task name, maintenance key). */
  readonly truncate: (value: string) => string;
  /** Poll time, Unix seconds. */
  readonly now: number;
};

const maintenanceTypeWords: Readonly<Record<number, string>> = {
  1: 'none',
  2: 'global',
  3: 'tenant',
  4: 'obproxy',
};

export function maintenanceTypeLabel(type: number | undefined): string {
  if (type === undefined) return '';
  return maintenanceTypeWords[type] ?? String(type);
}

export function isFinished(state: TaskState): boolean {
  return state === 'FAILED' || state === 'SUCCEED';
}

/** All known values at 0 and the current one at 1; UNKNOWN appears only when it is the value. */
export function stateSet<V extends string>(
  known: readonly V[],
  current: V | typeof unknownEnumValue,
  labels: Labels,
  labelName: string,
): Sample[] {
  const values: string[] = current === unknownEnumValue ? [...known, unknownEnumValue] : [...known];
  return values.map((v) => ({ labels: { ...labels, [labelName]: v }, value: v === current ? 1 : 0 }));
}

/** Finished: end - start. Running: now - start. Undefined when a needed time is the epoch. */
export function elapsedSeconds(
  state: TaskState,
  startTime: number,
  endTime: number,
  now: number,
): number | undefined {
  const start = realTime(startTime);
  if (start === undefined) return undefined;
  const end = isFinished(state) ? realTime(endTime) : now;
  // Rounded to microseconds, obshell's precision, so float noise never shows.
  return end === undefined ? undefined : Math.max(0, Math.round((end - start) * 1e6) / 1e6);
}

/** A node "ran" when it is running or finished by execution (a PASS skipped it). */
export function nodeRan(node: Pick<DagNode, 'state' | 'operator'>): boolean {
  return node.state === 'RUNNING' || (isFinished(node.state) && node.operator !== 'PASS');
}

export function mapTask(dag: Dag, ctx: TaskLabelContext): Required<Pick<SeriesSet, TaskGauge>> {
  const base: Labels = { target: ctx.target, task_id: ctx.truncate(dag.id), task_type: ctx.taskType };
  const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{ labels: base, value }]);
  const start = realTime(dag.start_time);
  return {
    taskPresent: [{ labels: { target: ctx.target }, value: 1 }],
    taskInfo: [
      {
        labels: {
          target: ctx.target,
          task_id: ctx.truncate(dag.id),
          task_name: ctx.truncate(dag.name),
          task_type: ctx.taskType,
          maintenance_type: maintenanceTypeLabel(dag.maintenance_type),
          maintenance_key: ctx.truncate(dag.maintenance_key ?? ''),
        },
        value: 1,
      },
    ],
    taskState: stateSet(taskStates, dag.state, base, 'state'),
    taskOperator: stateSet(taskOperators, dag.operator, base, 'operator'),
    taskStage: one(dag.stage),
    taskMaxStage: one(dag.max_stage),
    taskStart: one(start),
    taskEnd: one(isFinished(dag.state) ? realTime(dag.end_time) : undefined),
    taskElapsed: one(elapsedSeconds(dag.state, dag.start_time, dag.end_time, ctx.now)),
    ...mapNodes(dag.nodes, base, ctx),
  };
}

function mapNodes(
  nodes: readonly DagNode[],
  base: Labels,
  ctx: TaskLabelContext,
): Required<Pick<SeriesSet, 'nodeState' | 'nodeElapsed' | 'subtaskExecuteTimes'>> {
  const nodeState: Sample[] = [];
  const nodeElapsed: Sample[] = [];
  const executeTimes = new Map<string, Sample>();
  nodes.forEach((node, i) => {
    const labels: Labels = { ...base, node_index: String(i + 1), node: ctx.nodeLabel(node.name) };
    nodeState.push(...stateSet(taskStates, node.state, labels, 'state'));
    const elapsed = nodeRan(node)
      ? elapsedSeconds(node.state, node.start_time, node.end_time, ctx.now)
      : undefined;
    if (elapsed !== undefined) nodeElapsed.push({ labels, value: elapsed });
    for (const sub of node.sub_tasks) {
      // Keyed by the label as exported: agents whose addresses truncate alike share it too.
      const agent = ctx.truncate(`${sub.execute_agent.ip}:${sub.execute_agent.port}`);
      const key = `${i}\u0000${agent}`;
      // Two sub-tasks of one node on one agent share a series: keep the larger count.
      const value = Math.max(sub.execute_times, executeTimes.get(key)?.value ?? 0);
      executeTimes.set(key, { labels: { ...labels, agent }, value });
    }
  });
  return { nodeState, nodeElapsed, subtaskExecuteTimes: [...executeTimes.values()] };
}
