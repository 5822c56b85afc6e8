/**
 * Registers the catalogue on a private prom-client Registry. Snapshot gauges are rebuilt from
 * the targets' latest series on every scrape (collect: reset, then set), so a label set that
 * vanished upstream vanishes from /metrics; counters and histograms are cumulative.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type RegistryContentType,
} from 'prom-client';
import { catalogue, snapshotGauges, type MetricSpec } from './catalogue.js';
import type { SeriesSet } from './sample.js';

/** prom-client 15 gauges named *_total break `promtool check metrics`; their twins without it remain. */
export const droppedDefaultMetrics = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export type BuildInfo = { version: string; revision: string; nodejsVersion: string };

export type ExporterMetrics = ReturnType<typeof createExporterMetrics>;

export function createExporterMetrics(options: {
  /** Every target's current series, read at scrape time. */
  readonly series: () => Iterable<SeriesSet>;
  readonly buildInfo: BuildInfo;
  readonly defaultMetrics?: boolean;
}) {
  const registry = new Registry<RegistryContentType>();
  for (const key of snapshotGauges) registerSnapshotGauge(registry, catalogue[key], key, options.series);
  const buildInfo = new Gauge({ ...common(catalogue.buildInfo), registers: [registry] });
  buildInfo.set(
    {
      version: options.buildInfo.version,
      revision: options.buildInfo.revision,
      nodejs_version: options.buildInfo.nodejsVersion,
    },
    1,
  );
  const metrics = {
    registry,
    pollErrors: counter(registry, catalogue.pollErrors),
    pollsSkipped: counter(registry, catalogue.pollsSkipped),
    labelOverflows: counter(registry, catalogue.labelOverflows),
    taskDuration: histogram(registry, catalogue.taskDuration),
    nodeDuration: histogram(registry, catalogue.nodeDuration),
    taskFailures: counter(registry, catalogue.taskFailures),
    subtaskRetries: counter(registry, catalogue.subtaskRetries),
  };
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of droppedDefaultMetrics) registry.removeSingleMetric(name);
  }
  return metrics;
}

function common(spec: MetricSpec) {
  return { name: spec.name, help: spec.help, labelNames: [...spec.labelNames] };
}

function counter(registry: Registry<RegistryContentType>, spec: MetricSpec): Counter {
  return new Counter({ ...common(spec), registers: [registry] });
}

function histogram(registry: Registry<RegistryContentType>, spec: MetricSpec): Histogram {
  return new Histogram({ ...common(spec), buckets: [...(spec.buckets ?? [])], registers: [registry] });
}

function registerSnapshotGauge(
  registry: Registry<RegistryContentType>,
  spec: MetricSpec,
  key: keyof SeriesSet,
  series: () => Iterable<SeriesSet>,
): void {
  new Gauge({
    ...common(spec),
    registers: [registry],
    collect(this: Gauge) {
      this.reset();
      for (const set of series()) {
        for (const sample of set[key] ?? []) this.set(sample.labels, sample.value);
      }
    },
  });
}
