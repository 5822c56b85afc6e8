import { generateKeyPairSync } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createObshellClient,
  maintenanceTaskPath,
  type ObshellClientOptions,
} from '../src/obshell/client.js';
import { reuseOrSign } from '../src/obshell/auth.js';
import { retryBaseDelayMs, retryLimit } from '../src/obshell/transport.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import {
  decryptHeader,
  refusedPort,
  send,
  sendError,
  seedAgent,
  seedDag,
  type FakeAgent,
  type FakeAgentOptions,
} from './helpers/obshell-client-server.js';
import { canary } from './helpers/canary.js';

const taskRoute = '/api/v1/task/dag/maintain/ob';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const agentWith = (options: FakeAgentOptions = {}): Promise<FakeAgent> => seedAgent(cleanups, options);

function clientFor(urls: string[], options: Partial<ObshellClientOptions> = {}) {
  const client = createObshellClient({ urls, password: () => canary.root, timeoutMs: 2000, ...options });
  cleanups.push(() => {
    client.close();
  });
  return client;
}

function failureOf(outcome: TaskOutcome) {
  if (outcome.kind !== 'failure') throw new Error(`expected a failure, got ${outcome.kind}`);
  return outcome;
}

describe('obshell client: auth v2 against a real socket', () => {
  it.each([512, 1024] as const)('polls the seed DAG with a %i-bit key', async (keyBits) => {
    const agent = await agentWith({ keyBits });
    const outcome = await clientFor([agent.url]).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'ok',
      dag: { id: '11', name: 'Cluster scale out', stage: 9, max_stage: 9, state: 'SUCCEED' },
      agent: {
        address: `127.0.0.1:${agent.port}`,
        identity: 'CLUSTER AGENT',
        version: '4.4.2.0-100000012026032301',
      },
    });
    expect(outcome.kind === 'ok' && outcome.dag.nodes).toHaveLength(9);
    expect(outcome.kind === 'ok' && outcome.traceId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('signs the exact path and query with a string Ts = now + ttl + reuse, and only the task route', async () => {
    const agent = await agentWith();
    const now = Date.now();
    const outcome = await clientFor([agent.url], {
      now: () => now,
      headerTtlSeconds: 90,
      headerReuseSeconds: 20,
    }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
    expect(agent.requests.map((r) => r.path)).toEqual(['/api/v1/info', '/api/v1/secret', taskRoute]);
    const task = agent.requests.find((r) => r.path === taskRoute)!;
    const header = decryptHeader(agent.privateKey(), task.headers['x-ocs-header'] as string);
    expect(header).toEqual({
      Auth: canary.root,
      Ts: String(Math.floor(now / 1000) + 110),
      Uri: maintenanceTaskPath,
      Keys: null,
    });
    for (const other of agent.requests.filter((r) => r.path !== taskRoute)) {
      expect(other.headers['x-ocs-header']).toBeUndefined();
      expect(other.headers['x-ocs-agent-header']).toBeUndefined();
    }
  });

  it('reuses a header while the ttl is left, and signs anew after that or for a new password', async () => {
    const agent = await agentWith();
    let now = Math.floor(Date.now() / 1000) * 1000; // the agent checks Ts against its real clock
    let password: string = canary.root;
    const client = clientFor([agent.url], { now: () => now, password: () => password });
    const poll = async (kind = 'ok'): Promise<{ value: string; ts: number }> => {
      expect((await client.fetchLastMaintenanceTask()).kind).toBe(kind);
      const value = agent.requests.filter((r) => r.path === taskRoute).at(-1)!.headers[
        'x-ocs-header'
      ] as string;
      const { Ts } = decryptHeader(agent.privateKey(), value) as { Ts: string };
      return { value, ts: Number(Ts) };
    };
    const first = await poll();
    expect(first.ts).toBe(now / 1000 + 90); // ttl 60 + reuse 30
    now += 15_000;
    expect(await poll()).toEqual(first);
    now += 15_000; // exactly the ttl left: still reused
    expect(await poll()).toEqual(first);
    now += 1_000; // 59 s left: a new signature
    const second = await poll();
    expect(second.value).not.toBe(first.value);
    expect(second.ts).toBe(now / 1000 + 90);
    password = 'rotated-password'; // the agent refuses it, but it was signed anew
    const third = await poll('failure');
    expect(third.value).not.toBe(second.value);
    expect(decryptHeader(agent.privateKey(), third.value)).toMatchObject({ Auth: 'rotated-password' });
  });

  it('signs anew each second with no reuse window', async () => {
    const agent = await agentWith();
    let now = Date.now();
    const client = clientFor([agent.url], { now: () => now, headerReuseSeconds: 0 });
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    now += 1000; // the header has 59 s left, under the ttl
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    const values = agent.requests.filter((r) => r.path === taskRoute).map((r) => r.headers['x-ocs-header']);
    expect(values).toHaveLength(2);
    expect(values[0]).not.toBe(values[1]); // PKCS#1 v1.5 padding is random: a new signature differs
  });

  it('re-fetches the key once after DecryptFailed (rotation) and then succeeds', async () => {
    const agent = await agentWith({ keyBits: 512 });
    const client = clientFor([agent.url]);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    agent.rotateKey(1024);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(agent.count('/api/v1/secret')).toBe(2);
    expect(agent.count(taskRoute)).toBe(3);
  });

  it('refuses a public key too small to carry a header, instead of looping on empty blocks', async () => {
    const agent = await agentWith();
    // PKCS#1 DER of an 88-bit modulus, e = 65537: 11 bytes, all of them PKCS#1 v1.5 padding.
    const tiny = 'MBMCDAD//////////////wIDAQAB';
    agent.route('/api/v1/secret', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          successful: true,
          status: 200,
          traceId: 'trace-of-key',
          data: { public_key: tiny },
        }),
      );
    });
    const outcome = failureOf(await clientFor([agent.url]).fetchLastMaintenanceTask());
    // The agent's trace id goes with the refusal, as with its own errors.
    expect(outcome).toMatchObject({ reason: 'parse', traceId: 'trace-of-key' });
    expect(outcome.message).toContain('RSA key of 88 bits, outside 512–8192');
    expect(agent.count(taskRoute)).toBe(0);
  });

  it("keeps an agent's error code and trace id to one bounded line (they go into log lines)", async () => {
    const agent = await agentWith();
    agent.route(taskRoute, (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          successful: false,
          status: 500,
          traceId: `t\n${'t'.repeat(100_000)}`,
          error: { errCode: `Common.Unexpected\n${'e'.repeat(100_000)}`, message: 'no' },
        }),
      );
    });
    const outcome = failureOf(await clientFor([agent.url]).fetchLastMaintenanceTask());
    expect(outcome.errCode).toMatch(/^Common\.Unexpected e+…$/);
    expect(outcome.traceId).toMatch(/^t t+…$/);
    expect(outcome.errCode?.length).toBeLessThanOrEqual(240);
    expect(outcome.traceId?.length).toBeLessThanOrEqual(240);
  });

  it('retries a persistent DecryptFailed only once, then reports auth', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, (_req, res) => {
      sendError(res, 401, 'Security.Authentication.Header.DecryptFailed', 'Decrypt http header failed', 1);
    });
    const outcome = failureOf(await clientFor([agent.url]).fetchLastMaintenanceTask());
    expect(outcome).toMatchObject({
      reason: 'auth',
      status: 401,
      errCode: 'Security.Authentication.Header.DecryptFailed',
      agent: `127.0.0.1:${agent.port}`,
    });
    expect(agent.count('/api/v1/secret')).toBe(2);
    expect(agent.count(taskRoute)).toBe(2);
  });

  it('sends an empty password to a SINGLE agent', async () => {
    const agent = await agentWith({ identity: 'SINGLE' });
    const outcome = await clientFor([agent.url]).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', agent: { identity: 'SINGLE' } });
  });

  it('uses X-OCS-Agent-Header with the agent password when one is given', async () => {
    const agent = await agentWith({ agentPassword: 'agent-pw' });
    const outcome = await clientFor([agent.url], {
      agentPassword: () => 'agent-pw',
    }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
    const task = agent.requests.find((r) => r.path === taskRoute)!;
    expect(task.headers['x-ocs-header']).toBeUndefined();
    expect(typeof task.headers['x-ocs-agent-header']).toBe('string');
  });

  it('reports a wrong password as auth with status, errCode and traceId', async () => {
    const agent = await agentWith();
    const outcome = failureOf(
      await clientFor([agent.url], { password: () => 'nope' }).fetchLastMaintenanceTask(),
    );
    expect(outcome).toMatchObject({
      reason: 'auth',
      status: 401,
      errCode: 'Security.Authentication.IncorrectOceanbasePassword',
    });
    expect(outcome.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(outcome.message).not.toContain('\n');
  });

  it('says first that no password was sent when a refusal comes to an empty one, and only then', async () => {
    const agent = await agentWith();
    const none = failureOf(await clientFor([agent.url], { password: () => '' }).fetchLastMaintenanceTask());
    expect(none).toMatchObject({
      reason: 'auth',
      errCode: 'Security.Authentication.IncorrectOceanbasePassword',
    });
    expect(none.message).toMatch(
      /^no password was sent \(none configured for this target, or an empty one\); HTTP 401 /,
    );
    const wrong = failureOf(
      await clientFor([agent.url], { password: () => 'nope' }).fetchLastMaintenanceTask(),
    );
    expect(wrong.message).toMatch(/^HTTP 401 /);
  });

  it('refuses an agent that only speaks auth v1', async () => {
    const agent = await agentWith({ supportedAuth: ['v1'], version: '4.2.2.0' });
    const outcome = failureOf(await clientFor([agent.url]).fetchLastMaintenanceTask());
    expect(outcome.reason).toBe('auth');
    expect(agent.count(taskRoute)).toBe(0);
  });
});

describe('obshell client: outcomes', () => {
  it('maps 404 Task.NotFound and legacy code 2300 to no_task', async () => {
    const agent = await agentWith({});
    delete agent.options.dag;
    const client = clientFor([agent.url]);
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'no_task',
      agent: { identity: 'CLUSTER AGENT' },
    });
    agent.route(taskRoute, (_req, res) =>
      res
        .writeHead(404)
        .end('{"successful":false,"status":404,"error":{"code":2300,"message":"task not found"}}'),
    );
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('no_task');
  });

  const cases: [string, (res: ServerResponse) => void, Record<string, unknown>][] = [
    [
      '500 Common.Unexpected → http',
      (res) => {
        sendError(res, 500, 'Common.Unexpected', 'Unexpected error');
      },
      { reason: 'http', status: 500, errCode: 'Common.Unexpected' },
    ],
    [
      'HTML 502 → http',
      (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'),
      { reason: 'http', status: 502 },
    ],
    [
      // A proxy's basic auth in front of the agents: the same fix as obshell's own refusal.
      'HTML 401 (no obshell envelope) → auth',
      (res) => res.writeHead(401, { 'content-type': 'text/html' }).end('<html>Authorization Required</html>'),
      { reason: 'auth', status: 401 },
    ],
    [
      '400 Request.Header.NotFound → auth',
      (res) => {
        sendError(res, 400, 'Request.Header.NotFound', 'not found');
      },
      { reason: 'auth', status: 400 },
    ],
    [
      'legacy 401 code 10008 → auth',
      (res) =>
        res
          .writeHead(401)
          .end('{"successful":false,"status":401,"error":{"code":10008,"message":"Unauthorized"}}'),
      { reason: 'auth', errCode: '10008' },
    ],
    [
      '200 successful:false → api',
      (res) =>
        res
          .writeHead(200)
          .end('{"successful":false,"status":200,"traceId":"abcd","error":{"errCode":"X.Y","message":"no"}}'),
      { reason: 'api', errCode: 'X.Y', traceId: 'abcd' },
    ],
    ['non-JSON 200 → parse', (res) => res.writeHead(200).end('hello'), { reason: 'parse', status: 200 }],
    [
      'envelope without successful → parse',
      (res) => res.writeHead(200).end('{"data":{}}'),
      { reason: 'parse' },
    ],
    [
      'wrong types → parse naming the field',
      (res) => {
        send(res, 200, { data: { ...seedDag, stage: 'three' } });
      },
      { reason: 'parse', message: expect.stringContaining('stage') as unknown },
    ],
    [
      'missing fields → parse',
      (res) => {
        send(res, 200, { data: { id: '1' } });
      },
      { reason: 'parse', message: expect.stringContaining('name') as unknown },
    ],
    [
      'truncated body → parse',
      (res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('{"successful":true,"da');
        setTimeout(() => res.destroy(), 20);
      },
      { reason: 'parse' },
    ],
  ];
  it.each(cases)('%s', async (_name, reply, expected) => {
    const agent = await agentWith();
    agent.route(taskRoute, (_req, res) => {
      reply(res);
    });
    const outcome = failureOf(await clientFor([agent.url]).fetchLastMaintenanceTask());
    expect(outcome).toMatchObject({ ...expected, agent: `127.0.0.1:${agent.port}` });
    expect(outcome.message.length).toBeLessThanOrEqual(240);
  });

  it('tolerates null nodes, extra fields and deep nesting without crashing', async () => {
    const agent = await agentWith();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    agent.route(taskRoute, (_req, res) =>
      res
        .writeHead(200)
        .end(
          `{"successful":true,"status":200,"data":${JSON.stringify({ ...seedDag, nodes: null, extra: 1 }).slice(0, -1)},"additional_data":${deep}}}`,
        ),
    );
    const client = clientFor([agent.url]);
    const outcome = await client.fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', dag: { nodes: [], name: 'Cluster scale out' } });
    agent.route(taskRoute, (_req, res) =>
      res.writeHead(200).end(`{"successful":true,"data":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}`),
    );
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({ kind: 'failure', reason: 'parse' });
  });
});

describe('obshell client: several agents', () => {
  it('fails over from a refused port to the next agent and sticks to it', async () => {
    const down = `http://127.0.0.1:${await refusedPort()}`;
    const agent = await agentWith();
    const client = clientFor([down, agent.url]);
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'ok',
      agent: { address: `127.0.0.1:${agent.port}` },
      // The agent passed over is named, for the log line that says the cluster lost one.
      passedOver: [{ agent: down.slice('http://'.length), reason: 'connect' }],
    });
    const sticky = await client.fetchLastMaintenanceTask();
    expect(sticky).toMatchObject({ kind: 'ok' });
    expect(sticky).not.toHaveProperty('passedOver');
    expect(agent.count('/api/v1/info')).toBe(1); // info cached, and the first agent not asked first
  });

  it.each(['Agent.OceanBase.NotHold', 'OB.Server.Process.NotExist', 'Agent.OceanBase.Useless'])(
    'fails over on 500 %s and starts the next poll with the agent that answered',
    async (errCode) => {
      const first = await agentWith();
      first.route(taskRoute, (_req, res) => {
        sendError(res, 500, errCode, 'cannot tell');
      });
      const second = await agentWith();
      const client = clientFor([first.url, second.url]);
      expect(await client.fetchLastMaintenanceTask()).toMatchObject({
        kind: 'ok',
        agent: { address: `127.0.0.1:${second.port}` },
      });
      await client.fetchLastMaintenanceTask();
      expect(first.count(taskRoute)).toBe(1);
      expect(second.count(taskRoute)).toBe(2);
    },
  );

  it('fails over on the 500 code 1002 of obshell before 4.3.1 (no OB connection there)', async () => {
    const first = await agentWith();
    first.route(taskRoute, (_req, res) => {
      send(res, 500, { error: { code: 1002, message: 'Agent is not holding OceanBase' } });
    });
    const second = await agentWith();
    expect(await clientFor([first.url, second.url]).fetchLastMaintenanceTask()).toMatchObject({
      kind: 'ok',
      agent: { address: `127.0.0.1:${second.port}` },
    });
    expect(first.count(taskRoute)).toBe(1);
  });

  it('reaches a healthy agent behind hung ones when each poll is cut before it gets there', async () => {
    const hung = [await agentWith(), await agentWith()];
    for (const agent of hung) agent.route(taskRoute, () => undefined); // never answers
    const healthy = await agentWith();
    const client = clientFor([...hung.map((a) => a.url), healthy.url], { timeoutMs: 300 });
    // The poll's budget (the poller's cut) ends it while the second hung agent is asked.
    const cut = new AbortController();
    setTimeout(() => {
      cut.abort(new Error('poll cut after 450ms'));
    }, 450);
    const first = await client.fetchLastMaintenanceTask({ signal: cut.signal });
    expect(first).toMatchObject({
      kind: 'failure',
      reason: 'timeout',
      message: 'poll cut after 450ms',
      agent: `127.0.0.1:${hung[1]?.port}`,
    });
    expect(healthy.count(taskRoute)).toBe(0);
    const next = await client.fetchLastMaintenanceTask({ signal: AbortSignal.timeout(450) });
    // The failover is named (for its log line): the two hung agents the cut poll had asked.
    expect(next).toMatchObject({
      kind: 'ok',
      agent: { address: `127.0.0.1:${healthy.port}` },
      passedOver: hung.map((a) => ({ agent: `127.0.0.1:${a.port}`, reason: 'timeout' })),
    });
    // Sticky from then on, and named once.
    expect(await client.fetchLastMaintenanceTask({ signal: AbortSignal.timeout(450) })).not.toHaveProperty(
      'passedOver',
    );
    expect(healthy.count(taskRoute)).toBe(2);
    expect(hung[0]?.count(taskRoute)).toBe(1);
  });

  it('names an agent once, and never the one that answers, however many polls were cut', async () => {
    const lone = await agentWith();
    let hang = true;
    lone.route(taskRoute, (_req, res) => {
      if (!hang) send(res, 200, { data: seedDag });
    });
    const client = clientFor([lone.url], { timeoutMs: 2000 });
    const cut = () => {
      const controller = new AbortController();
      setTimeout(() => {
        controller.abort(new Error('poll cut'));
      }, 150);
      return controller.signal;
    };
    for (let i = 0; i < 3; i++) {
      const outcome = await client.fetchLastMaintenanceTask({ signal: cut() });
      expect(outcome).toMatchObject({ kind: 'failure', reason: 'timeout', agent: `127.0.0.1:${lone.port}` });
      expect(outcome).not.toHaveProperty('passedOver');
    }
    hang = false;
    const back = await client.fetchLastMaintenanceTask();
    expect(back).toMatchObject({ kind: 'ok' });
    expect(back).not.toHaveProperty('passedOver');
  });

  it('does not fail over auth failures (they fail the same everywhere)', async () => {
    const first = await agentWith({ password: 'other' });
    const second = await agentWith();
    const outcome = failureOf(await clientFor([first.url, second.url]).fetchLastMaintenanceTask());
    expect(outcome).toMatchObject({ reason: 'auth', agent: `127.0.0.1:${first.port}` });
    expect(second.requests).toHaveLength(0);
  });

  it('returns the last failure when every agent is unreachable, each retried with backoff first', async () => {
    const [a, b] = [await refusedPort(), await refusedPort()];
    const started = performance.now();
    const outcome = failureOf(
      await clientFor([`http://127.0.0.1:${a}`, `http://127.0.0.1:${b}`]).fetchLastMaintenanceTask(),
    );
    expect(outcome).toMatchObject({
      reason: 'connect',
      errCode: 'ECONNREFUSED',
      agent: `127.0.0.1:${b}`,
      passedOver: [{ agent: `127.0.0.1:${a}`, reason: 'connect' }],
    });
    // Each agent was asked 1 + retryLimit times: a refusal comes back at once, the backoffs do not.
    // (Node 24 and later also report a retried attempt's dropped socket; that must not end the poll.)
    const backoffMs = Array.from({ length: retryLimit }, (_, i) => retryBaseDelayMs * 2 ** i);
    const sumMs = backoffMs.reduce((sum, ms) => sum + ms, 0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * sumMs - 5);
  });

  it('names agents host:port with the default port when the URL has none', async () => {
    const outcome = failureOf(
      await clientFor(['http://localhost.invalid', 'https://localhost.invalid/'], {
        timeoutMs: 1500,
      }).fetchLastMaintenanceTask(),
    );
    expect(outcome.agent).toBe('localhost.invalid:443');
    expect(outcome.reason).toBe('connect');
  });
});

describe('obshell client: info cache', () => {
  it('re-reads /api/v1/info after 10 minutes, after a failure and after the task changed', async () => {
    const agent = await agentWith();
    let now = Date.now();
    const client = clientFor([agent.url], { now: () => now });
    await client.fetchLastMaintenanceTask();
    now += 590_000;
    await client.fetchLastMaintenanceTask();
    expect(agent.count('/api/v1/info')).toBe(1);
    now += 11_000;
    await client.fetchLastMaintenanceTask();
    expect(agent.count('/api/v1/info')).toBe(2);
    // The same task in a new state (an upgrade finishing): the poll after it re-reads /info.
    agent.route(taskRoute, (_req, res) => {
      send(res, 200, { data: { ...seedDag, state: 'FAILED' } });
    });
    await client.fetchLastMaintenanceTask();
    expect(agent.count('/api/v1/info')).toBe(2);
    await client.fetchLastMaintenanceTask();
    await client.fetchLastMaintenanceTask(); // unchanged since: the cache holds again
    expect(agent.count('/api/v1/info')).toBe(3);
    agent.route(taskRoute, null);
    await client.fetchLastMaintenanceTask(); // back to SUCCEED: one more re-read, on the next poll
    await client.fetchLastMaintenanceTask();
    expect(agent.count('/api/v1/info')).toBe(4);
    agent.route(taskRoute, (_req, res) => {
      sendError(res, 500, 'Common.Unexpected', 'boom');
    });
    await client.fetchLastMaintenanceTask();
    agent.route(taskRoute, null);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(agent.count('/api/v1/info')).toBe(5);
  });
});

describe('reuseOrSign', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 512 });
  const base = {
    publicKey,
    password: 'pw',
    uri: taskRoute,
    nowSeconds: 1000,
    ttlSeconds: 60,
    reuseSeconds: 30,
  };

  it('signs for ttl + reuse and reuses only for the same URI within that span', () => {
    const first = reuseOrSign(undefined, base);
    expect(first).toMatchObject({ password: 'pw', uri: taskRoute, expiresAt: 1090 });
    expect(reuseOrSign(first, { ...base, nowSeconds: 1030.9 })).toBe(first);
    expect(reuseOrSign(first, { ...base, nowSeconds: 1031 })).not.toBe(first);
    expect(reuseOrSign(first, { ...base, uri: `${taskRoute}?x=1` })).toMatchObject({
      uri: `${taskRoute}?x=1`,
    });
  });

  it('signs anew when the clock stepped back, so no header outlives ttl + reuse from now', () => {
    const first = reuseOrSign(undefined, base);
    const after = reuseOrSign(first, { ...base, nowSeconds: 990 });
    expect(after).not.toBe(first);
    expect(after.expiresAt).toBe(1080);
  });
});
