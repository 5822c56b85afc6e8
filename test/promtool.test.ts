/** `promtool check metrics` must find nothing in what the exporter serves: the golden files and a live render. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createExporterMetrics } from '../src/metrics/registry.js';

function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is required (Debian package "prometheus"): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('promtool check metrics', () => {
  it('is installed', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool/);
  });

  const goldenDir = new URL('golden/', import.meta.url);
  for (const file of readdirSync(goldenDir).filter((f) => f.endsWith('.prom'))) {
    it(`finds nothing in golden/${file}`, () => {
      expect(promtoolCheck(readFileSync(new URL(file, goldenDir), 'utf8'))).toEqual({
        status: 0,
        output: '',
      });
    });
  }

  it('finds nothing in a live render with the default process and Node.js metrics', async () => {
    const metrics = createExporterMetrics({
      buildInfo: { version: '1.0.0', revision: 'abc', nodejsVersion: process.version },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).not.toContain('nodejs_active_handles_total');
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  it('finds nothing in the shard gauges, which only a sharded exporter has', async () => {
    const buildInfo = { version: '1.0.0', revision: 'abc', nodejsVersion: process.version };
    const sharded = await createExporterMetrics({
      buildInfo,
      defaultMetrics: false,
      shard: { index: 1, count: 3 },
    }).registry.metrics();
    expect(sharded).toMatch(/^obshell_exporter_shards 3$/m);
    expect(sharded).toMatch(/^obshell_exporter_shard_index 1$/m);
    expect(promtoolCheck(sharded)).toEqual({ status: 0, output: '' });
    const whole = await createExporterMetrics({ buildInfo, defaultMetrics: false }).registry.metrics();
    expect(whole).not.toContain('obshell_exporter_shard');
  });

  it('reports a broken exposition (the check can fail)', () => {
    const bad = '# TYPE broken_ms counter\nbroken_ms 1\n';
    expect(promtoolCheck(bad).output).not.toBe('');
  });
});
