/**
 * Every metric the exporter exposes, as data: name, type, labels and HELP, in one place
 * before the code that fills them. README's metric reference mirrors this file.
 */

export type MetricType = 'gauge' | 'counter' | 'histogram';

/** `reason` values of obshell_exporter_http_auth_failures_total, all exported from the start. */
export const authFailureReasons = ['missing', 'unknown_user', 'wrong_password'] as const;

export type MetricSpec = {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
};

const fromLastPoll = '(from the last poll)';
const taskLabels = ['target', 'task_id', 'task_type'] as const;
const nodeLabels = [...taskLabels, 'node_index', 'node'] as const;

/** 10 s … 1 day for whole tasks; 0.1 s … 6 h for nodes. */
export const taskDurationBuckets = [10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400];
export const nodeDurationBuckets = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800, 21600];

const spec = <const S extends MetricSpec>(s: S): S => s;

export const catalogue = {
  up: spec({
    name: 'obshell_up',
    type: 'gauge',
    help: `1 if the last poll of the target got a valid answer from obshell (a task or 404 Task.NotFound), else 0.`,
    labelNames: ['target'],
  }),
  agentInfo: spec({
    name: 'obshell_agent_info',
    type: 'gauge',
    help: `The obshell agent that answered the last poll (host:port of the configured URL), with version and identity from /api/v1/info.`,
    labelNames: ['target', 'agent', 'version', 'identity'],
  }),
  pollDuration: spec({
    name: 'obshell_exporter_poll_duration_seconds',
    type: 'gauge',
    help: 'Wall-clock duration of the last poll of the target.',
    labelNames: ['target'],
  }),
  lastPollSuccess: spec({
    name: 'obshell_exporter_last_poll_success_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last successful poll of the target.',
    labelNames: ['target'],
  }),
  pollErrors: spec({
    name: 'obshell_exporter_poll_errors_total',
    type: 'counter',
    help: 'Failed polls by reason: timeout, connect, tls, auth, http, api, parse.',
    labelNames: ['target', 'reason'],
  }),
  pollsSkipped: spec({
    name: 'obshell_exporter_polls_skipped_total',
    type: 'counter',
    help: 'Scheduled polls skipped because the previous poll of the target was still running.',
    labelNames: ['target'],
  }),
  labelOverflows: spec({
    name: 'obshell_exporter_label_overflows_total',
    type: 'counter',
    help: 'Label values replaced by "other" because the per-target cap on distinct values was reached.',
    labelNames: ['target', 'label'],
  }),
  taskPresent: spec({
    name: 'obshell_maintenance_task_present',
    type: 'gauge',
    help: `1 if obshell returned a last maintenance task, 0 for 404 Task.NotFound ${fromLastPoll}.`,
    labelNames: ['target'],
  }),
  taskInfo: spec({
    name: 'obshell_maintenance_task_info',
    type: 'gauge',
    help: `The last maintenance task: id, name, normalised type, maintenance_type and maintenance_key ${fromLastPoll}.`,
    labelNames: [...taskLabels.slice(0, 2), 'task_name', 'task_type', 'maintenance_type', 'maintenance_key'],
  }),
  taskState: spec({
    name: 'obshell_maintenance_task_state',
    type: 'gauge',
    help: `State-set of the task's state (PENDING, READY, RUNNING, FAILED, SUCCEED; UNKNOWN only for an unrecognised value) ${fromLastPoll}.`,
    labelNames: [...taskLabels, 'state'],
  }),
  taskOperator: spec({
    name: 'obshell_maintenance_task_operator',
    type: 'gauge',
    help: `State-set of the task's operator (RUN, RETRY, ROLLBACK, CANCEL, PASS; UNKNOWN only for an unrecognised value) ${fromLastPoll}.`,
    labelNames: [...taskLabels, 'operator'],
  }),
  taskStage: spec({
    name: 'obshell_maintenance_task_stage',
    type: 'gauge',
    help: `The task's current stage: 1-based index of the node it is at (obshell field stage) ${fromLastPoll}.`,
    labelNames: taskLabels,
  }),
  taskMaxStage: spec({
    name: 'obshell_maintenance_task_max_stage',
    type: 'gauge',
    help: `Number of stages (nodes) of the task (obshell field max_stage) ${fromLastPoll}.`,
    labelNames: taskLabels,
  }),
  taskStart: spec({
    name: 'obshell_maintenance_task_start_timestamp_seconds',
    type: 'gauge',
    help: `Unix time the task (last) started (start_time); absent while reset to the epoch ${fromLastPoll}.`,
    labelNames: taskLabels,
  }),
  taskEnd: spec({
    name: 'obshell_maintenance_task_end_timestamp_seconds',
    type: 'gauge',
    help: `Unix time the task finished (end_time), only in FAILED or SUCCEED ${fromLastPoll}.`,
    labelNames: taskLabels,
  }),
  taskElapsed: spec({
    name: 'obshell_maintenance_task_elapsed_seconds',
    type: 'gauge',
    help: `Finished: end_time - start_time; otherwise poll time - start_time ${fromLastPoll}.`,
    labelNames: taskLabels,
  }),
  nodeState: spec({
    name: 'obshell_maintenance_node_state',
    type: 'gauge',
    help: `State-set of each node of the task; node_index is its 1-based stage ${fromLastPoll}.`,
    labelNames: [...nodeLabels, 'state'],
  }),
  nodeElapsed: spec({
    name: 'obshell_maintenance_node_elapsed_seconds',
    type: 'gauge',
    help: `How long each node that ran took (finished) or has been running ${fromLastPoll}.`,
    labelNames: nodeLabels,
  }),
  subtaskExecuteTimes: spec({
    name: 'obshell_maintenance_subtask_execute_times',
    type: 'gauge',
    help: `execute_times of each sub-task by executing agent (ip:port); above 1 means it was retried ${fromLastPoll}.`,
    labelNames: [...nodeLabels, 'agent'],
  }),
  taskDuration: spec({
    name: 'obshell_maintenance_task_duration_seconds',
    type: 'histogram',
    help: 'Duration of maintenance tasks that reached a final result (succeeded, failed, rolled_back, cancelled, passed), observed once per result.',
    labelNames: ['target', 'task_type', 'result'],
    buckets: taskDurationBuckets,
  }),
  nodeDuration: spec({
    name: 'obshell_maintenance_node_duration_seconds',
    type: 'histogram',
    help: 'Duration of each finished node execution, observed once per execution (a retried node that finishes again is observed again).',
    labelNames: ['target', 'task_type', 'node'],
    buckets: nodeDurationBuckets,
  }),
  taskFailures: spec({
    name: 'obshell_maintenance_task_failures_total',
    type: 'counter',
    help: 'Times a maintenance task entered FAILED by failing (not by a cancel).',
    labelNames: ['target', 'task_type'],
  }),
  subtaskRetries: spec({
    name: 'obshell_maintenance_subtask_retries_total',
    type: 'counter',
    help: 'Sub-task re-executions: the growth of execute_times beyond 1.',
    labelNames: ['target', 'task_type', 'node'],
  }),
  httpAuthFailures: spec({
    name: 'obshell_exporter_http_auth_failures_total',
    type: 'counter',
    help: 'HTTP requests refused by basic auth (web config basic_auth_users), by reason: missing, unknown_user, wrong_password.',
    labelNames: ['reason'],
  }),
  configReloadSuccessful: spec({
    name: 'obshell_exporter_config_last_reload_successful',
    type: 'gauge',
    help: 'Whether the last configuration reload (SIGHUP, POST /-/reload, or a changed file with --config.auto-reload-interval) succeeded: 1, or 0 while the previous configuration stays in force.',
    labelNames: [],
  }),
  configReloadTimestamp: spec({
    name: 'obshell_exporter_config_last_reload_success_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last successful configuration load (start-up or reload).',
    labelNames: [],
  }),
  pollInterval: spec({
    name: 'obshell_exporter_poll_interval_seconds',
    type: 'gauge',
    help: 'The longest gap between two polls of a target at --poll.schedule over the next year, in seconds.',
    labelNames: [],
  }),
  shards: spec({
    name: 'obshell_exporter_shards',
    type: 'gauge',
    help: 'With --targets.shard=i/n: n, the number of shards the targets are split into (absent without it).',
    labelNames: [],
  }),
  shardIndex: spec({
    name: 'obshell_exporter_shard_index',
    type: 'gauge',
    help: "With --targets.shard=i/n: i, this exporter's shard, from 0 (absent without it).",
    labelNames: [],
  }),
  buildInfo: spec({
    name: 'obshell_exporter_build_info',
    type: 'gauge',
    help: 'Build of the running exporter: version, git revision and Node.js version.',
    labelNames: ['version', 'revision', 'nodejs_version'],
  }),
} as const;

export type MetricKey = keyof typeof catalogue;

/** The snapshot gauges that describe the task itself (map-task.ts), as opposed to the poll. */
export const taskGauges = [
  'taskPresent',
  'taskInfo',
  'taskState',
  'taskOperator',
  'taskStage',
  'taskMaxStage',
  'taskStart',
  'taskEnd',
  'taskElapsed',
  'nodeState',
  'nodeElapsed',
  'subtaskExecuteTimes',
] as const satisfies readonly MetricKey[];

/** The gauges that hold one target's snapshot; rebuilt as a whole by each poll. */
export const snapshotGauges = [
  'up',
  'agentInfo',
  'pollDuration',
  'lastPollSuccess',
  ...taskGauges,
] as const satisfies readonly MetricKey[];

export type SnapshotGauge = (typeof snapshotGauges)[number];

export type TaskGauge = (typeof taskGauges)[number];
