/** Builds obshell DAG JSON for tests: times are seconds after a fixed base, printed as obshell does (+08:00). */
import { dagSchema, type Dag, type DagJson, type DagNodeJson } from '../../src/obshell/schema.js';

export const base = Date.parse('2026-05-12T09:58:00+08:00') / 1000;
export const epoch = '1970-01-01T08:00:00+08:00';

/** obshell's time format for `base + offset` seconds, in +08:00 with microseconds. */
export function at(offset: number): string {
  const local = new Date((base + offset + 8 * 3600) * 1000).toISOString().replace('Z', '');
  return `${local}000+08:00`;
}

export type NodeSpec = {
  name: string;
  state: string;
  operator?: string;
  start?: number | 'epoch';
  end?: number | 'epoch';
  executeTimes?: number;
  agents?: string[];
};

const time = (t: number | 'epoch' | undefined, fallback: number) =>
  t === 'epoch' ? epoch : at(t ?? fallback);

export function node(spec: NodeSpec, index: number): DagNodeJson {
  const agents = spec.agents ?? ['10.0.0.11'];
  const start = time(spec.start, index * 10);
  const end = time(spec.end, spec.start === undefined ? index * 10 : Number(spec.start));
  return {
    id: `1${index + 1}`,
    name: spec.name,
    state: spec.state,
    operator: spec.operator ?? 'RUN',
    start_time: start,
    end_time: end,
    sub_tasks: agents.map((ip, j) => ({
      id: `1${index + 1}${j}`,
      name: spec.name,
      state: spec.state,
      operator: spec.operator ?? 'RUN',
      start_time: start,
      end_time: end,
      execute_times: spec.executeTimes ?? (spec.state === 'PENDING' ? 0 : 1),
      execute_agent: { ip, port: 2886 },
      task_logs: spec.state === 'PENDING' ? null : [],
    })),
  };
}

export type DagSpec = {
  id?: string;
  name?: string;
  state: string;
  operator?: string;
  stage?: number;
  start?: number | 'epoch';
  end?: number | 'epoch';
  maintenanceType?: number;
  maintenanceKey?: string;
  nodes?: NodeSpec[];
};

export function dagJson(spec: DagSpec): DagJson {
  const nodes = spec.nodes ?? [];
  return {
    id: spec.id ?? '1142',
    name: spec.name ?? 'Cluster scale out',
    stage: spec.stage ?? Math.max(1, nodes.length),
    max_stage: nodes.length,
    ...(spec.maintenanceType !== undefined && { maintenance_type: spec.maintenanceType }),
    ...(spec.maintenanceKey !== undefined && { maintenance_key: spec.maintenanceKey }),
    state: spec.state,
    operator: spec.operator ?? 'RUN',
    start_time: time(spec.start, 0),
    end_time: time(spec.end, -1),
    additional_data: {},
    nodes: nodes.map(node),
  };
}

export function dag(spec: DagSpec): Dag {
  return dagSchema.parse(dagJson(spec));
}
