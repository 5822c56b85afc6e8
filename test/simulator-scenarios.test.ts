import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseObshellTime } from '../src/obshell/time.js';
import { dagSchema, type DagJson, type DagNodeJson, type SubTaskJson } from '../src/obshell/schema.js';
import { scenarioAt, scenarioNames, scenarioTimeline, type ScenarioName } from '../src/simulator/index.js';
import { demoSpeed } from '../src/main.js';

const seedData = (
  JSON.parse(readFileSync(new URL('fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8')) as {
    data: unknown;
  }
).data;

const at = (name: ScenarioName, t: number) => scenarioAt(name, t);
const must = (name: ScenarioName, t: number): DagJson => {
  const dag = at(name, t);
  if (!dag) throw new Error(`${name} has no DAG at ${t}`);
  return dag;
};
const nodes = (d: DagJson): DagNodeJson[] => d.nodes ?? [];
const subs = (n: DagNodeJson | undefined): SubTaskJson[] => n?.sub_tasks ?? [];
const secs = (text: string) => parseObshellTime(text) ?? NaN;
const isEpoch = (text: string) => secs(text) === 0;
const summary = (d: DagJson | undefined) => (d ? `${d.state}/${d.operator}@${d.stage}` : '404');
const endOf = (name: ScenarioName) => scenarioTimeline(name).tasks.at(-1)?.end ?? 0;

/** Invariants every DAG the simulator shows must hold (contract §4, §5). */
function checkInvariants(d: DagJson, where: string): void {
  expect(() => dagSchema.parse(d), where).not.toThrow();
  const list = nodes(d);
  expect(d.max_stage, where).toBe(list.length);
  expect(d.stage, where).toBeGreaterThanOrEqual(1);
  expect(d.stage, where).toBeLessThanOrEqual(d.max_stage);
  expect(d.id, where).toBe(`1${String(d['dag_id'])}`);
  list.forEach((n, i) => {
    expect(n.id, where).toBe(`1${String(n['node_id'])}`);
    if (n.state === 'RUNNING') expect(n.end_time, `${where} node ${i}`).toBe(n.start_time);
    for (const s of subs(n)) {
      expect(s.name).toBe(n.name);
      if (s.state === 'PENDING') expect([s.execute_times, s.task_logs], where).toEqual([0, null]);
      else if (s.operator !== 'PASS') expect(s.execute_times, where).toBeGreaterThan(0);
      else expect(s.task_logs, where).not.toBeNull();
    }
  });
  // In a forward run, the nodes before the current stage are done and those after it untouched.
  if (d.operator === 'RUN' && d.state === 'RUNNING') {
    list.slice(0, d.stage - 1).forEach((n) => {
      expect(n.state, where).toBe('SUCCEED');
    });
    list.slice(d.stage).forEach((n) => {
      expect(n.state, where).toBe('PENDING');
    });
  }
}

describe('scenarioAt invariants', () => {
  it.each(scenarioNames.filter((n) => n !== 'none'))('%s holds them at every 3 s of its story', (name) => {
    const { lead, period } = scenarioTimeline(name);
    const end = (period ?? endOf(name)) + (Number.isFinite(lead) ? lead : 0) + 30;
    for (let t = 0; t <= end; t += 3) {
      const d = at(name, t);
      if (d) checkInvariants(d, `${name}@${t}`);
      else expect(t, `${name} 404 only during the lead`).toBeLessThan(lead);
    }
  });

  it('is deterministic', () => {
    expect(at('lifecycle', 400)).toEqual(at('lifecycle', 400));
    expect(at('retry', 100)).toEqual(at('retry', 100));
  });
});

describe('scenario timelines', () => {
  it('seed serves exactly the seed response data, static', () => {
    expect(at('seed', 0)).toEqual(seedData);
    expect(at('seed', 1e6)).toEqual(seedData);
  });

  it('none is 404 forever', () => {
    expect([0, 60, 1e5].map((t) => at('none', t))).toEqual([undefined, undefined, undefined]);
  });

  it('a new DAG is READY, with end_time = creation time before start_time while it first runs', () => {
    const ready = must('failed', 0.1);
    expect(summary(ready)).toBe('READY/RUN@1');
    expect(ready.start_time).toBe(ready.end_time);
    expect(nodes(ready).every((n) => n.state === 'PENDING' && n.start_time === ready.start_time)).toBe(true);
    const running = must('failed', 30);
    expect(running.state).toBe('RUNNING');
    expect(running.end_time).toBe(ready.end_time);
    expect(secs(running.start_time)).toBeGreaterThan(secs(running.end_time));
  });

  it('running keeps RUNNING with advancing stages and new ids on each loop', () => {
    const { period = 0 } = scenarioTimeline('running');
    const seen = [5, 60, 200, 400, 590].map((t) => must('running', t));
    expect(seen.every((d) => d.state === 'RUNNING' && d.id === '11')).toBe(true);
    const stages = seen.map((d) => d.stage);
    expect(stages).toEqual([...stages].sort((a, b) => a - b));
    expect(stages.at(-1)).toBeGreaterThan(stages[0]! + 3);
    const next = must('running', period + 5);
    expect([next.id, next.state]).toEqual(['12', 'RUNNING']);
  });

  it('failed fails on "Wait remote start finish" with an ERROR log and stays failed', () => {
    const d = must('failed', endOf('failed') + 1000);
    expect(summary(d)).toBe('FAILED/RUN@5');
    const node = nodes(d)[4];
    expect(node?.name).toBe('Wait remote start finish');
    expect(node?.state).toBe('FAILED');
    const failedSubs = subs(node).filter((s) => s.state === 'FAILED');
    expect(failedSubs).toHaveLength(1);
    expect(failedSubs[0]?.task_logs?.at(-1)).toMatch(/^ERROR: \[[\w.]+\]: /);
    expect(subs(node).map((s) => s.execute_agent.ip)).toEqual(['10.0.0.11', '10.0.0.12', '10.0.0.13']);
    expect(
      nodes(d)
        .slice(5)
        .every((n) => n.state === 'PENDING'),
    ).toBe(true);
    expect(secs(d.end_time)).toBeGreaterThan(secs(d.start_time));
  });

  it('retry resets times to the epoch, re-runs the failed node as RETRY and succeeds', () => {
    const failedAt = must('retry', 120);
    expect(summary(failedAt)).toBe('FAILED/RUN@5');
    const t = scenarioTimeline('failed').tasks[0]!.end + 45;
    const reset = must('retry', t + 0.1);
    expect(summary(reset)).toBe('READY/RUN@5');
    expect([isEpoch(reset.start_time), isEpoch(reset.end_time)]).toEqual([true, true]);
    expect(reset.end_time).toBe('1970-01-01T08:00:00+08:00');
    const rerun = must('retry', t + 5);
    expect(summary(rerun)).toBe('RUNNING/RUN@5');
    expect([isEpoch(rerun.start_time), isEpoch(rerun.end_time)]).toEqual([false, true]);
    expect(nodes(rerun)[4]).toMatchObject({ state: 'RUNNING', operator: 'RETRY' });
    expect(Math.max(...subs(nodes(rerun)[4]).map((s) => s.execute_times))).toBe(2);
    const done = must('retry', endOf('retry') + 10);
    expect(summary(done)).toBe('SUCCEED/RUN@9');
    expect(secs(done.end_time)).toBeGreaterThan(secs(done.start_time));
    expect(nodes(done).every((n) => n.state === 'SUCCEED')).toBe(true);
  });

  it('rollback counts the stage down and ends SUCCEED/ROLLBACK at stage 1', () => {
    const stages: number[] = [];
    for (let t = 140; t <= endOf('rollback'); t += 1) {
      const d = must('rollback', t);
      if (d.operator === 'ROLLBACK' && d.state === 'RUNNING') stages.push(d.stage);
    }
    expect([...new Set(stages)]).toEqual([5, 4, 3, 2, 1]);
    const done = must('rollback', endOf('rollback') + 1);
    expect(summary(done)).toBe('SUCCEED/ROLLBACK@1');
    expect(
      nodes(done)
        .slice(0, 5)
        .every((n) => n.operator === 'ROLLBACK' && n.state === 'SUCCEED'),
    ).toBe(true);
    expect(subs(nodes(done)[0]).map((s) => s.execute_times)).toEqual([2]);
    expect(
      nodes(done)
        .slice(5)
        .every((n) => n.state === 'PENDING'),
    ).toBe(true);
  });

  it('cancel ends FAILED/CANCEL with the running sub-tasks cancelled', () => {
    const d = must('cancel', endOf('cancel') + 1);
    expect(summary(d)).toBe('FAILED/CANCEL@4');
    const node = nodes(d)[3];
    expect(node).toMatchObject({ state: 'FAILED', operator: 'CANCEL' });
    expect(subs(node).some((s) => s.state === 'FAILED' && s.task_logs?.at(-1) === 'sub task cancelled')).toBe(
      true,
    );
  });

  it('pass ends SUCCEED/PASS with the failed and remaining nodes SUCCEED/PASS', () => {
    expect(summary(must('pass', 130))).toBe('FAILED/RUN@7');
    const d = must('pass', endOf('pass') + 1);
    expect(summary(d)).toBe('SUCCEED/PASS@7');
    expect(
      nodes(d)
        .slice(0, 6)
        .every((n) => n.state === 'SUCCEED' && n.operator === 'RUN'),
    ).toBe(true);
    expect(
      nodes(d)
        .slice(6)
        .every((n) => n.state === 'SUCCEED' && n.operator === 'PASS'),
    ).toBe(true);
    expect(subs(nodes(d)[8]).every((s) => s.state === 'SUCCEED' && s.operator === 'PASS')).toBe(true);
  });

  it('tenant, upgrade and scale-in run their own DAGs to success', () => {
    const tenant = must('tenant', endOf('tenant') + 1);
    expect(tenant).toMatchObject({
      name: 'Create tenant tenant1',
      maintenance_type: 3,
      maintenance_key: 'tenant1',
    });
    const upgrade = must('upgrade', endOf('upgrade') + 1);
    expect(upgrade).toMatchObject({ name: 'OB rolling upgrade 4.3.5.0-100000', maintenance_type: 2 });
    const scaleIn = must('scale-in', endOf('scale-in') + 1);
    expect(scaleIn).toMatchObject({ name: 'Cluster scale in', maintenance_key: '' });
    for (const d of [tenant, upgrade, scaleIn]) expect(summary(d)).toBe(`SUCCEED/RUN@${d.max_stage}`);
  });

  it('lifecycle: 404 first, then every kind of ending, with ids increasing across loops', () => {
    const { lead, period = 0 } = scenarioTimeline('lifecycle');
    expect(lead).toBe(60);
    expect(at('lifecycle', lead - 1)).toBeUndefined();
    const step = 5;
    const finals = new Map<string, string>();
    const ids: number[] = [];
    /** Story seconds each DAG's state/operator@stage was shown, over the first loop. */
    const shown = new Map<string, number>();
    for (let t = lead; t < lead + 2 * period; t += step) {
      const d = must('lifecycle', t);
      if (ids.at(-1) !== Number(d.id)) ids.push(Number(d.id));
      finals.set(d.id, `${d.name}: ${summary(d)}`);
      const key = `${d.id} ${summary(d)}`;
      if (t < lead + period) shown.set(key, (shown.get(key) ?? 0) + step);
    }
    // Every ending, and every failure before its operator acts, stays long enough to be polled,
    // scraped and alerted on (`for: 1m`) at the demo's speed.
    const held = [...shown].filter(([key]) => / (SUCCEED|FAILED)\//.test(key));
    expect(held.map(([key]) => key)).toEqual([
      '11 SUCCEED/RUN@9',
      '12 SUCCEED/RUN@6',
      '13 FAILED/RUN@5',
      '13 SUCCEED/RUN@9',
      '14 FAILED/RUN@3',
      '14 SUCCEED/ROLLBACK@1',
      '15 FAILED/CANCEL@3',
      '16 FAILED/RUN@7',
      '16 SUCCEED/PASS@7',
      '17 SUCCEED/RUN@9',
    ]);
    // Two minutes of the demo: polled and scraped every 15 s, past the alerts' `for: 1m`.
    for (const [key, seconds] of held) expect((seconds + step) / demoSpeed, key).toBeGreaterThanOrEqual(120);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids).toHaveLength(14);
    expect([...finals.values()].slice(0, 7)).toEqual([
      'Cluster scale out: SUCCEED/RUN@9',
      'Create tenant tenant1: SUCCEED/RUN@6',
      'Cluster scale out: SUCCEED/RUN@9',
      'Cluster scale in: SUCCEED/ROLLBACK@1',
      'Create tenant tenant2: FAILED/CANCEL@3',
      'Cluster scale out: SUCCEED/PASS@7',
      'OB rolling upgrade 4.3.5.0-100000: SUCCEED/RUN@9',
    ]);
    // Between loops the previous loop's last DAG stays visible: never 404 again.
    expect(must('lifecycle', lead + period - 0.5).id).toBe('17');
  });

  it('honours agentIps, utcOffset, startedAt and speed', () => {
    const d = scenarioAt('failed', 200, {
      agentIps: ['192.168.1.1', '192.168.1.2:2887'],
      utcOffset: '-02:30',
    });
    expect(subs(nodes(d!)[3]).map((s) => s.execute_agent)).toEqual([
      { ip: '192.168.1.1', port: 2886 },
      { ip: '192.168.1.2', port: 2887 },
    ]);
    expect(d!.start_time).toMatch(/-02:30$/);
    const fast = scenarioAt('failed', 30, { startedAt: 1_800_000_000, speed: 10 });
    expect(secs(fast!.start_time)).toBeGreaterThan(1_800_000_000);
    expect(secs(fast!.start_time)).toBeLessThan(1_800_000_000 + 1);
  });
});
