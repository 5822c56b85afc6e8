import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dagSchema } from '../src/obshell/schema.js';
import {
  defaultVersion,
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from '../src/simulator/index.js';
import { authedGet, get, getJson } from './helpers/http.js';
import { canary } from './helpers/canary.js';
import { makeCa, makeLeaf } from './helpers/certs.js';

const maintain = '/api/v1/task/dag/maintain/ob';
const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function sim(options: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ port: 0, keyBits: 512, ...options });
  started.push(s);
  return s;
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'obshell-sim-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('simulator routes', () => {
  it('serves info and status like obshell', async () => {
    const s = await sim();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.address).toBe(s.url.slice('http://'.length));
    const info = await getJson(s.url, '/api/v1/info');
    expect(info.json.data).toMatchObject({
      identity: 'CLUSTER AGENT',
      version: defaultVersion,
      security: false,
    });
    const status = await getJson(s.url, '/api/v1/status');
    expect(status.json.traceId).toBe('');
    expect(status.json.data).toMatchObject({ agent: { identity: 'CLUSTER AGENT' }, state: 2, obState: 3 });
  });

  it('answers unknown paths as gin and obshell do, and counts requests', async () => {
    const s = await sim();
    const unknown = await getJson(s.url, '/api/v1/nope?x=1');
    expect([unknown.status, unknown.json.error]).toEqual([
      404,
      { errCode: 'Common.NotFound', message: 'Element not found: 404 not found' },
    ]);
    const outside = await get(s.url, '/metrics');
    expect([outside.status, outside.body]).toEqual([404, '404 page not found']);
    await get(s.url, maintain);
    await get(s.url, `${maintain}?show_details=false`);
    expect(s.requestCount(maintain)).toBe(2);
    expect(s.requestCount('/api/v1/nope')).toBe(1);
    expect(s.requestCount()).toBe(4);
  });

  it('drops nodes and additional_data with show_details=false and rejects a bad value', async () => {
    const s = await sim({ scenario: 'seed' });
    for (const value of ['false', '0', 'F']) {
      const path = `${maintain}?show_details=${value}`;
      const { json } = await authedGet(s.url, path);
      expect(json.data, value).toMatchObject({ id: '11', nodes: null, additional_data: null });
    }
    const bad = await authedGet(s.url, `${maintain}?show_details=maybe`);
    expect([bad.status, bad.json.error?.errCode]).toEqual([400, 'Common.IllegalArgument']);
  });

  it('plays the story on its clock and restarts it with setScenario', async () => {
    let now = Date.parse('2026-05-12T10:00:00Z');
    const s = await sim({ scenario: 'lifecycle', clock: () => now, speed: 10 });
    expect((await authedGet(s.url, maintain)).json.error?.errCode).toBe('Task.NotFound');
    now += 7_000; // 70 story seconds
    const first = await authedGet(s.url, maintain);
    expect(dagSchema.parse(first.json.data)).toMatchObject({ id: '11', state: 'RUNNING' });
    s.setScenario('failed');
    expect((await authedGet(s.url, maintain)).json.data).toMatchObject({ state: 'READY', stage: 1 });
    now += 60_000;
    expect((await authedGet(s.url, maintain)).json.data).toMatchObject({ state: 'FAILED', stage: 5 });
  });

  it('close() ends idle keep-alive connections promptly', async () => {
    const s = await sim();
    await new Promise<void>((resolve, reject) => {
      const req = request(`${s.url}/api/v1/info`, { headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('simulator transports', () => {
  it('serves the same routes without auth on a unix socket', async () => {
    const socketPath = join(dir, 'obshell.sock');
    const s = await sim({ socketPath, scenario: 'seed', password: 'secret' });
    expect(s.url).toBe(`unix:${socketPath}`);
    const { status, json } = await getJson(s.url, maintain);
    expect(status).toBe(200);
    expect(dagSchema.parse(json.data).id).toBe('11');
    // A header that cannot be decrypted still fails, as obshell's global middleware does.
    expect((await get(s.url, maintain, { headers: { 'x-ocs-header': 'AAAA' } })).status).toBe(401);
  });

  it('takes over a stale socket file but never the socket of a running simulator', async () => {
    const socketPath = join(dir, 'shared.sock');
    // A socket file bound by a process that is gone: nothing answers on it (Node removes its own).
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      socketPath,
    ]);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    const first = await sim({ socketPath, scenario: 'seed' });
    expect((await getJson(first.url, maintain)).status).toBe(200);

    await expect(sim({ socketPath, scenario: 'seed' })).rejects.toThrow(
      `cannot listen on ${socketPath}: in use by a running server (or not a socket)`,
    );
    expect((await getJson(first.url, maintain)).status).toBe(200);
  });

  describe('https', () => {
    let pem: Record<'ca' | 'cert' | 'key' | 'clientCert' | 'clientKey', string>;
    beforeAll(() => {
      pem = makeCerts(dir);
    });

    it('serves https only, with auth, on the same port', async () => {
      const s = await sim({ tls: { cert: pem.cert, key: pem.key }, scenario: 'seed', password: canary.root });
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { status, json } = await authedGet(s.url, maintain, {
        password: canary.root,
        tls: { ca: pem.ca },
      });
      expect([status, json.successful]).toEqual([200, true]);
      await expect(get(s.url.replace('https:', 'http:'), '/api/v1/info')).rejects.toThrow();
    });

    it('requires a client certificate signed by the CA with requireClientCert', async () => {
      const tls = { cert: pem.cert, key: pem.key, ca: pem.ca, requireClientCert: true };
      const s = await sim({ tls, scenario: 'seed' });
      await expect(get(s.url, '/api/v1/info', { tls: { ca: pem.ca } })).rejects.toThrow();
      const withCert = { ca: pem.ca, cert: pem.clientCert, key: pem.clientKey };
      expect((await authedGet(s.url, maintain, { tls: withCert })).status).toBe(200);
    });
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
function makeCerts(base: string) {
  makeCa(base, 'ca');
  makeLeaf(base, 'server', 'ca', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  makeLeaf(base, 'client', 'ca', 'DNS:client.test', 'clientAuth');
  const read = (name: string) => readFileSync(join(base, name), 'utf8');
  return {
    ca: read('ca.crt'),
    cert: read('server.crt'),
    key: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
  };
}
