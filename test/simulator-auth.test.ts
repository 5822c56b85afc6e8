import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAuthHeader } from '../src/obshell/auth.js';
import { dagSchema } from '../src/obshell/schema.js';
import { decryptHeader, generateKeys, rsaDecryptBlocks } from '../src/simulator/auth-verify.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/index.js';
import { authedGet, encryptHeaderText, get, getJson, publicKeyOf } from './helpers/http.js';
import { canary } from './helpers/canary.js';

const maintain = '/api/v1/task/dag/maintain/ob';
const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function sim(options: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ port: 0, scenario: 'seed', keyBits: 512, ...options });
  started.push(s);
  return s;
}

/** A header whose JSON text the test writes itself (wrong types, odd key cases). */
async function rawHeader(s: Simulator, json: string) {
  const value = encryptHeaderText(await publicKeyOf(s.url), json);
  return getJson(s.url, maintain, { headers: { 'x-ocs-header': value } });
}

const inAMinute = () => String(Math.floor(Date.now() / 1000) + 60);

describe('simulator auth round trip', () => {
  it.each([512, 1024] as const)('accepts the client header at %i bits', async (bits) => {
    const s = await sim({ keyBits: bits, password: canary.root });
    const key = await publicKeyOf(s.url);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(bits);
    // A long query makes the header span several RSA blocks.
    const path = `${maintain}?show_details=true&pad=${'x'.repeat(150)}`;
    const { status, json, headers } = await authedGet(s.url, path, { password: canary.root });
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/json');
    expect(json).toMatchObject({ successful: true, status: 200 });
    expect(json.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(json.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+08:00$/);
    expect(dagSchema.parse(json.data)).toMatchObject({ id: '11', state: 'SUCCEED', max_stage: 9 });
  });

  it('echoes X-OBSHELL-Trace-ID and reports the key in /api/v1/secret', async () => {
    const s = await sim({ password: 'p' });
    const extraHeaders = { 'x-obshell-trace-id': 'feedc0de00000001' };
    const { json } = await authedGet(s.url, maintain, { password: 'p', extraHeaders });
    expect(json.traceId).toBe('feedc0de00000001');
    const secret = await getJson(s.url, '/api/v1/secret');
    expect(secret.json.data).toMatchObject({ ip: '10.0.0.11', port: 2886 });
    expect((secret.json.data as { public_key: string }).public_key).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('matches header keys case-insensitively, like encoding/json', async () => {
    const s = await sim({ password: canary.root });
    const keys = Buffer.alloc(32, 7).toString('base64');
    const text = JSON.stringify({ auth: canary.root, TS: inAMinute(), uRi: maintain, keys });
    expect((await rawHeader(s, text)).status).toBe(200);
  });
});

describe('simulator auth failures', () => {
  it('answers 400 Request.Header.NotFound without a header', async () => {
    const s = await sim();
    const { status, json } = await getJson(s.url, maintain);
    expect(status).toBe(400);
    expect(json.status).toBe(400);
    expect(json.error).toEqual({
      errCode: 'Request.Header.NotFound',
      message: 'X-OCS-Agent-Header or X-OCS-Header not found in http request header',
    });
  });

  it('answers 401 DecryptFailed (code 1, empty traceId) to bad base64, on public routes too', async () => {
    const s = await sim();
    for (const path of [maintain, '/api/v1/info', '/api/v1/secret']) {
      const { status, json } = await getJson(s.url, path, { headers: { 'x-ocs-header': 'not base64!' } });
      expect(status, path).toBe(401);
      expect(json.traceId).toBe('');
      expect(json.error).toMatchObject({ code: 1, errCode: 'Security.Authentication.Header.DecryptFailed' });
      expect(json.error?.message).toMatch(/^Decrypt http header failed: /);
    }
  });

  it('reads a Ts given as a JSON number as a decryption failure', async () => {
    const s = await sim({ password: canary.root });
    const text = JSON.stringify({ Auth: canary.root, Ts: Number(inAMinute()), Uri: maintain, Keys: null });
    const { status, json } = await rawHeader(s, text);
    expect(status).toBe(401);
    expect(json.error?.errCode).toBe('Security.Authentication.Header.DecryptFailed');
  });

  it('rejects a non-integer Ts string with Timestamp.Invalid', async () => {
    const s = await sim({ password: canary.root });
    const { status, json } = await rawHeader(
      s,
      JSON.stringify({ Auth: canary.root, Ts: '12.5', Uri: maintain }),
    );
    expect(status).toBe(401);
    expect(json.error).toMatchObject({ code: 10008, errCode: 'Security.Authentication.Timestamp.Invalid' });
  });

  it('expires a header once the server clock passes Ts, but only when Auth is not empty', async () => {
    let now = Date.now();
    const s = await sim({ password: canary.root, clock: () => now });
    const expiresAt = Math.floor(now / 1000) + 60;
    expect((await authedGet(s.url, maintain, { password: canary.root, expiresAt })).status).toBe(200);
    now += 61_000;
    const late = await authedGet(s.url, maintain, { password: canary.root, expiresAt });
    expect(late.status).toBe(401);
    expect(late.json.error).toEqual({
      code: 10008,
      errCode: 'Security.Authentication.Expired',
      message: 'Unauthorized: Authentication expired',
    });
    s.setPassword('');
    expect((await authedGet(s.url, maintain, { password: '', expiresAt })).status).toBe(200);
  });

  it('compares Uri with the exact request target, query and its order included', async () => {
    const s = await sim({ password: canary.root });
    const cases: [string, string][] = [
      [maintain, `${maintain}?show_details=true`],
      [`${maintain}?a=1&show_details=true`, `${maintain}?show_details=true&a=1`],
      [`${maintain}?show_details=true`, `${maintain}?show_details=True`],
    ];
    for (const [uri, path] of cases) {
      const { status, json } = await authedGet(s.url, path, { password: canary.root, uri });
      expect(status, path).toBe(401);
      expect(json.error).toEqual({
        code: 10008,
        errCode: 'Security.Authentication.Header.UriMismatch',
        message: 'URI mismatch',
      });
    }
  });

  it('rejects a wrong root@sys password, and follows setPassword', async () => {
    const s = await sim({ password: 'right' });
    const wrong = await authedGet(s.url, maintain, { password: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toEqual({
      code: 10008,
      errCode: 'Security.Authentication.IncorrectOceanbasePassword',
      message: 'Unauthorized: OceanBase password is incorrect',
    });
    s.setPassword('wrong');
    expect((await authedGet(s.url, maintain, { password: 'wrong' })).status).toBe(200);
    expect((await authedGet(s.url, maintain, { password: 'right' })).status).toBe(401);
  });

  it('checks the agent password in X-OCS-Agent-Header when one is set', async () => {
    const s = await sim({ password: 'root', agentPassword: 'agent' });
    const info = await getJson(s.url, '/api/v1/info');
    expect(info.json.data).toMatchObject({
      security: true,
      supportedAuth: ['v2'],
      identity: 'CLUSTER AGENT',
    });
    expect((await authedGet(s.url, maintain, { kind: 'agent', password: 'agent' })).status).toBe(200);
    expect((await authedGet(s.url, maintain, { kind: 'root', password: 'root' })).status).toBe(200);
    const wrong = await authedGet(s.url, maintain, { kind: 'agent', password: 'root' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error?.errCode).toBe('Security.Authentication.IncorrectAgentPassword');
  });

  it('refuses an agent header on a cluster agent without agent password', async () => {
    const s = await sim({ password: 'root' });
    const { status, json } = await authedGet(s.url, maintain, { kind: 'agent', password: 'root' });
    expect(status).toBe(401);
    expect(json.error?.errCode).toBe('Security.Authentication.WithOceanBasePassword');
  });

  it('lets a SINGLE agent pass with an empty password, unless an agent password is set', async () => {
    const single = await sim({ identity: 'SINGLE', password: 'ignored' });
    expect((await getJson(single.url, '/api/v1/info')).json.data).toMatchObject({ identity: 'SINGLE' });
    expect((await authedGet(single.url, maintain, { password: '' })).status).toBe(200);
    expect((await getJson(single.url, maintain)).status).toBe(400);
    const guarded = await sim({ identity: 'SINGLE', agentPassword: 'ap' });
    const root = await authedGet(guarded.url, maintain, { password: '' });
    expect(root.json.error?.errCode).toBe('Security.Authentication.WithAgentPassword');
    expect((await authedGet(guarded.url, maintain, { kind: 'agent', password: 'ap' })).status).toBe(200);
  });

  it('fails headers made with the old key after rotateKey, with DecryptFailed', async () => {
    const s = await sim({ password: canary.root });
    const oldKey = await publicKeyOf(s.url);
    const header = () =>
      buildAuthHeader({
        publicKey: oldKey,
        password: canary.root,
        uri: maintain,
        expiresAt: Date.now() / 1000 + 60,
      });
    expect((await get(s.url, maintain, { headers: { 'x-ocs-header': header() } })).status).toBe(200);
    s.rotateKey(1024);
    const stale = await getJson(s.url, maintain, { headers: { 'x-ocs-header': header() } });
    expect(stale.status).toBe(401);
    expect(stale.json.error).toMatchObject({
      code: 1,
      errCode: 'Security.Authentication.Header.DecryptFailed',
    });
    expect((await publicKeyOf(s.url)).asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect((await authedGet(s.url, maintain, { password: canary.root })).status).toBe(200);
  });
});

describe('header decryption', () => {
  const keys = generateKeys(512);
  const publicKey = createPublicKey(keys.privateKey);
  /** Encrypts one raw k-byte block (no padding added) so the test controls the padding. */
  const rawBlock = (bytes: number[]) => {
    const block = Buffer.alloc(keys.modulusBytes, 0x11);
    Buffer.from(bytes).copy(block);
    return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, block);
  };

  it('strips PKCS#1 v1.5 type-2 padding and checks its shape', () => {
    const good = rawBlock([0, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(rsaDecryptBlocks(good, keys)?.length).toBe(keys.modulusBytes - 11);
    expect(rsaDecryptBlocks(rawBlock([0, 2, 1, 1, 1, 1, 1, 0]), keys)).toBeUndefined(); // padding < 8 bytes
    expect(rsaDecryptBlocks(rawBlock([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]), keys)).toBeUndefined(); // type 1
    expect(rsaDecryptBlocks(good.subarray(1), keys)).toBeUndefined(); // not a whole block
  });

  it('fails like encoding/json on bad Keys or a non-object, and reads null as an empty header', () => {
    const enc = (text: string) => encryptHeaderText(publicKey, text);
    expect(decryptHeader(enc('{"Keys":"%%%"}'), keys)).toMatchObject({
      errCode: 'Security.Authentication.Header.DecryptFailed',
    });
    expect(decryptHeader(enc('["Auth"]'), keys)).toMatchObject({ errCode: expect.any(String) as unknown });
    expect(decryptHeader(enc('null'), keys)).toEqual({ auth: '', ts: '', uri: '', sessionId: '' });
    expect(decryptHeader(enc('{"AUTH":"a","auth":"b","Uri":null}'), keys)).toMatchObject({
      auth: 'b',
      uri: '',
    });
  });
});
