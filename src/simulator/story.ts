/** The DAG model a story mutates, and its JSON as obshell prints it (contract §4). */
import type { DagJson, DagNodeJson, SubTaskJson, taskOperators, taskStates } from '../obshell/schema.js';
import { formatSeconds } from './timefmt.js';

export type State = (typeof taskStates)[number];
export type Operator = (typeof taskOperators)[number];
export type Agent = { ip: string; port: number };

export type NodeSpec = {
  name: string;
  /** Story seconds the node takes on its first run. */
  seconds: number;
  /** One parallel sub-task per agent instead of one on the first agent. */
  perAgent?: boolean;
  /** Log lines of each execution; `{ip}` becomes the executing agent's ip. */
  logs?: readonly string[];
};

export type TaskSpec = {
  name: string;
  maintenanceType: number;
  maintenanceKey: string;
  nodes: readonly NodeSpec[];
};

/** Story seconds; null is the epoch that retry, rollback and cancel reset times to. */
export type Time = number | null;

export type SubModel = {
  taskId: number;
  agent: Agent;
  state: State;
  operator: Operator;
  start: Time;
  end: Time;
  executeTimes: number;
  logs: string[] | null;
};
export type NodeModel = {
  nodeId: number;
  name: string;
  state: State;
  operator: Operator;
  start: Time;
  end: Time;
  subs: SubModel[];
};
export type DagModel = {
  dagId: number;
  spec: TaskSpec;
  stage: number;
  state: State;
  operator: Operator;
  start: Time;
  end: Time;
  nodes: NodeModel[];
};

export const agentsOf = (spec: NodeSpec, agents: readonly Agent[]): readonly Agent[] =>
  spec.perAgent ? agents : agents.slice(0, 1);

/** A fresh DAG: READY/RUN at stage 1, everything PENDING and stamped with the creation time. */
export function newDag(spec: TaskSpec, dagId: number, agents: readonly Agent[], created: number): DagModel {
  let taskId = (dagId - 1) * 64;
  const nodes = spec.nodes.map((node, i): NodeModel => {
    const subs = agentsOf(node, agents).map((agent): SubModel => {
      taskId += 1;
      const base = { taskId, agent, state: 'PENDING', operator: 'RUN' } as const;
      return { ...base, start: created, end: created, executeTimes: 0, logs: null };
    });
    const base = { nodeId: (dagId - 1) * 16 + i + 1, name: node.name, state: 'PENDING' } as const;
    return { ...base, operator: 'RUN', start: created, end: created, subs };
  });
  return { dagId, spec, stage: 1, state: 'READY', operator: 'RUN', start: created, end: created, nodes };
}

export type Clock = { startedAt: number; speed: number; utcOffset: string };

/** Story seconds map onto wall-clock time compressed by speed, so printed times stay near "now". */
export const printTime = (t: Time, c: Clock): string =>
  formatSeconds(t === null ? 0 : c.startedAt + t / c.speed, c.utcOffset);

function subJson(s: SubModel, name: string, c: Clock): SubTaskJson {
  return {
    id: `1${s.taskId}`,
    task_id: s.taskId,
    name,
    state: s.state,
    operator: s.operator,
    start_time: printTime(s.start, c),
    end_time: printTime(s.end, c),
    additional_data: null,
    execute_times: s.executeTimes,
    execute_agent: { ...s.agent },
    task_logs: s.logs === null ? null : [...s.logs],
  };
}

function nodeJson(n: NodeModel, c: Clock): DagNodeJson {
  return {
    id: `1${n.nodeId}`,
    node_id: n.nodeId,
    name: n.name,
    state: n.state,
    operator: n.operator,
    start_time: printTime(n.start, c),
    end_time: printTime(n.end, c),
    additional_data: null,
    sub_tasks: n.subs.map((s) => subJson(s, n.name, c)),
  };
}

export function dagJson(d: DagModel, c: Clock): DagJson {
  return {
    id: `1${d.dagId}`,
    dag_id: d.dagId,
    name: d.spec.name,
    stage: d.stage,
    max_stage: d.nodes.length,
    maintenance_type: d.spec.maintenanceType,
    maintenance_key: d.spec.maintenanceKey,
    state: d.state,
    operator: d.operator,
    start_time: printTime(d.start, c),
    end_time: printTime(d.end, c),
    additional_data: {},
    nodes: d.nodes.map((n) => nodeJson(n, c)),
  };
}
