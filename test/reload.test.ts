import pino from 'pino';
import { Gauge, Registry, type RegistryContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ExporterConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { catalogue } from '../src/metrics/catalogue.js';
import { createReloader } from '../src/reload.js';

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
