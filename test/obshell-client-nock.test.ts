import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createObshellClient, maintenanceTaskPath } from '../src/obshell/client.js';
import type { DagJson } from '../src/obshell/schema.js';
import { decryptHeader } from './helpers/obshell-client-server.js';
import { canary } from './helpers/canary.js';

const seedDag = (
  JSON.parse(readFileSync(new URL('fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8')) as {
    data: DagJson;
  }
).data;
const base = 'http://obshell.nock:2886';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 512 });
const publicDer = publicKey.export({ type: 'pkcs1', format: 'der' }).toString('base64');
const ok = (data: unknown) => ({ successful: true, status: 200, traceId: 'feedc0de00000001', data });

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
});

function client() {
  return createObshellClient({ urls: [base], password: () => canary.root, timeoutMs: 2000 });
}

function infoAndSecret(): nock.Scope {
  return nock(base)
    .get('/api/v1/info')
    .reply(200, ok({ identity: 'CLUSTER AGENT', version: '4.3.1.0', supportedAuth: ['v2'] }))
    .get('/api/v1/secret')
    .reply(200, ok({ public_key: publicDer }));
}

describe('obshell client edge cases (nock)', () => {
  const transportError = (code: string) => Object.assign(new Error(`mock ${code}`), { code });

  it('retries ECONNRESET with a freshly signed request', async () => {
    const uris: unknown[] = [];
    const scope = infoAndSecret()
      .get(maintenanceTaskPath)
      .replyWithError(transportError('ECONNRESET'))
      .get(maintenanceTaskPath)
      .reply(function () {
        uris.push(
          (decryptHeader(privateKey, this.req.headers['x-ocs-header'] as string) as { Uri: unknown }).Uri,
        );
        return [200, ok(seedDag)];
      });
    expect((await client().fetchLastMaintenanceTask()).kind).toBe('ok');
    expect(uris).toEqual([maintenanceTaskPath]);
    expect(scope.isDone()).toBe(true);
  });

  it('gives up after two retries of a persistent DNS failure → connect', async () => {
    const scope = nock(base).get('/api/v1/info').times(3).replyWithError(transportError('ENOTFOUND'));
    const outcome = await client().fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason: 'connect', errCode: 'ENOTFOUND' });
    expect(scope.isDone()).toBe(true);
  });

  it.each([
    ['CERT_HAS_EXPIRED', 'tls'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['HPE_INVALID_CONSTANT', 'http'],
  ])('a non-retryable transport error %s → %s, asked once', async (code, reason) => {
    const scope = infoAndSecret().get(maintenanceTaskPath).replyWithError(transportError(code));
    const outcome = await client().fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({ kind: 'failure', reason, errCode: code, agent: 'obshell.nock:2886' });
    expect(scope.isDone()).toBe(true);
  });

  it('signs the task request with the exact Uri and the cached key', async () => {
    const uris: unknown[] = [];
    infoAndSecret()
      .get(maintenanceTaskPath)
      .twice()
      .reply(function () {
        uris.push(
          (decryptHeader(privateKey, this.req.headers['x-ocs-header'] as string) as { Uri: unknown }).Uri,
        );
        return [200, ok(seedDag)];
      });
    const c = client();
    expect(await c.fetchLastMaintenanceTask()).toMatchObject({
      kind: 'ok',
      traceId: 'feedc0de00000001',
      agent: { version: '4.3.1.0', identity: 'CLUSTER AGENT' },
    });
    expect((await c.fetchLastMaintenanceTask()).kind).toBe('ok'); // info and secret are cached
    expect(uris).toEqual([maintenanceTaskPath, maintenanceTaskPath]);
    expect(nock.isDone()).toBe(true);
  });

  it.each([
    ['successful is not a boolean', { successful: 'yes', data: {} }],
    ['error is a string', { successful: false, status: 200, error: 'boom' }],
    ['data missing on success', { successful: true, status: 200 }],
    ['a JSON array', [1, 2, 3]],
  ])('malformed envelope (%s) → parse', async (_name, body) => {
    infoAndSecret().get(maintenanceTaskPath).reply(200, body);
    expect(await client().fetchLastMaintenanceTask()).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      status: 200,
    });
  });

  it('an invalid public key is a parse failure naming /api/v1/secret', async () => {
    nock(base)
      .get('/api/v1/info')
      .reply(200, ok({ identity: 'MASTER' }))
      .get('/api/v1/secret')
      .reply(200, ok({ public_key: 'bm90IGEga2V5' }));
    const outcome = await client().fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'failure',
      reason: 'parse',
      message: expect.stringContaining('/api/v1/secret') as unknown,
    });
  });

  it('an odd /api/v1/info answer only costs the identity', async () => {
    nock(base)
      .get('/api/v1/info')
      .reply(500, '<html>oops</html>')
      .get('/api/v1/secret')
      .reply(200, ok({ public_key: publicDer }))
      .get(maintenanceTaskPath)
      .reply(404, { successful: false, status: 404, error: { errCode: 'Task.NotFound', message: 'none' } });
    const outcome = await client().fetchLastMaintenanceTask();
    expect(outcome).toMatchObject({
      kind: 'no_task',
      agent: { identity: '', version: '', address: 'obshell.nock:2886' },
    });
  });

  it('never throws, even when the password callback does', async () => {
    infoAndSecret();
    const throwing = createObshellClient({
      urls: [base],
      password: () => {
        throw new Error('vault down');
      },
    });
    const outcome = await throwing.fetchLastMaintenanceTask();
    expect(outcome.kind).toBe('failure');
  });
});
