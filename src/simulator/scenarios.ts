/** Named stories: which DAG obshell shows at each instant (contract §4.5, §5). */
import type { DagJson } from '../obshell/schema.js';
import { Planner } from './plan.js';
import { seedDag } from './seed.js';
import { createTenant, errors, rollingUpgrade, scaleIn, scaleOut, slowScaleOut } from './specs.js';
import { dagJson, newDag, type Agent, type TaskSpec } from './story.js';
import type { ScenarioName } from './types.js';

type Script = (p: Planner) => void;
type StoryTask = { at: number; end: number; spec: TaskSpec; script: Script };
/** `lead`: seconds of 404 before the first DAG; `period`: the task list repeats with new ids. */
type Story = { lead: number; period?: number; tasks: readonly StoryTask[] };

const last = (p: Planner, i: number) => p.subCount(i) - 1;

const succeed: Script = (p) => {
  p.start();
  p.runNodes(0, p.spec.nodes.length);
  p.finish('SUCCEED');
};
const failAt =
  (k: number, error: string): Script =>
  (p) => {
    p.start();
    p.runNodes(0, k);
    p.runNode(k, { fail: { sub: last(p, k), error } });
    p.finish('FAILED');
  };
/** Failed, then after `wait` seconds an operator acts. */
const thenAct =
  (fail: Script, wait: number, act: Script): Script =>
  (p) => {
    fail(p);
    p.wait(wait);
    act(p);
  };
const retryFrom =
  (k: number): Script =>
  (p) => {
    p.reset('RUN');
    p.start();
    p.runNode(k, { operator: 'RETRY' });
    p.runNodes(k + 1, p.spec.nodes.length);
    p.finish('SUCCEED');
  };
const cancelIn =
  (k: number, after: number): Script =>
  (p) => {
    p.start();
    p.runNodes(0, k);
    p.runNode(k, { cancelAfter: after });
    p.cancel(k);
  };

/** The scripts, with `wait` story seconds between a failure and its operator's act. */
const scriptsWaiting = (wait: number) => ({
  failed: failAt(4, errors.startObserver),
  retry: thenAct(failAt(4, errors.startObserver), wait, retryFrom(4)),
  rollback: thenAct(failAt(4, errors.startObserver), wait, (p) => {
    p.rollback(4);
  }),
  rollbackScaleIn: thenAct(failAt(2, errors.deleteServer), wait, (p) => {
    p.rollback(2);
  }),
  cancel: cancelIn(3, 12),
  cancelTenant: cancelIn(2, 15),
  pass: thenAct(failAt(6, errors.addServer), wait, (p) => {
    p.pass(6);
  }),
});

const scripts = scriptsWaiting(45);

/**
 * In the lifecycle each ending, and each failure before its operator acts, stays this many story
 * seconds: two minutes at the demo's speed 5, so that polls and scrapes every 15 s see it and the
 * alerts' `for: 1m` runs out (at 30-45 s, 6-9 s of the demo, no outcome was seen and none fired).
 */
const lifecycleHoldSeconds = 600;

/** Length of a script in story seconds, from the DAG's creation to its last change. */
function duration(spec: TaskSpec, script: Script): number {
  const p = new Planner(newDag(spec, 1, defaultAgents, 0), 0);
  script(p);
  return p.end;
}

/** Places tasks one after another, each followed by `idle` seconds showing its final state. */
function sequence(items: readonly [TaskSpec, Script, number][]): { tasks: StoryTask[]; length: number } {
  let at = 0;
  const tasks = items.map(([spec, script, idle]) => {
    const end = at + duration(spec, script);
    const task = { at, end, spec, script };
    at = end + idle;
    return task;
  });
  // A whole number of seconds keeps the loop boundaries easy to read in docs and tests.
  return { tasks, length: Math.ceil(at) };
}

export const defaultAgents: readonly Agent[] = ['10.0.0.11', '10.0.0.12', '10.0.0.13'].map((ip) => ({
  ip,
  port: 2886,
}));

const single = (spec: TaskSpec, script: Script): Story => ({
  lead: 0,
  tasks: sequence([[spec, script, 0]]).tasks,
});

function lifecycle(): Story {
  const hold = lifecycleHoldSeconds;
  const held = scriptsWaiting(hold);
  const { tasks, length } = sequence([
    [scaleOut, succeed, hold],
    [createTenant('tenant1'), succeed, hold],
    [scaleOut, held.retry, hold],
    [scaleIn, held.rollbackScaleIn, hold],
    [createTenant('tenant2'), held.cancelTenant, hold],
    [scaleOut, held.pass, hold],
    [rollingUpgrade, succeed, hold],
  ]);
  return { lead: 60, period: length, tasks };
}

const stories: Record<Exclude<ScenarioName, 'seed'>, Story> = {
  none: { lead: Infinity, tasks: [] },
  // Each slow run is replaced by the next before it can finish: always RUNNING, stages advancing.
  running: { lead: 0, period: 600, tasks: single(slowScaleOut, succeed).tasks },
  failed: single(scaleOut, scripts.failed),
  retry: single(scaleOut, scripts.retry),
  rollback: single(scaleOut, scripts.rollback),
  cancel: single(scaleOut, scripts.cancel),
  pass: single(scaleOut, scripts.pass),
  tenant: single(createTenant('tenant1'), succeed),
  upgrade: single(rollingUpgrade, succeed),
  'scale-in': single(scaleIn, succeed),
  lifecycle: lifecycle(),
};

export type ScenarioTimeline = {
  lead: number;
  period?: number;
  tasks: { at: number; end: number; name: string }[];
};

/** When each task of a story is created and last changes, in story seconds (for docs and tests). */
export function scenarioTimeline(name: ScenarioName): ScenarioTimeline {
  if (name === 'seed') return { lead: 0, tasks: [{ at: 0, end: 0, name: 'Cluster scale out' }] };
  const { lead, period, tasks } = stories[name];
  const list = tasks.map((t) => ({ at: lead + t.at, end: lead + t.end, name: t.spec.name }));
  return period === undefined ? { lead, tasks: list } : { lead, period, tasks: list };
}

type Picked = { task: StoryTask; dagId: number; created: number };

function pick(story: Story, elapsed: number): Picked | undefined {
  const rel = elapsed - story.lead;
  if (!(rel >= 0) || story.tasks.length === 0) return undefined;
  const period = story.period ?? Infinity;
  const loop = period === Infinity ? 0 : Math.floor(rel / period);
  const inLoop = rel - (period === Infinity ? 0 : loop * period);
  const index = story.tasks.findLastIndex((t) => t.at <= inLoop);
  const task = story.tasks[index];
  if (!task) return undefined;
  const created = story.lead + (period === Infinity ? 0 : loop * period) + task.at;
  return { task, dagId: loop * story.tasks.length + index + 1, created };
}

export type ScenarioAtOptions = {
  /** Unix seconds of story second 0; default 2026-05-12T09:58:00+08:00. */
  startedAt?: number;
  agentIps?: string[];
  utcOffset?: string;
  /** Printed times advance by story seconds / speed, so they track the wall clock. */
  speed?: number;
};

export const defaultStartedAt = Date.parse('2026-05-12T09:58:00+08:00') / 1000;

/** "ip" or "ip:port" (port 2886 when left out). */
export function parseAgents(list: readonly string[] | undefined): readonly Agent[] {
  if (!list || list.length === 0) return defaultAgents;
  return list.map((text) => {
    const m = /^(.*):(\d+)$/.exec(text);
    return m && !text.startsWith('[') ? { ip: m[1] ?? text, port: Number(m[2]) } : { ip: text, port: 2886 };
  });
}

/** Pure and deterministic: the DAG at `elapsedSeconds` of the story, or undefined while obshell says 404. */
export function scenarioAt(
  name: ScenarioName,
  elapsedSeconds: number,
  options: ScenarioAtOptions = {},
): DagJson | undefined {
  if (name === 'seed') return seedDag();
  const picked = pick(stories[name], Math.max(0, elapsedSeconds));
  if (!picked) return undefined;
  const agents = parseAgents(options.agentIps);
  const model = newDag(picked.task.spec, picked.dagId, agents, picked.created);
  const planner = new Planner(model, picked.created);
  picked.task.script(planner);
  planner.replay(model, Math.max(0, elapsedSeconds));
  const clock = {
    startedAt: options.startedAt ?? defaultStartedAt,
    speed: options.speed ?? 1,
    utcOffset: options.utcOffset ?? '+08:00',
  };
  return dagJson(model, clock);
}
