/**
 * The cached /metrics body: one build per change (a poll, a cumulative metric, process metrics at
 * most once per second), gzipped once, the identity bytes re-inflated only when asked for.
 */
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { Registry, type RegistryContentType } from 'prom-client';
import type { SeriesSet } from './sample.js';
import { concatUtf8, createSnapshotRenderer } from './snapshot-text.js';

/** Process and Node.js metrics are re-read at most this often; they are sampled values anyway. */
export const defaultMetricsMaxAgeMs = 1000;

export type Format = 'text' | 'openmetrics';
/** Content-Encoding of a served body. */
export type Encoding = 'identity' | 'gzip';
export const formatOf = (contentType: string): Format =>
  contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : 'text';

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
export function gzipOf(body: CachedBody): Promise<Buffer> {
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

export function identityOf(body: CachedBody): Promise<Buffer> {
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
export const slowBuildMs = 2;

export function createRenderState(series: () => Iterable<SeriesSet>) {
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
