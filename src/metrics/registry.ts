/**
 * Registers the catalogue and serves the exposition, cheaply enough for a large fleet.
 *
 * Per-target series (the snapshot gauges of each poll, and the per-target counters and histograms)
 * are kept by TargetMetrics, one per target, and rendered per target and family; the body cache
 * compresses them in segments and reuses every segment nothing changed. Exporter-level metrics
 * (build info, auth failures, reloads) and the process metrics stay prom-client metrics, each
 * re-rendered only after it changed (process metrics at most once per second).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type RegistryContentType } from 'prom-client';
import { authFailureReasons, catalogue, type MetricSpec } from './catalogue.js';
import {
  createBodyCache,
  formatOf,
  identityAnswer,
  identityOf,
  readyIdentityAnswer,
  type BodyCache,
  type CachedBody,
  type Encoding,
  type Format,
  type InflateOnSend,
} from './body-cache.js';
import { TargetMetrics } from './target-metrics.js';

export type { Encoding, InflateOnSend } from './body-cache.js';

/** prom-client 15 gauges named *_total break `promtool check metrics`; their twins without it remain. */
export const droppedDefaultMetrics = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export type BuildInfo = { version: string; revision: string; nodejsVersion: string };

export type ExporterMetrics = ReturnType<typeof createExporterMetrics>;

/**
 * A prom-client Registry whose `metrics()` and `exposition()` serve the cached body. Builds are
 * serialised: prom-client reads the content type from the registry while formatting.
 */
export class ExpositionRegistry extends Registry<RegistryContentType> {
  readonly #cache: BodyCache;
  #queue: Promise<unknown> = Promise.resolve();
  /** Builds queued or running. */
  #busy = 0;
  /** A queued build not started yet: scrapes arriving meanwhile share it (50 scrapers, one build). */
  readonly #waiting = new Map<Format, Promise<CachedBody>>();

  constructor(cache: BodyCache) {
    super();
    this.#cache = cache;
  }

  /**
   * The scrape's answer for `contentType` right now (as scrape() gives it), when the cache is
   * current or was built under maxStaleBodyMs ago and `encoding` is ready; undefined means: call
   * scrape(). Starts no work. Lets the server answer in the request's own tick (perf: deferring a
   * response by even one microtask costs ~25 % of req/s on small bodies).
   */
  cached(contentType: RegistryContentType, encoding: Encoding): Buffer | InflateOnSend | undefined {
    const format = formatOf(contentType);
    // While a build is queued, only a recent body jumps the queue; otherwise keep scrapes in order.
    const current = this.#busy > 0 ? undefined : this.#cache.current(this, format);
    const recent = current ?? this.#cache.recent(format);
    if (!recent) return undefined;
    const body = this.#cache.served(recent);
    if (encoding === 'gzip') return body.zipped;
    return readyIdentityAnswer(body);
  }

  /** What a scrape gets: the gzip bytes, the identity bytes, or a large body to inflate while sending. */
  async scrape(contentType: RegistryContentType, encoding: Encoding): Promise<Buffer | InflateOnSend> {
    const body = this.#cache.served(await this.#build(formatOf(contentType)));
    return encoding === 'gzip' ? body.zipped : identityAnswer(body);
  }

  /** The body for `contentType`, from the cache when nothing changed since the last build. */
  async exposition(contentType: RegistryContentType, encoding: Encoding = 'identity'): Promise<Buffer> {
    const body = this.#cache.served(await this.#build(formatOf(contentType)));
    return encoding === 'gzip' ? body.zipped : identityOf(body);
  }

  #build(format: Format): Promise<CachedBody> {
    const waiting = this.#waiting.get(format);
    if (waiting) return waiting;
    const run = this.#queue.then(() => {
      this.#waiting.delete(format);
      return this.#cache.render(this, format);
    });
    this.#waiting.set(format, run);
    this.#busy += 1;
    this.#queue = run.catch(() => undefined).finally(() => (this.#busy -= 1));
    return run;
  }

  /** prom-client's API: the current exposition as text, in the registry's content type. */
  override async metrics(): Promise<string> {
    const body = this.#cache.served(await this.#build(formatOf(this.contentType)));
    return (await identityOf(body)).toString('utf8');
  }
}

export function createExporterMetrics(options: {
  readonly buildInfo: BuildInfo;
  readonly defaultMetrics?: boolean;
  /** --poll.schedule's longest gap: how stale a last successful poll may be before an alert (absent in tests). */
  readonly pollIntervalSeconds?: number;
  /** --targets.shard: exported so that a missing shard can be alerted on (no flag, no series). */
  readonly shard?: { readonly index: number; readonly count: number };
}) {
  /** Per-target series in exposition order: configuration order, then first use. */
  const targets = new Map<string, TargetMetrics>();
  let list: TargetMetrics[] = [];
  const cache = createBodyCache(() => list);
  const registry = new ExpositionRegistry(cache);
  const tracked = <M extends object>(metric: M, spec: MetricSpec): M => cache.track(metric, spec.name);
  const buildInfo = tracked(
    new Gauge({ ...common(catalogue.buildInfo), registers: [registry] }),
    catalogue.buildInfo,
  );
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
    /** The series of target `name`, created empty on first use. */
    target(name: string): TargetMetrics {
      let target = targets.get(name);
      if (!target) {
        target = new TargetMetrics(name, cache.changed, cache.exposure);
        targets.set(name, target);
        list = [...targets.values()];
        cache.changed();
      }
      return target;
    },
    /**
     * Keeps exactly these targets, in this order (a reload): the series of a removed target go
     * with it, as a removed scrape target's do in Prometheus; a target that stays keeps its own.
     */
    retainTargets(names: readonly string[]): void {
      const kept = names.map((name) => metrics.target(name));
      targets.clear();
      for (const target of kept) targets.set(target.name, target);
      list = kept;
      cache.changed();
    },
    httpAuthFailures: tracked(counter(registry, catalogue.httpAuthFailures), catalogue.httpAuthFailures),
    configReloadSuccessful: tracked(
      gauge(registry, catalogue.configReloadSuccessful),
      catalogue.configReloadSuccessful,
    ),
    configReloadTimestamp: tracked(
      gauge(registry, catalogue.configReloadTimestamp),
      catalogue.configReloadTimestamp,
    ),
  };
  for (const reason of authFailureReasons) metrics.httpAuthFailures.inc({ reason }, 0);
  if (options.pollIntervalSeconds !== undefined) {
    tracked(gauge(registry, catalogue.pollInterval), catalogue.pollInterval).set(options.pollIntervalSeconds);
  }
  if (options.shard) {
    tracked(gauge(registry, catalogue.shards), catalogue.shards).set(options.shard.count);
    tracked(gauge(registry, catalogue.shardIndex), catalogue.shardIndex).set(options.shard.index);
  }
  if (options.defaultMetrics ?? true) {
    // The event-loop delay is sampled every 100 ms, not prom-client's 10 ms: the 10 ms timer alone
    // cost 0.75 % of a core (measured), most of an idle exporter's CPU; 10 samples a second
    // still measure each delay to the microsecond.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
    for (const name of droppedDefaultMetrics) registry.removeSingleMetric(name);
  }
  return metrics;
}

function common(spec: MetricSpec) {
  return { name: spec.name, help: spec.help, labelNames: [...spec.labelNames] };
}

function gauge(registry: Registry<RegistryContentType>, spec: MetricSpec): Gauge {
  return new Gauge({ ...common(spec), registers: [registry] });
}

function counter(registry: Registry<RegistryContentType>, spec: MetricSpec): Counter {
  return new Counter({ ...common(spec), registers: [registry] });
}
