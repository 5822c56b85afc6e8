/**
 * One target's series: the gauges of its last poll (replaced as a whole) and its cumulative
 * counters and histograms. Each family renders to its own chunk of text, and a version per family
 * tells the body cache which chunks changed since it last compressed them. prom-client renders a
 * family for all targets at once; a fleet needs one target's change to cost one target's text.
 */
import type { Exposure } from './body-cache.js';
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

/**
 * The families whose label sets come from the tasks (a task type, a node): their series are born
 * when a poll first sees those values, often in the poll that brings their first event. Such an
 * event is held until a scraper has seen the series at zero, or rate() and increase() would never
 * count it (they need two samples). Poll errors and skips are born with the target instead.
 */
const heldFamilies: ReadonlySet<CounterKey | HistogramKey> = new Set([
  'taskFailures',
  'subtaskRetries',
  'taskDuration',
  'nodeDuration',
]);

/** Every series is seen at once: for a TargetMetrics with no body cache behind it (unit tests). */
const alwaysSeen: Exposure = { generation: 0, served: 0 };

type Counts = { readonly buckets: number[]; sum: number; count: number };

type CounterSeries = {
  readonly labels: string;
  value: number;
  /** The generation that created it (Exposure): until a scraper has seen it, increments wait in `held`. */
  readonly born: number;
  held: number;
};
type HistogramSeries = Counts & {
  readonly labels: string;
  /** Per-bucket (not cumulative) counts. A plain array: a typed array per series costs a backing
   * store outside the heap, ~600 bytes each, 14 per target. */
  readonly buckets: number[];
  readonly born: number;
  held: Counts | undefined;
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
  readonly #exposure: Exposure;
  /** Series with events held back (heldFamilies), by family. */
  readonly #holding = new Map<CounterKey | HistogramKey, Set<CounterSeries | HistogramSeries>>();

  /**
   * @param changed called on every change, so the body cache knows its body is stale
   * @param exposure the body cache's clock; without one, no event is held
   */
  constructor(name: string, changed: () => void, exposure: Exposure = alwaysSeen) {
    this.name = name;
    this.#changed = changed;
    this.#exposure = exposure;
  }

  /**
   * Adds the held events of every series a scraper has seen since to what it renders. Called at
   * the start of each poll, so an event waits at least one poll interval and at most until the
   * first scrape after its series was born.
   */
  releaseSeen(): void {
    for (const [key, held] of this.#holding) {
      let released = false;
      for (const series of held) {
        if (!this.#seen(series)) continue;
        if ('value' in series) {
          series.value += series.held;
          series.held = 0;
        } else if (series.held) {
          addCounts(series, series.held);
          series.held = undefined;
        }
        held.delete(series);
        released = true;
      }
      if (held.size === 0) this.#holding.delete(key);
      if (released) this.#bump(indexOf(key));
    }
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
    const [series, created] = this.#series(this.#counters, key, labels, (l) => ({
      labels: l,
      value: 0,
      born: this.#birth(),
      held: 0,
    }));
    if (created) this.#bump(indexOf(key));
    if (by === 0) return;
    if (this.#mustHold(key, series)) {
      series.held += by;
      return;
    }
    series.value += by;
    this.#bump(indexOf(key));
  }

  /** Creates a histogram series at zero unless it exists. */
  zero(key: HistogramKey, labels: Labels): void {
    const [, created] = this.#histogram(key, labels);
    if (created) this.#bump(indexOf(key));
  }

  observe(key: HistogramKey, labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const [series, created] = this.#histogram(key, labels);
    if (created) this.#bump(indexOf(key));
    const bounds = catalogue[key].buckets;
    const into = this.#mustHold(key, series) ? (series.held ??= emptyCounts(bounds.length)) : series;
    const bucket = bounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) into.buckets[bucket] = (into.buckets[bucket] ?? 0) + 1;
    into.sum += value;
    into.count += 1;
    if (into === series) this.#bump(indexOf(key));
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
      ...emptyCounts(size),
      born: this.#birth(),
      held: undefined,
    }));
  }

  /** The generation a series created now shows up in: the one its creation's bump starts. */
  #birth(): number {
    return this.#exposure.generation + 1;
  }

  #seen(series: CounterSeries | HistogramSeries): boolean {
    return this.#exposure === alwaysSeen || this.#exposure.served >= series.born;
  }

  /** True when an event of `series` must wait (and then it is registered as waiting). */
  #mustHold(key: CounterKey | HistogramKey, series: CounterSeries | HistogramSeries): boolean {
    if (!heldFamilies.has(key) || this.#seen(series)) return false;
    let held = this.#holding.get(key);
    if (!held) this.#holding.set(key, (held = new Set()));
    held.add(series);
    return true;
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

function emptyCounts(size: number): Counts {
  return { buckets: new Array<number>(size).fill(0), sum: 0, count: 0 };
}

function addCounts(into: Counts, from: Counts): void {
  from.buckets.forEach((n, i) => (into.buckets[i] = (into.buckets[i] ?? 0) + n));
  into.sum += from.sum;
  into.count += from.count;
}
