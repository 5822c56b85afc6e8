import { describe, expect, it } from 'vitest';
import { dagJson } from './helpers/dag-builder.js';
import { createHarness, ok } from './helpers/render.js';

const task = (id: string, name: string, state = 'RUNNING') =>
  ok(
    dagJson({
      id,
      name,
      state,
      end: state === 'RUNNING' ? -1 : 30,
      nodes: [{ name: `${name} step`, state, start: 0, end: 30 }],
    }),
  );

describe('current task series', () => {
  it("a new task id replaces the old task's series as a whole", async () => {
    const h = createHarness();
    h.poll('c1', { outcome: task('1142', 'Cluster scale out', 'SUCCEED') });
    await h.render(); // a scrape, as Prometheus makes between polls: the finished task shows next poll
    h.poll('c1', { outcome: task('1143', 'Create tenant t1') });
    const text = await h.render();
    expect(text).not.toMatch(/\{[^}]*task_id="1142"/);
    expect(text).toMatch(
      /obshell_maintenance_task_state\{target="c1",task_id="1143",task_type="Create tenant",state="RUNNING"\} 1/,
    );
    expect(text).toContain(
      'obshell_maintenance_task_duration_seconds_count{target="c1",task_type="Cluster scale out",result="succeeded"} 1',
    );
  });
});

describe('cardinality bounds', () => {
  it('caps distinct task_type and node values per target, counting and logging each overflow once', async () => {
    const h = createHarness({ limits: { maxTaskTypes: 2, maxNodes: 2, maxLabelLength: 12 } });
    for (const [id, name] of [
      ['1', 'Alpha'],
      ['2', 'Beta'],
      ['3', 'Gamma'],
      ['4', 'Gamma'],
    ] as const) {
      h.poll('c1', { outcome: task(id, name) });
    }
    const text = await h.render();
    expect(text).toContain(
      'obshell_maintenance_task_info{target="c1",task_id="4",task_name="Gamma",task_type="other"',
    );
    expect(text).toMatch(/node="other"/);
    expect(text).toContain('obshell_exporter_label_overflows_total{target="c1",label="task_type"} 1');
    expect(text).toContain('obshell_exporter_label_overflows_total{target="c1",label="node"} 1');
    const overflowLogs = h.logLines.filter((l) => String(l['msg']).includes('exported as "other"'));
    expect(overflowLogs).toHaveLength(2);
    // Other targets have their own budget.
    h.poll('c2', { outcome: task('9', 'Gamma') });
    expect(await h.render()).toContain(
      'obshell_maintenance_task_info{target="c2",task_id="9",task_name="Gamma",task_type="Gamma"',
    );
  });

  it('logs one line per label and poll however many values overflow, and counts each value', async () => {
    const h = createHarness({ limits: { maxTaskTypes: 50, maxNodes: 10, maxLabelLength: 128 } });
    const nodes = Array.from({ length: 40 }, (_, i) => ({
      name: `node ${i}`,
      state: 'SUCCEED',
      start: 0,
      end: 30,
    }));
    h.poll('c1', { outcome: ok(dagJson({ id: '1', name: 'Big', state: 'SUCCEED', end: 30, nodes })) });
    const text = await h.render();
    expect(text).toContain('obshell_exporter_label_overflows_total{target="c1",label="node"} 30');
    const lines = h.logLines.filter((l) => String(l['msg']).includes('exported as "other"'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      target: 'c1',
      label: 'node',
      count: 30,
      values: ['node 10', 'node 11', 'node 12', 'node 13', 'node 14'],
    });
    // The same values again are neither counted nor logged again.
    h.poll('c1', { outcome: ok(dagJson({ id: '2', name: 'Big', state: 'SUCCEED', end: 30, nodes })) });
    expect(await h.render()).toContain('obshell_exporter_label_overflows_total{target="c1",label="node"} 30');
    expect(h.logLines.filter((l) => String(l['msg']).includes('exported as "other"'))).toHaveLength(1);
  });

  it('keeps the caps across reloads: new task_type_rules do not allow another cap of values', async () => {
    const h = createHarness({ limits: { maxTaskTypes: 50, maxNodes: 2, maxLabelLength: 128 } });
    const nodes = (names: string[]) => names.map((name) => ({ name, state: 'SUCCEED', start: 0, end: 30 }));
    const big = (id: string, names: string[]) =>
      ok(dagJson({ id, name: 'Big', state: 'SUCCEED', end: 30, nodes: nodes(names) }));
    h.poll('c1', { outcome: big('1', ['a', 'b', 'c']) });
    h.trackers.get('c1')!.configure([{ pattern: /Big/, taskType: 'big' }]);
    h.poll('c1', { outcome: big('2', ['d', 'e']) });
    const text = await h.render();
    expect(text).toMatch(/node_state\{[^}]*task_id="2"[^}]*node_index="1",node="other"/);
    expect(text).toMatch(/node_state\{[^}]*task_id="2"[^}]*node_index="2",node="other"/);
    expect(text).toContain('obshell_exporter_label_overflows_total{target="c1",label="node"} 3');
    expect(text).not.toMatch(/node="[de]"/);
  });

  it('truncates long label values on code points', async () => {
    const h = createHarness({ limits: { maxTaskTypes: 50, maxNodes: 50, maxLabelLength: 5 } });
    h.poll('c1', { outcome: task('1', '扩容集群任务名称很长') });
    expect(await h.render()).toContain('task_name="扩容集群任"');
  });
});

describe('truncated agent labels', () => {
  it('gives agents whose addresses truncate alike one execute_times series, not two identical ones', async () => {
    const h = createHarness({ limits: { maxTaskTypes: 50, maxNodes: 50, maxLabelLength: 8 } });
    const dag = dagJson({
      id: '5',
      name: 'Deploy',
      state: 'RUNNING',
      nodes: [
        { name: 'Deploy', state: 'RUNNING', start: 0, executeTimes: 2, agents: ['10.0.0.11', '10.0.0.12'] },
      ],
    });
    h.poll('c1', { outcome: ok(dag) });
    const lines = (await h.render())
      .split('\n')
      .filter((l) => l.startsWith('obshell_maintenance_subtask_execute_times{'));
    expect(lines).toEqual([
      'obshell_maintenance_subtask_execute_times{target="c1",task_id="5",task_type="Deploy",node_index="1",node="Deploy",agent="10.0.0.1"} 2',
    ]);
  });
});

describe('state-change log', () => {
  it('logs one info line per task state change, not per poll', () => {
    const h = createHarness();
    h.poll('c1', { outcome: task('7', 'Cluster scale out') });
    h.poll('c1', { outcome: task('7', 'Cluster scale out') });
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'FAILED') });
    const changes = h.logLines.filter((l) => l['level'] === 30).map((l) => l['msg']);
    expect(changes).toEqual([
      'maintenance task "Cluster scale out" (7): new task -> RUNNING/RUN at stage 1/1',
      'maintenance task "Cluster scale out" (7): RUNNING/RUN -> FAILED/RUN at stage 1/1',
    ]);
  });

  it("keeps an agent's task id and name to one bounded line in log lines", () => {
    const h = createHarness();
    const forged = 'Cluster scale out"\n[12:00:00.000] WARN (1): poll failed: FORGED\n';
    h.poll('c1', { outcome: task(`9${'9'.repeat(1000)}`, `${forged}${'x'.repeat(5_000_000)}`) });
    const line = h.logLines.find((l) => l['level'] === 30) ?? {};
    for (const field of ['msg', 'task_name', 'task_id'] as const) {
      expect(String(line[field])).not.toMatch(/\n/);
      expect(String(line[field]).length).toBeLessThan(600);
    }
    expect(String(line['task_name'])).toMatch(/^Cluster scale out" \[12:00:00\.000\] WARN/);
  });
});

describe('first events of new series wait for a scrape', () => {
  const failures = 'obshell_maintenance_task_failures_total{target="c1",task_type="Cluster scale out"}';
  const durations =
    'obshell_maintenance_node_duration_seconds_count{target="c1",task_type="Cluster scale out",node="Cluster scale out step"}';
  const valueOf = (text: string, series: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${series} `))
        ?.slice(series.length + 1),
    );

  it('shows a series born with its first event at zero until a scrape has seen it, then the event', async () => {
    const h = createHarness();
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'FAILED'), at: 60 });
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'FAILED'), at: 75 }); // no scrape in between
    const first = await h.render();
    expect([valueOf(first, failures), valueOf(first, durations)]).toEqual([0, 0]);
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'FAILED'), at: 90 });
    const second = await h.render();
    expect([valueOf(second, failures), valueOf(second, durations)]).toEqual([1, 1]);
  });

  it('counts an event of a series a scrape has already seen in the poll that brings it', async () => {
    const h = createHarness();
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'RUNNING'), at: 60 });
    expect(valueOf(await h.render(), failures)).toBe(0);
    h.poll('c1', { outcome: task('7', 'Cluster scale out', 'FAILED'), at: 75 });
    const text = await h.render();
    expect([valueOf(text, failures), valueOf(text, durations)]).toEqual([1, 1]);
  });
});
