/** GET /api/v1/task/dag/maintain/ob: the newest cluster maintenance DAG of the story (contract §4.6). */
import type { DagJson } from '../obshell/schema.js';
import { obError, type ObError } from './envelope.js';
import { scenarioAt } from './scenarios.js';
import { seedDag } from './seed.js';
import type { SimState } from './state.js';

/** strconv.ParseBool */
const bools: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

export type MaintainAnswer =
  | { error: ObError }
  | { dag: DagJson; fallback: DagJson }
  | { dag: undefined; fallback: DagJson; notFound: ObError };

export function maintainReply(st: SimState, query: URLSearchParams, elapsed: number): MaintainAnswer {
  const raw = query.get('show_details');
  const showDetails = raw === null ? true : bools[raw];
  if (showDetails === undefined) {
    const why = `strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`;
    return { error: obError('Common.IllegalArgument', `Illegal argument: show_details: ${why}`) };
  }
  const options = { startedAt: st.scenarioStartMs / 1000, speed: st.speed, utcOffset: st.utcOffset };
  const dag = scenarioAt(st.scenario, elapsed, st.agentIps ? { ...options, agentIps: st.agentIps } : options);
  // Body faults need a DAG to distort even while obshell would say 404.
  const fallback = dag ?? seedDag();
  if (!showDetails) {
    for (const d of [fallback, dag]) if (d) Object.assign(d, { nodes: null, additional_data: null });
  }
  if (dag) return { dag, fallback };
  const notFound = obError('Task.NotFound', 'Task not found: Cluster is not under maintenance');
  return { dag: undefined, fallback, notFound };
}
