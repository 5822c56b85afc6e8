/**
 * End to end against the real servers: the simulator → the built exporter (node dist/src/main.js, its
 * own process) → a real Prometheus (scraping it,
 * evaluating deploy/prometheus/alerts.yml) → a real Alertmanager → a webhook receiver in this test.
 *
 * The story is a scale-out that fails at stage 5/9 and succeeds after a retry (simulator scenario
 * `retry`), moved forward by the simulator's clock: RUNNING → FAILED (ObshellMaintenanceTaskFailed
 * fires and reaches the webhook) → retried (it resolves, ObshellMaintenanceTaskRetried fires) →
 * SUCCEED; then a short tenant task appears already finished (its first result counted by
 * increase()); then obshell answers 500 and stops (ObshellTargetDown), and last the exporter stops
 * (ObshellExporterDown). Every dashboard query must have returned data at some point of it.
 *
 * Needs /usr/bin/prometheus and /usr/bin/prometheus-alertmanager (Debian packages `prometheus` and
 * `prometheus-alertmanager`); it fails, never skips, without them. Override with PROMETHEUS_BIN and
 * ALERTMANAGER_BIN.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scenarioAt, startSimulator, type Simulator } from '../src/simulator/index.js';
import { freePort, requireExecutable, startProcess, waitFor, type Proc } from './helpers/e2e-process.js';
import {
  PrometheusApi,
  alertmanagerConfig,
  prometheusConfig,
  startWebhook,
  writeShortenedRules,
  type PromAlert,
  type Webhook,
} from './helpers/e2e-prometheus.js';

const root = resolve(import.meta.dirname, '..');
const rulesSource = join(root, 'deploy/prometheus/alerts.yml');
const dashboardFile = join(root, 'grafana/obshell-maintenance.json');
const prometheusBin = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
const alertmanagerBin = process.env['ALERTMANAGER_BIN'] ?? '/usr/bin/prometheus-alertmanager';

/** Every `for:` of the rules becomes this (the real ones are 1m and 5m). */
const shortFor = '2s';
const password = 'e2e-root-password';
const testTimeout = 120_000;
/** Bounds of the waits: a scrape, an evaluation, `for`, Alertmanager's group_wait each take about 1-2 s. */
const promWait = 20_000;
const notifyWait = 25_000;

// The story of scenario `retry`, in story seconds (see scenarioTimeline('retry')).
const story = { running: 60, failed: 95, retried: 150, succeeded: 260 } as const;
const failedDag = scenarioAt('retry', story.failed);

/**
 * The simulator's clock, frozen at a story second and moved by the test. It is 10 minutes behind the
 * real clock so that the exporter's auth headers (valid until now + 60 s) are never "expired" for it.
 */
const clockBase = Date.now() - 10 * 60_000;
let storySecond = 0;
const simulatorClock = () => clockBase + storySecond * 1000;

let workDir = '';
let simulator: Simulator | undefined;
let simulatorClosed = false;
let exporter: Proc | undefined;
let exporterPort = 0;
const builtMain = new URL('../dist/src/main.js', import.meta.url).pathname;
let exporterStopped = false;
let webhook: Webhook | undefined;
let prometheus: Proc | undefined;
let alertmanager: Proc | undefined;
let prom: PrometheusApi;
let target = '';
let storyStart = 0;

async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  const safe = async (title: string, fn: () => Promise<unknown>) => {
    try {
      parts.push(`--- ${title}\n${JSON.stringify(await fn(), null, 1)}`);
    } catch (err) {
      parts.push(`--- ${title}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (prometheus) {
    await safe('Prometheus /api/v1/alerts', () => prom.alerts());
    await safe('Prometheus targets', async () =>
      (await prom.targets()).map((t) => ({ url: t.scrapeUrl, health: t.health, lastError: t.lastError })),
    );
    await safe('Prometheus rules with errors', async () =>
      (await prom.ruleGroups()).flatMap((g) => g.rules.filter((r) => r.health !== 'ok')),
    );
  }
  if (webhook) {
    const received = webhook
      .alerts()
      .map((a) => `${a.status} ${a.labels['alertname'] ?? '?'} ${JSON.stringify(a.labels)}`);
    parts.push(`--- webhook alerts received\n${received.join('\n')}`);
  }
  for (const p of [prometheus, alertmanager, exporter]) {
    if (p) parts.push(`--- ${p.name} (${p.exitStatus() ?? 'running'}), last lines\n${p.tail(30)}`);
  }
  return parts.join('\n');
}

const setStory = (second: number) => {
  storySecond = second;
};

/** The alert in Prometheus' /api/v1/alerts with this name and state (and the test's target), if any. */
async function promAlert(name: string, state: 'pending' | 'firing'): Promise<PromAlert | undefined> {
  const alerts = await prom.alerts();
  return alerts.find(
    (a) =>
      a.labels['alertname'] === name &&
      a.state === state &&
      (a.labels['target'] === undefined || a.labels['target'] === target),
  );
}

const hasAlert = async (name: string) =>
  (await prom.alerts()).some((a) => a.labels['alertname'] === name && a.labels['target'] === target);

const webhookAlerts = (name: string, status: 'firing' | 'resolved') =>
  (webhook?.alerts() ?? []).filter((a) => a.labels['alertname'] === name && a.status === status);

describe('end to end with the real Prometheus and Alertmanager', () => {
  beforeAll(async () => {
    requireExecutable(prometheusBin, 'prometheus');
    requireExecutable(alertmanagerBin, 'prometheus-alertmanager');
    expect(failedDag?.state).toBe('FAILED');
    workDir = mkdtempSync(join(tmpdir(), 'obshell-e2e-'));
    try {
      simulator = await startSimulator({
        port: 0,
        scenario: 'retry',
        password,
        clock: simulatorClock,
        keyBits: 512,
      });
      // The simulator's story starts at its clock's start; the exporter's first poll sees RUNNING.
      setStory(story.running);
      // The built exporter, run as README says ("One cluster, by flags"), in its own process.
      const passwordFile = join(workDir, 'password');
      writeFileSync(passwordFile, password);
      exporterPort = await freePort();
      exporter = startProcess(
        'exporter',
        process.execPath,
        [
          builtMain,
          `--obshell.url=${simulator.url}`,
          `--obshell.password-file=${passwordFile}`,
          `--web.listen-address=127.0.0.1:${exporterPort}`,
          '--poll.schedule=*/1 * * * * *',
          '--obshell.timeout=800ms',
        ],
        workDir,
      );
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${exporterPort}/-/ready`).catch(() => undefined))?.ok,
        promWait,
        'the exporter to be ready',
      );
      webhook = await startWebhook();

      const amPort = await freePort();
      writeFileSync(join(workDir, 'alertmanager.yml'), alertmanagerConfig(webhook.url));
      mkdirSync(join(workDir, 'am-data'));
      alertmanager = startProcess(
        'alertmanager',
        alertmanagerBin,
        [
          `--config.file=${join(workDir, 'alertmanager.yml')}`,
          `--storage.path=${join(workDir, 'am-data')}`,
          `--web.listen-address=127.0.0.1:${amPort}`,
          '--cluster.listen-address=',
        ],
        workDir,
      );

      const promPort = await freePort();
      const rules = join(workDir, 'alerts.yml');
      const rewritten = writeShortenedRules(rulesSource, rules, shortFor);
      expect(rewritten, 'every alert of alerts.yml has a for: to shorten').toBeGreaterThanOrEqual(8);
      writeFileSync(
        join(workDir, 'prometheus.yml'),
        prometheusConfig({
          exporter: `127.0.0.1:${exporterPort}`,
          alertmanager: `127.0.0.1:${amPort}`,
          rules,
        }),
      );
      mkdirSync(join(workDir, 'prom-data'));
      prometheus = startProcess(
        'prometheus',
        prometheusBin,
        [
          `--config.file=${join(workDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(workDir, 'prom-data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        workDir,
      );
      prom = new PrometheusApi(`http://127.0.0.1:${promPort}`);

      const amUrl = `http://127.0.0.1:${amPort}/-/ready`;
      await waitFor(
        async () => {
          if (alertmanager?.exitStatus())
            throw new Error(`alertmanager exited: ${alertmanager.exitStatus()}`);
          return (await fetch(amUrl, { signal: AbortSignal.timeout(2000) })).status === 200;
        },
        15_000,
        'Alertmanager /-/ready',
      );
      await waitFor(
        async () => {
          if (prometheus?.exitStatus()) throw new Error(`prometheus exited: ${prometheus.exitStatus()}`);
          return prom.ready();
        },
        15_000,
        'Prometheus /-/ready',
      );
      target = simulator.address;
      storyStart = Date.now() / 1000;
    } catch (err) {
      console.error(`e2e set-up failed\n${await diagnostics()}`);
      throw err;
    }
  }, 60_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && ctx.task.fails !== true)
      console.error(`e2e diagnostics for "${ctx.task.name}"\n${await diagnostics()}`);
  });

  afterAll(async () => {
    const steps: [string, (() => Promise<void>) | undefined][] = [
      ['prometheus', prometheus && (() => prometheus!.stop())],
      ['alertmanager', alertmanager && (() => alertmanager!.stop())],
      ['exporter', exporter && !exporterStopped ? () => exporter!.stop(1000) : undefined],
      ['simulator', simulator && !simulatorClosed ? () => simulator!.close() : undefined],
      ['webhook', webhook && (() => webhook!.close())],
    ];
    const errors: string[] = [];
    for (const [name, stop] of steps) {
      try {
        await stop?.();
      } catch (err) {
        errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`clean-up failed: ${errors.join('; ')}`);
  }, 30_000);

  it(
    'scrapes the exporter and loads every rule group',
    async () => {
      const t = await waitFor(
        async () => {
          const targets = await prom.targets();
          const found = targets.find((x) => x.scrapePool === 'obshell-exporter-e2e');
          return found?.health === 'up' ? found : undefined;
        },
        promWait,
        'the exporter target to be up in /api/v1/targets',
      );
      // Prometheus negotiated a format (OpenMetrics or text) and parsed it without error.
      expect(t.lastError).toBe('');
      expect(t.labels['job']).toContain('obshell');

      await waitFor(
        async () => (await prom.value(`obshell_up{target="${target}"}`)) === 1,
        promWait,
        `obshell_up{target="${target}"} == 1`,
      );
      await waitFor(
        async () =>
          (await prom.value(`obshell_maintenance_task_state{target="${target}",state="RUNNING"}`)) === 1,
        promWait,
        'the task RUNNING in Prometheus',
      );

      const groups = await waitFor(
        async () => {
          const g = await prom.ruleGroups();
          return g.length > 0 && g.every((x) => x.rules.every((r) => r.health === 'ok')) ? g : undefined;
        },
        promWait,
        'every rule evaluated with health ok',
      );
      const alertNames = groups.flatMap((g) =>
        g.rules.filter((r) => r.type === 'alerting').map((r) => r.name),
      );
      expect(alertNames).toEqual(
        expect.arrayContaining([
          'ObshellMaintenanceTaskFailed',
          'ObshellMaintenanceTaskStuck',
          'ObshellMaintenanceTaskRetried',
          'ObshellMaintenanceTaskRolledBack',
          'ObshellMaintenanceTaskCancelled',
          'ObshellTargetDown',
          'ObshellExporterPollStale',
          'ObshellExporterDown',
        ]),
      );
      // While RUNNING, nothing about the task.
      expect(await hasAlert('ObshellMaintenanceTaskFailed')).toBe(false);
    },
    testTimeout,
  );

  it(
    'fires ObshellMaintenanceTaskFailed while the task is FAILED and delivers it through Alertmanager',
    async () => {
      const dag = failedDag!;
      const nodes = dag.nodes ?? [];
      const failedIndex = nodes.findIndex((n) => n.state === 'FAILED');
      const failedNode = nodes[failedIndex]!;
      setStory(story.failed);

      await waitFor(
        async () =>
          (await prom.value(`obshell_maintenance_task_state{target="${target}",state="FAILED"}`)) === 1,
        promWait,
        'obshell_maintenance_task_state{state="FAILED"} == 1',
      );
      const alert = await waitFor(
        () => promAlert('ObshellMaintenanceTaskFailed', 'firing'),
        promWait,
        'ObshellMaintenanceTaskFailed firing in Prometheus',
      );
      expect(alert.labels).toMatchObject({
        severity: 'critical',
        target,
        task_id: dag.id,
        task_name: dag.name,
        state: 'FAILED',
      });
      const description = alert.annotations['description'] ?? '';
      expect(description).toContain(`"${dag.name}" (id ${dag.id}`);
      expect(description).toContain(`on target ${target} is FAILED with operator RUN`);
      expect(description).toContain(`at stage ${dag.stage}/${dag.max_stage}`);
      expect(description).toContain(`failed node: #${failedIndex + 1} "${failedNode.name}"`);
      const runbook = alert.annotations['runbook_url'] ?? '';
      expect(runbook).toMatch(/\/deploy\/runbooks\/ObshellMaintenanceTaskFailed\.md$/);
      expect(existsSync(join(root, 'deploy/runbooks/ObshellMaintenanceTaskFailed.md'))).toBe(true);

      const delivered = await waitFor(
        () => webhookAlerts('ObshellMaintenanceTaskFailed', 'firing')[0],
        notifyWait,
        'the webhook to receive ObshellMaintenanceTaskFailed (firing) from Alertmanager',
      );
      expect(delivered.labels).toEqual({ ...alert.labels });
      expect(delivered.annotations['description']).toBe(description);
      expect(delivered.annotations['runbook_url']).toBe(runbook);
    },
    testTimeout,
  );

  it(
    'resolves ObshellMaintenanceTaskFailed once the task is retried and succeeds',
    async () => {
      setStory(story.retried);
      await waitFor(
        async () =>
          (await prom.value(`obshell_maintenance_task_state{target="${target}",state="RUNNING"}`)) === 1,
        promWait,
        'the retried task RUNNING again',
      );
      await waitFor(
        async () => !(await hasAlert('ObshellMaintenanceTaskFailed')),
        promWait,
        'ObshellMaintenanceTaskFailed to leave Prometheus /api/v1/alerts',
      );
      await waitFor(
        () => webhookAlerts('ObshellMaintenanceTaskFailed', 'resolved')[0],
        notifyWait,
        'the webhook to receive ObshellMaintenanceTaskFailed (resolved) from Alertmanager',
      );
      // The retried sub-task ran twice.
      const retried = await waitFor(
        () => promAlert('ObshellMaintenanceTaskRetried', 'firing'),
        promWait,
        'ObshellMaintenanceTaskRetried firing in Prometheus',
      );
      expect(retried.labels).toMatchObject({ severity: 'warning', target, task_id: failedDag!.id });

      setStory(story.succeeded);
      await waitFor(
        async () =>
          (await prom.value(`obshell_maintenance_task_state{target="${target}",state="SUCCEED"}`)) === 1,
        promWait,
        'the task SUCCEED in Prometheus',
      );
      // Exactly once, as scraped by a real Prometheus: one failure, one success, one retry.
      expect(await prom.value(`sum(obshell_maintenance_task_failures_total{target="${target}"})`)).toBe(1);
      expect(
        await prom.value(
          `sum(obshell_maintenance_task_duration_seconds_count{target="${target}",result="succeeded"})`,
        ),
      ).toBe(1);
      expect(await prom.value(`sum(obshell_maintenance_subtask_retries_total{target="${target}"})`)).toBe(1);
      expect(await hasAlert('ObshellMaintenanceTaskFailed')).toBe(false);
    },
    testTimeout,
  );

  it(
    'counts in increase() the result of a task type first seen already finished',
    async () => {
      // A short task that started and finished between two polls: a new task type, all its series
      // born in the poll that brings its result and node durations.
      simulator!.setScenario('tenant');
      setStory(storySecond + 100);
      const count = `obshell_maintenance_task_duration_seconds_count{target="${target}",task_type=~"Create tenant.*",result="succeeded"}`;
      await waitFor(
        async () => (await prom.value(`sum(${count})`)) === 1,
        promWait,
        'the tenant task observed once in Prometheus',
      );
      // Prometheus scraped the series at 0 before the event: increase() sees it.
      expect(await prom.value(`sum(increase(${count}[1m]))`)).toBeGreaterThan(0);
      const nodes = `obshell_maintenance_node_duration_seconds_count{target="${target}",task_type=~"Create tenant.*"}`;
      expect(await prom.value(`sum(${nodes})`)).toBe(6);
      expect(await prom.value(`sum(increase(${nodes}[1m]))`)).toBeGreaterThan(5);
    },
    testTimeout,
  );

  it(
    'fires ObshellTargetDown when obshell fails and stops, without a false ObshellMaintenanceTaskFailed',
    async () => {
      const resolvedBefore = webhookAlerts('ObshellMaintenanceTaskFailed', 'firing').length;
      simulator!.setFault('unexpected_500');
      await waitFor(
        async () => (await prom.value(`obshell_up{target="${target}"}`)) === 0,
        promWait,
        `obshell_up{target="${target}"} == 0 after obshell answers 500`,
      );
      await waitFor(
        async () =>
          ((await prom.value(`obshell_exporter_poll_errors_total{target="${target}",reason="http"}`)) ?? 0) >
          0,
        promWait,
        'obshell_exporter_poll_errors_total{reason="http"} > 0',
      );
      // The task series are withdrawn with the failed polls.
      expect(await prom.value(`obshell_maintenance_task_present{target="${target}"}`)).toBeUndefined();

      simulatorClosed = true;
      await simulator!.close();
      const connectBefore =
        (await prom.value(`obshell_exporter_poll_errors_total{target="${target}",reason="connect"}`)) ?? 0;
      await waitFor(
        async () =>
          ((await prom.value(`obshell_exporter_poll_errors_total{target="${target}",reason="connect"}`)) ??
            0) > connectBefore,
        promWait,
        'obshell_exporter_poll_errors_total{reason="connect"} to increase after the simulator stopped',
      );
      expect(await prom.value(`obshell_up{target="${target}"}`)).toBe(0);

      const down = await waitFor(
        () => promAlert('ObshellTargetDown', 'firing'),
        promWait,
        'ObshellTargetDown firing in Prometheus',
      );
      expect(down.labels).toMatchObject({ severity: 'warning', target });
      expect(down.annotations['description']).toMatch(/by reason: .*http/);
      expect(down.annotations['runbook_url']).toMatch(/\/deploy\/runbooks\/ObshellTargetDown\.md$/);
      await waitFor(
        () => webhookAlerts('ObshellTargetDown', 'firing')[0],
        notifyWait,
        'the webhook to receive ObshellTargetDown (firing)',
      );

      // The last known state is SUCCEED: the outage must not bring the failed-task alert back.
      expect(await hasAlert('ObshellMaintenanceTaskFailed')).toBe(false);
      expect(webhookAlerts('ObshellMaintenanceTaskFailed', 'firing')).toHaveLength(resolvedBefore);
    },
    testTimeout,
  );

  it(
    'every query of the Grafana dashboard returned data at some point of the story',
    async () => {
      const results = await dashboardResults();
      expect(results.length).toBeGreaterThan(10);
      const empty = results.filter((r) => !r.finite).map((r) => `${r.title}: ${r.promql}`);
      expect(empty, 'dashboard queries that never returned a number').toEqual([]);
      const errors = results.find((r) => r.title === 'Poll errors by reason');
      expect(errors?.positive, 'the poll errors panel shows the http and connect errors').toBe(true);
    },
    testTimeout,
  );

  // The labelled counters and histograms of events are created at 0 when a task type or node is
  // first seen, so rate()/increase() count the first failure, retry and result of each type.
  it(
    'history panels show the first failure, retry and result of a task type',
    async () => {
      const results = await dashboardResults();
      const missing = results
        .filter((r) => !r.finite || (/(?:rate|increase)\(/.test(r.promql) && !r.quiet && !r.positive))
        .map((r) => `${r.title}: ${r.promql}`);
      expect(missing, "history queries that never showed the story's events").toEqual([]);
    },
    testTimeout,
  );

  it(
    'fires ObshellExporterDown when the exporter stops being scraped',
    async () => {
      exporterStopped = true;
      await exporter!.stop(1000);
      const alert = await waitFor(
        async () =>
          (await prom.alerts()).find(
            (a) => a.labels['alertname'] === 'ObshellExporterDown' && a.state === 'firing',
          ),
        promWait,
        'ObshellExporterDown firing in Prometheus',
      );
      expect(alert.labels['job']).toBe('obshell-exporter-e2e');
      await waitFor(
        () => webhookAlerts('ObshellExporterDown', 'firing')[0],
        notifyWait,
        'the webhook to receive ObshellExporterDown (firing)',
      );
    },
    testTimeout,
  );
});

type QueryResult = { title: string; promql: string; finite: boolean; positive: boolean; quiet: boolean };
let dashboardCache: Promise<QueryResult[]> | undefined;

/** Every dashboard query over the story so far (evaluated once), with whether it ever had a number / > 0. */
function dashboardResults(): Promise<QueryResult[]> {
  dashboardCache ??= (async () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    const end = Date.now() / 1000;
    const range = `${Math.ceil(end - storyStart) + 5}s`;
    const out: QueryResult[] = [];
    for (const { title, expr } of dashboardExprs(dashboard)) {
      // Grafana's $__rate_interval is max(4 × scrape interval, step + scrape interval) = 4s here.
      const promql = expr
        .replaceAll('$__rate_interval', '4s')
        .replaceAll('$__range', range)
        .replaceAll(/\$(job|instance|target)\b/g, '.+');
      const values = (await prom.queryRange(promql, storyStart, end, 1)).flatMap((s) =>
        s.values.map(([, v]) => Number(v)),
      );
      out.push({
        title,
        promql,
        finite: values.some((v) => Number.isFinite(v)),
        positive: values.some((v) => v > 0),
        // Nothing in the story skips a poll or fails /metrics basic auth: those panels stay at 0.
        quiet: /obshell_exporter_(?:polls_skipped|http_auth_failures)_total/.test(promql),
      });
    }
    return out;
  })();
  return dashboardCache;
}

type Panel = { title?: string; targets?: { expr?: string }[]; panels?: Panel[] };
type Dashboard = {
  panels?: Panel[];
  annotations?: { list?: { name?: string; expr?: string }[] };
};

/** Every PromQL expression of the dashboard: panel targets (rows included) and annotations. */
function dashboardExprs(d: Dashboard): { title: string; expr: string }[] {
  const out: { title: string; expr: string }[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ title: p.title ?? '?', expr: t.expr });
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const a of d.annotations?.list ?? []) {
    if (a.expr) out.push({ title: `annotation ${a.name ?? '?'}`, expr: a.expr });
  }
  return out;
}
