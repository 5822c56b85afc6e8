/**
 * The unchanged-answer fast path: a finished task is answered the same for hours, so the client
 * reuses the validated DAG when the data bytes are the same, the tracker reuses its mapping for the
 * same finished DAG, and the exposition keeps its rendered text. Each reuse must stop the moment
 * anything it depends on changes: the data, the poll time of a running task, or the configuration.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createObshellClient, type ObshellClient } from '../src/obshell/client.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import { TargetTracker } from '../src/target.js';
import { base, dagJson } from './helpers/dag-builder.js';
import { startFakeAgent, type FakeAgent } from './helpers/obshell-client-server.js';
import { agent, createHarness, defaultLimits, ok } from './helpers/render.js';

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

describe('client: unchanged data bytes are not parsed again, and every envelope still counts', () => {
  let fake: FakeAgent;
  let client: ObshellClient;
  const data = JSON.stringify(dagJson({ id: '8', name: 'Unit scale out', state: 'SUCCEED', end: 30 }));
  /** The raw envelope before the data, so a test can set its fields and their order. */
  let head = '';
  let trace = 0;
  beforeAll(async () => {
    fake = await startFakeAgent({ password: 'pw' });
    fake.route(maintainPath, (_req, res: ServerResponse) => {
      trace += 1;
      const text = `{${head.replaceAll('TRACE', `trace-${trace}`)}"data":${data}}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
    client = createObshellClient({ urls: [fake.url], password: () => 'pw', timeoutMs: 3000 });
  });
  afterAll(async () => {
    client.close();
    await fake.close();
  });
  const okHead = '"successful":true,"timestamp":"t","duration":1,"status":200,"traceId":"TRACE",';
  /** The strings JSON.parse saw during one poll that hold the DAG (its name is in the data only). */
  const dataParsesDuring = async (): Promise<{ outcome: TaskOutcome; dataParses: number }> => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const outcome = await client.fetchLastMaintenanceTask();
      const dataParses = parse.mock.calls.filter(([text]) => text.includes('Unit scale out')).length;
      return { outcome, dataParses };
    } finally {
      parse.mockRestore();
    }
  };

  it('parses only the envelope when the data bytes are those of the last poll', async () => {
    head = okHead;
    const first = await dataParsesDuring();
    const second = await dataParsesDuring();
    expect(first.dataParses).toBe(1);
    expect(second.dataParses).toBe(0);
    expect(second.outcome).toMatchObject({ kind: 'ok', traceId: `trace-${trace}` });
    if (first.outcome.kind !== 'ok' || second.outcome.kind !== 'ok') throw new Error('expected ok');
    expect(second.outcome.dag).toBe(first.outcome.dag);
  });

  it('still fails a poll whose envelope says unsuccessful around the same data', async () => {
    head = okHead;
    await dataParsesDuring();
    head = '"successful":false,"status":200,"traceId":"TRACE","error":{"errCode":"Some.Error"},';
    const { outcome } = await dataParsesDuring();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'api', errCode: 'Some.Error' });
  });

  it('decodes the whole answer when a nested "data": key comes first, with the same result', async () => {
    head = okHead;
    const before = await dataParsesDuring();
    head = `"meta":{"data":1},${okHead}`;
    const after = await dataParsesDuring();
    expect(after.dataParses).toBe(1);
    expect(after.outcome).toMatchObject({ kind: 'ok', traceId: `trace-${trace}` });
    if (before.outcome.kind !== 'ok' || after.outcome.kind !== 'ok') throw new Error('expected ok');
    expect(after.outcome.dag).toEqual(before.outcome.dag);
  });
});

describe('tracker: the mapping of the same finished DAG is reused, and only then', () => {
  const tracker = () => new TargetTracker('c1', { watchedSince: 0, rules: [], limits: defaultLimits });
  const at = (startedAt: number) => ({ startedAt, durationSeconds: 0.1 });

  it('keeps the task gauges of a finished task for the same DAG object, and only then', () => {
    const t = tracker();
    const outcome = ok(dagJson({ id: '1', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    const first = t.apply(outcome, at(1000));
    const second = t.apply(outcome, at(1015));
    expect(first.sameTask).toBeUndefined();
    expect(first.series.taskState).toHaveLength(5);
    expect(second.sameTask).toBe(true);
    expect(second.series.taskState).toBeUndefined();
    expect(second.series.lastPollSuccess).toEqual([{ labels: { target: 'c1' }, value: 1015 }]);
  });

  it('exports the kept task gauges with the new poll gauges', async () => {
    const h = createHarness();
    const outcome = ok(dagJson({ id: '1', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    h.poll('c1', { outcome, at: 60 });
    const before = await h.render();
    h.poll('c1', { outcome, at: 75 });
    const after = await h.render();
    // The task gauges; the histogram's event, held until a scrape saw it at zero, shows now.
    const taskLines = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('obshell_maintenance_') && !/_(bucket|sum|count|total)\{/.test(l));
    expect(taskLines(after)).toEqual(taskLines(before));
    expect(after).toContain(`obshell_exporter_last_poll_success_timestamp_seconds{target="c1"} ${base + 75}`);
    const count =
      'obshell_maintenance_task_duration_seconds_count{target="c1",task_type="Cluster scale out",result="succeeded"}';
    expect(
      [before, after].map((text) => text.includes(`${count} 0`) && !text.includes(`${count} 1`)),
    ).toEqual([true, false]);
    expect(after).toContain(`${count} 1`);
  });

  it('maps again after a failed poll, which withdrew the task gauges', async () => {
    const h = createHarness();
    const outcome = ok(dagJson({ id: '1', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    h.poll('c1', { outcome, at: 60 });
    h.poll('c1', {
      outcome: { kind: 'failure', reason: 'timeout', message: 'timed out', agent: agent.address },
      at: 75,
    });
    expect(await h.render()).not.toContain('obshell_maintenance_task_state{');
    h.poll('c1', { outcome, at: 90 });
    expect(await h.render()).toContain('obshell_maintenance_task_state{target="c1",task_id="1"');
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
    t.configure([{ pattern: /scale out/, taskType: 'scale-out' }]);
    const after = t.apply(outcome, at(3015));
    expect(before.observations?.taskType).toBe('Cluster scale out');
    expect(after.observations?.taskType).toBe('scale-out');
    expect(after.series.taskState?.[0]?.labels['task_type']).toBe('scale-out');
  });

  it('forgets the mapping after a poll without a task', () => {
    const t = tracker();
    const outcome = ok(dagJson({ id: '4', name: 'Cluster scale out', state: 'SUCCEED', end: 30 }));
    t.apply(outcome, at(4000));
    expect(t.apply({ kind: 'no_task', agent }, at(4015)).series.taskPresent).toEqual([
      { labels: { target: 'c1' }, value: 0 },
    ]);
    expect(t.apply(outcome, at(4030)).sameTask).toBeUndefined();
  });
});
