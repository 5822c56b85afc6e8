/**
 * The seed: the real 9-node "Cluster scale out" answer from obshell's API document
 * (test/fixtures/obshell/seed-scale-out.json), rebuilt from a compact table so the shipped
 * product does not read fixture files.
 */
import type { DagJson, DagNodeJson } from '../obshell/schema.js';

const at = (seconds: string) => `2024-01-09T20:40:${seconds}+08:00`;

/** name, node start, node end, sub-task start, sub-task end (seconds of 20:40), task_logs. */
const rows: readonly (readonly [string, string, string, string, string, readonly string[]])[] = [
  ['Integrate server config', '01.718882', '02.751743', '01.74723', '01.76717', []],
  [
    'Create local scale out dag',
    '03.77982',
    '04.805204',
    '03.796683',
    '03.836712',
    ['create local scale out dag success, genericID:20194912107080901'],
  ],
  [
    'Wait scale out ready',
    '05.828194',
    '06.85324',
    '05.845011',
    '05.861857',
    ['local scale out dag task Be scaling agent is succeed'],
  ],
  [
    'Wait remote deploy finish',
    '07.876596',
    '13.968817',
    '07.894515',
    '13.950807',
    ['retry stage: 2 successfully', 'remote deploy task is succeed'],
  ],
  [
    'Wait remote start finish',
    '14.996088',
    '21.091862',
    '15.016',
    '21.079217',
    ['retry stage: 4 successfully', 'remote start observer task is succeed'],
  ],
  ['Prev check for scale_out', '22.115167', '23.142216', '22.134063', '22.148848', ['PrevCheckTask execute']],
  ['Add server for scale_out', '24.167045', '25.194054', '24.186025', '24.21232', ['AddServerTask execute']],
  ['Add agent  for scale_out', '26.219246', '27.247243', '26.238089', '26.252762', []],
  [
    'Check cluster scale_out whether finished',
    '28.275457',
    '30.315618',
    '28.293296',
    '30.308244',
    ['FinishTask execute'],
  ],
];

function seedNode(row: (typeof rows)[number], index: number): DagNodeJson {
  const [name, start, end, subStart, subEnd, logs] = row;
  const id = index + 1;
  const done = { state: 'SUCCEED', operator: 'RUN' } as const;
  const subTask = {
    id: `1${id}`,
    task_id: id,
    name,
    ...done,
    start_time: at(subStart),
    end_time: at(subEnd),
    additional_data: null,
    execute_times: 1,
    execute_agent: { ip: '11.158.31.107', port: 8088 },
    task_logs: [...logs],
  };
  const times = { start_time: at(start), end_time: at(end), additional_data: null };
  return { id: `1${id}`, node_id: id, name, ...done, ...times, sub_tasks: [subTask] };
}

/** A fresh copy every call: callers may mutate what they get. */
export function seedDag(): DagJson {
  return {
    id: '11',
    dag_id: 1,
    name: 'Cluster scale out',
    stage: 9,
    max_stage: 9,
    state: 'SUCCEED',
    operator: 'RUN',
    start_time: at('01.706073'),
    end_time: at('30.319822'),
    additional_data: {},
    nodes: rows.map(seedNode),
  };
}
