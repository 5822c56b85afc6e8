import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, parseCommandLine } from '../src/config/index.js';
import type { ConfigIo, ExporterConfig, TargetConfig } from '../src/config/index.js';

const fixtures = resolve(import.meta.dirname, 'fixtures/config');
const fixture = (path: string): string => resolve(fixtures, path);

function load(argv: string[], env: Record<string, string> = {}, io?: ConfigIo): ExporterConfig {
  return loadConfig(parseCommandLine(argv, env), io);
}

/** What a file the test does not name holds: a key, a certificate (PEM, as the loader checks) or text. */
function presentFile(path: string): string {
  if (path.endsWith('key.pem')) return readFileSync(fixture('tls/client-key.pem'), 'utf8');
  return path.endsWith('.pem') ? readFileSync(fixture('tls/client.pem'), 'utf8') : 'present';
}

/** Every path reads as a small file: for files that only need to exist. */
const anyFileIo = (files: Record<string, string>): ConfigIo => ({
  stat: (path) => ({ kind: 'file', size: (files[path] ?? presentFile(path)).length }),
  readFile: (path) => files[path] ?? presentFile(path),
});

const flagDefaults: Omit<ExporterConfig, 'targets'> = {
  taskTypeRules: [],
  pollSchedule: '*/15 * * * * *',
  limits: { maxTaskTypes: 50, maxNodes: 500, maxLabelLength: 128 },
  web: { listenAddress: ':9886', telemetryPath: '/metrics' },
  log: { level: 'info', format: 'json' },
  demo: false,
};

const defaultTarget: TargetConfig = {
  name: '127.0.0.1:2886',
  urls: ['http://127.0.0.1:2886'],
  password: { kind: 'none' },
  agentPassword: { kind: 'none' },
  tls: {},
  timeoutMs: 10_000,
};

describe('loadConfig without a config file', () => {
  test('no flags: one target on the default URL, every default', () => {
    expect(load([])).toEqual({ ...flagDefaults, targets: [defaultTarget] });
  });

  test('every flag', () => {
    const config = load([
      '--obshell.url=https://a:2886,https://b:2886',
      `--obshell.password-file=${fixture('secrets/root.password')}`,
      `--obshell.agent-password-file=${fixture('secrets/agent.password')}`,
      `--obshell.ca-file=${fixture('tls/ca.pem')}`,
      `--obshell.cert-file=${fixture('tls/client.pem')}`,
      `--obshell.key-file=${fixture('tls/client-key.pem')}`,
      '--obshell.server-name=ob.internal',
      '--obshell.insecure-skip-verify',
      '--obshell.timeout=3s',
      '--obshell.target-name=prod',
      '--poll.schedule=*/30 * * * * *',
      '--web.listen-address=127.0.0.1:9999',
      '--web.telemetry-path=/obshell',
      `--web.config.file=${fixture('full.yml')}`,
      '--log.level=debug',
      '--log.format=pretty',
      '--limits.task-types=5',
      '--limits.nodes=6',
      '--limits.label-length=7',
      '--demo=false',
      '--targets.shard=0/1',
    ]);
    expect(config).toEqual({
      targets: [
        {
          name: 'prod',
          urls: ['https://a:2886', 'https://b:2886'],
          password: { kind: 'file', path: fixture('secrets/root.password') },
          agentPassword: { kind: 'file', path: fixture('secrets/agent.password') },
          tls: {
            caFile: fixture('tls/ca.pem'),
            certFile: fixture('tls/client.pem'),
            keyFile: fixture('tls/client-key.pem'),
            serverName: 'ob.internal',
            insecureSkipVerify: true,
          },
          timeoutMs: 3000,
        },
      ],
      taskTypeRules: [],
      pollSchedule: '*/30 * * * * *',
      limits: { maxTaskTypes: 5, maxNodes: 6, maxLabelLength: 7 },
      web: { listenAddress: '127.0.0.1:9999', telemetryPath: '/obshell', configFile: fixture('full.yml') },
      log: { level: 'debug', format: 'pretty' },
      shard: { index: 0, count: 1 },
      demo: false,
    });
  });

  test.each([
    ['http://h', 'h:80'],
    ['https://h', 'h:443'],
    ['http://[::1]:2886', '[::1]:2886'],
  ])('the target name of %s is %s', (url, name) => {
    expect(load([`--obshell.url=${url}`]).targets[0]?.name).toBe(name);
  });

  test('a socket target is named by its path and has no URLs', () => {
    expect(load(['--obshell.socket=/home/admin/obshell/run/obshell.sock']).targets).toEqual([
      {
        ...defaultTarget,
        name: '/home/admin/obshell/run/obshell.sock',
        urls: [],
        socket: '/home/admin/obshell/run/obshell.sock',
      },
    ]);
  });

  test('OBSHELL_PASSWORD and OBSHELL_AGENT_PASSWORD become env references; a password file wins', () => {
    const env = { OBSHELL_PASSWORD: 'p', OBSHELL_AGENT_PASSWORD: 'q' };
    expect(load([], env).targets[0]).toMatchObject({
      password: { kind: 'env', name: 'OBSHELL_PASSWORD' },
      agentPassword: { kind: 'env', name: 'OBSHELL_AGENT_PASSWORD' },
    });
    expect(load(['--obshell.password-file=/pw'], env, anyFileIo({})).targets[0]?.password).toEqual({
      kind: 'file',
      path: '/pw',
    });
  });

  test('the config is frozen', () => {
    const config = load([]);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.targets[0]?.urls)).toBe(true);
  });
});

describe('loadConfig with a config file', () => {
  test('the full fixture: every key, relative paths resolved against the file', () => {
    const env = { STAGING_PASSWORD: 's', STAGING_AGENT_PASSWORD: 't' };
    const config = load([`--config.file=${fixture('full.yml')}`], env);
    expect(config).toEqual({
      ...flagDefaults,
      configFile: fixture('full.yml'),
      taskTypeRules: [
        { pattern: /^Nightly compaction of /, taskType: 'Nightly compaction' },
        { pattern: /^Scale out zone \S+$/, taskType: 'Scale out zone' },
      ],
      targets: [
        {
          name: 'prod',
          urls: ['https://10.0.1.11:2886', 'https://10.0.1.12'],
          password: { kind: 'file', path: fixture('secrets/root.password') },
          agentPassword: { kind: 'file', path: fixture('secrets/agent.password') },
          tls: {
            caFile: fixture('tls/ca.pem'),
            certFile: fixture('tls/client.pem'),
            keyFile: fixture('tls/client-key.pem'),
            serverName: 'obshell.prod.internal',
            insecureSkipVerify: false,
          },
          timeoutMs: 90_000,
        },
        {
          name: 'staging',
          urls: ['http://192.168.7.20:2886'],
          password: { kind: 'env', name: 'STAGING_PASSWORD' },
          agentPassword: { kind: 'env', name: 'STAGING_AGENT_PASSWORD' },
          tls: {},
          timeoutMs: 500,
        },
        {
          name: 'local',
          urls: [],
          socket: '/home/admin/obshell/run/obshell.sock',
          password: { kind: 'none' },
          agentPassword: { kind: 'none' },
          tls: {},
          timeoutMs: 10_000,
        },
      ],
    });
  });

  test('flags give every target defaults; the file overrides them per key', () => {
    const yaml = [
      'targets:',
      '  - {name: a, urls: [http://a:1]}',
      '  - name: b',
      '    urls: [http://b:1]',
      '    password_env: B_PASSWORD',
      '    tls: {server_name: b.internal, cert_file: /b.pem, key_file: /b-key.pem}',
      '    timeout: 2s',
    ].join('\n');
    const argv = [
      '--config.file=/c.yml',
      '--obshell.password-file=/pw',
      '--obshell.ca-file=/ca.pem',
      '--obshell.cert-file=/cert.pem',
      '--obshell.key-file=/key.pem',
      '--obshell.server-name=default.internal',
      '--obshell.timeout=7s',
    ];
    const [a, b] = load(
      argv,
      { B_PASSWORD: 'x', OBSHELL_AGENT_PASSWORD: 'y' },
      anyFileIo({ '/c.yml': yaml }),
    ).targets;
    const flagTls = {
      caFile: '/ca.pem',
      certFile: '/cert.pem',
      keyFile: '/key.pem',
      serverName: 'default.internal',
    };
    expect(a).toEqual({
      name: 'a',
      urls: ['http://a:1'],
      password: { kind: 'file', path: '/pw' },
      agentPassword: { kind: 'env', name: 'OBSHELL_AGENT_PASSWORD' },
      tls: flagTls,
      timeoutMs: 7000,
    });
    expect(b).toEqual({
      name: 'b',
      urls: ['http://b:1'],
      password: { kind: 'env', name: 'B_PASSWORD' },
      agentPassword: { kind: 'env', name: 'OBSHELL_AGENT_PASSWORD' },
      tls: { caFile: '/ca.pem', certFile: '/b.pem', keyFile: '/b-key.pem', serverName: 'b.internal' },
      timeoutMs: 2000,
    });
  });

  test('a file without targets adds rules to the flags target; empty values count as absent', () => {
    const yaml = 'task_type_rules:\n  - {match: "^Backup ", task_type: Backup}\n';
    const config = load(
      ['--config.file=/c.yml', '--obshell.url=http://h:1'],
      {},
      anyFileIo({ '/c.yml': yaml }),
    );
    expect(config.targets.map((t) => t.name)).toEqual(['h:1']);
    expect(config.taskTypeRules).toEqual([{ pattern: /^Backup /, taskType: 'Backup' }]);
    const empty = load(
      ['--config.file=/c.yml'],
      {},
      anyFileIo({ '/c.yml': 'targets:\n  - {name: a, socket: /s, tls: }\n' }),
    );
    expect(empty.targets[0]?.tls).toEqual({});
  });

  test("a socket target takes none of the flags' passwords or TLS settings; flags meant for it alone are refused", () => {
    const env = { OBSHELL_PASSWORD: 'p' };
    const argv = [
      '--config.file=/c.yml',
      '--obshell.password-file=/pw',
      '--obshell.ca-file=/ca.pem',
      '--obshell.timeout=7s',
    ];
    const yaml = 'targets:\n  - {name: tcp, urls: [http://a:2886]}\n  - {name: local, socket: /s}\n';
    const [tcp, local] = load(argv, env, anyFileIo({ '/c.yml': yaml })).targets;
    expect(tcp).toMatchObject({ password: { kind: 'file', path: '/pw' }, tls: { caFile: '/ca.pem' } });
    expect(local).toEqual({
      name: 'local',
      urls: [],
      socket: '/s',
      password: { kind: 'none' },
      agentPassword: { kind: 'none' },
      tls: {},
      timeoutMs: 7_000,
    });
    // By flags alone, the flags describe that one socket target: say they would not be used.
    expect(() => load(['--obshell.socket=/s', '--obshell.password-file=/pw'], env, anyFileIo({}))).toThrow(
      '--obshell.password-file: cannot be combined with --obshell.socket, which takes no password or TLS',
    );
    expect(load(['--obshell.socket=/s'], env).targets[0]?.password).toEqual({ kind: 'none' });
  });

  test("--targets.shard keeps this replica's targets only", () => {
    const yaml = `targets:\n${Array.from({ length: 20 }, (_, i) => `  - {name: t${i}, socket: /s${i}}`).join('\n')}\n`;
    const io = anyFileIo({ '/c.yml': yaml });
    const names = [0, 1, 2].map((i) =>
      load(['--config.file=/c.yml', `--targets.shard=${i}/3`], {}, io).targets.map((t) => t.name),
    );
    expect(names.flat().sort()).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
    expect(load(['--config.file=/c.yml', '--targets.shard=1/3'], {}, io).shard).toEqual({
      index: 1,
      count: 3,
    });
  });
});

describe('deploy/obshell-exporter.example.yml', () => {
  test('loads cleanly (its files are assumed present) and lists every key', () => {
    const path = resolve(import.meta.dirname, '../deploy/obshell-exporter.example.yml');
    const config = load(
      [`--config.file=${path}`],
      { PROD_EU_AGENT_PASSWORD: 'x' },
      anyFileIo({ [path]: readFileSync(path, 'utf8') }),
    );
    expect(config.targets.map((t) => t.name)).toEqual(['prod-eu', 'staging', 'local']);
    expect(config.taskTypeRules).toHaveLength(2);
    const text = readFileSync(path, 'utf8');
    for (const key of [
      'targets:',
      'name:',
      'urls:',
      'socket:',
      'password_file:',
      'password_env:',
      'agent_password_file:',
      'agent_password_env:',
      'tls:',
      'ca_file:',
      'cert_file:',
      'key_file:',
      'server_name:',
      'insecure_skip_verify:',
      'timeout:',
      'task_type_rules:',
      'match:',
      'task_type:',
    ]) {
      expect(text).toContain(key);
    }
  });
});
