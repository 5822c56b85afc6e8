/** Integration: the client against the project's obshell simulator, over real sockets with real auth. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSecretReader } from '../src/config/secrets.js';
import { createObshellClient, type ObshellClientOptions } from '../src/obshell/client.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import {
  scenarioNames,
  startSimulator,
  type FaultMode,
  type SimulatorOptions,
} from '../src/simulator/index.js';
import { makeTestCerts, type TestCerts } from './helpers/obshell-client-certs.js';
import { refusedPort } from './helpers/obshell-client-server.js';

const password = 'sim-root-pw';
const taskPath = '/api/v1/task/dag/maintain/ob';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions = {}) {
  const sim = await startSimulator({ port: 0, password, scenario: 'seed', ...options });
  cleanups.push(() => sim.close());
  return sim;
}

function clientFor(urls: string[], options: Partial<ObshellClientOptions> = {}) {
  const client = createObshellClient({ urls, password: () => password, timeoutMs: 3000, ...options });
  cleanups.push(() => {
    client.close();
  });
  return client;
}

function reasonOf(outcome: TaskOutcome): string {
  return outcome.kind === 'failure' ? outcome.reason : outcome.kind;
}

describe('client × simulator: auth', () => {
  it.each([512, 1024] as const)('round trip with a %i-bit key', async (keyBits) => {
    const sim = await simulator({ keyBits });
    const outcome = await clientFor([sim.url]).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', dag: { name: 'Cluster scale out', max_stage: 9 } });
    expect(outcome.kind === 'ok' && outcome.agent.address).toBe(sim.address);
  });

  it('recovers from a key rotation with exactly one more /api/v1/secret', async () => {
    const sim = await simulator({ keyBits: 512 });
    const client = clientFor([sim.url]);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    sim.rotateKey(1024);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(sim.requestCount('/api/v1/secret')).toBe(2);
  });

  it('follows a password rotation through the password callback', async () => {
    const sim = await simulator();
    let current = password;
    const client = clientFor([sim.url], { password: () => current });
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    sim.setPassword('rotated-pw');
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({ kind: 'failure', reason: 'auth' });
    current = 'rotated-pw';
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
  });

  it('a password file that disappears fails the poll as auth, naming the file, before any request', async () => {
    const sim = await simulator();
    const dir = mkdtempSync(join(tmpdir(), 'obshell-client-sim-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const file = join(dir, 'root-password');
    writeFileSync(file, `${password}\n`);
    const client = clientFor([sim.url], { password: createSecretReader({ kind: 'file', path: file }, {}) });
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    const requests = sim.requestCount(taskPath);
    rmSync(file);
    for (let i = 0; i < 2; i++) {
      const outcome = await client.fetchLastMaintenanceTask();
      expect(outcome).toMatchObject({ kind: 'failure', reason: 'auth' });
      expect(outcome.kind === 'failure' && outcome.message).toBe(
        `cannot read password file "${file}": no such file`,
      );
    }
    expect(sim.requestCount(taskPath)).toBe(requests);
    writeFileSync(file, password);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
  });

  it('an unset agent password variable fails the poll as auth, naming the variable', async () => {
    const sim = await simulator({ agentPassword: 'sim-agent-pw' });
    const agentPassword = createSecretReader({ kind: 'env', name: 'OBSHELL_AGENT_PASSWORD' }, {});
    const outcome = await clientFor([sim.url], { agentPassword }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      reason: 'auth',
      message: 'environment variable "OBSHELL_AGENT_PASSWORD" is not set',
    });
  });

  it('uses the agent password header when the agent has one', async () => {
    const sim = await simulator({ agentPassword: 'sim-agent-pw' });
    const outcome = await clientFor([sim.url], {
      agentPassword: () => 'sim-agent-pw',
    }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
  });

  it('uses the root@sys header with an agent that has no agent password, even when one is given', async () => {
    const sim = await simulator();
    const outcome = await clientFor([sim.url], {
      agentPassword: () => 'sim-agent-pw',
    }).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('ok');
  });

  it('sends an empty password to a SINGLE agent', async () => {
    const sim = await simulator({ identity: 'SINGLE' });
    const outcome = await clientFor([sim.url], { password: () => 'anything' }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', agent: { identity: 'SINGLE' } });
  });
});

describe('client × simulator: several agents', () => {
  it('fails over from a refused port and sticks to the agent that answered', async () => {
    const sim = await simulator();
    const client = clientFor([`http://127.0.0.1:${await refusedPort()}`, sim.url]);
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'ok',
      agent: { address: sim.address },
    });
    expect(await client.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'ok',
      agent: { address: sim.address },
    });
  });

  it.each(['not_hold', 'process_not_exist', 'useless'] as const)(
    'fails over on %s and sticks',
    async (fault) => {
      const first = await simulator({ fault });
      const second = await simulator();
      const client = clientFor([first.url, second.url]);
      expect(await client.fetchLastMaintenanceTask()).toMatchObject({
        kind: 'ok',
        agent: { address: second.address },
      });
      const asked = first.requestCount(taskPath);
      expect(asked).toBeGreaterThan(0);
      await client.fetchLastMaintenanceTask();
      expect(first.requestCount(taskPath)).toBe(asked);
    },
  );
});

describe('client × simulator: every fault is classified', () => {
  const expected: [FaultMode, string][] = [
    ['unexpected_500', 'http'],
    ['not_hold', 'http'],
    ['process_not_exist', 'http'],
    ['useless', 'http'],
    ['html_502', 'http'],
    ['api_unsuccessful', 'api'],
    ['non_json', 'parse'],
    ['truncated', 'parse'],
    ['wrong_types', 'parse'],
    ['missing_fields', 'parse'],
    ['extra_fields', 'ok'],
    ['null_nodes', 'ok'],
    ['reset', 'connect'],
    ['wrong_password', 'auth'],
  ];
  it.each(expected)('%s → %s', async (fault, reason) => {
    const sim = await simulator({ fault });
    const outcome = await clientFor([sim.url]).fetchLastMaintenanceTask();
    expect(reasonOf(outcome)).toBe(reason);
    if (outcome.kind === 'failure') expect(outcome.agent).toBe(sim.address);
  });

  it('deep nesting never crashes the client', async () => {
    const sim = await simulator({ fault: 'deep_nesting' });
    const outcome = await clientFor([sim.url]).fetchLastMaintenanceTask();
    expect(['ok', 'parse']).toContain(reasonOf(outcome));
  });

  it('a huge answer is cut off at the cap', async () => {
    const sim = await simulator({ fault: 'huge' });
    const outcome = await clientFor([sim.url], { maxResponseBytes: 1024 * 1024 }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      message: expect.stringContaining('too large') as unknown,
    });
  });

  it.each(['slow', 'slowloris'] as const)('%s → timeout within the 300 ms budget', async (fault) => {
    const sim = await simulator({ fault, slowMs: 5000 });
    const started = Date.now();
    const outcome = await clientFor([sim.url], { timeoutMs: 300 }).fetchLastMaintenanceTask();
    expect(reasonOf(outcome)).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('client × simulator: scenarios', () => {
  const names: Record<string, RegExp> = {
    tenant: /^Create tenant /,
    upgrade: /^OB rolling upgrade /,
    'scale-in': /^Cluster scale in$/,
  };
  // 'none' never had a task; 'lifecycle' opens with the 404 period before its first task.
  const noTask = new Set(['none', 'lifecycle']);
  it.each(scenarioNames)('scenario %s parses', async (scenario) => {
    const sim = await simulator({ scenario });
    const outcome = await clientFor([sim.url]).fetchLastMaintenanceTask();
    expect(outcome.kind).toBe(noTask.has(scenario) ? 'no_task' : 'ok');
    if (outcome.kind === 'ok') {
      expect(outcome.dag.name).toMatch(names[scenario] ?? /^Cluster scale out$/);
      expect(outcome.dag.max_stage).toBe(outcome.dag.nodes.length);
      expect(outcome.agent).toMatchObject({ address: sim.address, identity: 'CLUSTER AGENT' });
    }
  });
});

describe('client × simulator: legacy errors and flapping', () => {
  it('reads pre-4.3.1 error objects: code 2300 → no_task, code 10008 → auth', async () => {
    const none = await simulator({ scenario: 'none', fault: 'old_errors' });
    expect((await clientFor([none.url]).fetchLastMaintenanceTask()).kind).toBe('no_task');
    const seed = await simulator({ fault: 'old_errors' });
    const outcome = await clientFor([seed.url], { password: () => 'wrong-pw' }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'auth', status: 401, errCode: '10008' });
  });

  it('recovers from a key rotation on an agent that answers every auth failure with code 10008', async () => {
    const sim = await simulator({ keyBits: 512, fault: 'old_errors' });
    const client = clientFor([sim.url]);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    sim.rotateKey(1024);
    expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(sim.requestCount('/api/v1/secret')).toBe(2);
    // A wrong password there looks the same: its key, a fresh key and one retry, then auth.
    const wrong = clientFor([sim.url], { password: () => 'wrong-pw' });
    expect(await wrong.fetchLastMaintenanceTask()).toMatchObject({ kind: 'failure', reason: 'auth' });
    expect(sim.requestCount('/api/v1/secret')).toBe(4);
  });

  it('a flapping agent alternates between ok and http, each poll classified on its own', async () => {
    const sim = await simulator({ fault: 'flap' });
    const client = clientFor([sim.url]);
    const kinds: string[] = [];
    for (let i = 0; i < 4; i++) kinds.push(reasonOf(await client.fetchLastMaintenanceTask()));
    expect(new Set(kinds)).toEqual(new Set(['ok', 'http']));
  });

  it('keeps server messages readable when the password is a short common string', async () => {
    const sim = await simulator({ password: 'p', fault: 'unexpected_500' });
    const outcome = await clientFor([sim.url], { password: () => 'p' }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      message: expect.stringContaining('Unexpected error') as unknown,
    });
  });
});

describe('client × simulator: transports', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => {
    certs.cleanup();
  });

  it('polls over the unix socket with no auth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obshell-client-sim-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const socketPath = join(dir, 'obshell.sock');
    const sim = await simulator({ socketPath });
    // The socket takes no auth: a password that cannot be read does not matter.
    const unreadable = createSecretReader({ kind: 'file', path: join(dir, 'missing') }, {});
    const outcome = await clientFor([], { socketPath, password: unreadable }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'ok', agent: { address: socketPath } });
    expect(sim.requestCount('/api/v1/secret')).toBe(0);
  });

  it('https with the CA file, and mTLS with a client certificate', async () => {
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca };
    const plain = await simulator({ tls });
    const ok = await clientFor([plain.url], { tls: { caFile: certs.caFile } }).fetchLastMaintenanceTask();
    expect(ok.kind).toBe('ok');
    const mutual = await simulator({ tls: { ...tls, requireClientCert: true } });
    const withCert = clientFor([mutual.url], {
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
    });
    expect((await withCert.fetchLastMaintenanceTask()).kind).toBe('ok');
    const wrongCa = await clientFor([plain.url], {
      tls: { caFile: certs.otherCaFile },
    }).fetchLastMaintenanceTask();
    expect(reasonOf(wrongCa)).toBe('tls');
  });

  it('a client certificate that is not PEM is a tls failure, not connect', async () => {
    const sim = await simulator({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca } });
    const notPem = join(certs.dir, 'not-pem.crt');
    writeFileSync(notPem, 'not a certificate\n');
    const outcome = await clientFor([sim.url], {
      tls: { caFile: certs.caFile, certFile: notPem, keyFile: certs.clientKeyFile },
    }).fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'tls', errCode: 'ERR_OSSL_PEM_NO_START_LINE' });
  });
});
