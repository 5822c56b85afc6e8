/**
 * The alert rules against the real Prometheus tooling: `promtool check rules`, `promtool test rules`
 * (deploy/prometheus/alerts.test.yml), `promtool check config`, and `amtool check-config`. The tools are
 * required (`.ci/run` installs the Debian packages prometheus and prometheus-alertmanager): a missing tool
 * fails the suite instead of skipping it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..');
const alertsPath = join(root, 'deploy/prometheus/alerts.yml');
const testsPath = join(root, 'deploy/prometheus/alerts.test.yml');

type RunResult = { status: number | null; output: string };

function run(command: string, args: readonly string[]): RunResult {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? `${command} is not installed: apt-get install -y ${command === 'amtool' ? 'prometheus-alertmanager' : 'prometheus'} (.ci/run does it)`
        : result.error.message,
    );
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

type Rule = { alert?: string; record?: string };
type AlertTest = { alertname: string; eval_time: string; exp_alerts?: unknown[] | null };
type UnitTest = { alert_rule_test?: AlertTest[] };

const alertNames = (parse(readFileSync(alertsPath, 'utf8')) as { groups: { rules: Rule[] }[] }).groups
  .flatMap((g) => g.rules)
  .flatMap((r) => (r.alert === undefined ? [] : [r.alert]));

describe('promtool', () => {
  it('accepts the rule file', () => {
    const { status, output } = run('promtool', ['check', 'rules', alertsPath]);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('passes every unit test in alerts.test.yml', () => {
    const { status, output } = run('promtool', ['test', 'rules', testsPath]);
    expect(output).not.toContain('FAILED');
    expect(status, output).toBe(0);
  });

  it('accepts the Prometheus configuration with its rule file', () => {
    const { status, output } = run('promtool', [
      'check',
      'config',
      join(root, 'deploy/prometheus/prometheus.yml'),
    ]);
    expect(status, output).toBe(0);
  });

  it('fails when an expected description is wrong (the tests really compare the rendered text)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'obshell-alerts-'));
    try {
      copyFileSync(alertsPath, join(dir, 'alerts.yml'));
      const tests = readFileSync(testsPath, 'utf8');
      const wrong = tests.replace('at stage 3/5; failed node', 'at stage 4/5; failed node');
      expect(wrong).not.toBe(tests);
      writeFileSync(join(dir, 'alerts.test.yml'), wrong);
      const { status, output } = run('promtool', ['test', 'rules', join(dir, 'alerts.test.yml')]);
      expect(output).toContain('FAILED');
      expect(status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alerts.test.yml coverage', () => {
  const tests = (parse(readFileSync(testsPath, 'utf8')) as { tests: UnitTest[] }).tests;
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);

  it('knows the alerts', () => {
    expect(alertNames).toEqual([
      'ObshellMaintenanceTaskFailed',
      'ObshellMaintenanceTaskStuck',
      'ObshellMaintenanceTaskRetried',
      'ObshellMaintenanceTaskRolledBack',
      'ObshellMaintenanceTaskCancelled',
      'ObshellTargetDown',
      'ObshellExporterPollStale',
      'ObshellExporterShardMissing',
      'ObshellExporterDown',
    ]);
  });

  it.each(alertNames)('%s has a firing and a non-firing case', (name) => {
    const mine = cases.filter((c) => c.alertname === name);
    expect(
      mine.some((c) => (c.exp_alerts ?? []).length > 0),
      `${name}: no firing case`,
    ).toBe(true);
    expect(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `${name}: no non-firing case`,
    ).toBe(true);
  });

  it('tests only alerts that exist', () => {
    expect(cases.map((c) => c.alertname).filter((n) => !alertNames.includes(n))).toEqual([]);
  });
});

describe('amtool', () => {
  it('accepts the Alertmanager configuration', () => {
    const { status, output } = run('amtool', [
      'check-config',
      join(root, 'deploy/alertmanager/alertmanager.yml'),
    ]);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('pages each failed task on its own: the critical route groups by task_id', () => {
    const config = parse(readFileSync(join(root, 'deploy/alertmanager/alertmanager.yml'), 'utf8')) as {
      route: { routes: { matchers: string[]; receiver: string; group_by?: string[] }[] };
    };
    const critical = config.route.routes.find((r) => r.matchers.includes('severity="critical"'));
    expect(critical?.receiver).toBe('obshell-critical');
    expect(critical?.group_by).toEqual(['alertname', 'target', 'task_id']);
    const routed = run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${join(root, 'deploy/alertmanager/alertmanager.yml')}`,
      'severity=critical',
      'alertname=ObshellMaintenanceTaskFailed',
    ]);
    expect(routed.output.split('\n')[0]).toBe('obshell-critical');
  });
});
