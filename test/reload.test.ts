import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Gauge, Registry, type RegistryContentType } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExporterConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { startExporter } from '../src/exporter.js';
import { catalogue } from '../src/metrics/catalogue.js';
import { createReloader } from '../src/reload.js';
import { startSimulator, type SimulatorOptions } from '../src/simulator/index.js';
import {
  captureLogs,
  exporterConfig,
  sleep,
  waitFor,
  type TargetSpec,
} from './helpers/hardening-exporter.js';

describe('config reload', () => {
  it('applies a valid configuration, keeps the old one on an invalid one, and says so in metrics and logs', async () => {
    const registry = new Registry<RegistryContentType>();
    const lines: string[] = [];
    const applied: string[] = [];
    let next: ExporterConfig | Error = { pollSchedule: '*/30 * * * * *' } as ExporterConfig;
    let clock = 1_000_000;
    const reloader = createReloader({
      load: () => {
        if (next instanceof Error) throw next;
        return next;
      },
      apply: (config) => applied.push(config.pollSchedule),
      gauges: {
        successful: new Gauge({
          name: catalogue.configReloadSuccessful.name,
          help: 'h',
          registers: [registry],
        }),
        timestamp: new Gauge({
          name: catalogue.configReloadTimestamp.name,
          help: 'h',
          registers: [registry],
        }),
      },
      logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
      now: () => clock,
    });
    const gauges = async () =>
      (await registry.metrics()).split('\n').filter((l) => l.startsWith('obshell_exporter_config'));
    expect(await gauges()).toEqual([
      'obshell_exporter_config_last_reload_successful 1',
      'obshell_exporter_config_last_reload_success_timestamp_seconds 1000',
    ]);
    clock = 2_000_000;
    expect(await reloader.reload('SIGHUP')).toEqual({ ok: true });
    expect(applied).toEqual(['*/30 * * * * *']);
    next = new ConfigError(['targets[0].urls[0]: "ftp://x" is not an http or https URL']);
    clock = 3_000_000;
    const failed = await reloader.reload('http');
    expect(failed.ok).toBe(false);
    expect(applied).toHaveLength(1);
    expect(await gauges()).toEqual([
      'obshell_exporter_config_last_reload_successful 0',
      'obshell_exporter_config_last_reload_success_timestamp_seconds 2000',
    ]);
    expect(lines.at(-1)).toContain('configuration reload failed; the previous configuration stays in force');
    expect(lines.at(-1)).toContain('targets[0].urls[0]');
  });
});

describe('reload while a removed target is being polled (real agents)', () => {
  const password = 'reload-in-flight-pw';
  /** How long a slow agent holds the task request before it answers. */
  const slowMs = 3000;
  const maintainPath = '/api/v1/task/dag/maintain/ob';
  /** Only the start-up round polls: no tick comes to poll again within a test. */
  const hourly = '0 0 * * * *';
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function agent(options: SimulatorOptions = {}) {
    const sim = await startSimulator({ port: 0, password, scenario: 'seed', slowMs, ...options });
    cleanups.push(() => sim.close());
    return sim;
  }

  /** An exporter whose reload applies `config()` as it is at the time. */
  async function exporterWith(config: () => ExporterConfig) {
    const { logger, lines } = captureLogs();
    const exporter = await startExporter(config(), {
      logger,
      credentials: () => ({ password: () => password }),
      load: config,
    });
    cleanups.push(() => exporter.stop(1000));
    const text = () => exporter.metrics.registry.metrics();
    return { exporter, lines, text };
  }

  const targetsIn = (text: string) => [...new Set([...text.matchAll(/target="([^"]*)"/g)].map((m) => m[1]))];

  it('keeps a removed target gone when its poll in flight ends later, with an answer or a failure', async () => {
    const good = await agent();
    const answersLate = await agent({ fault: 'slow' });
    const failsLate = await agent({ fault: 'slow' });
    const goodOnly: TargetSpec[] = [{ name: 'good', urls: [good.url] }];
    let config = exporterConfig(
      [
        ...goodOnly,
        { name: 'answers-late', urls: [answersLate.url], timeoutMs: 30_000 },
        // Its request times out before the agent answers: a late failure.
        { name: 'fails-late', urls: [failsLate.url], timeoutMs: slowMs / 2 },
      ],
      hourly,
    );
    const { exporter, lines, text } = await exporterWith(() => config);
    await waitFor(
      'both slow agents holding a task request',
      () => answersLate.requestCount(maintainPath) === 1 && failsLate.requestCount(maintainPath) === 1,
    );
    const heldSince = Date.now();
    await waitFor('the good target', async () => (await text()).includes('obshell_up{target="good"} 1'));

    config = exporterConfig(goodOnly, hourly);
    expect(await exporter.reload('test')).toEqual({ ok: true });
    expect(targetsIn(await text())).toEqual(['good']);
    // Past the end of both polls as they would have gone: the timeout, then the late answer.
    await sleep(heldSince + slowMs + 500 - Date.now());
    const after = await text();
    expect(targetsIn(after)).toEqual(['good']);
    expect(after).toContain('obshell_up{target="good"} 1');
    expect(lines.filter((l) => l.target !== undefined && l.target !== 'good')).toEqual([]);
    expect(exporter.poller.statuses().map((s) => s.name)).toEqual(['good']);
  }, 20_000);

  it('drops the poll in flight of a target whose URL a reload changed, and keeps that of a target left as it was', async () => {
    const good = await agent();
    const oldHome = await agent({ fault: 'slow' });
    const unchanged = await agent({ fault: 'slow' });
    const steady: TargetSpec = { name: 'steady', urls: [unchanged.url], timeoutMs: 30_000 };
    const moved = (url: string): TargetSpec => ({ name: 'moved', urls: [url], timeoutMs: slowMs / 2 });
    let config = exporterConfig([moved(oldHome.url), steady], hourly);
    const { exporter, lines, text } = await exporterWith(() => config);
    await waitFor(
      'both slow agents holding a task request',
      () => oldHome.requestCount(maintainPath) === 1 && unchanged.requestCount(maintainPath) === 1,
    );
    const heldSince = Date.now();

    config = exporterConfig([moved(good.url), steady], hourly);
    expect(await exporter.reload('test')).toEqual({ ok: true });
    await sleep(heldSince + slowMs + 500 - Date.now());
    const after = await text();
    // The old URL's poll timed out after the reload: not a failure of the target as configured now.
    expect(after).not.toContain('obshell_up{target="moved"}');
    expect(after).toContain('obshell_exporter_poll_errors_total{target="moved",reason="timeout"} 0');
    expect(lines.filter((l) => l.target === 'moved')).toEqual([]);
    // An unchanged target's poll carries over the reload and its late answer counts.
    expect(after).toContain('obshell_up{target="steady"} 1');
  }, 20_000);

  it("keeps a re-added target's own result when the poll from before its removal ends later", async () => {
    const slow = await agent({ fault: 'slow' });
    const spec: TargetSpec = { name: 'again', urls: [slow.url], timeoutMs: slowMs / 2 };
    let config = exporterConfig([spec], hourly);
    const { exporter, lines, text } = await exporterWith(() => config);
    await waitFor('the agent holding a task request', () => slow.requestCount(maintainPath) === 1);
    const heldSince = Date.now();

    config = exporterConfig([], hourly);
    expect(await exporter.reload('test')).toEqual({ ok: true });
    slow.setFault(null);
    config = exporterConfig([spec], hourly);
    expect(await exporter.reload('test')).toEqual({ ok: true });
    await exporter.poller.pollAll();
    expect(await text()).toContain('obshell_up{target="again"} 1');
    // Past the moment the first poll would have timed out.
    await sleep(heldSince + slowMs / 2 + 500 - Date.now());
    const after = await text();
    expect(after).toContain('obshell_up{target="again"} 1');
    expect(after).toContain('obshell_exporter_poll_errors_total{target="again",reason="timeout"} 0');
    expect(lines.filter((l) => l.msg.startsWith('poll failed'))).toEqual([]);
  }, 20_000);
});

describe('a target added back by a reload', () => {
  it('does not count again the events it had before its removal: it is watched from the reload on', async () => {
    const password = 'reload-re-add-pw';
    // Story seconds of scenario `failed`, on both clocks.
    let story = 0;
    const realBase = Date.now() - 10 * 60_000; // behind the real clock: auth headers never expire
    const sim = await startSimulator({
      port: 0,
      password,
      scenario: 'failed',
      clock: () => realBase + story * 1000,
    });
    const spec: TargetSpec = { name: 'again', urls: [sim.url] };
    let config = exporterConfig([spec], '0 0 * * * *');
    const { logger } = captureLogs();
    const exporter = await startExporter(config, {
      logger,
      credentials: () => ({ password: () => password }),
      load: () => config,
      now: () => realBase + story * 1000, // the simulator's clock: its task ends at story second ~92
    });
    try {
      const text = () => exporter.metrics.registry.metrics();
      const failures = /^obshell_maintenance_task_failures_total\{target="again",[^}]*\} (\d+)$/m;
      await exporter.poller.pollAll();
      expect((await text()).match(failures)?.[1]).toBe('0');
      story = 120;
      await exporter.poller.pollAll();
      expect((await text()).match(failures)?.[1]).toBe('1');

      config = exporterConfig([], '0 0 * * * *');
      expect(await exporter.reload('test')).toEqual({ ok: true });
      story = 130;
      config = exporterConfig([spec], '0 0 * * * *');
      expect(await exporter.reload('test')).toEqual({ ok: true });
      for (let i = 0; i < 2; i++) {
        await exporter.poller.pollAll(); // a scrape after each: nothing held back either
        const after = await text();
        expect(after).toContain('obshell_maintenance_task_state{target="again",task_id=');
        expect(after.match(failures)?.[1]).toBe('0');
      }
    } finally {
      await exporter.stop(1000);
      await sim.close();
    }
  }, 20_000);
});

describe('a reload refused while building clients', () => {
  it("closes the clients it had built already, so their keep-alive agents do not outlive the exporter's", async () => {
    // Any answer will do: the poll only has to leave an idle keep-alive socket in the agent's pool.
    const server = createServer((_req, res) => res.writeHead(500).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const connections = () =>
      new Promise<number>((resolve, reject) => {
        server.getConnections((error, count) => {
          if (error) reject(error);
          else resolve(count);
        });
      });
    try {
      const { logger } = captureLogs();
      const good: TargetSpec = { name: 'good', urls: [url] };
      let config = exporterConfig([good], '0 0 * * * *');
      const exporter = await startExporter(config, {
        logger,
        credentials: () => ({ password: () => 'pw' }),
        load: () => config,
      });
      await waitFor('a keep-alive connection', async () => (await connections()) === 1);
      // The second target's CA file cannot be read: its client throws after the first was built.
      config = exporterConfig([good, { name: 'bad', urls: [url], tls: { caFile: '/nonexistent/ca.pem' } }]);
      expect((await exporter.reload('test')).ok).toBe(false);
      await exporter.stop(1000);
      await waitFor('the agent destroyed with its sockets', async () => (await connections()) === 0, 2000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
