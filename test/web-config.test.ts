import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { checkWebConfigFile, parseWebConfig, WebConfigError } from '../src/web/web-config.js';
import { tempDir } from './web-helpers.js';

const hash = '$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG';
const tlsBase = 'tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n';

const invalid: [string, string, string][] = [
  ['an unknown top-level key', 'foo: 1', 'foo: unknown key'],
  [
    'a list at the top',
    '- a',
    'must be a mapping with tls_server_config, http_server_config, basic_auth_users, rate_limit',
  ],
  ['tls_server_config not a mapping', 'tls_server_config: [1]', 'tls_server_config: must be a mapping'],
  ['no key', 'tls_server_config:\n  cert_file: a.crt', 'tls_server_config: missing one of key or key_file'],
  ['no cert', 'tls_server_config:\n  key_file: a.key', 'tls_server_config: missing one of cert or cert_file'],
  ['cert twice', `${tlsBase}  cert: x`, 'tls_server_config: set cert or cert_file, not both'],
  [
    'an unknown client_auth_type',
    `${tlsBase}  client_auth_type: Bogus`,
    'tls_server_config.client_auth_type: "Bogus" is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert',
  ],
  [
    'verification without a CA',
    `${tlsBase}  client_auth_type: RequireAndVerifyClientCert`,
    'tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file',
  ],
  [
    'a CA without a policy',
    `${tlsBase}  client_ca_file: ca.crt`,
    'tls_server_config: client_ca_file is set but client_auth_type is NoClientCert',
  ],
  [
    'SANs with an optional certificate',
    `${tlsBase}  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [x]`,
    'tls_server_config: client_allowed_sans needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
  ],
  [
    'an unknown TLS version',
    `${tlsBase}  min_version: TLS14`,
    'tls_server_config.min_version: unknown TLS version "TLS14" (use TLS10, TLS11, TLS12 or TLS13)',
  ],
  [
    'min above max',
    `${tlsBase}  min_version: TLS13\n  max_version: TLS12`,
    'tls_server_config: min_version is above max_version',
  ],
  [
    'an unknown cipher',
    `${tlsBase}  cipher_suites: [TLS_FAKE]`,
    'tls_server_config.cipher_suites: unknown cipher "TLS_FAKE"',
  ],
  [
    'an unknown curve',
    `${tlsBase}  curve_preferences: [CurveP999]`,
    'tls_server_config.curve_preferences: unknown curve "CurveP999" (use CurveP256, CurveP384, CurveP521, X25519)',
  ],
  [
    'a file name that is not a string',
    'tls_server_config:\n  cert_file: 5\n  key_file: k',
    'tls_server_config.cert_file: must be a string',
  ],
  [
    'a non-boolean',
    `${tlsBase}  prefer_server_cipher_suites: yes please`,
    'tls_server_config.prefer_server_cipher_suites: must be true or false',
  ],
  [
    'a policy without certificates',
    'tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert',
    'tls_server_config: client_auth_type needs cert_file and key_file',
  ],
  ['an unknown TLS key', `${tlsBase}  pem: x`, 'tls_server_config.pem: unknown key'],
  [
    'an empty cert_file (fail closed: TLS stays on, not plain HTTP)',
    'tls_server_config:\n  cert_file: ""\n  key_file: a.key',
    'tls_server_config: missing one of cert or cert_file',
  ],
  [
    'a CA given inline without a policy (named as written)',
    `${tlsBase}  client_ca: x`,
    'tls_server_config: client_ca is set but client_auth_type is NoClientCert',
  ],
  [
    'a cipher named like an object method',
    `${tlsBase}  cipher_suites: [toString]`,
    'tls_server_config.cipher_suites: unknown cipher "toString"',
  ],
  [
    'a curve named like an object method',
    `${tlsBase}  curve_preferences: [constructor]`,
    'tls_server_config.curve_preferences: unknown curve "constructor" (use CurveP256, CurveP384, CurveP521, X25519)',
  ],
  [
    'a TLS version named like an object method',
    `${tlsBase}  max_version: valueOf`,
    'tls_server_config.max_version: unknown TLS version "valueOf" (use TLS10, TLS11, TLS12 or TLS13)',
  ],
  [
    'http2 not a boolean',
    'http_server_config:\n  http2: maybe',
    'http_server_config.http2: must be true or false',
  ],
  [
    'a header toolkit does not allow',
    'http_server_config:\n  headers:\n    Authorization: x',
    'http_server_config.headers.Authorization: this header can not be configured (allowed: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)',
  ],
  [
    'a header value outside its set',
    'http_server_config:\n  headers:\n    X-Frame-Options: allow',
    'http_server_config.headers.X-Frame-Options: "allow" is not one of deny, sameorigin',
  ],
  [
    'a header value Node would refuse to send (a typographic quote)',
    'http_server_config:\n  headers:\n    Content-Security-Policy: default-src \u2018self\u2019',
    'http_server_config.headers.Content-Security-Policy: invalid characters (a control character, or one above U+00FF)',
  ],
  [
    'a header value with a control character',
    'http_server_config:\n  headers:\n    Strict-Transport-Security: "max-age=1\\u0007"',
    'http_server_config.headers.Strict-Transport-Security: invalid characters (a control character, or one above U+00FF)',
  ],
  ['an unknown http key', 'http_server_config:\n  foo: 1', 'http_server_config.foo: unknown key'],
  [
    'a plain-text password',
    'basic_auth_users:\n  alice: canary-plaintext-5150',
    `basic_auth_users.alice: not a bcrypt hash (make one with: htpasswd -nBC 10 "" | tr -d ':\\n')`,
  ],
  [
    'users as a list',
    'basic_auth_users: [alice]',
    'basic_auth_users: must be a mapping of user names to bcrypt hashes',
  ],
  [
    'a bad rate-limit interval',
    'rate_limit:\n  interval: 1x\n  burst: 2',
    'rate_limit.interval: "1x" has an unknown unit "x" (Go syntax, e.g. "500ms", "1.5s", "1h30m")',
  ],
  [
    'a rate-limit interval in days (Go has none)',
    'rate_limit:\n  interval: 1d',
    'rate_limit.interval: "1d" has an unknown unit "d" (Go syntax, e.g. "500ms", "1.5s", "1h30m")',
  ],
  [
    'a negative rate-limit interval',
    'rate_limit:\n  interval: -1s',
    'rate_limit.interval: "-1s" is not a duration (Go syntax, e.g. "500ms", "1.5s", "1h30m")',
  ],
  [
    'a hash of the original $2$ kind, which no current tool writes',
    'basic_auth_users:\n  alice: $2$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG',
    `basic_auth_users.alice: not a bcrypt hash (make one with: htpasswd -nBC 10 "" | tr -d ':\\n')`,
  ],
  [
    'an Apache MD5 hash as a user name (not printed either)',
    'basic_auth_users:\n  $apr1$canary$canaryCanaryCanary: alice',
    'basic_auth_users: a user name looks like a password hash (are the name and the hash swapped?)',
  ],
  [
    'a user name and hash swapped (the hash is not printed)',
    'basic_auth_users:\n  $2y$10$canaryHashCanaryHashCanaryHashCanaryHashCanaryHashCan: alice',
    'basic_auth_users: a user name looks like a password hash (are the name and the hash swapped?)',
  ],
  [
    'a negative burst',
    'rate_limit:\n  interval: 1s\n  burst: -1',
    'rate_limit.burst: must be a whole number of requests, 0 or more',
  ],
  [
    'a duplicate key',
    'basic_auth_users: {}\nbasic_auth_users: {}',
    'line 2, column 1: Map keys must be unique',
  ],
  [
    'a YAML syntax error',
    'basic_auth_users:\n  alice: "canary-unterminated',
    'line 2, column 30: Missing closing "quote',
  ],
  [
    'an alias to an anchor that is not defined (the name could be an unquoted secret)',
    'basic_auth_users:\n  alice: *canary-anchor',
    'basic_auth_users.alice: Unresolved alias (the anchor must be set before the alias)',
  ],
  ['an alias bomb', aliasBomb(), 'lol3[0]: Excessive alias count indicates a resource exhaustion attack'],
];

/** "Billion laughs": each level is nine aliases of the one before it; lol3 alone is already too many. */
function aliasBomb(): string {
  const lines = ['lol0: &lol0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 5; i++) {
    const aliases = Array<string>(9).fill(`*lol${i - 1}`);
    lines.push(`lol${i}: &lol${i} [${aliases.join(', ')}]`);
  }
  return lines.join('\n');
}

describe('web config parsing', () => {
  it.each(invalid)('rejects %s with an exact message', (_name, yaml, message) => {
    expect(() => parseWebConfig(yaml, '/etc/exporter', 'web.yml')).toThrow(
      new WebConfigError('web.yml', [message]),
    );
    try {
      parseWebConfig(yaml, '/etc/exporter', 'web.yml');
    } catch (error) {
      expect((error as Error).message).toBe(`invalid web config web.yml: ${message}`);
      expect((error as Error).message).not.toContain('canary');
    }
  });

  it('never prints what a YAML typo puts in its message: hashes, an inline key, complex keys', () => {
    const hash = '$2y$10$canaryHashCanaryHashCanaryHashCanaryHashCanaryHashCan';
    const users = `basic_auth_users:\n  prometheus: ${hash}\n`;
    const inlineKey =
      'tls_server_config:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    canaryKeyMaterial\n';
    const typos = ['}', ']', '>', '|', '?', '!', '&', '*', '%', '`', '"\\q'].flatMap((typo) => [
      `http_server_config:\n  headers: {X-Frame-Options: deny}${typo}\n${users}`,
      `http_server_config:\n  headers: {X-Frame-Options: deny}${typo}\n${inlineKey}`,
      `basic_auth_users:\n  prometheus: ${typo}${hash}\n`,
    ]);
    const complexKeys = [
      `basic_auth_users:\n? alice: ${hash}\n  bob: ${hash}\n`,
      `basic_auth_users:\n  [alice, ${hash}]: x\n`,
      `? {prometheus: ${hash}}\n: x\n`,
    ];
    let refused = 0;
    for (const yaml of [...typos, ...complexKeys]) {
      try {
        parseWebConfig(yaml, '/etc/exporter', 'web.yml');
      } catch (error) {
        refused += 1;
        expect((error as Error).message).not.toMatch(/canary/i);
      }
    }
    // Most typos break the file (those that do not, like a `?` before a key, parse to something valid).
    expect(refused).toBeGreaterThan(typos.length / 2);
    for (const yaml of complexKeys) {
      expect(() => parseWebConfig(yaml, '/etc/exporter', 'web.yml')).toThrow(
        /a key must be a plain value, not a list or a mapping/,
      );
    }
  });

  it("accepts node_exporter's sample file and resolves paths against the file's directory", () => {
    const yaml = [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: /abs/server.key',
      '  client_ca_file: ca.crt',
      '  client_auth_type: RequireAndVerifyClientCert',
      '  client_allowed_sans: [scraper.test]',
      '  min_version: TLS13',
      '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]',
      '  curve_preferences: [X25519, CurveP256]',
      '  prefer_server_cipher_suites: false',
      'http_server_config:',
      '  http2: false',
      '  headers:',
      '    X-Frame-Options: deny',
      '    X-Content-Type-Options: nosniff',
      '    Content-Security-Policy: ""',
      'basic_auth_users:',
      `  alice: ${hash}`,
      'rate_limit:',
      '  interval: 100ms',
      '  burst: 5',
    ].join('\n');
    const config = parseWebConfig(yaml, '/etc/exporter');
    expect(config.tls).toEqual({
      cert: { file: '/etc/exporter/server.crt' },
      key: { file: '/abs/server.key' },
      clientCa: { file: '/etc/exporter/ca.crt' },
      clientAuthType: 'RequireAndVerifyClientCert',
      clientAllowedSans: ['scraper.test'],
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers:
        'ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
      honorCipherOrder: false,
      ecdhCurve: 'X25519:P-256',
    });
    expect(config.http2).toBe(false);
    expect(config.headers).toEqual({ 'X-Frame-Options': 'deny', 'X-Content-Type-Options': 'nosniff' });
    expect([...config.users]).toEqual([['alice', hash]]);
    expect(config.rateLimit).toEqual({ intervalMs: 100, burst: 5 });
  });

  it('treats an empty file as plain HTTP without auth, and accepts the old RequireClientCert name', () => {
    expect(parseWebConfig('', '/x')).toEqual({ http2: true, headers: {}, users: new Map() });
    const old = parseWebConfig(`${tlsBase}  client_auth_type: RequireClientCert`, '/x');
    expect(old.tls?.clientAuthType).toBe('RequireAnyClientCert');
    // An empty SAN list checks nothing, as in exporter-toolkit.
    const noSans = parseWebConfig(
      `${tlsBase}  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  client_allowed_sans: []`,
      '/x',
    );
    expect(noSans.tls?.clientAllowedSans).toBeUndefined();
    // Empty means the default, as in Go.
    expect(parseWebConfig(`${tlsBase}  client_auth_type: ""`, '/x').tls?.clientAuthType).toBe('NoClientCert');
  });

  it.each([
    ['""', 'tls_server_config:\n  cert_file: ""\n  key_file: ""\n'],
    ['null', 'tls_server_config:\n  cert_file:\n  key_file: ~\n'],
  ])('keeps TLS on, and says what is missing, when every TLS file key is present but %s', (_name, yaml) => {
    expect(() => parseWebConfig(yaml, '/x', 'web.yml')).toThrow(
      new WebConfigError('web.yml', [
        'tls_server_config: missing one of cert or cert_file',
        'tls_server_config: missing one of key or key_file',
      ]),
    );
  });

  it('reads rate_limit.interval as Go does: fractions, microseconds, units in any order, a bare 0', () => {
    const interval = (text: string) =>
      parseWebConfig(`rate_limit:\n  interval: "${text}"\n  burst: 1`, '/x').rateLimit;
    expect(interval('1.5s')).toEqual({ intervalMs: 1500, burst: 1 });
    expect(interval('500us')).toEqual({ intervalMs: 0.5, burst: 1 });
    expect(interval('1m30s')).toEqual({ intervalMs: 90_000, burst: 1 });
    expect(interval('.5h')).toEqual({ intervalMs: 1_800_000, burst: 1 });
    expect(interval('0')).toBeUndefined();
    // Whole nanoseconds, as in Go: a fraction of one is no limit at all.
    expect(interval('0.1ns')).toBeUndefined();
    expect(interval('2.5ns')).toEqual({ intervalMs: 0.000002, burst: 1 });
    // A bare integer is nanoseconds, as yaml.v2 reads it into a time.Duration.
    expect(parseWebConfig('rate_limit:\n  interval: 0\n  burst: 1', '/x').rateLimit).toBeUndefined();
    expect(parseWebConfig('rate_limit:\n  interval: 1500000\n  burst: 1', '/x').rateLimit).toEqual({
      intervalMs: 1.5,
      burst: 1,
    });
    // Computed as Go computes it, not in floating point: 1.001ms is 1001000ns (float: 1000999).
    expect(interval('1.001ms')).toEqual({ intervalMs: 1.001, burst: 1 });
    expect(interval('9223372036854775807ns')).toEqual({ intervalMs: 9223372036854.775, burst: 1 });
    expect(() => interval('9223372036854775808ns')).toThrow(/is longer than Go's longest duration/);
    expect(interval('2562047h47m16.854775807s')?.intervalMs).toBeCloseTo(9223372036854.775, 3);
    expect(() => parseWebConfig('rate_limit:\n  interval: 9007199254740992\n  burst: 1', '/x')).toThrow(
      'rate_limit.interval: a bare number is nanoseconds: a whole number up to 9007199254740991 (or a duration such as "1.5s")',
    );
    expect(() => interval('2562048h')).toThrow(
      'rate_limit.interval: "2562048h" is longer than Go\'s longest duration (2562047h47m16.854775807s)',
    );
  });

  it('names an unreadable file by its error code only', () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    const file = join(dir, 'web.yml');
    expect(() => checkWebConfigFile(file)).toThrow(`invalid web config ${file}: cannot read: ENOENT`);
    writeFileSync(file, 'basic_auth_users: {}\n');
    const checked = checkWebConfigFile(file);
    expect(checked.problems).toEqual([]);
    expect(checked.config.users.size).toBe(0);
  });
});
