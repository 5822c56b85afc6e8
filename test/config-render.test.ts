import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { configNotes, loadConfig, parseCommandLine, renderEffectiveConfig } from '../src/config/index.js';
import type { SecretRef } from '../src/config/index.js';

const canary = 'canary-92c1-root-password';
const agentCanary = 'canary-92c1-agent-password';
const dir = mkdtempSync(join(tmpdir(), 'obshell-exporter-render-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('renderEffectiveConfig', () => {
  const rootFile = write('root.password', `${canary}\n`);
  const configFile = write(
    'c.yml',
    [
      'targets:',
      '  - {name: a, urls: [http://a:2886], timeout: 1h30m}',
      '  - {name: b, urls: [http://b:2886], password_env: B_PW, agent_password_env: B_AGENT_PW}',
      'task_type_rules:',
      '  - {match: "^Create tenant ", task_type: Create tenant}',
    ].join('\n'),
  );
  const env = { B_PW: canary, B_AGENT_PW: agentCanary, OBSHELL_AGENT_PASSWORD: agentCanary };
  const config = loadConfig(
    parseCommandLine(
      [`--config.file=${configFile}`, `--obshell.password-file=${rootFile}`, '--log.level=warn'],
      env,
    ),
  );
  const text = renderEffectiveConfig(config);

  test('never contains a secret value, only references', () => {
    expect(text).not.toContain(canary);
    expect(text).not.toContain(agentCanary);
    expect(text).toContain(`password_file: ${rootFile}`);
    expect(text).toContain('password_env: B_PW');
  });

  test('exact text', () => {
    expect(text).toBe(
      [
        '# Effective configuration (secrets are shown as references, never values).',
        `config_file: ${configFile}`,
        'targets:',
        '  - name: a',
        '    urls:',
        '      - http://a:2886',
        `    password_file: ${rootFile}`,
        '    agent_password_env: OBSHELL_AGENT_PASSWORD',
        '    timeout: 1h30m',
        '  - name: b',
        '    urls:',
        '      - http://b:2886',
        '    password_env: B_PW',
        '    agent_password_env: B_AGENT_PW',
        '    timeout: 10s',
        'task_type_rules:',
        '  - match: "^Create tenant "',
        '    task_type: Create tenant',
        'poll_schedule: "*/15 * * * * *"',
        'limits:',
        '  task_types: 50',
        '  nodes: 500',
        '  label_length: 128',
        'web:',
        '  listen_address: :9886',
        '  telemetry_path: /metrics',
        'log:',
        '  level: warn',
        '  format: json',
        'demo: false',
        '',
      ].join('\n'),
    );
  });

  test('is valid YAML whose targets section the loader accepts back', () => {
    const doc = parse(text) as { targets: unknown[]; task_type_rules: unknown[] };
    const again = write(
      'again.yml',
      JSON.stringify({ targets: doc.targets, task_type_rules: doc.task_type_rules }),
    );
    const reloaded = loadConfig(parseCommandLine([`--config.file=${again}`, '--log.level=warn'], env));
    expect(reloaded.targets).toEqual(config.targets);
    expect(reloaded.taskTypeRules).toEqual(config.taskTypeRules);
  });

  test('shows the shard and tls settings', () => {
    const sharded = loadConfig(
      parseCommandLine(
        ['--targets.shard=0/1', '--obshell.insecure-skip-verify', '--obshell.server-name=x'],
        {},
      ),
    );
    const out = renderEffectiveConfig(sharded);
    expect(out).toContain('# Targets are those of this shard only.\nshard: 0/1\n');
    expect(out).toContain('    tls:\n      server_name: x\n      insecure_skip_verify: true\n');
  });

  test('shows no target for the demo, which polls only its simulator', () => {
    const demo = renderEffectiveConfig(
      loadConfig(parseCommandLine(['--demo'], { OBSHELL_PASSWORD: canary })),
    );
    expect(demo).toContain('# --demo: polls only the built-in simulator');
    expect(demo).not.toContain('targets:');
    expect(demo).not.toContain('127.0.0.1:2886');
    expect(demo).toContain('demo: true');
  });

  test('shows the auto-reload interval after the config file', () => {
    const watched = loadConfig(
      parseCommandLine([`--config.file=${configFile}`, '--config.auto-reload-interval=1m30s'], env),
    );
    expect(renderEffectiveConfig(watched)).toContain(
      `config_file: ${configFile}\nconfig_auto_reload_interval: 1m30s\ntargets:`,
    );
  });
});

describe('configNotes', () => {
  const configFile = write(
    'notes.yml',
    [
      'targets:',
      '  - {name: bare, urls: [http://a:2886]}',
      '  - {name: by-env, urls: [http://b:2886], password_env: B_PW}',
      '  - {name: agent-only, urls: [http://c:2886], agent_password_env: C_AGENT_PW}',
      '  - {name: local, socket: /run/obshell.sock}',
    ].join('\n'),
  );
  const load = (argv: string[], env: Record<string, string> = {}) =>
    loadConfig(parseCommandLine([`--config.file=${configFile}`, ...argv], env));

  test('names each target polled over TCP with no password at all, and only those', () => {
    const env = { B_PW: canary, C_AGENT_PW: agentCanary };
    expect(configNotes(load([], env))).toEqual([
      'target "bare": no root@sys password configured (--obshell.password-file, OBSHELL_PASSWORD, or password_file / password_env in the config file); its agents will refuse the polls unless they need none',
    ]);
  });

  test('one line for a fleet: the first three names and how many more', () => {
    const fleet = write(
      'fleet.yml',
      `targets:\n${['t1', 't2', 't3', 't4', 't5'].map((n) => `  - {name: ${n}, urls: [http://a:2886]}\n`).join('')}`,
    );
    expect(configNotes(loadConfig(parseCommandLine([`--config.file=${fleet}`], {})))).toEqual([
      'targets "t1", "t2", "t3" and 2 more: no root@sys password configured (--obshell.password-file, OBSHELL_PASSWORD, or password_file / password_env in the config file); its agents will refuse the polls unless they need none',
    ]);
  });

  test('names the targets whose password is empty (an unfilled Secret), never a value', () => {
    const emptyFile = write('empty.password', '\n');
    const env = { B_PW: '', C_AGENT_PW: agentCanary };
    const config = load([`--obshell.password-file=${emptyFile}`], env);
    const isEmpty = (ref: SecretRef) =>
      ref.kind === 'file'
        ? ref.path === emptyFile
        : ref.kind === 'env' && env[ref.name as keyof typeof env] === '';
    // agent-only has an agent password: obshell takes that one where it is set.
    expect(configNotes(config, isEmpty)).toEqual([
      'targets "bare", "by-env": the root@sys password is empty (an empty file or variable); its agents will refuse the polls unless they need none',
    ]);
  });

  test('names the targets with several agents whose timeout the schedule cuts short', () => {
    const agents = write(
      'agents.yml',
      [
        'targets:',
        '  - {name: pair, urls: [http://a:2886, http://b:2886]}',
        '  - {name: lone, urls: [http://c:2886]}',
        '  - {name: local, socket: /run/obshell.sock}',
      ].join('\n'),
    );
    const notes = (argv: string[]) =>
      configNotes(
        loadConfig(parseCommandLine([`--config.file=${agents}`, ...argv], { OBSHELL_PASSWORD: canary })),
      );
    // A lone agent or a socket has no next agent: its poll is cut at the budget either way.
    expect(notes(['--obshell.timeout=14s'])).toEqual([
      'target "pair": the timeout is not below 14s, the most a poll may take at --poll.schedule (every 15s): a hung agent uses up the poll, and the next agent is asked only at the next poll',
    ]);
    expect(notes(['--obshell.timeout=13s'])).toEqual([]);
    expect(notes(['--poll.schedule=*/5 * * * * *'])).toHaveLength(1);
  });

  test("names the targets with an agent URL on the scheme's default port, not obshell's 2886", () => {
    const ports = write(
      'ports.yml',
      [
        'targets:',
        '  - {name: no-port, urls: [http://a:2886, http://b]}',
        '  - {name: proxy, urls: [https://obshell.example:443]}',
        '  - {name: explicit, urls: [http://c:8080]}',
      ].join('\n'),
    );
    expect(
      configNotes(loadConfig(parseCommandLine([`--config.file=${ports}`], { OBSHELL_PASSWORD: canary }))),
    ).toEqual([
      `targets "no-port", "proxy": an agent URL uses the scheme's default port, 80 (http) or 443 (https); obshell listens on 2886 unless a proxy is in front`,
    ]);
  });

  test('is empty once a password applies to every target, and in the demo', () => {
    const env = { B_PW: canary, C_AGENT_PW: agentCanary, OBSHELL_PASSWORD: canary };
    expect(configNotes(load([], env))).toEqual([]);
    expect(configNotes(loadConfig(parseCommandLine(['--demo'], {})))).toEqual([]);
  });
});
