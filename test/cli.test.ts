/**
 * The built command as users run it: `npm run build`, then `node dist/src/main.js`. Covers the
 * demo (live, changing metrics from the embedded simulator), exit codes and --config.check.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/simulator/index.js';
import { shardOf } from '../src/config/index.js';
import { canary, canaryValues } from './helpers/canary.js';

const root = new URL('..', import.meta.url).pathname;
const main = join(root, 'dist/src/main.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 15_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// dist/ is built once for the whole run by test/setup/build.ts.

/** Temporary directories of this file, removed when it is done. */
const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * The port an exporter started with `--web.listen-address=127.0.0.1:0` reports in its start-up
 * line. A port picked in advance can be taken meanwhile (a parallel test's ephemeral port).
 */
async function startedPort(log: () => string): Promise<number> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(log());
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the exporter did not start; log:\n${log().slice(-2000)}`);
}

describe('command line', () => {
  it('prints help and version, exit 0', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--obshell.url');
    expect(run(['simulate', '--help']).stdout).toContain('--scenario');
    expect(run(['--version']).stdout).toMatch(/^obshell-exporter \d+\.\d+\.\d+ \(revision \S+, node v\d+/);
  });

  it('exits 2 on a usage error, naming the flag', () => {
    const r = run(['--obshell.timeout=soon']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--obshell.timeout');
    expect(r.stderr).toContain('Run "obshell-exporter --help" for usage.');
    expect(run(['--no-such-flag']).status).toBe(2);
    // The simulator's own usage error points at the simulator's help.
    const sim = run(['simulate', '--bogus']);
    expect(sim.status).toBe(2);
    expect(sim.stderr).toBe(
      'obshell-exporter: unknown option --bogus\nRun "obshell-exporter simulate --help" for usage.\n',
    );
  });

  it('simulate exits with one line, no stack trace, when its address is taken or its TLS files are no PEM', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = run(['simulate', `--listen=127.0.0.1:${port}`]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `obshell-exporter simulate: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`,
      );
    } finally {
      taken.close();
    }
    const dir = tempDir('sim-tls-');
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    const junk = join(dir, 'junk.pem');
    const tls = run(['simulate', '--listen=127.0.0.1:0', `--tls-cert=${junk}`, `--tls-key=${junk}`]);
    expect(tls.status).toBe(2);
    expect(tls.stderr).toMatch(
      /^obshell-exporter: --tls-cert, --tls-key, --tls-ca: cannot use them: .+\nRun/,
    );
    expect(tls.stderr).not.toMatch(/^\s+at /m);
  });

  it('exits 1 with one log line naming the flag when it cannot listen, no stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = run([`--web.listen-address=127.0.0.1:${port}`, '--obshell.url=http://127.0.0.1:9']);
      expect(r.status).toBe(1);
      const lines = r.stderr
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.at(-1)).toMatchObject({
        level: 50,
        code: 'EADDRINUSE',
        msg: `--web.listen-address: cannot listen on "127.0.0.1:${port}": the address is already in use (another exporter running?)`,
      });
      expect(r.stderr).not.toMatch(/^\s+at /m);
      // Given by its variable, the line names the variable.
      const byEnv = run(['--obshell.url=http://127.0.0.1:9'], {
        OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${port}`,
      });
      expect(byEnv.status).toBe(1);
      expect(byEnv.stderr).toContain(`"msg":"OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS: cannot listen on`);
    } finally {
      taken.close();
    }
  });

  it('exits 1 on a bad config file, naming the key and the reason', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'targets:\n  - name: a\n    urls: [ftp://x]\n    pasword_file: /x\n');
    const r = run(['--config.file', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('targets[0].urls[0]');
    expect(r.stderr).toContain('targets[0].pasword_file');
  });

  it('exits 1 on an empty config file or a targets key without a value, naming it', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'config.yml');
    for (const [text, reason] of [
      ['', `${file}: the file is empty`],
      ['targets:\n', 'targets: must not be empty'],
    ] as const) {
      writeFileSync(file, text);
      for (const args of [['--config.check'], ['--web.listen-address=127.0.0.1:0']]) {
        const r = run([...args, `--config.file=${file}`]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(reason);
        expect(r.stdout + r.stderr).not.toContain('127.0.0.1:2886');
      }
    }
  });

  it('exits 1 on a config file whose aliases do not resolve, naming the file, without a stack trace', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'targets: *nowhere\n');
    const r = run(['--config.check', `--config.file=${file}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${file}:1:10: targets: Unresolved alias (the anchor must be set before the alias)`,
    );
    expect(r.stderr).not.toContain('fatal');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('exits 1 at once on a FIFO or a device given as a file, naming the flag', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [args, message] of [
      [
        [`--obshell.password-file=${fifo}`],
        '--obshell.password-file: cannot read the file: not a regular file',
      ],
      [[`--config.file=${fifo}`], `--config.file: cannot read "${fifo}": not a regular file`],
      [
        ['--obshell.password-file=/dev/zero'],
        '--obshell.password-file: cannot read the file: not a regular file',
      ],
    ] as const) {
      const r = run(['--config.check', ...args]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(message);
    }
  });

  it('never prints a password written where a variable name, a file path or a flag belongs', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'config.yml');
    const lookalike = 'S3cr3tZq9Lookalike'; // a valid variable name that is not set
    writeFileSync(
      file,
      [
        'targets:',
        `  - {name: a, urls: ["http://a:1"], password_env: "${canary.root}"}`,
        `  - {name: b, urls: ["http://b:1"], agent_password_env: ${lookalike}}`,
        `  - {name: c, urls: ["http://c:1"], password_file: "${canary.agent}"}`,
      ].join('\n'),
    );
    const fromFile = run(['--config.check', `--config.file=${file}`]);
    expect(fromFile.status).toBe(1);
    expect(fromFile.stderr).toContain('targets[0].password_env: is not an environment variable name');
    expect(fromFile.stderr).toContain('targets[1].agent_password_env: names an environment variable');
    expect(fromFile.stderr).toContain('targets[2].password_file: cannot read the file: no such file');
    const fromFlags = run(['--config.check', `--obshell.agent-password-file=${lookalike}`]);
    expect(fromFlags.status).toBe(1);
    const typo = run(['--config.check', '--obshell.password', canary.root]);
    expect(typo.status).toBe(2);
    for (const r of [fromFile, fromFlags, typo]) {
      for (const value of [...canaryValues, lookalike]) expect(r.stdout + r.stderr).not.toContain(value);
    }
  });

  it('exits 1 on client TLS files that are not PEM, naming the flags and the file', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'not-pem');
    writeFileSync(file, `hostname-${canary.agent}\n`);
    const r = run(['--config.check', `--obshell.cert-file=${file}`, `--obshell.key-file=${file}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`--obshell.cert-file: "${file}" has no PEM certificate`);
    expect(r.stderr).toContain(`--obshell.key-file: "${file}" has no PEM private key`);
    expect(r.stdout + r.stderr).not.toContain(canary.agent);
  });

  it('exits 1 on an invalid web config file, with --config.check too', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const file = join(dir, 'web.yml');
    writeFileSync(
      file,
      `basic_auth_users:\n  prometheus: not-a-bcrypt-${canary.agent}\ntls_server_config:\n  cert_file: missing.crt\n`,
    );
    for (const args of [['--config.check'], []]) {
      const r = run([...args, `--web.config.file=${file}`, '--web.listen-address=127.0.0.1:0']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`invalid web config ${file}`);
      for (const value of canaryValues) expect(r.stderr + r.stdout).not.toContain(value);
    }
  });

  it('exits 1 with one line naming the file and the key for web config problems found past the YAML', () => {
    const dir = tempDir('obshell-exporter-cli-');
    writeFileSync(join(dir, 'not-pem.crt'), 'not a certificate\n');
    const cases = [
      ['basic_auth_users:\n  prometheus: *nope\n', 'basic_auth_users.prometheus: Unresolved alias'],
      [
        'tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n',
        `tls_server_config.cert_file: cannot read ${join(dir, 'missing.crt')}: ENOENT`,
      ],
      [
        'tls_server_config:\n  cert_file: not-pem.crt\n  key_file: not-pem.crt\n',
        'tls_server_config.cert_file: not a PEM certificate',
      ],
    ] as const;
    for (const [yaml, reason] of cases) {
      const file = join(dir, 'web.yml');
      writeFileSync(file, yaml);
      const r = run([`--web.config.file=${file}`, '--web.listen-address=127.0.0.1:0']);
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.startsWith(`invalid web config ${file}: ${reason}`)).toBe(true);
    }
  });

  it('--config.check prints the effective config without secrets', () => {
    const dir = tempDir('obshell-exporter-cli-');
    const secretFile = join(dir, 'password');
    writeFileSync(secretFile, canary.root);
    const r = run(
      ['--config.check', '--obshell.url=http://10.0.0.1:2886', `--obshell.password-file=${secretFile}`],
      { OBSHELL_PASSWORD: canary.agent },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('http://10.0.0.1:2886');
    expect(r.stdout).toContain(secretFile);
    for (const value of canaryValues) expect(r.stdout + r.stderr).not.toContain(value);
  });
});

describe('--demo', () => {
  let child: ChildProcess | undefined;
  let stderr = '';
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  async function scrape(port: number): Promise<string> {
    return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }
  const sample = (text: string, pattern: RegExp) =>
    text
      .split('\n')
      .filter((l) => pattern.test(l))
      .join('\n');

  it('serves live metrics from the simulator that change over time, and stops cleanly on SIGTERM', async () => {
    const proc = spawn(
      process.execPath,
      [main, '--demo', '--web.listen-address=127.0.0.1:0', '--poll.schedule=*/1 * * * * *'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await startedPort(() => stderr);
    const deadline = Date.now() + 40_000;
    const seen = new Set<string>();
    while (Date.now() < deadline && seen.size < 3) {
      await new Promise((r) => setTimeout(r, 1000));
      const text = await scrape(port).catch(() => '');
      const current = sample(text, /^obshell_maintenance_task_(present|stage)\{/);
      if (current) seen.add(current);
    }
    expect(seen.size, `distinct task snapshots seen; log:\n${stderr.slice(-2000)}`).toBeGreaterThanOrEqual(3);
    const text = await scrape(port);
    expect(text).toContain('obshell_up{target="demo"} 1');
    expect(text).toMatch(
      /obshell_agent_info\{target="demo",agent="127\.0\.0\.1:\d+",version="4\.5\.0\.0-\d+",identity="CLUSTER AGENT"\} 1/,
    );
    expect(stderr).toContain('"msg":"obshell-exporter started"');
    const exit = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr).toContain('"msg":"shutting down"');
  }, 60_000);
});

describe('--targets.shard', () => {
  it("polls only its shard's targets and says which shard it is", async () => {
    const dir = tempDir('obshell-exporter-shard-');
    const file = join(dir, 'config.yml');
    const names = ['ob-a', 'ob-b', 'ob-c', 'ob-d', 'ob-e', 'ob-f'];
    writeFileSync(
      file,
      `targets:\n${names.map((n) => `  - {name: ${n}, urls: [http://127.0.0.1:9]}\n`).join('')}`,
    );
    const proc = spawn(
      process.execPath,
      [main, `--config.file=${file}`, '--targets.shard=1/3', '--web.listen-address=127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } },
    );
    let log = '';
    proc.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      const port = await startedPort(() => log);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^obshell_exporter_shards 3$/m);
      expect(text).toMatch(/^obshell_exporter_shard_index 1$/m);
      // The default schedule's interval, for ObshellExporterPollStale.
      expect(text).toMatch(/^obshell_exporter_poll_interval_seconds 15$/m);
      const mine = names.filter((n) => shardOf(n, 3) === 1);
      expect(mine.length).toBeGreaterThan(0);
      const polled = [...text.matchAll(/^obshell_exporter_polls_skipped_total\{target="([^"]+)"\}/gm)].map(
        (m) => m[1],
      );
      expect(polled).toEqual(mine);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    }
  });
});

/** The built exporter with these flags on an ephemeral port; its log, its /metrics, and a wait on them. */
async function spawnExporter(args: string[]) {
  const proc = spawn(process.execPath, [main, ...args, '--web.listen-address=127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const port = await startedPort(() => log);
  const metrics = async () =>
    (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text() ?? '';
  return {
    proc,
    port,
    log: () => log,
    metrics,
    until: async (check: (text: string) => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        if (check(await metrics())) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`timed out waiting for ${what}; log:\n${log.slice(-2000)}`);
    },
    async stop() {
      const exit = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exit;
    },
  };
}

describe('reload', () => {
  it('applies a changed config file on SIGHUP, keeps the old one on an invalid one (POST /-/reload)', async () => {
    const sim = await startSimulator({ port: 0, scenario: 'seed', password: canary.root });
    const dir = tempDir('obshell-exporter-reload-');
    const file = join(dir, 'config.yml');
    const secret = join(dir, 'password');
    writeFileSync(secret, canary.root);
    const target = (name: string) =>
      `  - name: ${name}\n    urls: [${sim.url}]\n    password_file: ${secret}\n`;
    writeFileSync(file, `targets:\n${target('one')}`);
    const exporter = await spawnExporter([`--config.file=${file}`, '--poll.schedule=*/1 * * * * *']).catch(
      async (err: unknown) => {
        await sim.close();
        throw err;
      },
    );
    const { port, until, metrics, proc } = exporter;
    try {
      await until((t) => t.includes('obshell_up{target="one"} 1'), 'target one');
      writeFileSync(file, `targets:\n${target('one')}${target('two')}`);
      proc.kill('SIGHUP');
      await until((t) => t.includes('obshell_up{target="two"} 1'), 'target two after SIGHUP');
      expect(await metrics()).toMatch(/^obshell_exporter_config_last_reload_successful 1$/m);

      writeFileSync(file, 'targets:\n  - name: broken\n    urls: [ftp://nowhere]\n');
      const answer = await fetch(`http://127.0.0.1:${port}/-/reload`, { method: 'POST' });
      expect(answer.status).toBe(500);
      expect(await answer.text()).toContain('targets[0].urls[0]');
      // A truncated file (a non-atomic write caught half-way) must not swap the targets for 127.0.0.1.
      for (const [text, reason] of [
        ['', `${file}: the file is empty`],
        ['targets:\n', 'targets: must not be empty'],
      ] as const) {
        writeFileSync(file, text);
        const refused = await fetch(`http://127.0.0.1:${port}/-/reload`, { method: 'POST' });
        expect(refused.status).toBe(500);
        expect(await refused.text()).toContain(reason);
      }
      // /metrics may lag a change by a fraction of a second (the body is rebuilt at a bounded rate).
      await until((t) => t.includes('obshell_exporter_config_last_reload_successful 0'), 'the failed reload');
      const text = await metrics();
      expect(text).toContain('obshell_up{target="one"} 1');
      expect(text).toContain('obshell_up{target="two"} 1');
      expect(text).not.toContain('127.0.0.1:2886');
      expect(exporter.log()).toContain(
        'configuration reload failed; the previous configuration stays in force',
      );
      expect((await fetch(`http://127.0.0.1:${port}/-/reload`)).status).toBe(405);
    } finally {
      await exporter.stop();
      await sim.close();
    }
    for (const value of canaryValues) expect(exporter.log()).not.toContain(value);
  }, 40_000);

  it('--config.auto-reload-interval applies a ConfigMap update without a signal, and a bad one once', async () => {
    const sim = await startSimulator({ port: 0, scenario: 'seed', password: canary.root });
    // A ConfigMap volume: config.yml -> ..data/config.yml, ..data -> a versioned directory, swapped atomically.
    const dir = tempDir('obshell-exporter-autoreload-');
    const secret = join(dir, 'password');
    writeFileSync(secret, canary.root);
    const target = (name: string) =>
      `  - name: ${name}\n    urls: [${sim.url}]\n    password_file: ${secret}\n`;
    let version = 0;
    const publish = (text: string) => {
      const versioned = `v${++version}`;
      mkdirSync(join(dir, versioned));
      writeFileSync(join(dir, versioned, 'config.yml'), text);
      symlinkSync(versioned, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    publish(`targets:\n${target('one')}`);
    symlinkSync('..data/config.yml', join(dir, 'config.yml'));
    const exporter = await spawnExporter([
      `--config.file=${join(dir, 'config.yml')}`,
      '--config.auto-reload-interval=1s',
      '--poll.schedule=*/1 * * * * *',
    ]).catch(async (err: unknown) => {
      await sim.close();
      throw err;
    });
    const { until, metrics, log } = exporter;
    const failures = () => log().split('configuration reload failed').length - 1;
    try {
      await until((t) => t.includes('obshell_up{target="one"} 1'), 'target one');
      publish(`targets:\n${target('one')}${target('two')}`);
      await until((t) => t.includes('obshell_up{target="two"} 1'), 'target two, no signal sent');
      expect(log()).toContain(`"trigger":"file changed: ${join(dir, 'config.yml')}"`);

      publish('targets: [');
      await until((t) => t.includes('obshell_exporter_config_last_reload_successful 0'), 'the failed reload');
      // Checked every second, the same bad file is reported once, not at every check.
      await new Promise((r) => setTimeout(r, 3000));
      expect(failures()).toBe(1);
      expect(await metrics()).toContain('obshell_up{target="two"} 1');

      publish(`targets:\n${target('three')}`);
      await until(
        (t) => t.includes('obshell_up{target="three"} 1') && !t.includes('obshell_up{target="one"}'),
        'the mended file',
      );
      expect(await metrics()).toMatch(/^obshell_exporter_config_last_reload_successful 1$/m);
      expect(failures()).toBe(1);
    } finally {
      await exporter.stop();
      await sim.close();
    }
    for (const value of canaryValues) expect(log()).not.toContain(value);
  }, 40_000);
});
