/**
 * gzip negotiation on /metrics over a real socket: Prometheus always sends Accept-Encoding: gzip,
 * and the cached body is compressed once per build. Identity stays the default.
 */
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptsGzip, createRenderer } from '../src/exposition.js';
import { maxStaleBodyMs } from '../src/metrics/body-cache.js';
import { createExporterMetrics } from '../src/metrics/registry.js';
import { createHttpServer, listen } from '../src/server.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function createMetrics(targets: number) {
  const metrics = createExporterMetrics({
    buildInfo: { version: '1.2.3', revision: 'r', nodejsVersion: 'v' },
    defaultMetrics: false,
  });
  for (let i = 0; i < targets; i++) {
    metrics.target(`t-${i}`).setSnapshot({ up: [{ labels: { target: `t-${i}` }, value: 1 }] });
  }
  return metrics;
}

/** A server whose body has some size: `targets` targets with an up gauge each. */
async function start(targets = 200, metrics = createMetrics(targets)): Promise<string> {
  const server = createHttpServer({
    telemetryPath: '/metrics',
    render: createRenderer(metrics.registry),
    landing: () => ({ version: '1.2.3', telemetryPath: '/metrics', targets: [] }),
    ready: () => true,
    logger: pino({ level: 'silent' }),
  });
  servers.push(server);
  const { port } = await listen(server, '127.0.0.1:0');
  return `http://127.0.0.1:${port}/metrics`;
}

/** Raw bytes as sent (node:http does not decompress), unlike fetch. */
function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gzip on /metrics', () => {
  it('serves gzip when asked, identity otherwise, with the same content and Vary', async () => {
    const url = await start();
    const identity = await get(url);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.headers.vary).toBe('Accept-Encoding');
    expect(identity.body.toString()).toContain('obshell_up{target="t-199"} 1');

    const zipped = await get(url, { 'accept-encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('Accept-Encoding');
    expect(zipped.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(identity.body.length / 2);
    expect(gunzipSync(zipped.body).equals(identity.body)).toBe(true);

    // Compressed once per build: the next scrape gets the very same bytes, and identity still works.
    expect((await get(url, { 'accept-encoding': 'gzip, deflate, br' })).body.equals(zipped.body)).toBe(true);
    expect((await get(url)).body.equals(identity.body)).toBe(true);
  });

  it('answers HEAD with the gzip headers and no body', async () => {
    const url = await start();
    const zipped = await get(url, { 'accept-encoding': 'gzip' });
    const head = await get(url, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.headers['content-encoding']).toBe('gzip');
    expect(head.headers['content-length']).toBe(String(zipped.body.length));
    expect(head.body.length).toBe(0);
  });

  it('gzips OpenMetrics too', async () => {
    const url = await start();
    const res = await get(url, {
      accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      'accept-encoding': 'gzip',
    });
    expect(res.headers['content-type']).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(res.body).toString()).toMatch(/# EOF\n$/);
  });

  it('re-inflates the identity body after a gzip scrape dropped it', async () => {
    const url = await start(50);
    const zipped = await get(url, { 'accept-encoding': 'gzip' });
    const identity = await get(url, { 'accept-encoding': 'identity' });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body.equals(gunzipSync(zipped.body))).toBe(true);
  });

  it('hands out one answer per body, and fresh headers once the body changed', async () => {
    const metrics = createMetrics(20);
    const render = createRenderer(metrics.registry);
    await render(undefined, 'gzip'); // the first build
    const first = render(undefined, 'gzip');
    expect(first).not.toBeInstanceOf(Promise);
    expect(render(undefined, 'gzip')).toBe(first); // same body, same answer: the server reuses its headers
    expect(render(undefined, undefined)).not.toBe(first);

    const url = await start(20, metrics);
    const before = await get(url, { 'accept-encoding': 'gzip' });
    expect(Number(before.headers['content-length'])).toBe(before.body.length);
    metrics.target('t-0').setSnapshot({ up: [{ labels: { target: 't-0' }, value: 0 }] });
    metrics.target('a-much-longer-target-name').setSnapshot({
      up: [{ labels: { target: 'a-much-longer-target-name' }, value: 1 }],
    });
    await new Promise((resolve) => setTimeout(resolve, maxStaleBodyMs + 10)); // past the stale window
    const after = await get(url, { 'accept-encoding': 'gzip' });
    expect(after.body.length).not.toBe(before.body.length);
    expect(Number(after.headers['content-length'])).toBe(after.body.length);
    expect(after.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(after.body).toString()).toContain('obshell_up{target="t-0"} 0');
    const identity = await get(url);
    expect(Number(identity.headers['content-length'])).toBe(identity.body.length);
    expect(identity.headers['content-encoding']).toBeUndefined();
  });

  it('reads Accept-Encoding qualities', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('*;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('br, *;q=0.1')).toBe(true);
  });
});
