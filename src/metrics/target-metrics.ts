/**
 * One target's series: the gauges of its last poll (replaced as a whole) and its cumulative
 * counters and histograms. Each family renders to its own chunk of text, and a version per family
 * tells the body cache which chunks changed since it last compressed them. prom-client renders a
 * family for all targets at once; a fleet needs one target's change to cost one target's text.
 */
import { catalogue, snapshotGauges, taskGauges, type MetricKey } from './catalogue.js';
import { escapeLabelValue, formatValue, renderSamples } from './exposition-text.js';
import { packText, unpackText, type PackedText } from './packed-text.js';
import type { SeriesSet } from './sample.js';

export type CounterKey = 'pollErrors' | 'pollsSkipped' | 'labelOverflows' | 'taskFailures' | 'subtaskRetries';
export type HistogramKey = 'taskDuration' | 'nodeDuration';

/** Every per-target family, in exposition order. */
export const targetFamilies = [
  ...snapshotGauges,
  'pollErrors',
  'pollsSkipped',
  'labelOverflows',
  'taskDuration',
  'nodeDuration',
  'taskFailures',
  'subtaskRetries',
] as const satisfies readonly MetricKey[];

const familyIndex = new Map<MetricKey, number>(targetFamilies.map((key, i) => [key, i]));
const taskGaugeKeys = new Set<MetricKey>(taskGauges);
const isTaskGauge = (key: MetricKey): boolean => taskGaugeKeys.has(key);
const indexOf = (key: MetricKey): number => familyIndex.get(key) as number;

/** Label values other than `target`, by label name. */
export type Labels = Readonly<Record<string, string>>;

type CounterSeries = { readonly labels: string; value: number };
type HistogramSeries = {
  readonly labels: string;
  /** Per-bucket (not cumulative) counts. A plain array: a typed array per series costs a backing
   * store outside the heap, ~600 bytes each, 14 per target. */
  readonly buckets: number[];
  sum: number;
  count: number;
};

export class TargetMetrics {
  readonly name: string;
  /** Bumped by every change of a family (index as in targetFamilies). */
  readonly versions = new Uint32Array(targetFamilies.length);
  readonly #changed: () => void;
  /** The gauge text per family, long text deflated (packed-text.ts). */
  readonly #snapshot: PackedText[] = snapshotGauges.map(() => '');
  readonly #counters = new Map<CounterKey, Map<string, CounterSeries>>();
  readonly #histograms = new Map<HistogramKey, Map<string, HistogramSeries>>();

  /** @param changed called on every change, so the body cache knows its body is stale */
  constructor(name: string, changed: () => void) {
    this.name = name;
    this.#changed = changed;
  }

  /**
   * Replaces the gauges with a poll's, or all but the task gauges when `keepTask` (the same task as
   * last poll); only families whose text differs count as changed.
   */
  setSnapshot(series: SeriesSet, keepTask = false): void {
    snapshotGauges.forEach((key, f) => {
      if (keepTask && isTaskGauge(key)) return;
      const text = renderSamples(catalogue[key].name, series[key] ?? []);
      if (text === unpackText(this.#snapshot[f] ?? '')) return;
      this.#snapshot[f] = packText(text);
      this.#bump(f);
    });
  }

  /** Adds `by` to a counter; `by` 0 creates the series at zero, so rate() sees its first increment. */
  inc(key: CounterKey, labels: Labels, by = 1): void {
    const [series, created] = this.#series(this.#counters, key, labels, (l) => ({ labels: l, value: 0 }));
    series.value += by;
    if (created || by !== 0) this.#bump(indexOf(key));
  }

  /** Creates a histogram series at zero unless it exists. */
  zero(key: HistogramKey, labels: Labels): void {
    const [, created] = this.#histogram(key, labels);
    if (created) this.#bump(indexOf(key));
  }

  observe(key: HistogramKey, labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const [series] = this.#histogram(key, labels);
    const bounds = catalogue[key].buckets;
    const bucket = bounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) series.buckets[bucket] = (series.buckets[bucket] ?? 0) + 1;
    series.sum += value;
    series.count += 1;
    this.#bump(indexOf(key));
  }

  /** The sample lines of family `f` (index in targetFamilies), '' when it has none. */
  text(f: number): string {
    if (f < snapshotGauges.length) return unpackText(this.#snapshot[f] ?? '');
    const key = targetFamilies[f] as CounterKey | HistogramKey;
    return key === 'taskDuration' || key === 'nodeDuration'
      ? this.#renderHistogram(key)
      : this.#renderCounter(key);
  }

  #bump(f: number): void {
    this.versions[f] = (this.versions[f] ?? 0) + 1;
    this.#changed();
  }

  #histogram(key: HistogramKey, labels: Labels): [HistogramSeries, boolean] {
    const size = catalogue[key].buckets.length;
    return this.#series(this.#histograms, key, labels, (l) => ({
      labels: l,
      buckets: new Array<number>(size).fill(0),
      sum: 0,
      count: 0,
    }));
  }

  /** The series of `key` with these labels, created when missing (second element true). */
  #series<K extends CounterKey | HistogramKey, S>(
    families: Map<K, Map<string, S>>,
    key: K,
    labels: Labels,
    create: (labelText: string) => S,
  ): [S, boolean] {
    let family = families.get(key);
    if (!family) families.set(key, (family = new Map<string, S>()));
    const labelText = this.#labelText(key, labels);
    const existing = family.get(labelText);
    if (existing) return [existing, false];
    const series = create(labelText);
    family.set(labelText, series);
    return [series, true];
  }

  /** `target="…",a="…",…` in the catalogue's label order. */
  #labelText(key: MetricKey, labels: Labels): string {
    return catalogue[key].labelNames
      .map(
        (label) => `${label}="${escapeLabelValue(label === 'target' ? this.name : (labels[label] ?? ''))}"`,
      )
      .join(',');
  }

  #renderCounter(key: CounterKey): string {
    const { name } = catalogue[key];
    const lines: string[] = [];
    for (const { labels, value } of this.#counters.get(key)?.values() ?? []) {
      lines.push(`${name}{${labels}} ${formatValue(value)}`);
    }
    return lines.join('\n');
  }

  #renderHistogram(key: HistogramKey): string {
    const { name, buckets: bounds } = catalogue[key];
    const lines: string[] = [];
    for (const { labels, buckets, sum, count } of this.#histograms.get(key)?.values() ?? []) {
      let cumulative = 0;
      bounds.forEach((bound, i) => {
        cumulative += buckets[i] ?? 0;
        lines.push(`${name}_bucket{le="${bound}",${labels}} ${cumulative}`);
      });
      lines.push(
        `${name}_bucket{le="+Inf",${labels}} ${count}`,
        `${name}_sum{${labels}} ${formatValue(sum)}`,
        `${name}_count{${labels}} ${count}`,
      );
    }
    return lines.join('\n');
  }
}
