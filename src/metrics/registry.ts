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
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type RegistryContentType,
} from 'prom-client';
import { authFailureReasons, catalogue, snapshotGauges, type MetricSpec } from './catalogue.js';
import type { Sample, SeriesSet } from './sample.js';

/** prom-client 15 gauges named *_total break `promtool check metrics`; their twins without it remain. */
export const droppedDefaultMetrics = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export type BuildInfo = { version: string; revision: string; nodejsVersion: string };

export type ExporterMetrics = ReturnType<typeof createExporterMetrics>;

/** Process and Node.js metrics are re-read at most this often; they are sampled values anyway. */
export const defaultMetricsMaxAgeMs = 1000;

type Format = 'text' | 'openmetrics';
/** Content-Encoding of a served body. */
export type Encoding = 'identity' | 'gzip';
const formatOf = (contentType: string): Format =>
  contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : 'text';

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

/** Methods of prom-client metrics that change what they render (`labels()` children are not used). */
const mutators = ['inc', 'dec', 'set', 'observe', 'reset', 'remove', 'zero', 'startTimer'] as const;

/** zlib level 1: on these repetitive bodies levels 1–3 give the same size (~35:1), higher ones cost 3–10× the CPU. */
const gzipLevel = 1;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** One build of the body: identity and gzip bytes, each made on first use; at least one is always set. */
export type CachedBody = {
  identity: Buffer | Promise<Buffer> | undefined;
  gzip: Promise<Buffer> | undefined;
  /** The gzip bytes once done. */
  zipped?: Buffer;
  /** Wall time of the build plus its compression: what a rebuild costs (see rebuildSpacing). */
  costMs: number;
};

/** Compresses `body` once (the first gzip scrape of a build starts it). */
function gzipOf(body: CachedBody): Promise<Buffer> {
  if (!body.gzip) {
    const identity = body.identity as Buffer | Promise<Buffer>;
    const started = performance.now();
    body.gzip = Promise.resolve(identity).then(async (bytes) => {
      const zipped = await gzipAsync(bytes, { level: gzipLevel });
      body.costMs += performance.now() - started;
      body.zipped = zipped;
      body.identity = undefined; // re-inflated on demand: keeps one copy of a large body, not two
      return zipped;
    });
  }
  return body.gzip;
}

function identityOf(body: CachedBody): Promise<Buffer> {
  body.identity ??= (body.gzip as Promise<Buffer>).then((zipped) => gunzipAsync(zipped));
  return Promise.resolve(body.identity);
}

type Cached = { generation: number; body: CachedBody; builtAt: number };

/**
 * A body that took long to build (a large fleet) is rebuilt at most once per this many build times:
 * while hundreds of polls land per second, a rebuild per scrape would take all the CPU, so rebuilds
 * stay under ~10 % of a core and the body lags the polls by well under a second. Small bodies are
 * always fresh.
 */
const rebuildSpacing = 10;
const slowBuildMs = 2;

function createRenderState(series: () => Iterable<SeriesSet>) {
  /** Bumped by anything that changes the body; a cached body of an older generation is stale. */
  let generation = 0;
  const tracked = new Set<string>();
  /** Rendered text of each prom-client metric per format, dropped when the metric changes. */
  const metricText: Record<Format, Map<string, string>> = { text: new Map(), openmetrics: new Map() };
  const defaultsAt: Record<Format, number> = { text: -Infinity, openmetrics: -Infinity };
  const bodies: Partial<Record<Format, Cached>> = {};
  const snapshot = createSnapshotRenderer(series);

  function changed(name: string): void {
    generation += 1;
    metricText.text.delete(name);
    metricText.openmetrics.delete(name);
  }

  /** Process metrics change all the time: re-render them at most once per second per format. */
  function refreshDefaults(registry: Registry<RegistryContentType>, format: Format): void {
    const now = performance.now();
    if (now - defaultsAt[format] < defaultMetricsMaxAgeMs) return;
    defaultsAt[format] = now;
    for (const metric of registry.getMetricsAsArray()) {
      const name = originalName(metric);
      if (tracked.has(name) || !metricText[format].delete(name)) continue;
      generation += 1;
    }
  }

  async function metricTexts(registry: Registry<RegistryContentType>, format: Format): Promise<string[]> {
    const texts: string[] = [];
    for (const metric of registry.getMetricsAsArray()) {
      const name = originalName(metric);
      let text = metricText[format].get(name);
      if (text === undefined) {
        text = await renderMetric(registry, metric, format);
        metricText[format].set(name, text);
      }
      texts.push(text);
    }
    return texts;
  }

  return {
    prerender: snapshot.prerender,
    /** Marks `metric` so that each mutation drops its cached text (how the cache learns of a change). */
    track<M extends object>(metric: M, name: string): M {
      tracked.add(name);
      const methods = metric as unknown as Record<string, unknown>;
      for (const method of mutators) {
        const original = methods[method];
        if (typeof original !== 'function') continue;
        methods[method] = (...args: unknown[]): unknown => {
          changed(name);
          return (original as (...a: unknown[]) => unknown).apply(metric, args);
        };
      }
      return metric;
    },

    /** The cached body when it is still current (or a slow one within its rebuild spacing); no render. */
    current(registry: Registry<RegistryContentType>, format: Format, fresh = false): CachedBody | undefined {
      const last = bodies[format];
      const cost = last?.body.costMs ?? 0;
      if (!fresh && last && cost > slowBuildMs && performance.now() - last.builtAt < cost * rebuildSpacing) {
        return last.body;
      }
      if (snapshot.refresh()) generation += 1;
      refreshDefaults(registry, format);
      const cached = bodies[format];
      return cached?.generation === generation ? cached.body : undefined;
    },

    async render(
      registry: Registry<RegistryContentType>,
      format: Format,
      fresh = false,
    ): Promise<CachedBody> {
      const hit = this.current(registry, format, fresh);
      if (hit) return hit;
      const started = performance.now();
      const at = generation;
      const texts = await metricTexts(registry, format);
      // The pieces are written straight into one buffer: no body-sized string is ever built.
      const pieces: string[] = [];
      const separator = format === 'openmetrics' ? '\n' : '\n\n';
      for (const family of snapshot.families()) {
        if (pieces.length > 0) pieces.push(separator);
        family.forEach((part, i) => (i === 0 ? pieces.push(part) : pieces.push('\n', part)));
      }
      for (const text of texts) pieces.push(pieces.length > 0 ? separator : '', text);
      pieces.push(format === 'openmetrics' ? '\n# EOF\n' : '\n');
      // Kept as bytes: every scrape writes the same buffer, with no per-request encoding or copy.
      const body: CachedBody = { identity: concatUtf8(pieces), gzip: undefined, costMs: 0 };
      const builtAt = performance.now();
      body.costMs = builtAt - started;
      bodies[format] = { generation: at, body, builtAt };
      return body;
    },
  };
}

/** A counter's name as registered; prom-client strips `_total` in place for OpenMetrics. */
const registeredNames = new WeakMap<object, string>();
function originalName(metric: { name: string }): string {
  let name = registeredNames.get(metric);
  if (name === undefined) {
    name = metric.name;
    registeredNames.set(metric, name);
  }
  return name;
}

/**
 * prom-client's own formatting of one metric. Its registry strips `_total` from counter names for
 * OpenMetrics and never puts it back, so the name is set for the format at hand.
 */
async function renderMetric(
  registry: Registry<RegistryContentType>,
  metric: { name: string; type: unknown },
  format: Format,
): Promise<string> {
  const name = originalName(metric);
  const om = format === 'openmetrics';
  if (String(metric.type) === 'counter') metric.name = om ? name.replace(/_total$/, '') : name;
  registry.setContentType(om ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
  return registry.getSingleMetricAsString(name); // registered under its original name
}

/** Snapshot families as text: one chunk per target and family, rendered once per SeriesSet. */
function createSnapshotRenderer(series: () => Iterable<SeriesSet>) {
  const specs = snapshotGauges.map((key) => ({ key, spec: catalogue[key] }));
  const headers = specs.map(
    ({ spec }) => `# HELP ${spec.name} ${escapeHelp(spec.help)}\n# TYPE ${spec.name} gauge`,
  );
  const chunks = new WeakMap<SeriesSet, string[]>();
  let sets: SeriesSet[] = [];
  let perTarget: string[][] = [];

  const chunksOf = (set: SeriesSet): string[] => {
    let rendered = chunks.get(set);
    if (!rendered) {
      rendered = specs.map(({ key, spec }) => renderSamples(spec.name, set[key] ?? []));
      chunks.set(set, rendered);
    }
    return rendered;
  };

  return {
    prerender: (set: SeriesSet): void => {
      chunksOf(set);
    },
    /** Re-reads the targets' series; true when any target's SeriesSet was replaced. */
    refresh(): boolean {
      const next = [...series()];
      if (next.length === sets.length && next.every((set, i) => set === sets[i])) return false;
      sets = next;
      perTarget = sets.map(chunksOf);
      return true;
    },
    /** Each family's header and non-empty target chunks, to be joined with newlines. */
    families: (): string[][] =>
      headers.map((header, f) => {
        const parts = [header];
        for (const target of perTarget) {
          const chunk = target[f];
          if (chunk) parts.push(chunk);
        }
        return parts;
      }),
  };
}

/** `pieces.join('')` as UTF-8 bytes, written into one buffer of the exact size. */
function concatUtf8(pieces: readonly string[]): Buffer {
  let size = 0;
  for (const piece of pieces) size += Buffer.byteLength(piece, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const piece of pieces) offset += out.write(piece, offset, 'utf8');
  return out;
}

/** Sample lines exactly as prom-client writes gauges: labels in insertion order, no timestamp. */
function renderSamples(name: string, samples: readonly Sample[]): string {
  const lines: string[] = [];
  for (const { labels, value } of samples) {
    const pairs: string[] = [];
    for (const [label, text] of Object.entries(labels)) pairs.push(`${label}="${escapeLabelValue(text)}"`);
    lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
  }
  return lines.join('\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan'; // sic: prom-client's spelling
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const needsEscape = /[\\\n"]/;
function escapeLabelValue(value: string): string {
  if (!needsEscape.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
