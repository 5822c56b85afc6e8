/**
 * Static checks of what users install next to the exporter: the Grafana dashboard, the alert rules, the
 * Kubernetes manifests (and that the generated ones have not drifted), docker compose, the Dockerfile,
 * the systemd unit and the runbooks. Every PromQL expression must parse and name only metrics the
 * exporter exposes (src/metrics/catalogue.ts).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { catalogue } from '../src/metrics/catalogue.js';
import type { MetricSpec } from '../src/metrics/catalogue.js';

const root = join(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---------------------------------------------------------------------------------------------------------
// PromQL helpers

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string; runbook_url?: string };
};
type RuleFile = { groups: { name: string; rules: Rule[] }[] };

const rules = parse(read('deploy/prometheus/alerts.yml')) as RuleFile;
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const recorded = new Set(allRules.flatMap((r) => (r.record === undefined ? [] : [r.record])));

const specs: readonly MetricSpec[] = Object.values(catalogue);
/** Names that appear on /metrics: histograms only as their _bucket/_sum/_count series. */
const exposed = new Set(
  specs.flatMap((s) =>
    s.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((x) => s.name + x) : [s.name],
  ),
);
// process_start_time_seconds: prom-client's, on the exporter's /metrics (tells a restart apart).
const allowedInRules = (name: string): boolean =>
  exposed.has(name) || recorded.has(name) || name === 'up' || name === 'process_start_time_seconds';
const allowedInDashboard = (name: string): boolean =>
  exposed.has(name) || name === 'up' || name.startsWith('process_') || name.startsWith('nodejs_');

/** Grafana's built-in range variables are not PromQL; give them a duration so that the parser sees one. */
const substituteGrafana = (expr: string): string =>
  expr.replace(/\$__(rate_interval|range|interval)\b/g, '5m');

type Parsed = { errors: string[]; metrics: string[]; selectors: string[] };

function parsePromQL(expr: string): Parsed {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  const selectors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`error at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
      if (node.name === 'VectorSelector') {
        selectors.push(expr.slice(node.from, node.to));
        const identifier = node.node.getChild('Identifier');
        if (identifier) metrics.push(expr.slice(identifier.from, identifier.to));
      }
    },
  });
  return { errors, metrics, selectors };
}

describe('the PromQL parser check', () => {
  it('reports errors and finds metric names', () => {
    expect(parsePromQL('sum(rate(foo{a="b"}[5m])').errors).not.toEqual([]);
    expect(parsePromQL('foo{').errors).not.toEqual([]);
    expect(parsePromQL('sum by (x) (rate(foo_total[5m])) / on (x) group_left bar').metrics).toEqual([
      'foo_total',
      'bar',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Dashboard

type Datasource = { type: string; uid: string };
type Target = { expr?: string; refId?: string; datasource?: Datasource };
type Panel = {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: Datasource;
  targets?: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults: { unit?: string; mappings?: unknown[] } };
  panels?: Panel[];
};
type Variable = {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: Datasource;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
};
type Annotation = { name: string; expr?: string; datasource?: Datasource; builtIn?: number };
type Dashboard = {
  uid: string;
  title: string;
  tags: string[];
  editable: boolean;
  schemaVersion: number;
  id: null;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: Annotation[] };
};

const dashboardText = read('grafana/obshell-maintenance.json');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const templateDs: Datasource = { type: 'prometheus', uid: '${datasource}' };
const panelExprs = panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId ?? '?'}`, expr: t.expr ?? '' })),
);
const annotationExprs = dashboard.annotations.list
  .filter((a) => a.builtIn !== 1)
  .map((a) => ({ where: `annotation "${a.name}"`, expr: a.expr ?? '' }));
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : v.query.query);

describe('grafana/obshell-maintenance.json', () => {
  it('is a fixed, read-only, tagged classic dashboard', () => {
    expect(dashboard.uid).toBe('obshell-maintenance');
    expect(dashboard.title).toMatch(/obshell/i);
    expect(dashboard.tags).toEqual(expect.arrayContaining(['oceanbase', 'obshell']));
    expect(dashboard.editable).toBe(false);
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.id).toBeNull();
    expect(dashboardText).not.toContain('DS_PROMETHEUS');
  });

  it('has the datasource variable and job, instance and target from obshell_up', () => {
    const [datasource, ...rest] = dashboard.templating.list;
    expect(datasource).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    expect(rest.map((v) => v.name)).toEqual(['job', 'instance', 'target']);
    for (const v of rest) {
      expect(v.type).toBe('query');
      expect(v.datasource).toEqual(templateDs);
      expect(v.multi, v.name).toBe(true);
      expect(v.includeAll, v.name).toBe(true);
      expect(v.allValue, v.name).toBe('.+');
      const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variableQuery(v));
      expect(match, variableQuery(v)).not.toBeNull();
      expect(match![2]).toBe(v.name);
      const { errors, metrics } = parsePromQL(match![1]!);
      expect(errors).toEqual([]);
      expect(metrics).toEqual(['obshell_up']);
    }
  });

  it('uses the datasource variable on every panel, target and annotation', () => {
    expect(panels.length).toBeGreaterThan(15);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual(templateDs);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(templateDs);
    }
    for (const a of dashboard.annotations.list.filter((x) => x.builtIn !== 1)) {
      expect(a.datasource, a.name).toEqual(templateDs);
    }
  });

  it('gives every panel a title, a description and a unit', () => {
    for (const p of panels) {
      expect(p.title.length, JSON.stringify(p.gridPos)).toBeGreaterThan(0);
      expect(p.description?.length ?? 0, p.title).toBeGreaterThan(20);
      expect(p.fieldConfig?.defaults.unit, p.title).toMatch(/^\S+$/);
    }
  });

  it('lays panels out on the 24-column grid with unique ids', () => {
    const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const p of all) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('has annotations for task starts and ends', () => {
    const exprs = annotationExprs.map((a) => a.expr).join('\n');
    expect(exprs).toContain(catalogue.taskStart.name);
    expect(exprs).toContain(catalogue.taskEnd.name);
  });

  it('colours task states: FAILED red, RUNNING blue, SUCCEED green', () => {
    const state = panels.find((p) => p.title === 'State');
    const text = JSON.stringify(state?.fieldConfig?.defaults.mappings);
    expect(text).toContain('"4":{"text":"FAILED","color":"red"');
    expect(text).toContain('"3":{"text":"RUNNING","color":"blue"');
    expect(text).toContain('"5":{"text":"SUCCEED","color":"green"');
    const operator = JSON.stringify(
      panels.find((p) => p.title === 'Operator')?.fieldConfig?.defaults.mappings,
    );
    for (const op of ['ROLLBACK', 'CANCEL', 'PASS']) expect(operator).toContain(`"text":"${op}"`);
  });

  it('shows UNKNOWN (an unrecognised state or operator) wherever it shows the state-sets', () => {
    for (const title of ['State', 'Operator', 'Task state over time', 'Task operator over time']) {
      const panel = panels.find((p) => p.title === title);
      const expr = panel?.targets?.[0]?.expr ?? '';
      const code = /="UNKNOWN"\} == 1\) \* (\d+)\)/.exec(expr)?.[1];
      expect(code, title).toBeDefined();
      expect(JSON.stringify(panel?.fieldConfig?.defaults.mappings), title).toContain(
        `"${code}":{"text":"UNKNOWN"`,
      );
    }
  });

  it.each([...panelExprs, ...annotationExprs])(
    '$where: parses and names only exposed metrics',
    ({ expr }) => {
      expect(expr.length).toBeGreaterThan(0);
      const { errors, metrics, selectors } = parsePromQL(substituteGrafana(expr));
      expect(errors).toEqual([]);
      expect(metrics.length).toBeGreaterThan(0);
      expect(metrics.filter((m) => !allowedInDashboard(m))).toEqual([]);
      // Every selector honours the template variables: job and instance, and target where the metric has it.
      for (const s of selectors) {
        const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(s)?.[0] ?? '';
        const spec = specs.find((m) => name === m.name || name.startsWith(`${m.name}_`));
        const vars =
          spec && !spec.labelNames.includes('target') ? ['job', 'instance'] : ['job', 'instance', 'target'];
        for (const v of vars) expect(s, expr).toContain(`${v}=~"$${v}"`);
      }
    },
  );

  it('uses $__rate_interval (or $__range for whole-range tables) in rate and increase', () => {
    // Tasks finish a few times a day: their duration quantiles trail a day, or most points are empty.
    const rareEvents =
      /^histogram_quantile\(0\.\d+, sum by \([^)]*\) \(increase\(obshell_maintenance_(task|node)_duration_seconds_bucket\{[^}]*\}\[1d\]\)\)\)$/;
    for (const { where, expr } of panelExprs) {
      const allowed = rareEvents.test(expr) ? ['1d'] : ['$__rate_interval', '$__range'];
      for (const [, window] of expr.matchAll(/\[([^\]]*)\]/g)) {
        expect(allowed, `${where}: [${window ?? ''}]`).toContain(window);
      }
      if (/\b(rate|increase)\(/.test(expr) && !rareEvents.test(expr))
        expect(expr, where).toMatch(/\[\$__(rate_interval|range)\]/);
    }
  });

  it('shows every metric of the contract somewhere', () => {
    const text = [...panelExprs, ...annotationExprs].map((e) => e.expr).join('\n');
    const notShown = new Set([
      'obshell_maintenance_task_present',
      'obshell_exporter_label_overflows_total',
      'obshell_exporter_build_info',
      // Only sharded exporters have them (the e2e dashboard check runs one unsharded); the
      // ObshellExporterShardMissing alert watches them.
      'obshell_exporter_shards',
      'obshell_exporter_shard_index',
      // A setting (--poll.schedule's interval), read by the ObshellExporterPollStale alert.
      'obshell_exporter_poll_interval_seconds',
    ]);
    for (const spec of specs.filter((s) => !notShown.has(s.name)))
      expect(text, spec.name).toContain(spec.name);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Alert rules (promtool itself runs in alerts.test.ts)

const runbookBase = 'https://github.com/obshell-exporter/obshell-exporter/blob/main';

describe('deploy/prometheus/alerts.yml', () => {
  it('has one group with the nine alerts', () => {
    expect(rules.groups.map((g) => g.name)).toEqual(['obshell-maintenance']);
    expect(alerts).toHaveLength(9);
  });

  it.each(allRules.map((r) => ({ name: r.alert ?? r.record ?? '?', expr: r.expr })))(
    '$name: parses and names only exposed metrics',
    ({ expr }) => {
      const { errors, metrics } = parsePromQL(expr);
      expect(errors).toEqual([]);
      expect(metrics.length).toBeGreaterThan(0);
      expect(metrics.filter((m) => !allowedInRules(m))).toEqual([]);
    },
  );

  it.each(alerts)('$alert: follows the alerting style guide', (rule) => {
    expect(rule.alert).toMatch(/^Obshell[A-Z][A-Za-z]+$/);
    expect(rule.alert.length).toBeLessThanOrEqual(40);
    expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
    const { summary, description, runbook_url: runbook } = rule.annotations ?? {};
    expect(summary).toMatch(/^[A-Z][^{}]*\.$/);
    expect(description).toContain('{{');
    expect(runbook).toBe(`${runbookBase}/deploy/runbooks/${rule.alert}.md`);
    expect(existsSync(join(root, 'deploy/runbooks', `${rule.alert}.md`)), rule.alert).toBe(true);
  });

  it('uses the query templates on metrics that exist', () => {
    for (const rule of alerts) {
      for (const [, query] of (rule.annotations?.description ?? '').matchAll(/printf `([^`]+)`/g)) {
        const promql = (query ?? '').replaceAll('%q', '"x"');
        const { errors, metrics } = parsePromQL(promql);
        expect(errors, promql).toEqual([]);
        expect(
          metrics.filter((m) => !allowedInRules(m)),
          promql,
        ).toEqual([]);
      }
    }
  });

  it('pages only for a failed task', () => {
    expect(alerts.filter((a) => a.labels?.severity === 'critical').map((a) => a.alert)).toEqual([
      'ObshellMaintenanceTaskFailed',
    ]);
    expect(alerts.find((a) => a.alert === 'ObshellTargetDown')?.for).toBe('5m');
  });
});

describe('deploy/runbooks', () => {
  const files = readdirSync(join(root, 'deploy/runbooks')).filter((f) => f.endsWith('.md'));

  it('has exactly one runbook per alert', () => {
    expect(files.map((f) => f.replace(/\.md$/, '')).sort()).toEqual(alerts.map((a) => a.alert).sort());
  });

  it.each(alerts.filter((a) => a.alert.startsWith('ObshellMaintenanceTask')))(
    '$alert: explains how to see the logs and what to do',
    ({ alert }) => {
      const text = read(`deploy/runbooks/${alert}.md`);
      expect(text).toMatch(new RegExp(`^# ${alert}\\n`));
      expect(text).toContain('/logs');
      expect(text).toMatch(/rollback|retry|cancel|pass/);
    },
  );

  it('shows the operator API and the sub-task logs API in the main runbook', () => {
    const text = read('deploy/runbooks/ObshellMaintenanceTaskFailed.md');
    expect(text).toContain('/api/v1/task/sub_task/<sub_task_id>/logs');
    expect(text).toContain('/api/v1/task/dag/maintain/ob?show_details=true');
    expect(text).toContain('{"operator":"retry"}');
    expect(text).toContain('X-OCS-Header');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Kubernetes

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata?: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
};
const k8sDir = join(root, 'deploy/kubernetes');
const k8sFiles = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml'));
const k8sObjects: { file: string; object: K8sObject }[] = k8sFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return { file, object: doc.toJS() as K8sObject };
  }),
);
const byKind = (kind: string): K8sObject[] =>
  k8sObjects.filter((o) => o.object.kind === kind).map((o) => o.object);
const one = (kind: string): K8sObject => {
  const found = byKind(kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

type Container = {
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
};
type Deployment = K8sObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        securityContext: Record<string, unknown>;
        containers: Container[];
        volumes: { name: string; projected?: { sources: Record<string, { name: string }>[] } }[];
      };
    };
  };
};

describe('deploy/kubernetes', () => {
  it('parses, and every object carries app.kubernetes.io/name', () => {
    expect(k8sObjects.length).toBeGreaterThanOrEqual(8);
    for (const { file, object } of k8sObjects) {
      expect(object.kind, file).toMatch(/^[A-Z]/);
      if (object.kind === 'Kustomization') continue;
      expect(object.metadata?.labels?.['app.kubernetes.io/name'], `${file} ${object.kind}`).toBe(
        'obshell-exporter',
      );
    }
  });

  it('labels the ServiceMonitor and the PrometheusRule for kube-prometheus-stack', () => {
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      expect(one(kind).metadata?.labels?.['release'], kind).toBe('kube-prometheus-stack');
    }
  });

  it('labels the dashboard ConfigMap for the Grafana sidecar and embeds the dashboard', () => {
    const cm = byKind('ConfigMap').find((c) => c.metadata?.labels?.['grafana_dashboard'] !== undefined);
    expect(cm?.metadata?.labels?.['grafana_dashboard']).toBe('1');
    const data = (cm as unknown as { data: Record<string, string> }).data;
    expect(JSON.parse(data['obshell-maintenance.json']!)).toEqual(dashboard);
  });

  it('puts the rules of alerts.yml in the PrometheusRule', () => {
    const rule = one('PrometheusRule') as K8sObject & { spec: RuleFile };
    expect(rule.spec.groups).toEqual(rules.groups);
  });

  it('runs the exporter locked down, probed and limited', () => {
    const deployment = one('Deployment') as Deployment;
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext['runAsUser']).not.toBe(0);
    const [container] = pod.containers;
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.livenessProbe?.httpGet?.path).toBe('/-/healthy');
    expect(container?.readinessProbe?.httpGet?.path).toBe('/-/ready');
    expect(container?.resources?.requests?.['memory']).toBeDefined();
    expect(container?.resources?.limits?.['memory']).toBeDefined();
    expect(container?.ports?.[0]).toMatchObject({ name: 'metrics', containerPort: 9886 });
    expect(container?.args).toContain('--config.file=/etc/obshell-exporter/config.yml');
    // A ConfigMap edit applies without a restart (README "Kubernetes").
    expect(container?.args).toContain('--config.auto-reload-interval=30s');
    expect(read('deploy/kubernetes/statefulset-sharded.yaml')).toMatch(
      /^\s+--config\.auto-reload-interval=30s$/m,
    );
    expect(container?.args).toContain('--web.listen-address=:9886');
    expect(container?.volumeMounts?.map((m) => m.mountPath)).toEqual(
      expect.arrayContaining(['/etc/obshell-exporter', '/tmp']),
    );
  });

  it('mounts the targets ConfigMap and the password Secret where the config file points', () => {
    const deployment = one('Deployment') as Deployment;
    const sources = deployment.spec.template.spec.volumes.flatMap((v) => v.projected?.sources ?? []);
    const configMapName = sources.find((s) => s['configMap'])?.['configMap']?.name;
    const secretName = sources.find((s) => s['secret'])?.['secret']?.name;
    const configMap = byKind('ConfigMap').find((c) => c.metadata?.name === configMapName) as
      (K8sObject & { data: Record<string, string> }) | undefined;
    const config = parse(configMap?.data['config.yml'] ?? '') as {
      targets: { name: string; urls: string[]; password_file: string }[];
    };
    expect(config.targets.length).toBeGreaterThan(0);
    for (const t of config.targets) {
      expect(t.urls.length).toBeGreaterThan(0);
      expect(t.password_file).toBe('/etc/obshell-exporter/password');
    }
    const secret = parseAllDocuments(
      readFileSync(join(k8sDir, 'secret.example.yaml'), 'utf8'),
    )[0]?.toJS() as K8sObject;
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata?.name).toBe(secretName);
    expect(
      (secret as unknown as { stringData: Record<string, string> }).stringData['password'],
    ).toBeDefined();
  });

  it('scrapes the Service port that the Deployment exposes', () => {
    const service = one('Service') as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    };
    const monitor = one('ServiceMonitor') as K8sObject & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    };
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
    expect(monitor.spec.endpoints[0]?.path).toBe('/metrics');
    expect(service.metadata?.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect((one('Deployment') as Deployment).spec.template.metadata.labels).toMatchObject(
      service.spec.selector,
    );
    // ObshellExporterDown expects a job with "obshell" in its name; the operator names the job after the Service.
    expect(service.metadata?.name).toMatch(/obshell/);
  });

  it('lists in kustomization.yaml only files that exist, and every manifest but the Secret example', () => {
    const kustomization = one('Kustomization') as K8sObject & { resources: string[] };
    for (const r of kustomization.resources) expect(existsSync(join(k8sDir, r)), r).toBe(true);
    expect(
      [
        ...kustomization.resources,
        'kustomization.yaml',
        'secret.example.yaml',
        'statefulset-sharded.yaml',
      ].sort(),
    ).toEqual([...k8sFiles].sort());
  });
});

// ---------------------------------------------------------------------------------------------------------
// Generated files

const generator = join(root, 'scripts/generate-kubernetes.mjs');
const generated = [
  'deploy/kubernetes/prometheusrule.yaml',
  'deploy/kubernetes/grafana-dashboard-configmap.yaml',
];
const sources = ['deploy/prometheus/alerts.yml', 'grafana/obshell-maintenance.json'];

function copyTree(files: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'obshell-generate-'));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(root, f), join(dir, f));
  }
  return dir;
}

describe('scripts/generate-kubernetes.mjs', () => {
  it('reports no drift in the repository', () => {
    const result = spawnSync(process.execPath, [generator, '--check'], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('writes exactly the committed files', () => {
    const dir = copyTree(sources);
    try {
      const result = spawnSync(process.execPath, [generator, '--root', dir], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      for (const f of generated) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(read(f));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('detects drift when alerts.yml changes', () => {
    const dir = copyTree([...sources, ...generated]);
    try {
      const alertsCopy = join(dir, 'deploy/prometheus/alerts.yml');
      writeFileSync(
        alertsCopy,
        readFileSync(alertsCopy, 'utf8').replace('severity: critical', 'severity: info'),
      );
      const result = spawnSync(process.execPath, [generator, '--check', '--root', dir], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('deploy/kubernetes/prometheusrule.yaml');
      expect(result.stderr).not.toContain('grafana-dashboard-configmap.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rebases runbook links with --runbook-base', () => {
    const dir = copyTree(sources);
    try {
      const base = 'https://git.example.com/ops/obshell-exporter/-/blob/main/';
      const result = spawnSync(process.execPath, [generator, '--root', dir, '--runbook-base', base], {
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
      const text = readFileSync(join(dir, generated[0]!), 'utf8');
      expect(text).toContain(
        'runbook_url: https://git.example.com/ops/obshell-exporter/-/blob/main/deploy/runbooks/ObshellTargetDown.md',
      );
      expect(text).not.toContain(runbookBase);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// docker compose, Prometheus, Grafana provisioning, Dockerfile, systemd

type ComposeService = {
  image?: string;
  build?: { context: string; dockerfile: string };
  volumes?: string[];
  environment?: string[];
  command?: string[];
};

describe('deploy/docker-compose.yml', () => {
  const deployDir = join(root, 'deploy');
  const compose = parse(read('deploy/docker-compose.yml')) as { services: Record<string, ComposeService> };

  it('has the exporter, Prometheus, Alertmanager and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'alertmanager',
      'exporter',
      'grafana',
      'prometheus',
    ]);
  });

  it('builds the exporter from the Dockerfile and runs the demo by default', () => {
    const exporter = compose.services['exporter']!;
    expect(existsSync(resolve(deployDir, exporter.build!.context, exporter.build!.dockerfile))).toBe(true);
    expect(exporter.environment).toContain('OBSHELL_EXPORTER_DEMO=${OBSHELL_EXPORTER_DEMO:-true}');
    expect(exporter.environment).toEqual(
      expect.arrayContaining(['OBSHELL_EXPORTER_OBSHELL_URL', 'OBSHELL_PASSWORD']),
    );
  });

  it('mounts only files that exist, including the rules, the dashboard and the provisioning', () => {
    const mounts = Object.values(compose.services).flatMap((s) => s.volumes ?? []);
    const binds = mounts.map((m) => m.split(':')).filter(([src]) => src!.startsWith('.'));
    for (const [src] of binds) expect(existsSync(resolve(deployDir, src!)), src).toBe(true);
    const sourcesMounted = binds.map(([src]) => resolve(deployDir, src!));
    for (const f of [
      'deploy/prometheus/alerts.yml',
      'deploy/prometheus/prometheus.yml',
      'deploy/alertmanager/alertmanager.yml',
      'grafana/obshell-maintenance.json',
      'grafana/provisioning',
    ]) {
      expect(sourcesMounted, f).toContain(join(root, f));
    }
  });

  it('points the Grafana dashboard provider at the mounted dashboard', () => {
    const provider = parse(read('grafana/provisioning/dashboards/obshell.yml')) as {
      providers: { options: { path: string } }[];
    };
    const dashboardMount = compose.services['grafana']!.volumes!.find((v) =>
      v.includes('obshell-maintenance.json'),
    )!;
    expect(dirname(dashboardMount.split(':')[1]!)).toBe(provider.providers[0]?.options.path);
    const datasources = parse(read('grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { type: string; url: string }[];
    };
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  const config = parse(read('deploy/prometheus/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };

  it('loads the rules and scrapes the exporter under a job ObshellExporterDown recognises', () => {
    for (const f of config.rule_files) expect(existsSync(join(root, 'deploy/prometheus', f)), f).toBe(true);
    const job = config.scrape_configs.find((s) =>
      s.static_configs.some((c) => c.targets.includes('exporter:9886')),
    );
    expect(job?.job_name).toMatch(/obshell/);
  });
});

describe('deploy/docker/Dockerfile', () => {
  const dockerfile = read('deploy/docker/Dockerfile');
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };

  it('is multi-stage on Node 26 (Debian, glibc), production dependencies only, non-root, with a health check', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    // glibc, as the bench measures it (npm's official Node builds); not Alpine's musl.
    for (const from of dockerfile.match(/^FROM \S+/gm) ?? [])
      expect(from).toMatch(/^FROM node:26-bookworm-slim\b/);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER node$/m);
    // The check itself is test/healthcheck.test.ts; here, that the image runs the built one.
    const check = /^HEALTHCHECK .*\n?\s*CMD \["node", "(dist\/src\/healthcheck\.js)"\]$/m.exec(
      dockerfile,
    )?.[1];
    expect(check && existsSync(join(root, check))).toBe(true);
    expect(dockerfile).toContain(
      `ENTRYPOINT ["node", "--no-maglev", "--no-concurrent-recompilation", "--no-allocation-site-pretenuring", "${pkg.bin['obshell-exporter']!}"]`,
    );
  });

  it('starts Node with flags this Node accepts, as every other way deploy/ starts it', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const nodeArgs = entrypoint.slice(1, -1);
    expect(nodeArgs).toEqual([
      '--no-maglev',
      '--no-concurrent-recompilation',
      '--no-allocation-site-pretenuring',
    ]);
    // The sharded StatefulSet replaces the ENTRYPOINT (its shell picks the shard); systemd runs node.
    const starts = [
      read('deploy/kubernetes/statefulset-sharded.yaml'),
      read('deploy/systemd/obshell-exporter.service'),
    ].map((file) => /\bnode( --[\w-]+)* \S*dist\/src\/main\.js/.exec(file)?.[0]);
    for (const start of starts) expect(start).toMatch(new RegExp(`^\\S*node ${nodeArgs.join(' ')} `));
    const run = spawnSync(process.execPath, [...nodeArgs, '-e', 'process.exit(7)'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(7);
  });
});

describe("glibc's malloc setting", () => {
  const runtimeStage = (() => {
    const dockerfile = read('deploy/docker/Dockerfile');
    return dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  })();

  it('is set in the image and in the systemd unit alike, in bytes', () => {
    const image = /^ENV MALLOC_MMAP_THRESHOLD_=(\d+)$/m.exec(runtimeStage)?.[1];
    const unit = /^Environment=MALLOC_MMAP_THRESHOLD_=(\d+)$/m.exec(
      read('deploy/systemd/obshell-exporter.service'),
    )?.[1];
    expect(image).toBe('32768');
    expect(unit).toBe(image);
  });
});

describe('deploy/kubernetes/deployment.yaml memory-first alternative', () => {
  it("is the image's ENTRYPOINT with V8's memory saver mode added", () => {
    const entrypoint = JSON.parse(
      /^ENTRYPOINT (\[.*\])$/m.exec(read('deploy/docker/Dockerfile'))![1]!,
    ) as string[];
    const command = /^\s*# command: \[(.*)\]$/m.exec(read('deploy/kubernetes/deployment.yaml'))?.[1];
    const expected = [...entrypoint.slice(0, -1), '--memory-saver-mode', entrypoint.at(-1)];
    expect(command?.split(', ')).toEqual(expected);
  });
});

describe('deploy/systemd/obshell-exporter.service', () => {
  const unit = read('deploy/systemd/obshell-exporter.service');

  it.each([
    'DynamicUser=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'CapabilityBoundingSet=',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'SystemCallFilter=@system-service',
    'MemoryDenyWriteExecute=no',
    'LoadCredential=password:',
    'EnvironmentFile=-',
    // `systemctl reload` re-reads the config file, as SIGHUP does (src/main.ts).
    'ExecReload=/bin/kill -HUP $MAINPID',
  ])('sets %s', (directive) => {
    expect(unit).toMatch(new RegExp(`^${directive.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  });

  it('passes the credential to the exporter', () => {
    expect(unit).toMatch(/^Environment=OBSHELL_EXPORTER_OBSHELL_PASSWORD_FILE=%d\/password$/m);
  });

  it('sets defaults as variables, not flags, so /etc/default/obshell-exporter can override them', () => {
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    expect(execStart).toMatch(/dist\/src\/main\.js \$OBSHELL_EXPORTER_ARGS$/);
    expect(execStart).not.toMatch(/ --(obshell|web|log|config|poll|limits|targets)\./);
    // systemd: settings from EnvironmentFile= override Environment=, wherever each line stands.
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/default\/obshell-exporter$/m);
  });
});
