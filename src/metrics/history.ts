/**
 * Exactly-once bookkeeping for the cumulative metrics of one target. An event is a task or a
 * node execution reaching a final state, identified by task id (+ node index) + result + its
 * end_time: the same final state with the same end_time is the same event, a new end_time is
 * a new one. Memory holds the current task only (obshell returns one), so it stays bounded;
 * it is not persisted, and on a target's first poll final states that ended before the
 * exporter started (or the reload that added the target) are shown but not observed.
 */
import type { Dag, DagNode, SubTask, TaskOperator, TaskState } from '../obshell/schema.js';
import { realTime } from '../obshell/time.js';
import { elapsedSeconds, isFinished, nodeRan } from './map-task.js';

export const taskResults = ['succeeded', 'failed', 'rolled_back', 'cancelled', 'passed'] as const;
export type TaskResult = (typeof taskResults)[number];

export function taskResult(state: TaskState, operator: TaskOperator): TaskResult | undefined {
  if (state === 'SUCCEED') {
    if (operator === 'ROLLBACK') return 'rolled_back';
    return operator === 'PASS' ? 'passed' : 'succeeded';
  }
  if (state === 'FAILED') return operator === 'CANCEL' ? 'cancelled' : 'failed';
  return undefined;
}

export type Observations = {
  taskDurations: { result: TaskResult; seconds: number }[];
  failures: number;
  nodeDurations: { node: string; seconds: number }[];
  retries: { node: string; count: number }[];
};

export class TaskHistory {
  readonly #startedAt: number;
  #polled = false;
  #taskId: string | undefined;
  #taskEvent: string | undefined;
  #nodeEvents = new Map<number, string>();
  #executeTimes = new Map<string, number>();

  /** @param startedAt since when the target is watched (exporter start, or the reload that added it), Unix seconds */
  constructor(startedAt: number) {
    this.#startedAt = startedAt;
  }

  /** How many sub-tasks' execute_times are remembered (bounded by the last answer's sub-tasks). */
  get subTasksRemembered(): number {
    return this.#executeTimes.size;
  }

  /** Records a successful poll's DAG and returns what to observe now. */
  record(dag: Dag, nodeLabel: (name: string) => string): Observations {
    const firstPoll = !this.#polled;
    this.#polled = true;
    if (dag.id !== this.#taskId) this.#forgetTask(dag.id);
    const isNew = (endTime: number) => !firstPoll || (realTime(endTime) ?? 0) >= this.#startedAt;
    const out: Observations = { taskDurations: [], failures: 0, nodeDurations: [], retries: [] };
    const result = taskResult(dag.state, dag.operator);
    const taskEvent = result && `${result}|${dag.end_time}`;
    if (taskEvent && taskEvent !== this.#taskEvent) {
      this.#taskEvent = taskEvent;
      if (isNew(dag.end_time)) this.#observeTask(dag, result, out);
    }
    dag.nodes.forEach((node, i) => {
      this.#recordNode(node, i, nodeLabel(node.name), isNew, out);
    });
    this.#forgetSubTasksNotIn(dag);
    return out;
  }

  /**
   * A DAG lists the same sub-tasks at every poll, so this only ever runs for an agent whose answers
   * change sub-task ids under one task id: without it, every id it ever sent stays here.
   */
  #forgetSubTasksNotIn(dag: Dag): void {
    const listed = dag.nodes.reduce((sum, node) => sum + node.sub_tasks.length, 0);
    if (this.#executeTimes.size <= listed) return;
    const ids = new Set(dag.nodes.flatMap((node) => node.sub_tasks.map((sub) => sub.id)));
    for (const id of this.#executeTimes.keys()) if (!ids.has(id)) this.#executeTimes.delete(id);
  }

  /** 404 Task.NotFound: there is no task to remember. */
  recordNoTask(): void {
    this.#polled = true;
    this.#forgetTask(undefined);
  }

  #forgetTask(taskId: string | undefined): void {
    this.#taskId = taskId;
    this.#taskEvent = undefined;
    this.#nodeEvents.clear();
    this.#executeTimes.clear();
  }

  #observeTask(dag: Dag, result: TaskResult, out: Observations): void {
    if (result === 'failed') out.failures += 1;
    const seconds = observableDuration(dag.state, dag.start_time, dag.end_time);
    if (seconds !== undefined) out.taskDurations.push({ result, seconds });
  }

  #recordNode(
    node: DagNode,
    index: number,
    label: string,
    isNew: (endTime: number) => boolean,
    out: Observations,
  ): void {
    if (isFinished(node.state) && nodeRan(node)) {
      const event = `${node.state}|${node.end_time}`;
      if (event !== this.#nodeEvents.get(index)) {
        this.#nodeEvents.set(index, event);
        const seconds = observableDuration(node.state, node.start_time, node.end_time);
        if (isNew(node.end_time) && seconds !== undefined) out.nodeDurations.push({ node: label, seconds });
      }
    }
    const grown = node.sub_tasks.reduce((sum, sub) => sum + this.#retryGrowth(sub, isNew), 0);
    if (grown > 0) out.retries.push({ node: label, count: grown });
  }

  /** Growth of execute_times beyond 1 since last seen; a sub-task first seen sets its baseline. */
  #retryGrowth(sub: SubTask, isNew: (time: number) => boolean): number {
    const previous = this.#executeTimes.get(sub.id);
    const baseline = previous ?? (isNew(sub.start_time) ? 1 : sub.execute_times);
    // Kept as a high-water mark: a stale answer with a lower count must not re-count later growth.
    this.#executeTimes.set(sub.id, Math.max(baseline, sub.execute_times));
    return Math.max(0, sub.execute_times - Math.max(baseline, 1));
  }
}

/**
 * A histogram's sum keeps whatever it is given for good: one end time of 9999-12-31 added 2.5e11 s
 * to it. A run of a task or a node over a year long is a broken clock, not a duration.
 */
const maxObservedSeconds = 366 * 24 * 3600;

function observableDuration(state: TaskState, start: number, end: number): number | undefined {
  const seconds = elapsedSeconds(state, start, end, 0);
  return seconds !== undefined && seconds <= maxObservedSeconds ? seconds : undefined;
}
