/**
 * One target's view of its polls: turns each outcome into the target's gauge snapshot, the
 * cumulative observations to record exactly once, and the state change worth logging.
 */
import { oneLine } from './obshell/classify.js';
import type { AgentIdentity, PollFailure, TaskOutcome } from './obshell/outcome.js';
import type { Dag, TaskOperator, TaskState } from './obshell/schema.js';
import { TaskHistory, type Observations } from './metrics/history.js';
import { LabelLimiter, truncateLabelValue } from './metrics/label-limiter.js';
import { isFinished, mapTask } from './metrics/map-task.js';
import type { SeriesSet } from './metrics/sample.js';
import { builtInTaskTypeRules, normaliseTaskType, type TaskTypeRule } from './metrics/task-type.js';

export type Limits = {
  readonly maxTaskTypes: number;
  readonly maxNodes: number;
  readonly maxLabelLength: number;
};

export type TaskSummary = {
  readonly id: string;
  readonly name: string;
  readonly taskType: string;
  readonly state: TaskState;
  readonly operator: TaskOperator;
  readonly stage: number;
  readonly maxStage: number;
};

/** What the landing page and logs show about a target. */
export type TargetStatus = {
  readonly up: boolean | undefined;
  readonly agent?: AgentIdentity;
  readonly lastPollAt?: number;
  readonly lastSuccessAt?: number;
  readonly lastFailure?: PollFailure;
  readonly task?: TaskSummary | undefined;
};

export type PollReport = {
  readonly series: SeriesSet;
  /** The task gauges are those of the last poll (the same finished DAG): keep them as they are. */
  readonly sameTask?: true;
  readonly status: TargetStatus;
  readonly observations?: Observations & {
    taskType: string;
    /** Cumulative series to create at zero now (first sighting), so rate() sees their first event. */
    firstSeen: { taskType: boolean; nodes: readonly string[] };
  };
  readonly overflows: readonly { label: string; value: string }[];
  /** Set when the task, its state or its operator changed since the last successful poll. */
  readonly transition?: { from: TaskSummary | undefined; to: TaskSummary | undefined };
};

export type PollTiming = { readonly startedAt: number; readonly durationSeconds: number };

export class TargetTracker {
  readonly name: string;
  readonly #history: TaskHistory;
  #rules: readonly TaskTypeRule[] = [];
  readonly #maxLabelLength: number;
  /** Which values have series already: kept across reloads, or each reload would allow another cap's worth. */
  readonly #taskTypes: LabelLimiter;
  readonly #nodes: LabelLimiter;
  #status: TargetStatus = { up: undefined };
  readonly #seenSeries = new Set<string>();
  /** The last mapped DAG while its task gauges are exported: the very same finished DAG object needs no new mapping (see isTimeless). */
  #last: { dag: Dag; taskType: string } | undefined;

  constructor(
    name: string,
    options: { watchedSince: number; rules: readonly TaskTypeRule[]; limits: Limits },
  ) {
    this.name = name;
    this.#history = new TaskHistory(options.watchedSince);
    const { limits } = options;
    this.#maxLabelLength = limits.maxLabelLength;
    this.#taskTypes = new LabelLimiter(limits.maxTaskTypes, limits.maxLabelLength);
    this.#nodes = new LabelLimiter(limits.maxNodes, limits.maxLabelLength);
    this.configure(options.rules);
  }

  /** Applies (reloaded) task_type rules; the exactly-once history and the label caps are kept. */
  configure(rules: readonly TaskTypeRule[]): void {
    this.#rules = [...rules, ...builtInTaskTypeRules];
    this.#last = undefined;
  }

  get status(): TargetStatus {
    return this.#status;
  }

  apply(outcome: TaskOutcome, timing: PollTiming): PollReport {
    const target = { target: this.name };
    const pollDuration = [{ labels: target, value: timing.durationSeconds }];
    if (outcome.kind === 'failure') {
      this.#last = undefined; // the task gauges go with this poll's snapshot
      const { lastSuccessAt } = this.#status;
      this.#status = { ...this.#status, up: false, lastPollAt: timing.startedAt, lastFailure: outcome };
      const lastPollSuccess = lastSuccessAt === undefined ? [] : [{ labels: target, value: lastSuccessAt }];
      return {
        series: { up: [{ labels: target, value: 0 }], pollDuration, lastPollSuccess },
        status: this.#status,
        overflows: [],
      };
    }
    const overflows: { label: string; value: string }[] = [];
    const series: SeriesSet = {
      up: [{ labels: target, value: 1 }],
      agentInfo: [{ labels: { ...target, ...this.#agentLabels(outcome.agent) }, value: 1 }],
      pollDuration,
      lastPollSuccess: [{ labels: target, value: timing.startedAt }],
    };
    let observations: PollReport['observations'];
    let task: TaskSummary | undefined;
    let sameTask = false;
    if (outcome.kind === 'ok') {
      const { dag } = outcome;
      const last = this.#last;
      if (last?.dag === dag && isTimeless(dag)) {
        // The same answer as last poll: nothing to map, observe or sight again.
        sameTask = true;
        observations = {
          ...noObservations(),
          taskType: last.taskType,
          firstSeen: { taskType: false, nodes: [] },
        };
        task = summarise(dag, last.taskType);
      } else {
        const taskType = this.#limit(
          this.#taskTypes,
          'task_type',
          normaliseTaskType(dag.name, this.#rules),
          overflows,
        );
        const nodeLabel = (name: string) => this.#limit(this.#nodes, 'node', name, overflows);
        const mapped = mapTask(dag, {
          ...target,
          taskType,
          nodeLabel,
          truncate: (v) => this.#truncate(v),
          now: timing.startedAt,
        });
        Object.assign(series, mapped);
        const nodes = dag.nodes.map((n) => nodeLabel(n.name));
        const firstSeen = this.#firstSightings(taskType, nodes);
        observations = { ...this.#history.record(dag, nodeLabel), taskType, firstSeen };
        task = summarise(dag, taskType);
        this.#last = { dag, taskType };
      }
    } else {
      series.taskPresent = [{ labels: target, value: 0 }];
      this.#history.recordNoTask();
      this.#last = undefined;
    }
    const previous = this.#status.task;
    this.#status = {
      up: true,
      agent: outcome.agent,
      lastPollAt: timing.startedAt,
      lastSuccessAt: timing.startedAt,
      task,
    };
    const transition = isSameTask(previous, task) ? undefined : { from: previous, to: task };
    return {
      series,
      ...(sameTask && { sameTask }),
      status: this.#status,
      overflows,
      ...(observations && { observations }),
      ...(transition && { transition }),
    };
  }

  /** Bounded by the label caps: at most (task types + 1) × (nodes + 1) keys. */
  #firstSightings(taskType: string, nodes: readonly string[]) {
    const isNew = (key: string) => !this.#seenSeries.has(key) && Boolean(this.#seenSeries.add(key));
    return {
      taskType: isNew(taskType),
      nodes: [...new Set(nodes)].filter((node) => isNew(`${taskType}\u0000${node}`)),
    };
  }

  #agentLabels(agent: AgentIdentity) {
    return {
      agent: this.#truncate(agent.address),
      version: this.#truncate(agent.version),
      identity: this.#truncate(agent.identity),
    };
  }

  #truncate(value: string): string {
    return truncateLabelValue(value, this.#maxLabelLength);
  }

  #limit(
    limiter: LabelLimiter,
    label: string,
    raw: string,
    overflows: { label: string; value: string }[],
  ): string {
    const { value, firstOverflow } = limiter.limit(raw);
    if (firstOverflow) overflows.push({ label, value: this.#truncate(raw) });
    return value;
  }
}

/** A finished task with no running node maps the same at any poll time. */
function isTimeless(dag: Dag): boolean {
  return isFinished(dag.state) && dag.nodes.every((node) => node.state !== 'RUNNING');
}

const noObservations = (): Observations => ({
  taskDurations: [],
  failures: 0,
  nodeDurations: [],
  retries: [],
});

/**
 * What the log lines and the landing page show of the task. The id and the name are the agent's
 * text: one line each (a newline in a name forged log lines in pretty format) and bounded (a 5 MB
 * name made 10 MB log lines and a 5 MB landing page).
 */
function summarise(dag: Dag, taskType: string): TaskSummary {
  const { state, operator, stage } = dag;
  const [id, name] = [oneLine(dag.id), oneLine(dag.name)];
  return { id, name, taskType, state, operator, stage, maxStage: dag.max_stage };
}

function isSameTask(a: TaskSummary | undefined, b: TaskSummary | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.id === b.id && a.state === b.state && a.operator === b.operator;
}
