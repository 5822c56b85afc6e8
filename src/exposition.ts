/**
 * Renders the registry in the format the scraper prefers: Prometheus text 0.0.4 by default,
 * OpenMetrics 1.0 when the Accept header ranks it at least as high. prom-client switches
 * format per registry, so renders are serialised to keep concurrent scrapes apart.
 */
import { Registry, type RegistryContentType } from 'prom-client';
import { ExpositionRegistry } from './metrics/registry.js';

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

export function createRenderer(
  registry: Registry<RegistryContentType>,
): (accept: string | undefined) => Promise<{ contentType: string; body: string | Buffer }> {
  let queue: Promise<unknown> = Promise.resolve();
  return (accept) => {
    const contentType: RegistryContentType = prefersOpenMetrics(accept)
      ? Registry.OPENMETRICS_CONTENT_TYPE
      : Registry.PROMETHEUS_CONTENT_TYPE;
    // The exporter's registry caches the rendered bytes (see metrics/registry.ts): serve them as they are.
    if (registry instanceof ExpositionRegistry) {
      return registry.exposition(contentType).then((body) => ({ contentType, body }));
    }
    const render = queue.then(async () => {
      registry.setContentType(contentType);
      return { contentType, body: await registry.metrics() };
    });
    queue = render.catch(() => undefined);
    return render;
  };
}
