/**
 * Load and churn (issue 5 §3): 200 concurrent scrapers while 500 targets are polled every 5 s (3× the
 * default rate of a 15 s schedule),
 * and 10 000 distinct tasks across 100 targets without growing the series.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as ClientModule from '../src/obshell/client.js';
import { startExporter, type RunningExporter } from '../src/exporter.js';
import type { ScenarioName } from '../src/simulator/index.js';
import { dagJson } from './helpers/dag-builder.js';
import { captureLogs, exporterConfig, waitFor } from './helpers/hardening-exporter.js';
import { parseExposition } from './helpers/hardening-exposition.js';
import { canary } from './helpers/canary.js';
import { runScrapers, spawnSimulator, type PollCount, type ScrapeReport } from './helpers/hardening-load.js';
import { createHarness, ok } from './helpers/render.js';

/** Every client the exporter creates is wrapped in a counter of fetches in flight. */
const counts: PollCount[] = [];
vi.mock('../src/obshell/client.js', async (importOriginal) => {
  const real = await importOriginal<typeof ClientModule>();
  const { countingClient } = await import('./helpers/hardening-load.js');
  return {
    ...real,
    createObshellClient: (options: Parameters<typeof real.createObshellClient>[0]) => {
      const count: PollCount = { inFlight: 0, maxInFlight: 0, total: 0 };
      counts.push(count);
      return countingClient(real.createObshellClient(options), count);
    },
  };
});

const cleanups: (() => Promise<void> | void)[] = [];

/** The snapshot gauges of the current task and target (catalogue order). */
const snapshotGauges = new Set([
  'obshell_up',
  'obshell_agent_info',
  'obshell_exporter_poll_duration_seconds',
  'obshell_exporter_last_poll_success_timestamp_seconds',
  'obshell_maintenance_task_present',
  'obshell_maintenance_task_info',
  'obshell_maintenance_task_state',
  'obshell_maintenance_task_operator',
  'obshell_maintenance_task_stage',
  'obshell_maintenance_task_max_stage',
  'obshell_maintenance_task_start_timestamp_seconds',
  'obshell_maintenance_task_end_timestamp_seconds',
  'obshell_maintenance_task_elapsed_seconds',
  'obshell_maintenance_node_state',
  'obshell_maintenance_node_elapsed_seconds',
  'obshell_maintenance_subtask_execute_times',
]);
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('load: 200 scrapers while 500 targets are polled every 5 s', () => {
  type Run = { report: ScrapeReport; p99Ms: number; polls: number; renderMs: number };
  const run: { result?: Run; exporter?: RunningExporter } = {};

  beforeAll(async () => {
    const scenarios: ScenarioName[] = ['seed', 'running', 'failed', 'none', 'tenant'];
    const sims: { url: string }[] = [];
    for (const scenario of scenarios) {
      const args = ['--scenario', scenario, '--password', canary.root, '--key-bits', '512'];
      const s = await spawnSimulator(args);
      cleanups.push(s.stop);
      sims.push(s);
    }
    const targets = Array.from({ length: 500 }, (_, i) => ({
      name: `cluster-${String(i).padStart(3, '0')}`,
      urls: [sims[i % sims.length]?.url ?? ''],
      timeoutMs: 900,
    }));
    const { logger } = captureLogs('error');
    const exporter = await startExporter(exporterConfig(targets, '*/5 * * * * *'), {
      logger,
      credentials: () => ({ password: () => canary.root }),
    });
    run.exporter = exporter;
    cleanups.push(() => exporter.stop(1000));
    await waitFor('the first poll round', () => exporter.poller.ready, 40_000);

    const started = performance.now();
    await exporter.metrics.registry.metrics();
    const renderMs = performance.now() - started;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const pollsBefore = counts.reduce((n, c) => n + c.total, 0);
    const loadStarted = performance.now();
    delay.enable();
    const report = await runScrapers(`http://127.0.0.1:${exporter.address.port}/metrics`, 200, 5000);
    delay.disable();
    const polls = counts.reduce((n, c) => n + c.total, 0) - pollsBefore;
    // The scrapers send for 5 s, but the last answers of a loaded exporter arrive later.
    const seconds = ((performance.now() - loadStarted) / 1000).toFixed(1);
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    console.info(
      `load: ${report.total} scrapes (${JSON.stringify(report.statuses)}), ${polls} polls in ${seconds} s; one render ` +
        `${renderMs.toFixed(0)} ms; event-loop delay p50 ${ms(delay.percentile(50))} ms, ` +
        `p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms`,
    );
    run.result = { report, p99Ms: delay.percentile(99) / 1e6, polls, renderMs };
  }, 90_000);

  it('answers every scrape with 200', () => {
    const { report } = run.result as Run;
    expect(report.failed).toBe(0);
    expect(report.ok).toBe(report.total);
    expect(report.total).toBeGreaterThanOrEqual(200);
  });

  it('never runs two polls of one target at once, and keeps polling every target', async () => {
    expect(counts).toHaveLength(500);
    // The first round, then at least one scheduled poll of every target.
    expect(counts.every((c) => c.total >= 2)).toBe(true);
    expect(Math.max(...counts.map((c) => c.maxInFlight))).toBe(1);
    expect((run.result as Run).polls).toBeGreaterThanOrEqual(500);
    const parsed = parseExposition(await (run.exporter as RunningExporter).metrics.registry.metrics());
    const up = parsed.samples.filter((s) => s.name === 'obshell_up');
    expect(up).toHaveLength(500);
    expect(up.filter((s) => s.value === 1).length).toBeGreaterThanOrEqual(490);
  });

  // Measured 40–60 ms on this 2-core machine (55–85 ms when the niced scrapers and simulators compete
  // at equal priority): a poll recompresses only the segments it changed, so no build blocks long.
  it('keeps the event-loop delay p99 under 100 ms under load', () => {
    expect((run.result as Run).p99Ms).toBeLessThan(100);
  });
});

describe('churn: 10 000 distinct tasks across 100 targets', () => {
  const targets = 100;
  const tasksPerTarget = 100;
  const nodes = 9;
  const dagFor = (task: number) =>
    ok(
      dagJson({
        id: String(10_000 + task),
        state: 'SUCCEED',
        start: 0,
        end: 200,
        nodes: Array.from({ length: nodes }, (_, i) => ({
          name: `Step ${i + 1}`,
          state: 'SUCCEED',
          start: i * 20,
          end: i * 20 + 10,
        })),
      }),
    );

  it('keeps the series bounded by the current tasks plus the histograms; heap measured', async () => {
    const h = createHarness();
    const seriesAfter: number[] = [];
    const heap: number[] = [];
    for (let task = 0; task < tasksPerTarget; task++) {
      const outcome = dagFor(task);
      for (let t = 0; t < targets; t++) h.poll(`cluster-${t}`, { outcome, at: 600 + task * 30 });
      if (task === 9 || task === tasksPerTarget - 1) {
        const parsed = parseExposition(await h.render());
        seriesAfter.push(parsed.samples.length);
        heap.push(process.memoryUsage().heapUsed);
        // Only the current task of each target is shown.
        const ids = new Set(
          parsed.samples.flatMap((s) => (s.labels['task_id'] ? [s.labels['task_id']] : [])),
        );
        expect([...ids]).toEqual([String(10_000 + task)]);
        // The current task's gauges, per target: up, agent_info, poll duration, last success, task
        // present (5); info, state ×5, operator ×5, stage, max_stage, start, end, elapsed (16);
        // per node: state ×5, elapsed, execute_times (7 × 9).
        const gaugeSeries = parsed.samples.filter((s) => snapshotGauges.has(s.name)).length;
        expect(gaugeSeries).toBe(targets * (5 + 16 + nodes * 7));
        // Everything per target is the same for every target; the rest is global.
        const perTarget = parsed.samples.filter((s) => s.labels['target'] === 'cluster-0').length;
        const global = parsed.samples.filter((s) => s.labels['target'] === undefined).length;
        expect(parsed.samples.length).toBe(targets * perTarget + global);
        const nodeLabels = new Set(
          parsed.samples
            .filter((s) => s.name === 'obshell_maintenance_node_duration_seconds_count')
            .map((s) => `${s.labels['target']}/${s.labels['node']}`),
        );
        expect(nodeLabels.size).toBe(targets * nodes);
      }
    }
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    console.info(
      `churn: ${targets * tasksPerTarget} tasks; series after 10 tasks/target ${seriesAfter[0]}, after 100 ${seriesAfter[1]}; ` +
        `heapUsed ${mb(heap[0] ?? 0)} MB -> ${mb(heap[1] ?? 0)} MB`,
    );
    expect(seriesAfter[1]).toBe(seriesAfter[0]);
    const counted = parseExposition(await h.render()).samples.find(
      (s) =>
        s.name === 'obshell_maintenance_task_duration_seconds_count' && s.labels['target'] === 'cluster-0',
    );
    // Every one of the 100 tasks was observed once: the events are counted, not the series.
    expect(counted?.value).toBe(tasksPerTarget);
  });
});
