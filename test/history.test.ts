import { describe, expect, it } from 'vitest';
import { TaskHistory, taskResult, type Observations } from '../src/metrics/history.js';
import { base, dag, type NodeSpec } from './helpers/dag-builder.js';

const label = (name: string) => name;
const names = ['Prepare', 'Deploy', 'Check'];

/** A 3-node task: nodes before `at` SUCCEED (10 s each), node `at` in `state`, the rest PENDING. */
function nodes(at: number, state: string, extra: Partial<NodeSpec> = {}): NodeSpec[] {
  return names.map((name, i) => {
    if (i < at) return { name, state: 'SUCCEED', start: i * 10, end: i * 10 + 10 };
    if (i === at)
      return { name, state, start: i * 10, end: state === 'RUNNING' ? i * 10 : i * 10 + 10, ...extra };
    return { name, state: 'PENDING' };
  });
}

const none: Observations = { taskDurations: [], failures: 0, nodeDurations: [], retries: [] };

describe('taskResult', () => {
  it.each([
    ['SUCCEED', 'RUN', 'succeeded'],
    ['SUCCEED', 'RETRY', 'succeeded'],
    ['SUCCEED', 'ROLLBACK', 'rolled_back'],
    ['SUCCEED', 'PASS', 'passed'],
    ['FAILED', 'RUN', 'failed'],
    ['FAILED', 'ROLLBACK', 'failed'],
    ['FAILED', 'CANCEL', 'cancelled'],
    ['RUNNING', 'RUN', undefined],
    ['READY', 'ROLLBACK', undefined],
  ] as const)('%s + %s → %s', (state, operator, result) => {
    expect(taskResult(state, operator)).toBe(result);
  });
});

describe('TaskHistory exactly-once', () => {
  it('observes each finished node and the task once across repeated polls', () => {
    const h = new TaskHistory(base - 60);
    expect(h.record(dag({ state: 'RUNNING', stage: 1, nodes: nodes(0, 'RUNNING') }), label)).toEqual(none);
    const second = dag({ state: 'RUNNING', stage: 2, nodes: nodes(1, 'RUNNING') });
    expect(h.record(second, label).nodeDurations).toEqual([{ node: 'Prepare', seconds: 10 }]);
    expect(h.record(second, label)).toEqual(none);
    const done = dag({ state: 'SUCCEED', stage: 3, end: 30, nodes: nodes(3, 'SUCCEED') });
    const finished = h.record(done, label);
    expect(finished.taskDurations).toEqual([{ result: 'succeeded', seconds: 30 }]);
    expect(finished.nodeDurations.map((n) => n.node)).toEqual(['Deploy', 'Check']);
    expect(h.record(done, label)).toEqual(none);
  });

  it('counts a failure, its retry and the second finish of the retried node', () => {
    const h = new TaskHistory(base - 60);
    const failed = dag({ state: 'FAILED', stage: 2, end: 20, nodes: nodes(1, 'FAILED') });
    const first = h.record(failed, label);
    expect(first).toMatchObject({ failures: 1, taskDurations: [{ result: 'failed', seconds: 20 }] });
    expect(first.nodeDurations).toEqual([
      { node: 'Prepare', seconds: 10 },
      { node: 'Deploy', seconds: 10 },
    ]);
    expect(h.record(failed, label)).toEqual(none);
    // Retry: DAG back to READY/RUN with times reset to the epoch, failed node RETRY.
    const reset = dag({
      state: 'READY',
      stage: 2,
      start: 'epoch',
      end: 'epoch',
      nodes: nodes(1, 'READY', { operator: 'RETRY' }),
    });
    expect(h.record(reset, label)).toEqual(none);
    const rerun = nodes(1, 'RUNNING', { operator: 'RETRY', start: 100, end: 100, executeTimes: 2 });
    expect(
      h.record(dag({ state: 'RUNNING', stage: 2, start: 99, end: 'epoch', nodes: rerun }), label),
    ).toEqual({
      ...none,
      retries: [{ node: 'Deploy', count: 1 }],
    });
    const ok = nodes(3, 'SUCCEED');
    ok[1] = { name: 'Deploy', state: 'SUCCEED', operator: 'RETRY', start: 100, end: 110, executeTimes: 2 };
    const success = h.record(dag({ state: 'SUCCEED', stage: 3, start: 99, end: 120, nodes: ok }), label);
    expect(success.taskDurations).toEqual([{ result: 'succeeded', seconds: 21 }]);
    expect(success.failures).toBe(0);
    expect(success.nodeDurations.map((n) => n.node)).toEqual(['Deploy', 'Check']);
    expect(success.retries).toEqual([]);
  });

  it('reports cancel and rollback as results, not failures', () => {
    const h = new TaskHistory(base - 60);
    const cancelled = h.record(
      dag({
        state: 'FAILED',
        operator: 'CANCEL',
        stage: 2,
        end: 15,
        nodes: nodes(1, 'FAILED', { operator: 'CANCEL' }),
      }),
      label,
    );
    expect(cancelled).toMatchObject({ failures: 0, taskDurations: [{ result: 'cancelled', seconds: 15 }] });
    const h2 = new TaskHistory(base - 60);
    const rolled = h2.record(
      dag({
        id: '1150',
        state: 'SUCCEED',
        operator: 'ROLLBACK',
        stage: 1,
        end: 40,
        nodes: nodes(0, 'SUCCEED', { operator: 'ROLLBACK' }),
      }),
      label,
    );
    expect(rolled).toMatchObject({ failures: 0, taskDurations: [{ result: 'rolled_back', seconds: 40 }] });
  });

  it('does not observe nodes that were passed rather than executed', () => {
    const h = new TaskHistory(base - 60);
    const passed = names.map((name) => ({ name, state: 'SUCCEED', operator: 'PASS', start: 0, end: 50 }));
    const out = h.record(dag({ state: 'SUCCEED', operator: 'PASS', end: 50, nodes: passed }), label);
    expect(out.taskDurations).toEqual([{ result: 'passed', seconds: 50 }]);
    expect(out.nodeDurations).toEqual([]);
  });

  it('after a restart, shows but does not observe what finished before it started', () => {
    const done = dag({ state: 'FAILED', stage: 2, end: 20, nodes: nodes(1, 'FAILED', { executeTimes: 3 }) });
    const late = new TaskHistory(base + 3600);
    expect(late.record(done, label)).toEqual(none);
    const early = new TaskHistory(base - 60);
    const seen = early.record(done, label);
    expect(seen.failures).toBe(1);
    expect(seen.retries).toEqual([{ node: 'Deploy', count: 2 }]);
  });

  it('remembers only the sub-tasks of the last answer when an agent renames them under one task id', () => {
    const h = new TaskHistory(base - 60);
    const running = dag({ state: 'RUNNING', stage: 2, nodes: nodes(1, 'RUNNING', { executeTimes: 2 }) });
    const listed = running.nodes.reduce((sum, node) => sum + node.sub_tasks.length, 0);
    for (let poll = 0; poll < 200; poll++) {
      running.nodes.forEach((node, i) => {
        node.sub_tasks.forEach((sub, j) => (sub.id = `p${poll}-${i}-${j}`));
      });
      h.record(running, label);
    }
    expect(h.subTasksRemembered).toBe(listed);
    // The sub-tasks it still lists keep their high-water mark: the same answer counts nothing more.
    expect(h.record(running, label).retries).toEqual([]);
  });

  it('counts a failure but observes no duration over a year long (a broken clock)', () => {
    const h = new TaskHistory(base - 60);
    const farEnd = 100 * 365 * 24 * 3600; // a century after the start
    const broken = dag({
      state: 'FAILED',
      stage: 2,
      end: farEnd,
      nodes: [
        { name: 'Prepare', state: 'SUCCEED', start: 0, end: 10 },
        { name: 'Deploy', state: 'FAILED', start: 10, end: farEnd },
      ],
    });
    const seen = h.record(broken, label);
    expect(seen.failures).toBe(1);
    expect(seen.taskDurations).toEqual([]);
    expect(seen.nodeDurations).toEqual([{ node: 'Prepare', seconds: 10 }]);
  });

  it('forgets a task once another one is returned, and after 404', () => {
    const h = new TaskHistory(base - 60);
    const done = dag({ state: 'SUCCEED', stage: 3, end: 30, nodes: nodes(3, 'SUCCEED') });
    expect(h.record(done, label).taskDurations).toHaveLength(1);
    h.record(dag({ id: '1143', state: 'RUNNING', nodes: nodes(0, 'RUNNING') }), label);
    h.recordNoTask();
    // Seen again after being forgotten: a new event from the history's point of view.
    expect(h.record(done, label).taskDurations).toHaveLength(1);
  });
});
