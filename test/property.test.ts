/**
 * Property-based hardening (issue 5 §2): whatever obshell answers, the client returns a
 * classified outcome and never throws; whatever strings obshell puts in names and logs, the
 * exposition parses back strictly, label values stay bounded and cardinality stays capped.
 */
import fc from 'fast-check';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overflowLabelValue } from '../src/metrics/label-limiter.js';
import { createObshellClient, type ObshellClient } from '../src/obshell/client.js';
import { failureReasons, type AgentIdentity, type TaskOutcome } from '../src/obshell/outcome.js';
import { dagSchema, type DagJson } from '../src/obshell/schema.js';
import type { Limits } from '../src/target.js';
import { dagJson } from './helpers/dag-builder.js';
import { parseExposition, promtoolCheck, type ParsedExposition } from './helpers/hardening-exposition.js';
import { startFakeAgent, type FakeAgent } from './helpers/obshell-client-server.js';
import { agent, createHarness } from './helpers/render.js';

const maintainPath = '/api/v1/task/dag/maintain/ob';
const statuses = [200, 201, 204, 400, 401, 403, 404, 500, 502, 503] as const;

/** The client's contract: one of three kinds, a known reason, a bounded one-line message. */
function expectClassified(outcome: TaskOutcome): void {
  expect(['ok', 'no_task', 'failure']).toContain(outcome.kind);
  if (outcome.kind !== 'failure') return;
  expect(failureReasons).toContain(outcome.reason);
  expect(typeof outcome.message).toBe('string');
  expect(outcome.message).not.toMatch(/[\r\n]/);
  expect(outcome.message.length).toBeLessThanOrEqual(240);
}

/** The exposition after this outcome is valid, and an `ok` outcome shows its task. */
async function expectValidExposition(outcome: TaskOutcome): Promise<ParsedExposition> {
  const h = createHarness();
  h.poll('t', { outcome });
  const parsed = parseExposition(await h.render());
  const infos = parsed.samples.filter((s) => s.name === 'obshell_maintenance_task_info');
  expect(infos).toHaveLength(outcome.kind === 'ok' ? 1 : 0);
  return parsed;
}

describe('any JSON answer from obshell (real sockets)', () => {
  let fake: FakeAgent;
  let client: ObshellClient;
  const reply = { status: 200, body: '' };

  beforeAll(async () => {
    fake = await startFakeAgent({ password: 'pw' });
    fake.route(maintainPath, (_req, res: ServerResponse) => {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    client = createObshellClient({ urls: [fake.url], password: () => 'pw', timeoutMs: 3000 });
  });
  afterAll(async () => {
    client.close();
    await fake.close();
  });

  const serve = async (status: number, body: string): Promise<TaskOutcome> => {
    reply.status = status;
    reply.body = body;
    return client.fetchLastMaintenanceTask();
  };

  it('any JSON value as the whole body, with any status: classified, never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...statuses), fc.jsonValue(), async (status, value) => {
        const outcome = await serve(status, JSON.stringify(value));
        expectClassified(outcome);
        // Only a real envelope can be a success.
        if (outcome.kind !== 'failure')
          expect(value).toMatchObject({ successful: expect.any(Boolean) as unknown });
        await expectValidExposition(outcome);
      }),
      { numRuns: 120 },
    );
  });

  it('any JSON value as `data` (and as `error`) of an envelope: classified, never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...statuses),
        fc.boolean(),
        fc.jsonValue(),
        fc.option(fc.jsonValue(), { nil: undefined }),
        async (status, successful, data, error) => {
          const envelope = {
            successful,
            status,
            traceId: 'abc',
            data,
            ...(error !== undefined && { error }),
          };
          const outcome = await serve(status, JSON.stringify(envelope));
          expectClassified(outcome);
          if (outcome.kind === 'ok') expect(successful).toBe(true);
          await expectValidExposition(outcome);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('a real DAG with any field replaced by any JSON value: ok only if it still fits, exposition valid', async () => {
    const real = dagJson({
      state: 'RUNNING',
      nodes: [
        { name: 'Prepare', state: 'SUCCEED', start: 0, end: 5 },
        { name: 'Start observer', state: 'RUNNING', start: 5 },
      ],
    }) as Record<string, unknown>;
    const keys = Object.keys(real);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...keys, 'extra', 'nodes'), fc.jsonValue(), { maxKeys: 3 }),
        async (overrides) => {
          const data = { ...real, ...overrides };
          const outcome = await serve(200, JSON.stringify({ successful: true, status: 200, data }));
          expectClassified(outcome);
          expect(outcome.kind === 'ok').toBe(dagSchema.safeParse(data).success);
          await expectValidExposition(outcome);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('arbitrary bytes as the body: classified, never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...statuses),
        fc.uint8Array({ maxLength: 2000 }),
        async (status, bytes) => {
          expectClassified(await serve(status, Buffer.from(bytes).toString('latin1')));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('any JSON value from /api/v1/info and /api/v1/secret: classified, never thrown', async () => {
    const dag = dagJson({ state: 'RUNNING', nodes: [{ name: 'Prepare', state: 'RUNNING', start: 0 }] });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/api/v1/info', '/api/v1/secret'),
        fc.constantFrom(200, 404, 500),
        fc.jsonValue(),
        async (path, status, data) => {
          reply.status = 200;
          reply.body = JSON.stringify({ successful: true, status: 200, data: dag });
          fake.route(path, (_req, res) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ successful: status === 200, status, data }));
          });
          // A fresh client: nothing cached from an earlier run.
          const fresh = createObshellClient({ urls: [fake.url], password: () => 'pw', timeoutMs: 3000 });
          try {
            const outcome = await fresh.fetchLastMaintenanceTask();
            expectClassified(outcome);
            await expectValidExposition(outcome);
          } finally {
            fresh.close();
            fake.route(path, null);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** Hostile text: any UTF-16 unit (lone surrogates too), quotes, backslashes, newlines, Chinese, 10 kB. */
const hostile = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 3,
    arbitrary: fc.string({
      unit: fc.constantFrom(
        '"',
        '\\',
        '\n',
        '\r',
        '\t',
        '\u0000',
        '\u001b',
        '{',
        '}',
        '=',
        ',',
        '扩容',
        '集群',
        'a',
      ),
      maxLength: 30,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      maxLength: 30,
    }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 9000, maxLength: 10_000 }) },
);

const limits: Limits = { maxTaskTypes: 4, maxNodes: 10, maxLabelLength: 40 };
const nodeStates = ['SUCCEED', 'FAILED', 'RUNNING', 'PENDING'] as const;

type HostileTask = {
  id: string;
  name: string;
  key: string;
  nodes: { name: string; agent: string; log: string }[];
};

const hostileTask = fc.record({
  id: fc.oneof(fc.integer({ min: 1, max: 1e9 }).map(String), hostile),
  name: hostile,
  key: hostile,
  nodes: fc.array(fc.record({ name: hostile, agent: hostile, log: hostile }), { minLength: 1, maxLength: 6 }),
});

function hostileDag(task: HostileTask): DagJson {
  const json = dagJson({
    id: task.id,
    name: task.name,
    maintenanceKey: task.key,
    maintenanceType: 3,
    state: 'RUNNING',
    nodes: task.nodes.map((n, i) => ({
      name: n.name,
      state: nodeStates[i % nodeStates.length] ?? 'RUNNING',
      start: i * 10,
      end: i * 10 + 5,
      agents: [n.agent],
    })),
  });
  (json.nodes ?? []).forEach((node, i) => {
    for (const sub of node.sub_tasks ?? []) sub.task_logs = [task.nodes[i]?.log ?? '', 'INFO "quoted" \\ \n'];
  });
  return json;
}

const codePoints = (s: string) => Array.from(s).length;

/** Label values that come from obshell, not from the configuration or from numbers. */
const boundedLabels = ['task_name', 'task_type', 'maintenance_key', 'node', 'agent', 'version', 'identity'];

describe('hostile names and logs (harness, no sockets)', () => {
  it('keeps the exposition valid, label values bounded and cardinality capped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileTask, { minLength: 1, maxLength: 6 }),
        hostile,
        hostile,
        async (tasks, version, identity) => {
          const h = createHarness({ limits });
          const who: AgentIdentity = { ...agent, version, identity };
          tasks.forEach((task, i) => {
            // Ids made distinct, so every poll is a new task (the worst case for cardinality).
            const dag = dagSchema.parse(hostileDag({ ...task, id: `${i}-${task.id}` }));
            h.poll('t', { outcome: { kind: 'ok', dag, agent: who }, at: 60 + i * 30 });
          });
          const parsed = parseExposition(await h.render());
          const distinct = (label: string) =>
            new Set(parsed.samples.flatMap((s) => (s.labels[label] === undefined ? [] : [s.labels[label]])));
          for (const s of parsed.samples) {
            for (const label of boundedLabels) {
              const value = s.labels[label];
              if (value !== undefined)
                expect(codePoints(value), `${s.name}.${label}`).toBeLessThanOrEqual(40);
            }
          }
          expect(distinct('task_type').size).toBeLessThanOrEqual(limits.maxTaskTypes + 1);
          expect(distinct('node').size).toBeLessThanOrEqual(limits.maxNodes + 1);
          const overflowed = [...distinct('node')].includes(overflowLabelValue);
          if (!overflowed) expect(distinct('node').size).toBeLessThanOrEqual(limits.maxNodes);
          // Only the current task is shown, whatever came before.
          expect(parsed.samples.filter((s) => s.name === 'obshell_maintenance_task_info')).toHaveLength(1);
          const last = tasks.length - 1;
          const nodeSeries = parsed.samples.filter((s) => s.name === 'obshell_maintenance_node_state');
          expect(nodeSeries).toHaveLength((tasks[last]?.nodes.length ?? 0) * 5);
        },
      ),
      { numRuns: 60, endOnFailure: true },
    );
  });

  // task_id comes from obshell too: a 10 kB id must not make a 10 kB label value.
  it('task ids are label values too: bounded like names', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, async (id) => {
        const h = createHarness({ limits });
        const dag = dagSchema.parse(
          hostileDag({ id, name: 'n', key: 'k', nodes: [{ name: 'a', agent: 'b', log: '' }] }),
        );
        h.poll('t', { outcome: { kind: 'ok', dag, agent } });
        const parsed = parseExposition(await h.render());
        for (const s of parsed.samples) {
          const value = s.labels['task_id'];
          if (value !== undefined) expect(codePoints(value)).toBeLessThanOrEqual(limits.maxLabelLength);
        }
      }),
      { numRuns: 40, endOnFailure: true },
    );
  });

  it('promtool accepts samples of hostile expositions', async () => {
    const samples = fc.sample(fc.tuple(fc.array(hostileTask, { minLength: 1, maxLength: 3 }), hostile), {
      numRuns: 6,
      seed: 42,
    });
    for (const [tasks, version] of samples) {
      const h = createHarness({ limits });
      tasks.forEach((task, i) => {
        const dag = dagSchema.parse(hostileDag({ ...task, id: `${i}-${task.id}` }));
        h.poll('t', { outcome: { kind: 'ok', dag, agent: { ...agent, version } }, at: 60 + i * 30 });
      });
      expect(promtoolCheck(await h.render())).toEqual({ status: 0, output: '' });
    }
  });
});
