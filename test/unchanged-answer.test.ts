/**
 * The unchanged-answer fast path: a finished task is answered the same for hours, so the client
 * reuses the validated DAG when the data bytes are the same, the tracker reuses its mapping for the
 * same finished DAG, and the exposition keeps its rendered text. Each reuse must stop the moment
 * anything it depends on changes: the data, the poll time of a running task, or the configuration.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObshellClient, type ObshellClient } from '../src/obshell/client.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import { TargetTracker } from '../src/target.js';
import { base, dagJson } from './helpers/dag-builder.js';
import { startFakeAgent, type FakeAgent } from './helpers/obshell-client-server.js';
import { agent, defaultLimits, ok } from './helpers/render.js';

const maintainPath = '/api/v1/task/dag/maintain/ob';

describe('client: the same data bytes give the same DAG object', () => {
  let fake: FakeAgent;
  let client: ObshellClient;
  const reply = { data: dagJson({ id: '7', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }) };
  let trace = 0;
  beforeAll(async () => {
    fake = await startFakeAgent({ password: 'pw' });
    fake.route(maintainPath, (_req, res: ServerResponse) => {
      trace += 1;
      const body = {
        successful: true,
        timestamp: `t${trace}`,
        duration: trace,
        status: 200,
        traceId: `trace-${trace}`,
        data: reply.data,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    client = createObshellClient({ urls: [fake.url], password: () => 'pw', timeoutMs: 3000 });
  });
  afterAll(async () => {
    client.close();
    await fake.close();
  });
  const poll = async (): Promise<Extract<TaskOutcome, { kind: 'ok' }>> => {
    const outcome = await client.fetchLastMaintenanceTask();
    if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
    return outcome;
  };

  it('reuses the validated DAG while only the envelope (traceId, timestamp) changes', async () => {
    const first = await poll();
    const second = await poll();
    expect(second.traceId).not.toBe(first.traceId);
    expect(second.dag).toBe(first.dag);
  });

  it('validates again as soon as the data changes', async () => {
    const before = await poll();
    reply.data = dagJson({ id: '7', name: 'Cluster scale out', state: 'FAILED', end: 30 });
    const after = await poll();
    expect(after.dag).not.toBe(before.dag);
    expect(after.dag.state).toBe('FAILED');
  });
});

describe('tracker: the mapping of the same finished DAG is reused, and only then', () => {
  const tracker = () => new TargetTracker('c1', { exporterStartedAt: 0, rules: [], limits: defaultLimits });
  const at = (startedAt: number) => ({ startedAt, durationSeconds: 0.1 });

  it('reuses the series of a finished task for the same DAG object', () => {
    const t = tracker();
    const outcome = ok(dagJson({ id: '1', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    const first = t.apply(outcome, at(1000)).series;
    const second = t.apply(outcome, at(1015)).series;
    expect(second.nodeState).toBe(first.nodeState);
    expect(second.taskElapsed).toBe(first.taskElapsed);
    expect(second.lastPollSuccess).toEqual([{ labels: { target: 'c1' }, value: 1015 }]);
  });

  it('maps a running task again at every poll: its elapsed time moves', () => {
    const t = tracker();
    const running = ok(
      dagJson({
        id: '2',
        name: 'Cluster scale out',
        state: 'RUNNING',
        end: -1,
        nodes: [{ name: 'a', state: 'RUNNING', start: 0, end: -1 }],
      }),
    );
    const first = t.apply(running, at(base + 100)).series.taskElapsed?.[0]?.value ?? NaN;
    const second = t.apply(running, at(base + 115)).series.taskElapsed?.[0]?.value ?? NaN;
    expect(second - first).toBe(15);
  });

  it('maps again after a reload: new task_type rules apply to an unchanged DAG', () => {
    const t = tracker();
    const outcome = ok(dagJson({ id: '3', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    const before = t.apply(outcome, at(3000));
    t.configure([{ pattern: /scale out/, taskType: 'scale-out' }], defaultLimits);
    const after = t.apply(outcome, at(3015));
    expect(before.observations?.taskType).toBe('Cluster scale out');
    expect(after.observations?.taskType).toBe('scale-out');
    expect(after.series.taskState?.[0]?.labels['task_type']).toBe('scale-out');
  });

  it('forgets the mapping after a poll without a task', () => {
    const t = tracker();
    const outcome = ok(dagJson({ id: '4', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    const first = t.apply(outcome, at(4000)).series;
    t.apply({ kind: 'no_task', agent }, at(4015));
    expect(t.apply(outcome, at(4030)).series.nodeState).not.toBe(first.nodeState);
  });
});
