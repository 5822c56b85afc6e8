import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { findUserHash, parseBasicAuth } from '../src/web/basic-auth.js';
import { authChallenge } from '../src/web/serve.js';
import { breakDir, captureLogs, get, startSecured, stop, tempDir, type Started } from './web-helpers.js';

const canary = 'canary-Pa55w0rd-9f31';
const hash = bcrypt.hashSync(canary, 4);
const temp = tempDir();
afterAll(temp.cleanup);

let started: Started | undefined;
afterEach(async () => {
  await stop(started);
  started = undefined;
});

const basic = (user: string, password: string) => ({
  headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
});

async function serve(yaml: string, logger = captureLogs().logger) {
  const file = join(temp.dir, 'web.yml');
  writeFileSync(file, yaml);
  started = await startSecured(file, logger);
  return `http://127.0.0.1:${started.port}`;
}

async function failures(): Promise<Record<string, number>> {
  const metric = await started!.registry.getSingleMetric('obshell_exporter_http_auth_failures_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels['reason']), v.value]));
}

const users = `basic_auth_users:\n  alice: ${hash}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n`;

describe('basic auth from the web config', () => {
  it('answers 401 with a challenge for missing, unknown-user and wrong-password requests, counting each reason', async () => {
    const base = await serve(users);
    expect(await failures()).toEqual({ missing: 0, unknown_user: 0, wrong_password: 0 });
    for (const options of [
      {},
      basic('mallory', canary),
      basic('alice', 'wrong'),
      { headers: { authorization: 'Bearer x' } },
    ]) {
      const reply = await get(`${base}/metrics`, options);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe(authChallenge);
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.body).toBe('Unauthorized\n');
    }
    expect(await failures()).toEqual({ missing: 2, unknown_user: 1, wrong_password: 1 });
  });

  it('lets the right user in on every path, including /-/healthy', async () => {
    const base = await serve(users);
    for (const path of ['/metrics', '/', '/-/healthy']) {
      const reply = await get(`${base}${path}`, basic('alice', canary));
      expect(reply).toMatchObject({ status: 200, body: 'ok\n' });
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await get(`${base}/-/healthy`)).status).toBe(401);
    expect(await failures()).toEqual({ missing: 1, unknown_user: 0, wrong_password: 0 });
  });

  it('runs bcrypt once for repeated good credentials (cached), but every time for wrong ones', async () => {
    const base = await serve(users);
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      for (let i = 0; i < 3; i++)
        expect((await get(`${base}/metrics`, basic('alice', canary))).status).toBe(200);
      expect(compare).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 2; i++) await get(`${base}/metrics`, basic('alice', 'nope'));
      expect(compare).toHaveBeenCalledTimes(3);
    } finally {
      compare.mockRestore();
    }
  });

  it('picks up a changed user list without a restart', async () => {
    const base = await serve(users);
    writeFileSync(join(temp.dir, 'web.yml'), `basic_auth_users:\n  bob: ${hash}\n`);
    expect((await get(`${base}/metrics`, basic('bob', canary))).status).toBe(200);
    expect((await get(`${base}/metrics`, basic('alice', canary))).status).toBe(401);
  });

  it('turns basic auth on without a restart', async () => {
    const base = await serve('');
    expect((await get(`${base}/metrics`)).status).toBe(200);
    writeFileSync(join(temp.dir, 'web.yml'), users);
    expect((await get(`${base}/metrics`)).status).toBe(401);
    expect((await get(`${base}/metrics`, basic('alice', canary))).status).toBe(200);
  });

  it('refuses a new version without users while basic auth is on (an emptied file too): that needs a restart', async () => {
    const { logger, lines } = captureLogs();
    const base = await serve(users, logger);
    for (const yaml of ['', 'basic_auth_users: {}\n', 'http_server_config:\n  http2: true\n']) {
      writeFileSync(join(temp.dir, 'web.yml'), yaml);
      for (let i = 0; i < 2; i++) {
        expect((await get(`${base}/metrics`)).status).toBe(401);
        expect((await get(`${base}/metrics`, basic('alice', canary))).status).toBe(200);
      }
    }
    const errors = lines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      expect(error).toContain(
        'basic_auth_users: no users in the new version; basic auth can only be turned off by a restart',
      );
    }
    expect(lines.some((l) => l.includes('web config reloaded'))).toBe(false);
  });

  it('never logs the password, the hash or the header, even when a reload fails', async () => {
    const { logger, lines } = captureLogs('trace');
    const base = await serve(users, logger);
    await get(`${base}/metrics`, basic('alice', canary));
    await get(`${base}/metrics`, basic('alice', `${canary}-wrong`));
    writeFileSync(join(temp.dir, 'web.yml'), `basic_auth_users:\n  alice: ${canary}\n  carol: "${hash}\n`);
    await get(`${base}/metrics`, basic('alice', canary));
    writeFileSync(join(temp.dir, 'web.yml'), `basic_auth_users:\n  alice: ${canary}\n`);
    await get(`${base}/metrics`, basic('alice', canary));
    expect(lines.filter((l) => l.includes('reload failed'))).toHaveLength(2);
    const text = lines.join('\n');
    const encoded = basic('alice', canary).headers.authorization.slice(6);
    for (const secret of [canary, hash, hash.slice(7), encoded]) expect(text).not.toContain(secret);
  });

  it('applies rate_limit with 429 once the burst is spent', async () => {
    const base = await serve('rate_limit:\n  interval: 1h\n  burst: 2\n');
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(`${base}/metrics`)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe('a web config path that can no longer be checked', () => {
  it('keeps serving with the old config and logs one error per distinct failure', async () => {
    const dir = join(temp.dir, 'unreadable');
    mkdirSync(dir);
    const file = join(dir, 'web.yml');
    writeFileSync(file, users);
    const { logger, lines } = captureLogs();
    started = await startSecured(file, logger);
    const base = `http://127.0.0.1:${started.port}/metrics`;
    const servesOldConfig = async () => {
      expect((await get(base)).status).toBe(401);
      expect((await get(base, basic('alice', canary))).status).toBe(200);
    };
    const broken = breakDir(dir);
    for (const code of ['ENOTDIR', 'ELOOP'] as const) {
      broken.as(code);
      await servesOldConfig();
      await servesOldConfig();
    }
    const errors = lines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(`invalid web config ${file}: cannot read: ENOTDIR`);
    expect(errors[1]).toContain(`invalid web config ${file}: cannot read: ELOOP`);
    expect(errors.every((l) => l.includes('web config reload failed; keeping the previous one'))).toBe(true);

    broken.restore();
    writeFileSync(file, `basic_auth_users:\n  bob: ${hash}\n`);
    expect((await get(base, basic('bob', canary))).status).toBe(200);
  });

  it('refuses a FIFO swapped in for the file: requests are answered, never blocked on the read', async () => {
    const file = join(temp.dir, 'fifo-web.yml');
    writeFileSync(file, users);
    const { logger, lines } = captureLogs();
    started = await startSecured(file, logger);
    const base = `http://127.0.0.1:${started.port}/metrics`;
    rmSync(file);
    execFileSync('mkfifo', [file]);
    expect((await get(base)).status).toBe(401);
    expect((await get(base, basic('alice', canary))).status).toBe(200);
    const errors = lines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`invalid web config ${file}: cannot read: not a regular file`);
  });
});

describe('basic auth pieces', () => {
  it('parses the Authorization header, keeping colons in the password', () => {
    expect(parseBasicAuth(basic('a', 'b:c').headers.authorization)).toEqual({ user: 'a', password: 'b:c' });
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth('Basic !!!')).toBeUndefined();
    expect(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
  });

  it('finds a user by constant-time comparison', () => {
    const map = new Map([
      ['alice', 'h1'],
      ['bob', 'h2'],
    ]);
    expect(findUserHash(map, 'bob')).toBe('h2');
    expect(findUserHash(map, 'bo')).toBeUndefined();
  });
});
