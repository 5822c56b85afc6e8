import { request, type Server } from 'node:http';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Writable, type Transform } from 'node:stream';
import type * as Zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRenderer, prefersOpenMetrics } from '../src/exposition.js';
import { largeBodyBytes } from '../src/metrics/body-cache.js';
import { createExporterMetrics } from '../src/metrics/registry.js';
import { createHttpServer, listen, parseListenAddress } from '../src/server.js';
import type { TargetStatus } from '../src/target.js';

/** Every gunzip stream the server creates (the real ones), to see when one is made and ended. */
const gunzips = vi.hoisted(() => [] as Transform[]);
vi.mock('node:zlib', async (importOriginal) => {
  const zlib = await importOriginal<typeof Zlib>();
  return {
    ...zlib,
    createGunzip: (options?: Zlib.ZlibOptions) => {
      const gunzip = zlib.createGunzip(options);
      gunzips.push(gunzip);
      return gunzip;
    },
  };
});

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const newMetrics = () =>
  createExporterMetrics({
    buildInfo: { version: '1.2.3', revision: 'r', nodejsVersion: 'v' },
    defaultMetrics: false,
  });

async function start(
  options: {
    ready?: boolean;
    targets?: { name: string; status: TargetStatus }[];
    metrics?: ReturnType<typeof newMetrics>;
  } = {},
) {
  const metrics = options.metrics ?? newMetrics();
  const server = createHttpServer({
    telemetryPath: '/metrics',
    render: createRenderer(metrics.registry),
    landing: () => ({ version: '1.2.3', telemetryPath: '/metrics', targets: options.targets ?? [] }),
    ready: () => options.ready ?? true,
    logger: pino({ level: 'silent' }),
  });
  servers.push(server);
  const { port } = await listen(server, '127.0.0.1:0');
  return `http://127.0.0.1:${port}`;
}

/** A GET or HEAD without Accept-Encoding (fetch always asks for gzip): status, headers, body. */
function plainRequest(url: string, method = 'GET', abortAfterBytes = Infinity) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const req = request(url, { method }, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const done = () => {
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          if (received >= abortAfterBytes) {
            req.destroy();
            done();
          }
        });
        res.on('end', done);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    },
  );
}

/** An exporter whose body is over largeBodyBytes: 140 targets of 400 labelled lines each. */
function largeMetrics() {
  const metrics = newMetrics();
  for (let i = 0; i < 140; i++) {
    metrics.target(`cluster-${i}`).setSnapshot({
      nodeElapsed: Array.from({ length: 400 }, (_, n) => ({
        labels: {
          target: `cluster-${i}`,
          task_id: String(n),
          task_type: 'x'.repeat(40),
          node_index: '1',
          node: 'y',
        },
        value: n,
      })),
    });
  }
  return metrics;
}

describe('HTTP server', () => {
  it('sends a large body to a scrape without gzip inflated on the way, with its exact length', async () => {
    const metrics = largeMetrics();
    const url = `${await start({ metrics })}/metrics`;
    const whole = await metrics.registry.exposition(Registry.PROMETHEUS_CONTENT_TYPE, 'identity');
    expect(whole.length).toBeGreaterThan(largeBodyBytes);
    // The answer is the cached gzip bytes, not a second, inflated copy of the body.
    const rendered = await createRenderer(metrics.registry)(undefined, undefined);
    expect(rendered.body).toBe(await metrics.registry.exposition(Registry.PROMETHEUS_CONTENT_TYPE, 'gzip'));
    expect(rendered.inflatedLength).toBe(whole.length);
    const before = gunzips.length;
    const res = await plainRequest(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(Number(res.headers['content-length'])).toBe(whole.length);
    expect(res.body.equals(whole)).toBe(true);
    expect(gunzips.length).toBe(before + 1);
    const head = await plainRequest(url, 'HEAD');
    expect(Number(head.headers['content-length'])).toBe(whole.length);
    expect(gunzips.length).toBe(before + 1); // HEAD inflates nothing
    // A scraper hanging up mid-body ends its gunzip stream; the next one gets the whole body.
    await plainRequest(url, 'GET', 64 * 1024);
    const cut = gunzips.at(-1)!;
    expect(gunzips.length).toBe(before + 2);
    await vi.waitFor(() => {
      expect(cut.destroyed).toBe(true);
    });
    expect((await plainRequest(url)).body.equals(whole)).toBe(true);
  });

  it('logs a body that fails to inflate while it is sent, and cuts the response', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const server = createHttpServer({
      telemetryPath: '/metrics',
      render: () => ({ contentType: 'text/plain', body: Buffer.from('not gzip at all'), inflatedLength: 99 }),
      landing: () => ({ version: '1', telemetryPath: '/metrics', targets: [] }),
      ready: () => true,
      logger: pino({ level: 'info' }, sink),
    });
    servers.push(server);
    const { port } = await listen(server, '127.0.0.1:0');
    await expect(plainRequest(`http://127.0.0.1:${port}/metrics?x=1`)).rejects.toThrow();
    await vi.waitFor(() => {
      expect(lines.join('')).toContain('request failed');
    });
    const logged = JSON.parse(lines.find((l) => l.includes('request failed'))!) as { path: string };
    expect(logged.path).toBe('/metrics');
  });

  it('serves the text format 0.0.4 by default', async () => {
    const res = await fetch(`${await start()}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('obshell_exporter_build_info{version="1.2.3"');
  });

  it('serves OpenMetrics when the Accept header prefers it, as Prometheus asks', async () => {
    const accept =
      'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
    const res = await fetch(`${await start()}/metrics`, { headers: { accept } });
    expect(res.headers.get('content-type')).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(await res.text()).toMatch(/# EOF\n$/);
  });

  it('negotiates by quality', () => {
    expect(prefersOpenMetrics(undefined)).toBe(false);
    expect(prefersOpenMetrics('text/plain')).toBe(false);
    expect(prefersOpenMetrics('application/openmetrics-text; version=1.0.0')).toBe(true);
    expect(prefersOpenMetrics('application/openmetrics-text;q=0.2,text/plain;q=0.9')).toBe(false);
    expect(prefersOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
  });

  it('answers health and readiness', async () => {
    const base = await start({ ready: false });
    expect((await fetch(`${base}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${base}/-/ready`)).status).toBe(503);
    const ready = await start({ ready: true });
    expect((await fetch(`${ready}/-/ready`)).status).toBe(200);
  });

  it('answers 404 for unknown paths and 405 with Allow for other methods', async () => {
    const base = await start();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('shows targets on the landing page, HTML-escaped', async () => {
    const status: TargetStatus = {
      up: true,
      agent: { url: 'http://h:2886', address: 'h:2886', version: '4.5.0.0', identity: 'CLUSTER AGENT' },
      lastPollAt: 1778551140,
      task: {
        id: '1142',
        name: 'Create tenant <script>alert(1)</script>',
        taskType: 'Create tenant',
        state: 'FAILED',
        operator: 'RUN',
        stage: 3,
        maxStage: 9,
      },
    };
    const res = await fetch(
      `${await start({
        targets: [
          { name: 'prod&co', status },
          {
            name: 'down',
            status: { up: false, lastFailure: { kind: 'failure', reason: 'auth', message: 'x' } },
          },
          {
            name: 'failing',
            status: {
              ...status,
              up: false,
              lastSuccessAt: 1778551125,
              lastFailure: { kind: 'failure', reason: 'timeout', message: 'x' },
            },
          },
        ],
      })}/`,
    );
    const html = await res.text();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain('<td>prod&amp;co</td><td>1</td><td>h:2886</td><td>2026-05-12T01:59:00.000Z</td>');
    expect(html).toContain(
      'Create tenant &lt;script&gt;alert(1)&lt;/script&gt; (1142)</td><td>FAILED</td><td>RUN</td><td>3/9</td>',
    );
    expect(html).not.toContain('<script>');
    expect(html).toContain('<td>down</td><td>0 (auth)</td>');
    // A failing target's task is what its last good poll saw, and says so.
    expect(html).toContain('(1142), as of 2026-05-12T01:58:45.000Z</td><td>FAILED</td>');
    expect(html).toContain('alert(1)&lt;/script&gt; (1142)</td><td>FAILED</td><td>RUN</td><td>3/9</td>');
    expect(html).toContain('href="/metrics"');
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress(':9886')).toEqual({ host: undefined, port: 9886 });
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9886')).toEqual({ host: '::1', port: 9886 });
    expect(() => parseListenAddress('9886')).toThrow('listen address "9886" is not host:port');
  });
});
