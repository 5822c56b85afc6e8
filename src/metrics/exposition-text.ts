/**
 * Sample lines and family headers exactly as prom-client writes them (labels in the catalogue's
 * order, `le` first in buckets, no timestamps), for the series the exporter renders itself.
 */
import type { MetricSpec } from './catalogue.js';
import type { Sample } from './sample.js';

export type Format = 'text' | 'openmetrics';

/** `# HELP` and `# TYPE` of a family; OpenMetrics names a counter family without `_total`. */
export function familyHeader(spec: MetricSpec, format: Format): string {
  const name =
    format === 'openmetrics' && spec.type === 'counter' ? spec.name.replace(/_total$/, '') : spec.name;
  return `# HELP ${name} ${escapeHelp(spec.help)}\n# TYPE ${name} ${spec.type}`;
}

/** `name="value",…` for a label set, in the order given. */
export function labelPairs(labels: Readonly<Record<string, string>>): string {
  const pairs: string[] = [];
  for (const [label, text] of Object.entries(labels)) pairs.push(`${label}="${escapeLabelValue(text)}"`);
  return pairs.join(',');
}

/** Gauge sample lines, one per sample. */
export function renderSamples(name: string, samples: readonly Sample[]): string {
  const lines: string[] = [];
  for (const { labels, value } of samples) {
    const pairs = labelPairs(labels);
    lines.push(`${name}${pairs ? `{${pairs}}` : ''} ${formatValue(value)}`);
  }
  return lines.join('\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan'; // sic: prom-client's spelling
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const needsEscape = /[\\\n"]/;
export function escapeLabelValue(value: string): string {
  if (!needsEscape.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
