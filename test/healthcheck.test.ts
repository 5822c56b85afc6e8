/**
 * The image's HEALTHCHECK as Docker runs it: `node dist/src/healthcheck.js`, against the built
 * exporter listening where its flags or environment say, over http or https, with basic auth.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { exporterArgs, healthEndpoints } from '../src/web/health-probe.js';
import { get } from './helpers/http.js';
import { freePort, startProcess, waitFor, type Proc } from './helpers/e2e-process.js';
import { makeCertSet, tempDir } from './web-helpers.js';

const root = new URL('..', import.meta.url).pathname;
const healthcheck = join(root, 'dist/src/healthcheck.js');

describe('exporterArgs', () => {
  it("takes what follows the exporter's script in a /proc/<pid>/cmdline", () => {
    const image = ['node', '--no-maglev', 'dist/src/main.js', '--web.listen-address=:9100', '--demo', ''];
    expect(exporterArgs(image.join('\0'))).toEqual(['--web.listen-address=:9100', '--demo']);
    expect(exporterArgs('/usr/bin/obshell-exporter\0--web.listen-address\0:9200\0')).toEqual([
      '--web.listen-address',
      ':9200',
    ]);
  });

  it('is empty for any other process (the environment then decides)', () => {
    expect(exporterArgs('/sbin/init\0splash\0')).toEqual([]);
    expect(exporterArgs('')).toEqual([]);
  });
});

describe('healthEndpoints', () => {
  const hosts = (argv: string[]) => healthEndpoints(argv, {}).map((e) => e.host);

  it('asks loopback on the default port when nothing is set', () => {
    expect(healthEndpoints([], {})).toEqual([{ host: '127.0.0.1', port: 9886 }]);
  });

  it('resolves the address as the exporter does: the flag wins over the variable', () => {
    const env = { OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS: ':9300' };
    expect(healthEndpoints([], env)).toEqual([{ host: '127.0.0.1', port: 9300 }]);
    expect(healthEndpoints(['--web.listen-address', '0.0.0.0:9400'], env)).toEqual([
      { host: '127.0.0.1', port: 9400 },
    ]);
  });

  it('keeps a given host, and asks 127.0.0.1 then ::1 for every IPv6 interface', () => {
    expect(hosts(['--web.listen-address=10.1.2.3:9886'])).toEqual(['10.1.2.3']);
    // `::` takes IPv4 too, and a container without IPv6 has no ::1.
    expect(hosts(['--web.listen-address=[::]:9886'])).toEqual(['127.0.0.1', '::1']);
    expect(hosts(['--web.listen-address=[::1]:9886'])).toEqual(['::1']);
  });
});

/** Runs the built healthcheck; resolves its exit code and stderr. */
function runHealthcheck(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [healthcheck, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('exit', (status) => {
      resolve({ status, stderr });
    });
  });
}

describe('node dist/src/healthcheck.js against the built exporter', () => {
  const temp = tempDir();
  const pem = makeCertSet(temp.dir);
  let exporter: Proc | undefined;
  afterEach(async () => {
    await exporter?.stop();
    exporter = undefined;
  });
  afterAll(() => {
    temp.cleanup();
  });

  async function startExporter(webConfig?: string): Promise<string> {
    const address = `127.0.0.1:${await freePort()}`;
    const args = ['dist/src/main.js', '--demo', `--web.listen-address=${address}`];
    if (webConfig !== undefined) {
      const file = join(temp.dir, 'web.yml');
      writeFileSync(file, webConfig);
      args.push(`--web.config.file=${file}`);
    }
    exporter = startProcess('exporter', process.execPath, args, root);
    await waitFor(() => exporter!.tail().includes('obshell-exporter started'), 15_000, 'the exporter');
    return address;
  }

  it('is healthy on the plain http exporter, found by flag or by environment variable', async () => {
    const address = await startExporter();
    expect(await runHealthcheck([`--web.listen-address=${address}`])).toEqual({ status: 0, stderr: '' });
    // No arguments: this machine's PID 1 is no exporter, so the variable decides.
    const byEnv = await runHealthcheck([], { OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS: address });
    expect(byEnv.status).toBe(0);
  });

  it('is healthy behind basic auth and TLS, and sends no credentials', async () => {
    const hash = bcrypt.hashSync('not-sent-anywhere', 4);
    const tls = `tls_server_config:\n  cert_file: ${join(temp.dir, 'server-a.crt')}\n  key_file: ${join(temp.dir, 'server-a.key')}\n`;
    for (const config of [
      `basic_auth_users:\n  alice: ${hash}\n`,
      `${tls}basic_auth_users:\n  alice: ${hash}\n`,
    ]) {
      const address = await startExporter(config);
      expect(await runHealthcheck([`--web.listen-address=${address}`]), config).toEqual({
        status: 0,
        stderr: '',
      });
      // The exporter refused it (401) and counted that: the check carried no password.
      const tlsUsed = config.startsWith('tls');
      const metrics = await get(`${tlsUsed ? 'https' : 'http'}://${address}`, '/metrics', {
        headers: { authorization: `Basic ${Buffer.from('alice:not-sent-anywhere').toString('base64')}` },
        tls: { ca: pem('ca.crt') },
      });
      expect(metrics.body).toMatch(/^obshell_exporter_http_auth_failures_total\{reason="missing"\} [1-9]/m);
      await exporter!.stop();
    }
  });

  it.each([
    ['RequireAndVerifyClientCert', ''],
    // TLS 1.2 refuses in the handshake with a bare handshake-failure alert: still the TLS layer answering.
    ['RequireAndVerifyClientCert', '  max_version: TLS12\n'],
    ['RequireAnyClientCert', ''],
  ])('is healthy on an exporter that requires client certificates, %s %s', async (type, extra) => {
    const tls = `tls_server_config:\n  cert_file: ${join(temp.dir, 'server-a.crt')}\n  key_file: ${join(temp.dir, 'server-a.key')}\n`;
    const mtls = `${tls}  client_ca_file: ${join(temp.dir, 'ca.crt')}\n  client_auth_type: ${type}\n${extra}`;
    const address = await startExporter(mtls);
    expect(await runHealthcheck([`--web.listen-address=${address}`])).toEqual({ status: 0, stderr: '' });
    // It did not get in: /-/healthy needs a client certificate (refused in the TLS handshake,
    // or, where Node cannot, answered 403).
    const healthy = get(`https://${address}`, '/-/healthy', { tls: { ca: pem('ca.crt') } });
    if (type === 'RequireAnyClientCert') expect((await healthy).status).toBe(403);
    else await expect(healthy).rejects.toThrow(/certificate required|handshake failure/);
  });

  it('is unhealthy when nothing listens, or the answer is a 5xx', async () => {
    const port = await freePort();
    const nothing = await runHealthcheck([`--web.listen-address=127.0.0.1:${port}`]);
    expect(nothing).toEqual({ status: 1, stderr: `no healthy answer on 127.0.0.1:${port}\n` });
    const failing = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const { port: failingPort } = failing.address() as { port: number };
    try {
      expect((await runHealthcheck([`--web.listen-address=127.0.0.1:${failingPort}`])).status).toBe(1);
    } finally {
      failing.close();
    }
  });

  it("gives up before Docker's 5 s timeout when the exporter accepts but never answers (hung)", async () => {
    const sockets: Socket[] = [];
    const hung = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const { port } = hung.address() as { port: number };
    try {
      const started = performance.now();
      const result = await runHealthcheck([`--web.listen-address=127.0.0.1:${port}`]);
      expect(result).toEqual({ status: 1, stderr: `no healthy answer on 127.0.0.1:${port}\n` });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      hung.close();
    }
  });

  it('fails with the reason on a command line the exporter would refuse', async () => {
    const bad = await runHealthcheck(['--web.listen-address=nowhere']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--web.listen-address');
  });
});
