import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createObshellClient,
  defaultHeaderTtlSeconds,
  type ObshellClientOptions,
} from '../src/obshell/client.js';
import { makeTestCerts, type TestCerts } from './helpers/obshell-client-certs.js';
import {
  decryptHeader,
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

function clientFor(options: Partial<ObshellClientOptions> & { urls: readonly string[] }) {
  const client = createObshellClient({ password: () => canary.root, timeoutMs: 2000, ...options });
  cleanups.push(() => {
    client.close();
  });
  return client;
}

describe('obshell client: time budget and retries (real sockets)', () => {
  it('classifies a server that never answers as timeout within the budget', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, () => undefined); // hold the request open
    const started = Date.now();
    const outcome = await clientFor({ urls: [agent.url], timeoutMs: 300 }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'timeout', agent: `127.0.0.1:${agent.port}` });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(agent.count(taskRoute)).toBe(1); // timeouts are not retried
  });

  it('bounds a slowloris body (bytes trickling in) by the same budget', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => {
        clearInterval(timer);
      });
    });
    const started = Date.now();
    const outcome = await clientFor({ urls: [agent.url], timeoutMs: 300 }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('keeps each client to its own budget while clients of other budgets share the HTTP layer', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, () => undefined); // hold every request open
    const short = clientFor({ urls: [agent.url], timeoutMs: 300 });
    const long = clientFor({ urls: [agent.url], timeoutMs: 1500 });
    const started = Date.now();
    const elapsed = (p: Promise<{ kind: string }>) => p.then((o) => ({ o, ms: Date.now() - started }));
    const [a, b] = await Promise.all([
      elapsed(short.fetchLastMaintenanceTask()),
      elapsed(long.fetchLastMaintenanceTask()),
    ]);
    expect([a.o, b.o]).toMatchObject([{ reason: 'timeout' }, { reason: 'timeout' }]);
    expect(a.ms).toBeLessThan(1000);
    expect(b.ms).toBeGreaterThanOrEqual(1400);
  });

  it('retries a connection reset with a header that still has the full ttl left, and then succeeds', async () => {
    const agent = await agentWith();
    let resets = 0;
    // The first task request is reset; the retry goes to the default, verifying route.
    agent.route(taskRoute, (req) => {
      resets++;
      agent.route(taskRoute, null);
      req.socket.destroy();
    });
    const outcome = await clientFor({ urls: [agent.url] }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
    expect(resets).toBe(1);
    const sent = agent.requests.filter((r) => r.path === taskRoute);
    expect(sent).toHaveLength(2);
    for (const { headers } of sent) {
      const { Ts } = decryptHeader(agent.privateKey(), headers['x-ocs-header'] as string) as { Ts: string };
      expect(Number(Ts) - Date.now() / 1000).toBeGreaterThanOrEqual(defaultHeaderTtlSeconds - 1);
    }
  });

  it('stops at the signal: an aborted poll is a timeout failure, fast', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, () => undefined);
    const controller = new AbortController();
    setTimeout(() => {
      controller.abort();
    }, 100);
    const started = Date.now();
    const outcome = await clientFor({ urls: [agent.url], timeoutMs: 5000 }).fetchLastMaintenanceTask({
      signal: controller.signal,
    });
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
    const already = await clientFor({ urls: [agent.url] }).fetchLastMaintenanceTask({
      signal: AbortSignal.abort(),
    });
    expect(already).toMatchObject({ kind: 'failure', reason: 'timeout' });
  });
});

describe('obshell client: response size cap', () => {
  it('cuts a streaming 50 MB answer at the cap instead of buffering it', async () => {
    const agent = await agentWith();
    let written = 0;
    let closedEarly = false;
    agent.route(taskRoute, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"successful":true,"data":"');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        while (written < 50 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('"}');
      };
      res.on('close', () => (closedEarly = written < 50 * 1024 * 1024));
      pump();
    });
    const outcome = await clientFor({
      urls: [agent.url],
      maxResponseBytes: 1024 * 1024,
    }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      message: expect.stringContaining('too large') as unknown,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closedEarly).toBe(true);
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses a declared content-length over the cap', async () => {
    const agent = await agentWith();
    agent.route(taskRoute, (_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      res.write('{');
    });
    const outcome = await clientFor({ urls: [agent.url], maxResponseBytes: 4096 }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      message: expect.stringContaining('too large') as unknown,
    });
  });

  it('accepts an answer just under the cap', async () => {
    const agent = await agentWith();
    const body = JSON.stringify({ successful: true, status: 200, data: seedDag });
    agent.route(taskRoute, (_req, res) => res.writeHead(200).end(body));
    const outcome = await clientFor({
      urls: [agent.url],
      maxResponseBytes: body.length + 1,
    }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
  });
});

describe('obshell client: bytes held across clients', () => {
  it('drops an answer that would take the shared pool past its bound, and gives back every byte', async () => {
    const agent = await agentWith();
    const body = JSON.stringify({
      successful: true,
      status: 200,
      data: { ...seedDag, padding: 'x'.repeat(300_000) },
    });
    agent.route(taskRoute, (_req, res) => res.writeHead(200).end(body));
    // Other answers being read hold 900 KiB of a 1 MiB pool.
    const pool = { used: 900 * 1024, max: 1024 * 1024 };
    const client = clientFor({ urls: [agent.url], bufferPool: pool });
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      message:
        'response too large while other answers are read (the exporter holds at most 1 MiB of answers at once)',
    });
    expect(pool.used).toBe(900 * 1024);
    // Those answers are done: the same answer is read in full, and its bytes are given back.
    pool.used = 0;
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(pool.used).toBe(0);
  });

  it('reads a small answer even while the pool is full', async () => {
    const agent = await agentWith();
    const pool = { used: 2 * 1024 * 1024, max: 1024 * 1024 };
    expect((await clientFor({ urls: [agent.url], bufferPool: pool }).fetchLastMaintenanceTask()).kind).toBe(
      'ok',
    );
    expect(pool.used).toBe(2 * 1024 * 1024);
  });
});

describe('obshell client: unix socket', () => {
  it('polls over the socket without any auth header and names the agent by its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obshell-client-sock-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const socketPath = join(dir, 'obshell.sock');
    const agent = await agentWith({ socketPath, identity: 'CLUSTER AGENT' });
    const outcome = await clientFor({ urls: [], socketPath }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'ok',
      agent: { address: socketPath, identity: 'CLUSTER AGENT' },
      dag: { name: 'Cluster scale out' },
    });
    expect(agent.requests.map((r) => r.path)).toEqual(['/api/v1/info', taskRoute]);
    expect(agent.requests.every((r) => r.headers['x-ocs-header'] === undefined)).toBe(true);
  });

  it('reports a missing socket as connect', async () => {
    const outcome = await clientFor({
      urls: [],
      socketPath: '/nonexistent/obshell.sock',
    }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'connect', agent: '/nonexistent/obshell.sock' });
  });
});

describe('obshell client: https', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => {
    certs.cleanup();
  });

  const tlsServer = (requestCert = false): HttpsServerOptions => ({
    key: certs.serverKey,
    cert: certs.serverCert,
    ca: certs.ca,
    requestCert,
    rejectUnauthorized: requestCert,
  });

  it('verifies the server with the CA file', async () => {
    const agent = await agentWith({ tls: tlsServer() });
    const outcome = await clientFor({
      urls: [agent.url],
      tls: { caFile: certs.caFile },
    }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', agent: { address: `127.0.0.1:${agent.port}` } });
  });

  it('checks the certificate against serverName', async () => {
    const agent = await agentWith({ tls: tlsServer() });
    const good = clientFor({ urls: [agent.url], tls: { caFile: certs.caFile, serverName: 'obshell.test' } });
    expect((await good.fetchLastMaintenanceTask()).kind).toBe('ok');
    const bad = clientFor({ urls: [agent.url], tls: { caFile: certs.caFile, serverName: 'other.test' } });
    expect(await bad.fetchLastMaintenanceTask()).toMatchObject({ kind: 'failure', reason: 'tls' });
  });

  it('classifies a wrong CA as tls, and insecureSkipVerify accepts it', async () => {
    const agent = await agentWith({ tls: tlsServer() });
    const wrong = clientFor({ urls: [agent.url], tls: { caFile: certs.otherCaFile } });
    expect(await wrong.fetchLastMaintenanceTask()).toMatchObject({ kind: 'failure', reason: 'tls' });
    const insecure = clientFor({ urls: [agent.url], tls: { insecureSkipVerify: true } });
    expect((await insecure.fetchLastMaintenanceTask()).kind).toBe('ok');
  });

  it('presents the client certificate for mTLS', async () => {
    const agent = await agentWith({ tls: tlsServer(true) });
    const withCert = clientFor({
      urls: [agent.url],
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
    });
    expect((await withCert.fetchLastMaintenanceTask()).kind).toBe('ok');
    const without = clientFor({ urls: [agent.url], tls: { caFile: certs.caFile } });
    const outcome = await without.fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('failure');
    expect(outcome.kind === 'failure' && ['tls', 'connect'].includes(outcome.reason)).toBe(true);
  });

  it('throws a clear error naming an unreadable TLS file', () => {
    expect(() =>
      createObshellClient({
        urls: ['https://127.0.0.1:1'],
        password: () => '',
        tls: { caFile: '/nope/ca.crt' },
      }),
    ).toThrow(/CA file \/nope\/ca\.crt/);
  });
});

describe('obshell transport: got defaults', () => {
  it('keeps got cacheOptions empty (Node 20 allocates ~17 KB of hidden classes per request otherwise) and still polls', async () => {
    const { Agent } = await import('node:http');
    const { Agent: HttpsAgent } = await import('node:https');
    const { createGot } = await import('../src/obshell/transport.js');
    const agents = { http: new Agent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    cleanups.push(() => {
      agents.http.destroy();
      agents.https.destroy();
    });
    const options = {
      timeoutMs: 1000,
      maxResponseBytes: 1 << 20,
      headerTtlSeconds: 5,
      headerReuseSeconds: 0,
      now: Date.now,
    };
    const instance = createGot({ ...options, unixSockets: false }, {}, agents);
    expect(instance.defaults.options.cacheOptions).toEqual({});
    expect(Object.keys(instance.defaults.options.cacheOptions)).toHaveLength(0);
    expect(instance.defaults.options.responseType).toBe('buffer'); // the rest of the defaults are intact
    // No per-phase timers on every request: the transport's own budget ends a request in any phase.
    expect(instance.defaults.options.timeout).toEqual({});

    const agent = await agentWith();
    const outcome = await clientFor({ urls: [agent.url] }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', dag: { name: seedDag.name } });
  });
});
