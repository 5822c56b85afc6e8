/**
 * The cached /metrics body, kept gzipped (Prometheus always asks for gzip). Each per-target family
 * is cut into segments of `groupSize` targets; a segment is rendered and compressed once and
 * reused until one of its targets changes that family, so a poll costs the recompression of a
 * few small segments, not of the body (45 KB per target at scale). The body is the segments
 * stitched into one gzip member (gzip-segments.ts); the identity bytes are inflated only when an
 * identity scrape asks (a large body while it is sent). The prom-client metrics (exporter-level
 * and process) form the tail.
 */
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { gunzip } from 'node:zlib';
import { Registry, type RegistryContentType } from 'prom-client';
import { catalogue } from './catalogue.js';
import { familyHeader, type Format } from './exposition-text.js';
import { compressParts, compressSegment, gzipSegments, type Segment } from './gzip-segments.js';
import { targetFamilies, type TargetMetrics } from './target-metrics.js';

export type { Format } from './exposition-text.js';

/** Process and Node.js metrics are re-read at most this often; they are sampled values anyway. */
export const defaultMetricsMaxAgeMs = 1000;

/**
 * A body built this recently is served even when a poll finished since, so a body is at most this
 * far behind the polls, and a scrape storm costs at most four builds a second instead of one per
 * poll: at 1 000 targets that was ~67 builds a second, each stitching the 1.1 MB body, which held
 * the p99 under wrk at 50–85 ms against a bare server's 38–54 ms (35 ms with this, measured).
 * Prometheus, scraping every few seconds, always finds an older body and gets a current one.
 */
export const maxStaleBodyMs = 250;

/** Content-Encoding of a served body. */
export type Encoding = 'identity' | 'gzip';
export const formatOf = (contentType: string): Format =>
  contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : 'text';

/** Methods of prom-client metrics that change what they render (`labels()` children are not used). */
const mutators = ['inc', 'dec', 'set', 'observe', 'reset', 'remove', 'zero', 'startTimer'] as const;

/**
 * Targets per segment: small enough that re-rendering and recompressing one after a change is cheap
 * (at most ~1 MB of histogram text, a few ms), large enough that the many one-line families compress
 * almost as well as one whole body (measured: 64 → +3 % bytes over one gzip of the body, 4 → +55 %).
 */
export const groupSize = 64;
/** A long build (first one at 1 000 targets) lets the event loop run about this often. */
const yieldEveryMs = 10;

const gunzipAsync = promisify(gunzip);

/** One build: the gzip bytes, and the identity bytes once someone asked for them. */
export type CachedBody = {
  /** The cache's generation when the build started: it holds every series created up to then. */
  readonly generation: number;
  readonly zipped: Buffer;
  identity?: Buffer | Promise<Buffer>;
  inflateOnSend?: InflateOnSend;
};

/**
 * A large body's identity answer: its gzip bytes, inflated while they are sent (a gunzip stream
 * into the response), and the inflated length for Content-Length.
 */
export type InflateOnSend = { readonly zipped: Buffer; readonly length: number };

/**
 * The body cache's clock, as TargetMetrics sees it: `generation` counts changes, and `served` is
 * the generation of the newest body handed to a scraper, so a series created at generation g has
 * been scraped once `served >= g`.
 */
export type Exposure = { readonly generation: number; readonly served: number };

/** The identity bytes of exactly this build. */
export function identityOf(body: CachedBody): Promise<Buffer> {
  if (Buffer.isBuffer(body.identity)) return Promise.resolve(body.identity);
  // Kept as bytes once inflated, so later scrapes of this build are answered in their own tick.
  body.identity ??= gunzipAsync(body.zipped).then((bytes) => (body.identity = bytes));
  return body.identity;
}

/**
 * What a scrape without gzip (curl, a browser) gets. A body of `largeBodyBytes` or more (about 200
 * targets) is inflated on the way out, so each such scrape holds zlib's window and a few chunks,
 * not the whole text: at 1 000 targets a whole identity body is 45 MB, and one held per scrape
 * took an exporter in its 256 Mi memory limit from ~165 MB to a 294 MB peak (curl every 15 s).
 * Smaller bodies are inflated once per build and kept with it.
 */
export function identityAnswer(body: CachedBody): Buffer | InflateOnSend | Promise<Buffer> {
  return readyIdentityAnswer(body) ?? identityOf(body);
}

/** identityAnswer() when it needs no inflation first, else undefined (and nothing started). */
export function readyIdentityAnswer(body: CachedBody): Buffer | InflateOnSend | undefined {
  const length = identityLength(body);
  if (length >= largeBodyBytes) return (body.inflateOnSend ??= { zipped: body.zipped, length });
  return Buffer.isBuffer(body.identity) ? body.identity : undefined;
}
export const largeBodyBytes = 8 * 1024 * 1024;

/** The uncompressed length from the gzip trailer (ISIZE; bodies stay far below 4 GiB). */
const identityLength = (body: CachedBody): number => body.zipped.readUInt32LE(body.zipped.length - 4);

type SampleSegment = {
  readonly members: readonly TargetMetrics[];
  readonly versions: number[];
  segment: Segment;
};

const separatorOf = (format: Format) => (format === 'openmetrics' ? '\n' : '\n\n');
const trailerOf = (format: Format) => (format === 'openmetrics' ? '\n# EOF\n' : '\n');

export type BodyCache = ReturnType<typeof createBodyCache>;

export function createBodyCache(targets: () => readonly TargetMetrics[]) {
  /** Bumped by anything that changes the body; a cached body of an older generation is stale. */
  let generation = 0;
  const tracked = new Set<string>();
  /** Rendered text of each prom-client metric per format, dropped when the metric changes. */
  const metricText: Record<Format, Map<string, string>> = { text: new Map(), openmetrics: new Map() };
  const defaultsAt: Record<Format, number> = { text: -Infinity, openmetrics: -Infinity };
  const bodies: Partial<Record<Format, { generation: number; body: CachedBody; builtAt: number }>> = {};
  /** Family headers per format, each with the separator before it. */
  const headers: Record<Format, Segment[]> = {
    text: headerSegments('text'),
    openmetrics: headerSegments('openmetrics'),
  };
  /** Sample segments per family and group of targets; the same bytes serve both formats. */
  const samples: (SampleSegment | undefined)[][] = targetFamilies.map(() => []);
  const tails: Partial<Record<Format, { text: string; segment: Segment }>> = {};

  const changed = (): void => {
    generation += 1;
  };
  /** The newest generation a scraper has been handed (see Exposure). */
  let served = 0;

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

  function sampleSegment(f: number, g: number, members: readonly TargetMetrics[]): Segment {
    const cached = samples[f]?.[g];
    if (
      cached?.members.length === members.length &&
      members.every((m, i) => m === cached.members[i] && m.versions[f] === cached.versions[i])
    ) {
      return cached.segment;
    }
    const segment = compressParts(sampleText(f, members));
    (samples[f] as (SampleSegment | undefined)[])[g] = {
      members,
      versions: members.map((m) => m.versions[f] ?? 0),
      segment,
    };
    return segment;
  }

  /** The members' lines of family `f`, each after a newline, one member at a time. */
  function* sampleText(f: number, members: readonly TargetMetrics[]): Generator<string> {
    for (const member of members) {
      const chunk = member.text(f);
      if (chunk) yield `\n${chunk}`;
    }
  }

  /** Separators, the prom-client metrics (each re-rendered only after it changed) and the trailer. */
  async function tail(registry: Registry<RegistryContentType>, format: Format): Promise<Segment> {
    let text = '';
    for (const metric of registry.getMetricsAsArray()) {
      const name = originalName(metric);
      let rendered = metricText[format].get(name);
      if (rendered === undefined) {
        rendered = await renderMetric(registry, metric, format);
        metricText[format].set(name, rendered);
      }
      text += separatorOf(format) + rendered;
    }
    text += trailerOf(format);
    const last = tails[format];
    if (last?.text === text) return last.segment;
    const segment = compressSegment(text);
    tails[format] = { text, segment };
    return segment;
  }

  return {
    changed,
    /** Marks `metric` so that each mutation drops its cached text (how the cache learns of a change). */
    track<M extends object>(metric: M, name: string): M {
      tracked.add(name);
      const methods = metric as unknown as Record<string, unknown>;
      for (const method of mutators) {
        const original = methods[method];
        if (typeof original !== 'function') continue;
        methods[method] = (...args: unknown[]): unknown => {
          generation += 1;
          metricText.text.delete(name);
          metricText.openmetrics.delete(name);
          return (original as (...a: unknown[]) => unknown).apply(metric, args);
        };
      }
      return metric;
    },

    /** What TargetMetrics asks to know whether a series has been scraped yet. */
    exposure: {
      get generation(): number {
        return generation;
      },
      get served(): number {
        return served;
      },
    } satisfies Exposure,

    /** Records that `body` went to a scraper: the series it holds have now been seen. */
    served(body: CachedBody): CachedBody {
      if (body.generation > served) served = body.generation;
      return body;
    },

    /** The cached body when nothing changed since it was built; no render. */
    current(registry: Registry<RegistryContentType>, format: Format): CachedBody | undefined {
      refreshDefaults(registry, format);
      const cached = bodies[format];
      return cached?.generation === generation ? cached.body : undefined;
    },

    /** The last body built, stale or not, when it is under `maxStaleBodyMs` old (see there). */
    recent(format: Format): CachedBody | undefined {
      const last = bodies[format];
      return last && performance.now() - last.builtAt < maxStaleBodyMs ? last.body : undefined;
    },

    /** Builds the body, reusing every segment nothing changed; yields to the loop in long builds. */
    async render(registry: Registry<RegistryContentType>, format: Format): Promise<CachedBody> {
      const hit = this.current(registry, format);
      if (hit) return hit;
      const at = generation;
      const list = targets();
      const groups: TargetMetrics[][] = [];
      for (let i = 0; i < list.length; i += groupSize) groups.push(list.slice(i, i + groupSize));
      const segments: Segment[] = [];
      let slice = performance.now();
      for (let f = 0; f < targetFamilies.length; f++) {
        segments.push(headers[format][f] as Segment);
        for (const [g, members] of groups.entries()) {
          segments.push(sampleSegment(f, g, members));
          if (performance.now() - slice > yieldEveryMs) {
            await yieldToLoop();
            slice = performance.now();
          }
        }
        (samples[f] as unknown[]).length = groups.length;
      }
      segments.push(await tail(registry, format));
      const body: CachedBody = { generation: at, zipped: gzipSegments(segments) };
      bodies[format] = { generation: at, body, builtAt: performance.now() };
      return body;
    },
  };
}

function headerSegments(format: Format): Segment[] {
  return targetFamilies.map((key, f) =>
    compressSegment((f > 0 ? separatorOf(format) : '') + familyHeader(catalogue[key], format)),
  );
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
