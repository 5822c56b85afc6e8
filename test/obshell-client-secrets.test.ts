import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import got from 'got';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { createObshellClient } from '../src/obshell/client.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import {
  refusedPort,
  send,
  sendError,
  startFakeAgent,
  type FakeAgent,
} from './helpers/obshell-client-server.js';

// Distinctive values that must never show up in an outcome or an error.
const canary = 'Canary-Pw-7f3a9c2e';
const agentCanary = 'Agent-Canary-51d0b8';
// Longer than any cut of a quoted value: only a whole secret can be scrubbed.
const longCanary = `Long-Canary-${'9f3b'.repeat(20)}`;
const taskRoute = '/api/v1/task/dag/maintain/ob';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Every header value the agents received, plus the passwords: none may leak. */
function secretsSeen(agents: FakeAgent[]): string[] {
  const headers = agents.flatMap((a) =>
    a.requests.flatMap((r) => [r.headers['x-ocs-header'], r.headers['x-ocs-agent-header']]),
  );
  const passwords = [canary, agentCanary].flatMap((pw) => [pw, Buffer.from(pw).toString('base64')]);
  return [
    ...passwords,
    longCanary.slice(0, 24),
    ...headers.filter((h): h is string => typeof h === 'string'),
  ];
}

function expectClean(outcome: TaskOutcome, secrets: string[]): void {
  const text = JSON.stringify(outcome);
  for (const secret of secrets) expect(text).not.toContain(secret);
  // base64 chunks of a header would also be a leak: no long base64 runs in messages
  if (outcome.kind === 'failure') expect(outcome.message).not.toMatch(/[A-Za-z0-9+/]{60,}/);
}

/** A raw JSON answer, envelope fields as given (the fake agent's `send` fills them in). */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const runningDag = {
  id: '11',
  name: 'Cluster scale out',
  stage: 1,
  max_stage: 1,
  state: 'RUNNING',
  operator: 'RUN',
  start_time: '2026-05-12T09:58:10+08:00',
  end_time: '2026-05-12T09:58:10+08:00',
  nodes: [],
};

const faults: [string, (res: ServerResponse, req: IncomingMessage) => void][] = [
  [
    'wrong password',
    (res) => {
      sendError(res, 401, 'Security.Authentication.IncorrectOceanbasePassword', 'bad');
    },
  ],
  [
    'server echoes the password',
    (res) => {
      sendError(res, 500, 'Common.Unexpected', `login as root with ${canary} failed`);
    },
  ],
  [
    'api failure echoing it',
    (res) => res.writeHead(200).end(JSON.stringify({ successful: false, error: { message: canary } })),
  ],
  [
    'server echoes it in its error code and trace id',
    (res) => {
      sendJson(res, 401, {
        successful: false,
        status: 401,
        traceId: `trace-${canary}`,
        error: { errCode: `Security.Incorrect(${canary})`, message: 'no' },
      });
    },
  ],
  [
    'server echoes it URL-encoded and in base64',
    (res) => {
      // The root password: an agent echoes only what it was sent, and it is sent in every poll.
      const forms = [encodeURIComponent, (pw: string) => Buffer.from(pw).toString('base64')].map((f) =>
        f(canary),
      );
      sendError(res, 500, 'Common.Unexpected', `login failed: ${forms.join(' ')}`);
    },
  ],
  [
    'server echoes the auth header it was sent (replayable until its Ts)',
    (res, req) => {
      const sent = req.headers['x-ocs-agent-header'] ?? req.headers['x-ocs-header'];
      expect(sent).toBeTypeOf('string');
      sendError(res, 500, 'Common.Unexpected', `cannot use header ${String(sent)}`);
    },
  ],
  [
    'a 200 answer whose DAG fails the check, echoing it in a time field and the trace id',
    (res) => {
      sendJson(res, 200, {
        successful: true,
        status: 200,
        traceId: `echo-${canary}`,
        data: { ...runningDag, start_time: canary, end_time: `2026-05-12 ${longCanary}` },
      });
    },
  ],
  ['non-JSON', (res) => res.writeHead(200).end(`not json ${'x'.repeat(10)}`)],
  [
    'schema violation',
    (res) => {
      send(res, 200, { data: { id: 1 } });
    },
  ],
  ['reset', (res) => res.socket?.destroy()],
];

describe('obshell client: no secrets in outcomes', () => {
  it.each(faults)('%s', async (_name, reply) => {
    const agent = await startFakeAgent({ password: canary, agentPassword: agentCanary });
    cleanups.push(() => agent.close());
    agent.route(taskRoute, (req, res) => {
      reply(res, req);
    });
    for (const agentPassword of [undefined, agentCanary]) {
      const client = createObshellClient({
        urls: [agent.url],
        password: () => canary,
        agentPassword: () => agentPassword,
        timeoutMs: 2000,
      });
      cleanups.push(() => {
        client.close();
      });
      const outcome = await client.fetchLastMaintenanceTask();
      expect(outcome.kind).toBe('failure');
      expectClean(outcome, secretsSeen([agent]));
    }
    expect(agent.count(taskRoute)).toBeGreaterThan(0); // headers were really sent and checked
  });

  it("keeps an agent's trace id to one short line and free of secrets on every failure path", async () => {
    const agent = await startFakeAgent({ password: canary });
    cleanups.push(() => agent.close());
    const huge = `${canary}-${'x'.repeat(2_000_000)}`;
    const answer = (data: unknown) => (_req: unknown, res: ServerResponse) => {
      sendJson(res, 200, { successful: true, status: 200, traceId: huge, data });
    };
    const client = createObshellClient({ urls: [agent.url], password: () => canary, timeoutMs: 5000 });
    cleanups.push(() => {
      client.close();
    });
    // The task's DAG fails the check; then the key route answers no key.
    agent.route(taskRoute, answer({ ...runningDag, nodes: 'none' }));
    const outcomes = [await client.fetchLastMaintenanceTask()];
    agent.route('/api/v1/secret', answer({ public_key: 7 }));
    agent.route(taskRoute, answer(runningDag));
    const fresh = createObshellClient({ urls: [agent.url], password: () => canary, timeoutMs: 5000 });
    cleanups.push(() => {
      fresh.close();
    });
    outcomes.push(await fresh.fetchLastMaintenanceTask());
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ kind: 'failure', reason: 'parse' });
      const { traceId } = outcome as { traceId?: string };
      expect(traceId?.length).toBeLessThanOrEqual(240);
      expect(traceId).toMatch(/^\[redacted\]-x+…$/);
      expectClean(outcome, [canary]);
    }
  });

  it('keeps secrets out of transport failures and thrown configuration errors', async () => {
    const port = await refusedPort();
    const client = createObshellClient({ urls: [`http://127.0.0.1:${port}`], password: () => canary });
    cleanups.push(() => {
      client.close();
    });
    expectClean(await client.fetchLastMaintenanceTask(), [canary]);
    for (const build of [
      () => createObshellClient({ urls: ['not a url'], password: () => canary }),
      () => createObshellClient({ urls: [], password: () => canary }),
      () => createObshellClient({ urls: ['ftp://h'], password: () => canary, tls: { keyFile: '/no/key' } }),
    ]) {
      expect(build).toThrow();
      try {
        build();
      } catch (error) {
        expect(String(error)).not.toContain(canary);
      }
    }
  });
});

describe('logger: errors are logged without what they carry', () => {
  it("keeps a got error's request headers out of the log line", async () => {
    const port = await refusedPort();
    const header = `${canary}-as-a-header`;
    const error = await got(`http://127.0.0.1:${port}/`, {
      headers: { 'X-OCS-Header': header, authorization: `Basic ${canary}` },
      retry: { limit: 0 },
    }).catch((e: unknown) => e);
    // The leak this guards against: got's errors carry the request options, headers included.
    expect(JSON.stringify((error as { options: unknown }).options)).toContain(header);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', format: 'json' }, stream);
    logger.error({ err: error, error }, 'poll failed unexpectedly');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(canary);
    const logged = JSON.parse(lines[0] ?? '{}') as { err: { type: string; message: string; code: string } };
    expect(logged.err).toMatchObject({ type: 'RequestError', code: 'ECONNREFUSED' });
    expect(logged.err.message).toContain('ECONNREFUSED');
  });
});
