import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebStateSource, loadWebConfig, loadWebState } from '../src/web/reload.js';
import { canonicalIp, parseSubjectAltName } from '../src/web/tls.js';
import { WebConfigError } from '../src/web/web-config.js';
import {
  breakDir,
  captureLogs,
  get,
  makeCertSet,
  startSecured,
  stop,
  tempDir,
  type Started,
} from './web-helpers.js';

const temp = tempDir();
let pem: (name: string) => Buffer;
beforeAll(() => {
  pem = makeCertSet(temp.dir);
  // PEM armour around a body that is no certificate (a few base64 characters flipped).
  const good = pem('server-a.crt').toString('utf8');
  const body = good.split('\n')[3] ?? '';
  writeFileSync(join(temp.dir, 'corrupt-ca.crt'), good.replace(body, body.split('').reverse().join('')));
});
afterAll(temp.cleanup);

let started: Started | undefined;
afterEach(async () => {
  await stop(started);
  started = undefined;
});

/** Writes `name` (relative files resolve against its directory) and starts a server on it. */
async function serve(name: string, yaml: string, logger = captureLogs().logger) {
  const file = join(temp.dir, name);
  writeFileSync(file, yaml);
  started = await startSecured(file, logger);
  return `https://127.0.0.1:${started.port}/metrics`;
}

/** A client certificate the policy refuses after the handshake: answered, but not served. */
const forbidden = { status: 403, body: 'Forbidden: client certificate missing or not allowed\n' };
const tlsYaml = (extra = '', cert = 'server-a') =>
  `tls_server_config:\n  cert_file: ${cert}.crt\n  key_file: ${cert}.key\n${extra}`;
const client = (name?: string) => ({
  ca: pem('ca.crt'),
  ...(name && { cert: pem(`${name}.crt`), key: pem(`${name}.key`) }),
});

describe('TLS from the web config', () => {
  it('serves https with the configured certificate and adds the configured headers', async () => {
    const headers =
      'http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n';
    const url = await serve('plain-tls.yml', tlsYaml() + headers);
    expect(started?.tls).toBe(true);
    const reply = await get(url, client());
    expect(reply).toMatchObject({ status: 200, body: 'ok\n', peerCn: 'server-a' });
    expect(reply.headers['x-frame-options']).toBe('deny');
    expect(reply.headers['strict-transport-security']).toBe('max-age=31536000');
    await expect(get(url.replace('https:', 'http:'))).rejects.toThrow();
  });

  describe('RequireAndVerifyClientCert', () => {
    const mtls = tlsYaml('  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n');

    it('accepts a client certificate signed by client_ca_file', async () => {
      const url = await serve('mtls.yml', mtls);
      expect((await get(url, client('client'))).status).toBe(200);
    });

    it('rejects a client without a certificate', async () => {
      const url = await serve('mtls.yml', mtls);
      await expect(get(url, client())).rejects.toThrow();
    });

    it('rejects a client certificate from another CA', async () => {
      const url = await serve('mtls.yml', mtls);
      await expect(get(url, client('stranger'))).rejects.toThrow();
    });

    it('rejects a good certificate whose SANs are not in client_allowed_sans', async () => {
      const url = await serve('sans.yml', `${mtls}  client_allowed_sans: [other.test]\n`);
      expect(await get(url, client('client'))).toMatchObject(forbidden);
      await stop(started);
      const allowed = await serve(
        'sans-ok.yml',
        `${mtls}  client_allowed_sans: ['spiffe://test/prometheus']\n`,
      );
      expect((await get(allowed, client('client'))).status).toBe(200);
    });

    it('matches an IPv6 SAN in client_allowed_sans however the address is written', async () => {
      for (const [name, address] of [
        ['ipv6.yml', "'2001:db8::1'"],
        ['ipv6-long.yml', "'2001:DB8:0:0:0:0:0:1'"],
      ] as const) {
        const url = await serve(name, `${mtls}  client_allowed_sans: [${address}]\n`);
        expect((await get(url, client('client'))).status, address).toBe(200);
        await stop(started);
        started = undefined;
      }
    });
  });

  it('VerifyClientCertIfGiven lets a client without a certificate in but not one from another CA', async () => {
    const url = await serve(
      'if-given.yml',
      tlsYaml('  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n'),
    );
    expect((await get(url, client())).status).toBe(200);
    expect((await get(url, client('client'))).status).toBe(200);
    expect(await get(url, client('stranger'))).toMatchObject(forbidden);
  });

  it('serves nothing on a refused connection: pipelined requests get one 403 and the connection closes; a silent one is closed', async () => {
    const url = await serve('any-raw.yml', tlsYaml('  client_auth_type: RequireAnyClientCert\n'));
    const { port } = new URL(url);
    const talk = (send: string) =>
      new Promise<{ text: string; ms: number }>((resolve, reject) => {
        const started = performance.now();
        const socket = connectTls({ host: '127.0.0.1', port: Number(port), ca: pem('ca.crt') }, () => {
          if (send) socket.write(send);
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('error', reject);
        socket.on('close', () => {
          resolve({ text, ms: performance.now() - started });
        });
      });
    const request = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
    const pipelined = await talk(request + request);
    expect(pipelined.text.match(/^HTTP\/1\.1 /gm)).toEqual(['HTTP/1.1 ']);
    expect(pipelined.text).toMatch(/^HTTP\/1\.1 403 /);
    expect(pipelined.text).not.toContain('ok\n');
    const silent = await talk('');
    expect(silent.text).toBe('');
    expect(silent.ms).toBeGreaterThan(4_000);
  }, 15_000);

  it('RequireAnyClientCert answers 403 to a client without a certificate, and serves one with any', async () => {
    const url = await serve('any.yml', tlsYaml('  client_auth_type: RequireAnyClientCert\n'));
    const refused = await get(url, client());
    expect(refused).toMatchObject(forbidden);
    expect(refused.headers['connection']).toBe('close');
    expect((await get(url, client('stranger'))).status).toBe(200);
  });

  it('min_version TLS13 refuses a client that only speaks TLS 1.2', async () => {
    const url = await serve('tls13.yml', tlsYaml('  min_version: TLS13\n'));
    await expect(get(url, { ...client(), maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await get(url, { ...client(), minVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('max_version TLS12 with cipher_suites still serves a TLS 1.2 client', async () => {
    const ciphers = '  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n';
    const url = await serve('tls12.yml', tlsYaml(ciphers));
    expect((await get(url, client())).status).toBe(200);
    await expect(get(url, { ...client(), minVersion: 'TLSv1.3' })).rejects.toThrow();
  });

  it('rotates certificates without a restart and keeps the old one when a rewrite is broken', async () => {
    for (const ext of ['crt', 'key'])
      copyFileSync(join(temp.dir, `server-a.${ext}`), join(temp.dir, `live.${ext}`));
    const { logger, lines } = captureLogs();
    const url = await serve('rotate.yml', tlsYaml('', 'live'), logger);
    expect((await get(url, client())).peerCn).toBe('server-a');

    writeFileSync(join(temp.dir, 'live.key'), pem('server-b.key'));
    writeFileSync(join(temp.dir, 'live.crt'), pem('server-b.crt'));
    expect((await get(url, client())).peerCn).toBe('server-b');
    expect(lines.filter((l) => l.includes('web config reloaded'))).toHaveLength(1);

    writeFileSync(join(temp.dir, 'live.crt'), 'not a certificate\n');
    expect((await get(url, client())).peerCn).toBe('server-b');
    expect((await get(url, client())).peerCn).toBe('server-b');
    const errors = lines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('tls_server_config.cert_file: not a PEM certificate');
    expect(lines.join('\n')).not.toContain(pem('server-b.key').toString().split('\n')[1]);
  });

  it('keeps its certificate when the config directory can no longer be checked, logging one error per failure', async () => {
    const dir = join(temp.dir, 'unreadable');
    mkdirSync(dir);
    for (const ext of ['crt', 'key']) copyFileSync(join(temp.dir, `server-a.${ext}`), join(dir, `a.${ext}`));
    const file = join(dir, 'web.yml');
    writeFileSync(file, 'tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n');
    const { logger, lines } = captureLogs();
    started = await startSecured(file, logger);
    const url = `https://127.0.0.1:${started.port}/metrics`;
    const broken = breakDir(dir);
    for (const code of ['ENOTDIR', 'ELOOP'] as const) {
      broken.as(code);
      // Each request is a new connection: the connection listener checks the files first.
      for (let i = 0; i < 2; i++)
        expect(await get(url, client())).toMatchObject({ status: 200, peerCn: 'server-a' });
    }
    const errors = lines.filter((l) => l.includes('"level":50'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(`invalid web config ${file}: cannot read: ENOTDIR`);
    expect(errors[1]).toContain(`invalid web config ${file}: cannot read: ELOOP`);
    broken.restore();
    expect((await get(url, client())).status).toBe(200);
  });

  it('keeps https when a new web config drops tls_server_config (that needs a restart)', async () => {
    const { logger, lines } = captureLogs();
    const url = await serve('switch.yml', tlsYaml(), logger);
    writeFileSync(join(temp.dir, 'switch.yml'), 'basic_auth_users: {}\n');
    expect((await get(url, client())).status).toBe(200);
    expect(lines.some((l) => l.includes('switching between HTTP and HTTPS needs a restart'))).toBe(true);
  });
});

describe('client-certificate checks on a live reload', () => {
  const mtls = tlsYaml('  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n');

  it('tightens at once: a new version that requires certificates refuses clients without one', async () => {
    const url = await serve('tighten.yml', tlsYaml());
    expect((await get(url, client())).status).toBe(200);
    writeFileSync(join(temp.dir, 'tighten.yml'), mtls);
    await expect(get(url, client())).rejects.toThrow();
    expect((await get(url, client('client'))).status).toBe(200);
  });

  it('refuses a version that checks less (a half-written file): that needs a restart', async () => {
    const { logger, lines } = captureLogs();
    const url = await serve('loosen.yml', mtls, logger);
    writeFileSync(join(temp.dir, 'loosen.yml'), tlsYaml());
    await expect(get(url, client())).rejects.toThrow();
    expect(lines.join('\n')).toContain(
      'tls_server_config: client_auth_type RequireAndVerifyClientCert → NoClientCert checks less; that needs a restart',
    );
  });

  it('refuses a version that drops client_allowed_sans', async () => {
    const { logger, lines } = captureLogs();
    const url = await serve('sans-drop.yml', `${mtls}  client_allowed_sans: [other.test]\n`, logger);
    expect(await get(url, client('client'))).toMatchObject(forbidden);
    writeFileSync(join(temp.dir, 'sans-drop.yml'), mtls);
    expect(await get(url, client('client'))).toMatchObject(forbidden);
    expect(lines.join('\n')).toContain(
      'tls_server_config: client_allowed_sans removed; that needs a restart',
    );
  });
});

describe('a certificate rotated while the web config is being read', () => {
  it('is read again on the next connection, not taken as seen', () => {
    for (const ext of ['crt', 'key'])
      copyFileSync(join(temp.dir, `server-a.${ext}`), join(temp.dir, `race.${ext}`));
    const file = join(temp.dir, 'race.yml');
    writeFileSync(file, tlsYaml('', 'race'));
    let rotateDuringRead = false;
    const source = createWebStateSource(file, captureLogs().logger, undefined, (name) => {
      const loaded = loadWebConfig(name);
      if (rotateDuringRead) {
        // The old pair was read; the rotation lands before the reload is marked done.
        rotateDuringRead = false;
        for (const ext of ['crt', 'key'])
          copyFileSync(join(temp.dir, `server-b.${ext}`), join(temp.dir, `race.${ext}`));
      }
      return loaded;
    });
    const subject = () => new X509Certificate(source.current().tls?.context.cert as Buffer).subject;
    expect(subject()).toContain('CN=server-a');
    rotateDuringRead = true;
    writeFileSync(file, `${tlsYaml('', 'race')}# touched\n`);
    expect(subject()).toContain('CN=server-a');
    expect(subject()).toContain('CN=server-b');
  });
});

/** The start-up error for `yaml`, which must be a WebConfigError (one line, no stack). */
function startUpError(yaml: string): { file: string; error: unknown } {
  const file = join(temp.dir, 'startup.yml');
  writeFileSync(file, yaml);
  try {
    loadWebState(file);
  } catch (error) {
    return { file, error };
  }
  throw new Error('loaded');
}

describe('TLS files that cannot be used at start-up', () => {
  it.each([
    [
      'a missing cert_file',
      tlsYaml('', 'missing'),
      `tls_server_config.cert_file: cannot read ${join(temp.dir, 'missing.crt')}: ENOENT`,
    ],
    [
      'a cert_file that is no PEM certificate',
      'tls_server_config:\n  cert_file: server-a.key\n  key_file: server-a.key\n',
      'tls_server_config.cert_file: not a PEM certificate',
    ],
    [
      'a key_file that is no PEM private key',
      'tls_server_config:\n  cert_file: server-a.crt\n  key_file: server-a.crt\n',
      'tls_server_config.key_file: not a PEM private key',
    ],
    [
      'an inline cert that is no PEM certificate',
      'tls_server_config:\n  cert: nonsense\n  key_file: server-a.key\n',
      'tls_server_config.cert: not a PEM certificate',
    ],
    [
      'a key that does not belong to the certificate',
      'tls_server_config:\n  cert_file: server-a.crt\n  key_file: server-b.key\n',
      'tls_server_config: cannot use the certificate and key',
    ],
    [
      'a client_ca_file without a certificate',
      tlsYaml('  client_ca_file: server-a.key\n  client_auth_type: RequireAnyClientCert\n'),
      'tls_server_config.client_ca_file: has no PEM certificate',
    ],
    [
      'a client_ca_file with a corrupt certificate',
      tlsYaml('  client_ca_file: corrupt-ca.crt\n  client_auth_type: RequireAnyClientCert\n'),
      'tls_server_config.client_ca_file: has an invalid PEM certificate (the 1st)',
    ],
  ])('reports %s as a WebConfigError naming the file and the key', (_name, yaml, reason) => {
    const { file, error } = startUpError(yaml);
    expect(error).toBeInstanceOf(WebConfigError);
    expect((error as Error).message.startsWith(`invalid web config ${file}: ${reason}`)).toBe(true);
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).not.toContain(pem('server-a.key').toString().split('\n')[1]);
  });
});

describe('every problem of a web config at once', () => {
  const reasonsOf = (yaml: string) => {
    const { error } = startUpError(yaml);
    expect(error).toBeInstanceOf(WebConfigError);
    return (error as WebConfigError).problems;
  };

  it('names each TLS file at fault, not only the first', () => {
    expect(
      reasonsOf(
        tlsYaml('  client_ca_file: missing-ca.crt\n  client_auth_type: RequireAnyClientCert\n', 'missing'),
      ),
    ).toEqual([
      `tls_server_config.client_ca_file: cannot read ${join(temp.dir, 'missing-ca.crt')}: ENOENT`,
      `tls_server_config.cert_file: cannot read ${join(temp.dir, 'missing.crt')}: ENOENT`,
      `tls_server_config.key_file: cannot read ${join(temp.dir, 'missing.key')}: ENOENT`,
    ]);
  });

  it('checks the TLS files even when the YAML has other problems', () => {
    const yaml = `basic_auth_users:\n  prometheus: plain\n${tlsYaml('', 'missing')}`;
    const reasons = reasonsOf(yaml);
    expect(reasons[0]).toMatch(/^basic_auth_users\.prometheus: not a bcrypt hash/);
    expect(reasons.slice(1)).toEqual([
      `tls_server_config.cert_file: cannot read ${join(temp.dir, 'missing.crt')}: ENOENT`,
      `tls_server_config.key_file: cannot read ${join(temp.dir, 'missing.key')}: ENOENT`,
    ]);
  });

  it('does not blame the certificate and key for a problem of another option', () => {
    expect(reasonsOf(tlsYaml('  curve_preferences: [CurveP999]\n'))).toEqual([
      'tls_server_config.curve_preferences: unknown curve "CurveP999" (use CurveP256, CurveP384, CurveP521, X25519)',
    ]);
  });

  it('names a key that does not match its certificate alongside the other problems', () => {
    const yaml =
      'tls_server_config:\n  cert_file: server-a.crt\n  key_file: server-b.key\n  curve_preferences: [CurveP999]\n';
    const reasons = reasonsOf(yaml);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/^tls_server_config\.curve_preferences: unknown curve "CurveP999"/);
    expect(reasons[1]).toMatch(
      /^tls_server_config: cannot use the certificate and key: .*key values mismatch/,
    );
  });

  it('checks the files under a misspelt client_auth_type too', () => {
    const yaml = tlsYaml('  client_ca_file: missing-ca.crt\n  client_auth_type: RequireAndVerify\n');
    const reasons = reasonsOf(yaml);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/^tls_server_config\.client_auth_type: "RequireAndVerify" is not one of/);
    expect(reasons[1]).toBe(
      `tls_server_config.client_ca_file: cannot read ${join(temp.dir, 'missing-ca.crt')}: ENOENT`,
    );
  });
});

describe('subjectAltName parsing', () => {
  it('writes IP addresses as Go does, so an IPv6 entry of client_allowed_sans can match', () => {
    expect(parseSubjectAltName('IP Address:2001:DB8:0:0:0:0:0:1, IP Address:10.0.0.7')).toEqual([
      '2001:db8::1',
      '10.0.0.7',
    ]);
    // Not an IP entry: left as written.
    expect(parseSubjectAltName('DNS:2001:DB8:0:0:0:0:0:1')).toEqual(['2001:DB8:0:0:0:0:0:1']);
  });

  it('writes an IPv4-mapped address as IPv4, as Go does, and never throws on a zoned one', () => {
    expect(parseSubjectAltName('IP Address:0:0:0:0:0:FFFF:102:304')).toEqual(['1.2.3.4']);
    expect(canonicalIp('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(canonicalIp('fe80::1%eth0')).toBeUndefined();
    expect(canonicalIp('scraper.test')).toBeUndefined();
  });

  it('reads DNS, IP, URI and quoted values', () => {
    expect(parseSubjectAltName('DNS:a.test, IP Address:2001:db8::1, URI:spiffe://x/y, DNS:"b,c"')).toEqual([
      'a.test',
      '2001:db8::1',
      'spiffe://x/y',
      'b,c',
    ]);
  });
});
