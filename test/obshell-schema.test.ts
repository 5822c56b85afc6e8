import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dagSchema, envelopeSchema, maxDagNodes, maxSubTasksPerNode } from '../src/obshell/schema.js';
import { isEpochReset, parseObshellTime } from '../src/obshell/time.js';

const seedEnvelope: unknown = JSON.parse(
  readFileSync(new URL('fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8'),
);

describe('obshell time', () => {
  it('parses offsets and sub-second fractions exactly', () => {
    expect(parseObshellTime('2024-01-09T20:40:01.706073+08:00')).toBeCloseTo(1704804001.706073, 6);
    expect(parseObshellTime('2024-01-09T12:40:01Z')).toBe(1704804001);
    expect(parseObshellTime('2026-05-12T10:00:03.512093417-02:30')).toBeCloseTo(1778589003.512093, 5);
  });
  it('reads the epoch in any offset as a reset', () => {
    expect(isEpochReset(parseObshellTime('1970-01-01T08:00:00+08:00')!)).toBe(true);
    expect(isEpochReset(parseObshellTime('1970-01-01T08:00:00Z')!)).toBe(true);
    expect(isEpochReset(parseObshellTime('2024-01-09T20:40:01+08:00')!)).toBe(false);
  });
  it("reads Go's zero time as a reset, not as 1901", () => {
    expect(parseObshellTime('0001-01-01T00:00:00Z')).toBe(-62135596800);
    expect(isEpochReset(parseObshellTime('0001-01-01T00:00:00Z')!)).toBe(true);
  });
  it('rejects malformed times', () => {
    for (const bad of [
      '',
      '2024-01-09',
      '2024-13-09T20:40:01Z',
      'yesterday',
      '2024-01-09T20:40:01',
      '2026-02-31T23:59:59+08:00',
      '2026-02-28T23:59:99+08:00',
      '2026-02-28T24:00:00Z',
      '2026-02-28T23:60:00Z',
      '2026-02-28T23:00:00+24:00',
      '2026-02-28T23:00:00+08:60',
      '0000-00-00T00:00:00Z',
    ]) {
      expect(parseObshellTime(bad), bad).toBeUndefined();
    }
  });
});

describe('seed response', () => {
  it('parses into the exact values it holds', () => {
    const envelope = envelopeSchema.parse(seedEnvelope);
    expect(envelope).toMatchObject({ successful: true, status: 200, traceId: 'efbf77556046d332' });
    const dag = dagSchema.parse(envelope.data);
    expect(dag).toMatchObject({
      id: '11',
      name: 'Cluster scale out',
      stage: 9,
      max_stage: 9,
      state: 'SUCCEED',
      operator: 'RUN',
    });
    expect(dag.maintenance_type).toBeUndefined();
    expect(dag.start_time).toBeCloseTo(1704804001.706073, 6);
    expect(dag.end_time).toBeCloseTo(1704804030.319822, 6);
    expect(dag.nodes.map((n) => n.name)).toEqual([
      'Integrate server config',
      'Create local scale out dag',
      'Wait scale out ready',
      'Wait remote deploy finish',
      'Wait remote start finish',
      'Prev check for scale_out',
      'Add server for scale_out',
      'Add agent  for scale_out',
      'Check cluster scale_out whether finished',
    ]);
    expect(dag.nodes.every((n) => n.state === 'SUCCEED' && n.sub_tasks.length === 1)).toBe(true);
    const last = dag.nodes[8]!.sub_tasks[0]!;
    expect(last).toMatchObject({
      execute_times: 1,
      execute_agent: { ip: '11.158.31.107', port: 8088 },
    });
  });
});

describe('tolerance', () => {
  const minimal = {
    id: '1142',
    name: 'Cluster scale out',
    stage: 3,
    max_stage: 9,
    state: 'RUNNING',
    operator: 'RUN',
    start_time: '2026-05-12T09:58:11.204311+08:00',
    end_time: '2026-05-12T09:58:10.998002+08:00',
  };
  /** A finished sub-task, as obshell lists it in a node. */
  const sub = {
    id: '1',
    name: 's',
    state: 'SUCCEED',
    operator: 'RUN',
    start_time: minimal.start_time,
    end_time: minimal.end_time,
    execute_times: 1,
    execute_agent: { ip: '10.0.0.1', port: 2886 },
  };
  it('accepts null nodes, extra fields and a missing maintenance type', () => {
    const dag = dagSchema.parse({ ...minimal, nodes: null, additional_data: null, brand_new: { x: 1 } });
    expect(dag.nodes).toEqual([]);
    // Only what the exporter reads is kept: the last DAG of every target stays in memory.
    expect(dag).not.toHaveProperty('brand_new');
    expect(dag).not.toHaveProperty('additional_data');
  });
  it('ignores sub-task logs, whatever their shape', () => {
    for (const task_logs of [null, ['x'.repeat(10_000)], 42] as never[]) {
      const node = {
        id: '1',
        name: 'n',
        state: 'SUCCEED',
        operator: 'RUN',
        start_time: sub.start_time,
        end_time: sub.end_time,
      };
      const dag = dagSchema.parse({ ...minimal, nodes: [{ ...node, sub_tasks: [{ ...sub, task_logs }] }] });
      expect(dag.nodes[0]?.sub_tasks[0]?.task_logs).toBeUndefined();
    }
  });
  it('refuses more nodes, or sub-tasks in a node, than any obshell task has', () => {
    const node = (subTasks: number) => ({ ...sub, sub_tasks: Array<typeof sub>(subTasks).fill(sub) });
    const nodes = (count: number, subTasks = 1) => Array.from({ length: count }, () => node(subTasks));
    expect(dagSchema.safeParse({ ...minimal, nodes: nodes(maxDagNodes) }).success).toBe(true);
    const tooMany = dagSchema.safeParse({ ...minimal, nodes: nodes(maxDagNodes + 1) });
    expect(tooMany.error?.issues.map((i) => i.message)).toEqual([`more than ${maxDagNodes} nodes in a task`]);
    expect(dagSchema.safeParse({ ...minimal, nodes: nodes(1, maxSubTasksPerNode) }).success).toBe(true);
    const crowded = dagSchema.safeParse({ ...minimal, nodes: nodes(1, maxSubTasksPerNode + 1) });
    expect(crowded.error?.issues.map((i) => i.message)).toEqual([
      `more than ${maxSubTasksPerNode} sub-tasks in a node`,
    ]);
  });
  it('maps unknown states and operators to UNKNOWN', () => {
    const dag = dagSchema.parse({ ...minimal, state: 'PAUSED', operator: 'SKIP' });
    expect([dag.state, dag.operator]).toEqual(['UNKNOWN', 'UNKNOWN']);
  });
  it('rejects wrong types on used fields', () => {
    expect(dagSchema.safeParse({ ...minimal, stage: '3' }).success).toBe(false);
    expect(dagSchema.safeParse({ ...minimal, start_time: 'now' }).success).toBe(false);
  });
  it('accepts old error objects', () => {
    const env = envelopeSchema.parse({ successful: false, status: 500, error: { code: 1002, message: 'x' } });
    expect(env.error).toEqual({ code: 1002, message: 'x' });
  });
});
