import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { loadConfig, parseCommandLine } from '../src/config/index.js';
import type { ConfigIo, ExporterConfig } from '../src/config/index.js';

const configPath = '/etc/x/c.yml';

const directories = new Set(['/etc', '/etc/x']);
/** A device and a FIFO: reading either would never end or never start. */
const devices = new Set(['/dev/zero', '/etc/x/fifo']);

/** An in-memory file system: known paths read back, `directories` are directories, the rest is missing. */
function fakeIo(files: Record<string, string>): ConfigIo {
  const missing = (path: string) => {
    const code = directories.has(path) ? 'EISDIR' : 'ENOENT';
    return Object.assign(new Error(`${code}: ${path}`), { code });
  };
  return {
    stat(path) {
      if (directories.has(path)) return { kind: 'directory', size: 4096 };
      if (devices.has(path)) return { kind: 'other', size: 0 };
      const text = files[path];
      if (text === undefined) throw missing(path);
      return { kind: 'file', size: Buffer.byteLength(text) };
    },
    readFile(path) {
      if (devices.has(path)) throw new Error(`${path} was read: on a real system this hangs`);
      const text = files[path];
      if (text === undefined) throw missing(path);
      return text;
    },
  };
}

const pem = (name: string): string =>
  readFileSync(new URL(`fixtures/config/tls/${name}`, import.meta.url), 'utf8');
const brokenCertificate = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

const disk = {
  '/etc/x/pw': 'secret',
  '/etc/x/big': 'x'.repeat(64 * 1024 + 1),
  '/etc/x/ca.pem': pem('ca.pem'),
  '/etc/x/cert.pem': pem('client.pem'),
  '/etc/x/key.pem': pem('client-key.pem'),
  '/etc/x/other-key.pem': pem('other-key.pem'),
  '/etc/x/encrypted-key.pem': pem('encrypted-key.pem'),
  '/etc/x/broken.pem': brokenCertificate,
  '/etc/x/bundle.pem': pem('ca.pem') + brokenCertificate,
  '/etc/x/junk': 'localhost\n',
  '/etc/x/web.yml': 'basic_auth_users: {}',
};

function load(
  yaml: string | undefined,
  argv: string[] = [],
  env: Record<string, string> = {},
): ExporterConfig {
  const files: Record<string, string> = { ...disk, ...(yaml !== undefined ? { [configPath]: yaml } : {}) };
  const fileFlag = yaml !== undefined ? [`--config.file=${configPath}`] : [];
  return loadConfig(parseCommandLine([...fileFlag, ...argv], env), fakeIo(files));
}

function problems(
  yaml: string | undefined,
  argv: string[] = [],
  env: Record<string, string> = {},
): readonly string[] {
  try {
    load(yaml, argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('no ConfigError');
}

/** Each level repeats the one before nine times: 9^5 strings from a few hundred bytes. */
const billionLaughs = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(['b', 'c', 'd', 'e'].map((l, i) => `${l}: &${l} [${Array(9).fill(`*${'abcd'[i]}`).join(', ')}]`))
  .join('\n');

const valueHidden = ' (value not shown: it may be the password itself)';
const hidden = ' (path not shown: it may be the password itself)';

const target = (body: string): string => `targets:\n  - name: a\n    urls: [http://a:1]\n${body}`;
const rule = (body: string): string => `task_type_rules:\n${body}`;

describe('config file: one case per invalid input, exact message', () => {
  test.each([
    ['targets: {}', 'targets: must be a list'],
    ['targets: []', 'targets: must not be empty'],
    ['targets:', 'targets: must not be empty'],
    ['targets: ~\ntask_type_rules: []', 'targets: must not be empty'],
    ['', '/etc/x/c.yml: the file is empty (it must list targets, task_type_rules or both)'],
    [
      '# all commented out\n',
      '/etc/x/c.yml: the file is empty (it must list targets, task_type_rules or both)',
    ],
    ['targets: [x]', 'targets[0]: must be a mapping'],
    ['targets: [~]', 'targets[0]: must be a mapping'],
    ['target: []', 'target: unknown key'],
    ['- a', '/etc/x/c.yml: must be a mapping with targets and task_type_rules'],
    ['targets:\n  - urls: [http://a:1]', 'targets[0].name: is required'],
    ['targets:\n  - {name: "", socket: /s}', 'targets[0].name: must not be empty'],
    ['targets:\n  - {name: 12, socket: /s}', 'targets[0].name: must be a string'],
    ['targets:\n  - {name: "   ", socket: /s}', 'targets[0].name: must not be only whitespace'],
    ['targets:\n  - {name: "\\t", socket: /s}', 'targets[0].name: must not be only whitespace'],
    [
      'targets:\n  - {name: a, urls: ["http://a:0"]}',
      'targets[0].urls[0]: "http://a:0" has port 0, which no agent listens on',
    ],
    ['targets:\n  - name: a', 'targets[0]: one of urls or socket is required'],
    [target('    socket: /s'), 'targets[0]: urls and socket are mutually exclusive'],
    ['targets:\n  - {name: a, socket: ""}', 'targets[0].socket: must not be empty'],
    [
      'targets:\n  - {name: a, socket: /s, tls: {server_name: x}}',
      'targets[0].tls: a socket target uses no TLS',
    ],
    [
      // One problem, not also "must be set" for the variable nobody will read.
      'targets:\n  - {name: a, socket: /s, password_env: NOT_SET_ANYWHERE}',
      "targets[0].password_env: a socket target sends no password (obshell's socket needs none)",
    ],
    ['targets:\n  - {name: a, urls: []}', 'targets[0].urls: must not be empty'],
    ['targets:\n  - {name: a, urls: http://a:1}', 'targets[0].urls: must be a list'],
    [
      'targets:\n  - {name: a, urls: [http://a:1, ftp://x]}',
      'targets[0].urls[1]: "ftp://x" is not an http or https URL',
    ],
    ['targets:\n  - {name: a, urls: [2886]}', 'targets[0].urls[0]: must be a string'],
    [
      'targets:\n  - {name: a, urls: ["http://a:1", "http://a:1/"]}',
      'targets[0].urls[1]: "http://a:1" is already urls[0]',
    ],
    [
      'targets:\n  - {name: a, urls: ["http://u:hunter2@a:1"]}',
      'targets[0].urls[0]: must not contain a user or password (use a password file)',
    ],
    [
      'targets:\n  - {name: a, urls: ["http://u:hun#ter2@a:1"]}',
      'targets[0].urls[0]: must not contain a user or password (use a password file)',
    ],
    [
      'targets:\n  - {name: a, socket: /s}\n  - {name: b, socket: /t, pasword_file: /etc/x/pw}',
      'targets[1].pasword_file: unknown key',
    ],
    [
      'targets:\n  - {name: a, socket: /s}\n  - {name: a, socket: /t}',
      'targets[1].name: "a" is already used by targets[0]',
    ],
    [
      target('    password_file: pw\n    password_env: HOME'),
      'targets[0]: password_file and password_env are mutually exclusive',
    ],
    [
      target('    password_file: missing'),
      `targets[0].password_file: cannot read the file: no such file${hidden}`,
    ],
    [
      target('    password_file: /etc/x/'),
      `targets[0].password_file: cannot read the file: is a directory${hidden}`,
    ],
    [
      target('    password_file: /dev/zero'),
      `targets[0].password_file: cannot read the file: not a regular file${hidden}`,
    ],
    [
      target('    password_file: fifo'),
      `targets[0].password_file: cannot read the file: not a regular file${hidden}`,
    ],
    [
      target('    password_file: big'),
      `targets[0].password_file: cannot read the file: larger than 64 KiB${hidden}`,
    ],
    [target('    password_file: 42'), 'targets[0].password_file: must be a string'],
    [
      target('    password_env: NOT_SET'),
      `targets[0].password_env: names an environment variable that is not set${valueHidden}`,
    ],
    [
      target('    password_env: bad-name'),
      `targets[0].password_env: is not an environment variable name${valueHidden}`,
    ],
    [
      target('    agent_password_file: pw\n    agent_password_env: HOME'),
      'targets[0]: agent_password_file and agent_password_env are mutually exclusive',
    ],
    [
      target('    agent_password_file: nope'),
      `targets[0].agent_password_file: cannot read the file: no such file${hidden}`,
    ],
    [
      target('    agent_password_file: /dev/zero'),
      `targets[0].agent_password_file: cannot read the file: not a regular file${hidden}`,
    ],
    [target('    tls: []'), 'targets[0].tls: must be a mapping'],
    [target('    tls: {serverName: x}'), 'targets[0].tls.serverName: unknown key'],
    [target('    tls: {cert_file: cert.pem}'), 'targets[0].tls.key_file: required when cert_file is set'],
    [target('    tls: {key_file: key.pem}'), 'targets[0].tls.cert_file: required when key_file is set'],
    [
      target('    tls: {ca_file: nope.pem}'),
      'targets[0].tls.ca_file: cannot read "/etc/x/nope.pem": no such file',
    ],
    [
      target('    tls: {ca_file: fifo}'),
      'targets[0].tls.ca_file: cannot read "/etc/x/fifo": not a regular file',
    ],
    [target('    tls: {ca_file: junk}'), 'targets[0].tls.ca_file: "/etc/x/junk" has no PEM certificate'],
    [
      target('    tls: {ca_file: broken.pem}'),
      'targets[0].tls.ca_file: "/etc/x/broken.pem" has an invalid PEM certificate (the 1st)',
    ],
    [
      target('    tls: {ca_file: bundle.pem}'),
      'targets[0].tls.ca_file: "/etc/x/bundle.pem" has an invalid PEM certificate (the 2nd)',
    ],
    [
      target('    tls: {cert_file: junk, key_file: key.pem}'),
      'targets[0].tls.cert_file: "/etc/x/junk" has no PEM certificate',
    ],
    [
      target('    tls: {cert_file: key.pem, key_file: key.pem}'),
      'targets[0].tls.cert_file: "/etc/x/key.pem" has no PEM certificate',
    ],
    [
      target('    tls: {cert_file: cert.pem, key_file: cert.pem}'),
      'targets[0].tls.key_file: "/etc/x/cert.pem" has no PEM private key',
    ],
    [
      target('    tls: {cert_file: cert.pem, key_file: encrypted-key.pem}'),
      'targets[0].tls.key_file: "/etc/x/encrypted-key.pem" holds an encrypted private key (a passphrase is not supported)',
    ],
    [
      target('    tls: {cert_file: cert.pem, key_file: other-key.pem}'),
      'targets[0].tls.key_file: "/etc/x/other-key.pem" does not match the certificate in cert_file "/etc/x/cert.pem"',
    ],
    [target('    tls: {server_name: ""}'), 'targets[0].tls.server_name: must not be empty'],
    [
      target('    tls: {insecure_skip_verify: yes}'),
      'targets[0].tls.insecure_skip_verify: must be true or false',
    ],
    [target('    timeout: 10'), 'targets[0].timeout: "10" has no unit (use ms, s, m, h or d, e.g. "10s")'],
    [target('    timeout: 0s'), 'targets[0].timeout: "0s" must be greater than 0'],
    [target('    timeout: 25d'), 'targets[0].timeout: "25d" is longer than the maximum, 24d20h31m23s647ms'],
    [
      target('    timeout: 10 seconds'),
      'targets[0].timeout: "10 seconds" is not a duration (e.g. "500ms", "10s", "1h30m")',
    ],
    [target('    timeout: [10s]'), 'targets[0].timeout: must be a string'],
    ['task_type_rules: {}', 'task_type_rules: must be a list'],
    [rule('  - x'), 'task_type_rules[0]: must be a mapping'],
    [rule('  - {task_type: X}'), 'task_type_rules[0].match: is required'],
    [rule('  - {match: X}'), 'task_type_rules[0].task_type: is required'],
    [rule('  - {match: X, task_type: ""}'), 'task_type_rules[0].task_type: must not be empty'],
    [rule('  - {match: X, task_type: 7}'), 'task_type_rules[0].task_type: must be a string'],
    [rule('  - {match: 7, task_type: X}'), 'task_type_rules[0].match: must be a string'],
    [
      rule('  - {match: a, task_type: A}\n  - {match: b, task_type: B}\n  - {match: "(", task_type: C}'),
      'task_type_rules[2].match: "(" is not a valid regular expression (Unterminated group)',
    ],
    [
      rule('  - {match: "[z-a]", task_type: X}'),
      'task_type_rules[0].match: "[z-a]" is not a valid regular expression (Range out of order in character class)',
    ],
    [
      'targets: [\n',
      '/etc/x/c.yml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['targets: []\ntargets: []\n', '/etc/x/c.yml:2:1: Map keys must be unique'],
    ['a: b: c', '/etc/x/c.yml:1:4: Nested mappings are not allowed in compact mappings'],
    ['targets: []\n---\nx: 1\n', '/etc/x/c.yml:2:1: more than one YAML document (a "---" line): keep one'],
    [
      'targets: [&a {name: a, socket: /s}]\nx: *nope',
      '/etc/x/c.yml:2:4: x: Unresolved alias (the anchor must be set before the alias)',
    ],
    [
      'task_type_rules:\n  - {match: a, task_type: *nope}',
      '/etc/x/c.yml:2:27: task_type_rules[0].task_type: Unresolved alias (the anchor must be set before the alias)',
    ],
    [billionLaughs, `/etc/x/c.yml: d[0]: Excessive alias count indicates a resource exhaustion attack`],
  ])('%j', (yaml, message) => {
    expect(problems(yaml, [], { HOME: '/root' })).toEqual([message]);
  });

  test('a password written in a *_env or *_file key never reaches the message', () => {
    const secrets = ['S3cr3t-Zq9', 'S3cr3tZq9', 'S3cr3t/Zq9'];
    for (const secret of secrets) {
      for (const key of ['password_env', 'agent_password_env', 'password_file', 'agent_password_file']) {
        const found = problems(target(`    ${key}: "${secret}"`));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(new RegExp(`^targets\\[0\\]\\.${key}: .*not shown`));
        expect(found.join('\n')).not.toContain('Zq9');
      }
      for (const flag of ['--obshell.password-file', '--obshell.agent-password-file']) {
        const found = problems(undefined, [`${flag}=${secret}`]);
        expect(found[0]).toMatch(new RegExp(`^${flag}: .*not shown`));
        expect(found.join('\n')).not.toContain('Zq9');
      }
    }
  });

  test('a password a YAML typo spills into a syntax error never reaches the message', () => {
    // yaml quotes what it stumbled on; `password_env: >S3cr3t` and the like made it the password.
    const typos = ['>', '|', ']', '}', '!', '> ', '| ', '"\\q', '%', '`', '@', '&', '*'];
    let refused = 0;
    for (const typo of typos) {
      try {
        const found = problems(target(`    password_env: ${typo}S3cr3t-Zq9`));
        refused += 1;
        expect(found.join('\n')).not.toContain('Zq9');
      } catch (error) {
        // A few typos still make valid YAML (`&S3cr3t-Zq9` is an anchor on an empty value).
        expect((error as Error).message).toBe('no ConfigError');
      }
    }
    expect(refused).toBeGreaterThan(typos.length / 2);
    expect(problems('targets:\n  - ? {password_env: S3cr3t-Zq9}\n    : x\n')).toEqual([
      '/etc/x/c.yml:2:7: a key must be a plain value, not a list or a mapping',
    ]);
  });

  test('a rule with an unknown key reports the key and the missing one', () => {
    expect(problems(rule('  - {match: X, type: Y}'))).toEqual([
      'task_type_rules[0].type: unknown key',
      'task_type_rules[0].task_type: is required',
    ]);
  });

  test('all problems at once, in file order', () => {
    const yaml = [
      'targets:',
      '  - name: a',
      '    urls: [http://h:1, ftp://x]',
      '    pasword_file: x',
      '  - name: a',
      '    socket: /s',
      '    timeout: 5',
      'task_type_rules:',
      '  - {match: "(", task_type: T}',
    ].join('\n');
    expect(problems(yaml, ['--obshell.url=http://x:1'])).toEqual([
      'targets[0].pasword_file: unknown key',
      'targets[0].urls[1]: "ftp://x" is not an http or https URL',
      'targets[1].timeout: "5" has no unit (use ms, s, m, h or d, e.g. "10s")',
      'targets[1].name: "a" is already used by targets[0]',
      'task_type_rules[0].match: "(" is not a valid regular expression (Unterminated group)',
      '--obshell.url: cannot be used when --config.file lists targets',
    ]);
  });

  test('a YAML syntax error is a ConfigError naming the file and the line', () => {
    expect(() => load('targets:\n  - name: a\n   urls: x\n')).toThrow(ConfigError);
    expect(problems('targets:\n  - name: a\n   urls: x\n')[0]).toMatch(/^\/etc\/x\/c\.yml:3:\d+: /);
  });
});

describe('flags: problems found at load, exact message', () => {
  test.each([
    [['--config.file=/etc/x/none.yml'], {}, '--config.file: cannot read "/etc/x/none.yml": no such file'],
    [
      [],
      { OBSHELL_EXPORTER_CONFIG_FILE: '/none.yml' },
      'OBSHELL_EXPORTER_CONFIG_FILE: cannot read "/none.yml": no such file',
    ],
    [['--config.file=/dev/zero'], {}, '--config.file: cannot read "/dev/zero": not a regular file'],
    [['--config.file=/etc/x/fifo'], {}, '--config.file: cannot read "/etc/x/fifo": not a regular file'],
    [
      ['--obshell.password-file=/missing'],
      {},
      `--obshell.password-file: cannot read the file: no such file${hidden}`,
    ],
    [
      ['--obshell.password-file=/dev/zero'],
      {},
      `--obshell.password-file: cannot read the file: not a regular file${hidden}`,
    ],
    [
      [],
      { OBSHELL_EXPORTER_OBSHELL_PASSWORD_FILE: '/etc/x/big' },
      `OBSHELL_EXPORTER_OBSHELL_PASSWORD_FILE: cannot read the file: larger than 64 KiB${hidden}`,
    ],
    [
      ['--obshell.agent-password-file=/etc'],
      {},
      `--obshell.agent-password-file: cannot read the file: is a directory${hidden}`,
    ],
    [
      ['--obshell.agent-password-file=/etc/x/fifo'],
      {},
      `--obshell.agent-password-file: cannot read the file: not a regular file${hidden}`,
    ],
    [
      ['--obshell.cert-file=/dev/zero', '--obshell.key-file=/etc/x/key.pem'],
      {},
      '--obshell.cert-file: cannot read "/dev/zero": not a regular file',
    ],
    [
      ['--web.config.file=/etc/x/fifo'],
      {},
      '--web.config.file: cannot read "/etc/x/fifo": not a regular file',
    ],
    [['--obshell.ca-file=/missing'], {}, '--obshell.ca-file: cannot read "/missing": no such file'],
    [
      ['--obshell.cert-file=/etc/x/cert.pem'],
      {},
      '--obshell.key-file: required when --obshell.cert-file is set',
    ],
    [
      ['--obshell.key-file=/etc/x/key.pem'],
      {},
      '--obshell.cert-file: required when --obshell.key-file is set',
    ],
    [
      [],
      { OBSHELL_EXPORTER_OBSHELL_KEY_FILE: '/etc/x/key.pem' },
      '--obshell.cert-file: required when OBSHELL_EXPORTER_OBSHELL_KEY_FILE is set',
    ],
    [['--web.config.file=/missing.yml'], {}, '--web.config.file: cannot read "/missing.yml": no such file'],
    [['--obshell.ca-file=/etc/x/junk'], {}, '--obshell.ca-file: "/etc/x/junk" has no PEM certificate'],
    [
      ['--obshell.cert-file=/etc/x/cert.pem', '--obshell.key-file=/etc/x/other-key.pem'],
      {},
      '--obshell.key-file: "/etc/x/other-key.pem" does not match the certificate in --obshell.cert-file "/etc/x/cert.pem"',
    ],
    [
      ['--obshell.cert-file=/etc/x/cert.pem'],
      { OBSHELL_EXPORTER_OBSHELL_KEY_FILE: '/etc/x/other-key.pem' },
      'OBSHELL_EXPORTER_OBSHELL_KEY_FILE: "/etc/x/other-key.pem" does not match the certificate in --obshell.cert-file "/etc/x/cert.pem"',
    ],
    [
      ['--obshell.url=http://a:1', '--obshell.socket=/s'],
      {},
      '--obshell.url: cannot be combined with --obshell.socket',
    ],
    [['--obshell.url=http://a:1,http://a:1/'], {}, '--obshell.url: "http://a:1" is given twice'],
    [
      ['--demo', '--obshell.socket=/s'],
      {},
      '--obshell.socket: cannot be combined with --demo, which polls only the built-in simulator (set --demo=false to poll your cluster)',
    ],
    [
      [],
      { OBSHELL_EXPORTER_DEMO: 'true', OBSHELL_EXPORTER_OBSHELL_URL: 'http://10.0.0.11:2886' },
      'OBSHELL_EXPORTER_OBSHELL_URL: cannot be combined with OBSHELL_EXPORTER_DEMO, which polls only the built-in simulator (set OBSHELL_EXPORTER_DEMO=false to poll your cluster)',
    ],
  ])('%j %j', (argv, env, message) => {
    expect(problems(undefined, argv, env)).toEqual([message]);
  });

  test('--demo refuses every setting of the targets it would drop, each named', () => {
    expect(problems(undefined, ['--demo', '--obshell.target-name=prod', '--targets.shard=1/2'])).toEqual([
      '--obshell.target-name: cannot be combined with --demo, which polls only the built-in simulator (set --demo=false to poll your cluster)',
      '--targets.shard: cannot be combined with --demo, which polls only the built-in simulator (set --demo=false to poll your cluster)',
    ]);
    expect(load(undefined, ['--demo', '--web.listen-address=127.0.0.1:0', '--log.level=debug']).demo).toBe(
      true,
    );
  });

  test('client certificate and key that are not PEM: both named, no content shown', () => {
    const found = problems(undefined, ['--obshell.cert-file=/etc/x/junk', '--obshell.key-file=/etc/x/junk']);
    expect(found).toEqual([
      '--obshell.cert-file: "/etc/x/junk" has no PEM certificate',
      '--obshell.key-file: "/etc/x/junk" has no PEM private key',
    ]);
    expect(found.join('\n')).not.toContain('localhost');
  });

  test('a valid client certificate, key and CA load', () => {
    const argv = ['--obshell.ca-file=/etc/x/ca.pem', '--obshell.cert-file=/etc/x/cert.pem'];
    expect(load(undefined, [...argv, '--obshell.key-file=/etc/x/key.pem']).targets[0]?.tls).toEqual({
      caFile: '/etc/x/ca.pem',
      certFile: '/etc/x/cert.pem',
      keyFile: '/etc/x/key.pem',
    });
  });

  test.each(['--obshell.url=http://a:1', '--obshell.socket=/s', '--obshell.target-name=t'])(
    '%s conflicts with targets from the file',
    (flag) => {
      const name = flag.slice(0, flag.indexOf('='));
      expect(problems('targets: [{name: a, socket: /s}]', [flag])).toEqual([
        `${name}: cannot be used when --config.file lists targets`,
      ]);
    },
  );
});
