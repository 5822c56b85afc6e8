/**
 * Renders the registry in the format the scraper prefers: Prometheus text 0.0.4 by default,
 * OpenMetrics 1.0 when the Accept header ranks it at least as high; gzipped when Accept-Encoding
 * allows it (Prometheus always does). prom-client switches format per registry, so renders are
 * serialised to keep concurrent scrapes apart.
 */
import { Registry, type RegistryContentType } from 'prom-client';
import { ExpositionRegistry, type InflateOnSend } from './metrics/registry.js';

/** Quality of each media range in an Accept header, e.g. `text/plain;version=0.0.4;q=0.3`. */
function acceptQuality(accept: string, mediaType: string): number {
  let best = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== mediaType) continue;
    const q = params.find((p) => p.startsWith('q='));
    best = Math.max(best, q ? Number(q.slice(2)) || 0 : 1);
  }
  return best;
}

export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  const om = acceptQuality(accept, 'application/openmetrics-text');
  return om > 0 && om >= acceptQuality(accept, 'text/plain');
}

/** True when Accept-Encoding allows gzip: `gzip`/`x-gzip` or `*` with a non-zero quality. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let star = false;
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const allowed = q === undefined || (Number(q.slice(2)) || 0) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return allowed;
    if (coding === '*') star = allowed;
  }
  return star;
}

export type Rendered =
  | { contentType: string; body: string | Buffer; contentEncoding?: 'gzip'; inflatedLength?: never }
  | {
      contentType: string;
      /** gzip bytes, sent inflated (an identity scrape of a large body)... */
      body: Buffer;
      /** ...of this many bytes. */
      inflatedLength: number;
      contentEncoding?: never;
    };

export function createRenderer(
  registry: Registry<RegistryContentType>,
): (accept: string | undefined, acceptEncoding?: string) => Rendered | Promise<Rendered> {
  let queue: Promise<unknown> = Promise.resolve();
  // A scraper sends the same headers every time: the last negotiation is reused (hot path).
  let last = { accept: '', contentType: Registry.PROMETHEUS_CONTENT_TYPE as RegistryContentType };
  let lastEncoding = { acceptEncoding: '', gzip: false };
  /** The last answer per content type, identity and gzip; only the latest body of each is kept. */
  const answers = { identity: new Map<string, Rendered>(), gzip: new Map<string, Rendered>() };
  return (accept, acceptEncoding) => {
    if ((accept ?? '') !== last.accept) {
      last = {
        accept: accept ?? '',
        contentType: prefersOpenMetrics(accept)
          ? Registry.OPENMETRICS_CONTENT_TYPE
          : Registry.PROMETHEUS_CONTENT_TYPE,
      };
    }
    const { contentType } = last;
    // The exporter's registry caches the rendered (and gzipped) bytes: serve them as they are.
    if (registry instanceof ExpositionRegistry) {
      if ((acceptEncoding ?? '') !== lastEncoding.acceptEncoding) {
        lastEncoding = { acceptEncoding: acceptEncoding ?? '', gzip: acceptsGzip(acceptEncoding) };
      }
      const { gzip } = lastEncoding;
      const rendered = (answer: Buffer | InflateOnSend): Rendered => {
        // The same answer object while the body is current: the server reuses its headers.
        const kept = gzip ? answers.gzip : answers.identity;
        const last = kept.get(contentType);
        const body = Buffer.isBuffer(answer) ? answer : answer.zipped;
        if (last?.body === body) return last;
        const fresh: Rendered = gzip
          ? { contentType, body, contentEncoding: 'gzip' }
          : Buffer.isBuffer(answer)
            ? { contentType, body }
            : { contentType, body, inflatedLength: answer.length };
        kept.set(contentType, fresh);
        return fresh;
      };
      // Current bytes are answered in the same tick; otherwise render (or wait for the compression).
      const ready = registry.cached(contentType, gzip ? 'gzip' : 'identity');
      if (ready) return rendered(ready);
      return registry.scrape(contentType, gzip ? 'gzip' : 'identity').then(rendered);
    }
    const render = queue.then(async () => {
      registry.setContentType(contentType);
      return { contentType, body: await registry.metrics() };
    });
    queue = render.catch(() => undefined);
    return render;
  };
}
