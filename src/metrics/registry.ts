/**
 * Registers the catalogue and renders the exposition, cheaply enough to serve a large fleet.
 *
 * Snapshot gauges are not prom-client gauges: a per-scrape reset() and set() of every label set
 * cost far more than the scrape itself. Each target's series are rendered to text once (a poll
 * replaces the target's SeriesSet object, so object identity tells what changed) and concatenated
 * per family at render time; a label set that vanished upstream vanishes with its SeriesSet.
 * Counters and histograms stay prom-client metrics, each re-rendered only after it changed.
 * The whole body is cached per content type until a poll, a cumulative metric or the process
 * metrics (re-read at most once per second) change it. It is gzipped once per build (Prometheus
 * always asks for gzip; a 1 000-target body shrinks ~35×), and the identity bytes are then dropped
 * and re-inflated only if an identity scrape asks for them: at scale the body is the largest buffer.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type RegistryContentType,
} from 'prom-client';
import { authFailureReasons, catalogue, type MetricSpec } from './catalogue.js';
import type { SeriesSet } from './sample.js';
import {
  formatOf,
  gzipOf,
  identityOf,
  slowBuildMs,
  createRenderState,
  type CachedBody,
  type Encoding,
  type Format,
} from './body-cache.js';

export type { Encoding } from './body-cache.js';

/** prom-client 15 gauges named *_total break `promtool check metrics`; their twins without it remain. */
export const droppedDefaultMetrics = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export type BuildInfo = { version: string; revision: string; nodejsVersion: string };

export type ExporterMetrics = ReturnType<typeof createExporterMetrics>;

/**
 * A prom-client Registry whose `metrics()` and `exposition()` serve the cached body. Renders are
 * serialised: prom-client reads the content type from the registry while formatting.
 */
export class ExpositionRegistry extends Registry<RegistryContentType> {
  readonly #render: (format: Format, fresh?: boolean) => Promise<CachedBody>;
  readonly #current: (format: Format) => CachedBody | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Renders queued or running. */
  #busy = 0;
  /** A queued build not started yet: scrapes arriving meanwhile share it (50 scrapers, one refresh). */
  readonly #waiting = new Map<Format, Promise<CachedBody>>();
  /** The last body whose gzip is done, per format. */
  readonly #zipped: Partial<Record<Format, CachedBody>> = {};

  constructor(
    render: (registry: ExpositionRegistry, format: Format, fresh?: boolean) => Promise<CachedBody>,
    current: (registry: ExpositionRegistry, format: Format) => CachedBody | undefined,
  ) {
    super();
    this.#render = (format, fresh) => render(this, format, fresh);
    this.#current = (format) => current(this, format);
  }

  /**
   * The bytes for `contentType` right now, when the cache is current and `encoding` is ready;
   * undefined means: call exposition(). Lets the server answer in the request's own tick
   * (perf: deferring a response by even one microtask costs ~25 % of req/s on small bodies).
   */
  cached(contentType: RegistryContentType, encoding: Encoding): Buffer | undefined {
    if (this.#busy > 0) return undefined; // a render is queued: keep the order of scrapes
    const body = this.#current(formatOf(contentType));
    if (!body) return undefined;
    if (encoding === 'gzip') return body.zipped;
    return Buffer.isBuffer(body.identity) ? body.identity : undefined;
  }

  /** The body for `contentType`, from the cache when nothing changed since the last render. */
  exposition(contentType: RegistryContentType, encoding: Encoding = 'identity'): Promise<Buffer> {
    const format = formatOf(contentType);
    // Only the build is serialised; compression runs on libuv's pool, outside the queue.
    return this.#build(format).then((body) =>
      encoding === 'gzip' ? this.#gzipped(format, body) : identityOf(body),
    );
  }

  #build(format: Format): Promise<CachedBody> {
    const waiting = this.#waiting.get(format);
    if (waiting) return waiting;
    const run = this.#queue.then(() => {
      this.#waiting.delete(format);
      return this.#render(format);
    });
    this.#waiting.set(format, run);
    this.#busy += 1;
    this.#queue = run.catch(() => undefined).finally(() => (this.#busy -= 1));
    return run;
  }

  /**
   * The gzip bytes of `body`. While a large body (slow to compress) is being compressed, scrapes
   * get the previous build's bytes instead of all waiting: the body then lags the polls by one
   * compression (~0.1 s at 1 000 targets). Small bodies are always fresh.
   */
  #gzipped(format: Format, body: CachedBody): Promise<Buffer> {
    if (body.zipped) return Promise.resolve(body.zipped);
    const zipping = gzipOf(body).then((zipped) => {
      this.#zipped[format] = body;
      return zipped;
    });
    const previous = this.#zipped[format];
    if (previous?.zipped && previous.costMs > slowBuildMs) {
      zipping.catch(() => undefined); // nobody awaits it now: never an unhandled rejection
      return Promise.resolve(previous.zipped);
    }
    return zipping;
  }

  /**
   * prom-client's API: always the current state, never a body held back by the rebuild spacing
   * (scrapes go through cached()/exposition(); this is for callers that need exact values now).
   */
  override async metrics(): Promise<string> {
    const format = formatOf(this.contentType);
    const run = this.#queue.then(() => this.#render(format, true));
    this.#queue = run.catch(() => undefined);
    return (await identityOf(await run)).toString('utf8');
  }
}

export function createExporterMetrics(options: {
  /** Every target's current series, read at scrape time. */
  readonly series: () => Iterable<SeriesSet>;
  readonly buildInfo: BuildInfo;
  readonly defaultMetrics?: boolean;
}) {
  const state = createRenderState(options.series);
  const registry = new ExpositionRegistry(
    (reg, format, fresh) => state.render(reg, format, fresh),
    (reg, format) => state.current(reg, format),
  );
  const tracked = <M extends object>(metric: M, spec: MetricSpec): M => state.track(metric, spec.name);
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
    /**
     * Renders a target's new series to text right after its poll, so that cost is spread over the
     * poll schedule instead of landing on the next scrape as one long block of the event loop.
     */
    prerender: (set: SeriesSet): void => {
      state.prerender(set);
    },
    pollErrors: tracked(counter(registry, catalogue.pollErrors), catalogue.pollErrors),
    pollsSkipped: tracked(counter(registry, catalogue.pollsSkipped), catalogue.pollsSkipped),
    labelOverflows: tracked(counter(registry, catalogue.labelOverflows), catalogue.labelOverflows),
    taskDuration: tracked(histogram(registry, catalogue.taskDuration), catalogue.taskDuration),
    nodeDuration: tracked(histogram(registry, catalogue.nodeDuration), catalogue.nodeDuration),
    taskFailures: tracked(counter(registry, catalogue.taskFailures), catalogue.taskFailures),
    subtaskRetries: tracked(counter(registry, catalogue.subtaskRetries), catalogue.subtaskRetries),
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
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
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

function histogram(registry: Registry<RegistryContentType>, spec: MetricSpec): Histogram {
  return new Histogram({ ...common(spec), buckets: [...(spec.buckets ?? [])], registers: [registry] });
}
