/** Shared by the hardening suites: an in-process exporter config, captured logs, timed scrapes, polling waits. */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import type { ExporterConfig, ObshellTls, TargetConfig } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/logger.js';

export type TargetSpec = { name: string; urls: string[]; tls?: ObshellTls; timeoutMs?: number };

export function targetConfig(spec: TargetSpec): TargetConfig {
  return {
    name: spec.name,
    urls: spec.urls,
    password: { kind: 'none' },
    agentPassword: { kind: 'none' },
    tls: spec.tls ?? {},
    timeoutMs: spec.timeoutMs ?? 500,
  };
}

/** Every target polled every second, /metrics on an ephemeral loopback port. */
export function exporterConfig(targets: readonly TargetSpec[], schedule = '*/1 * * * * *'): ExporterConfig {
  return {
    targets: targets.map(targetConfig),
    taskTypeRules: [],
    pollSchedule: schedule,
    limits: { maxTaskTypes: 50, maxNodes: 500, maxLabelLength: 128 },
    web: { listenAddress: '127.0.0.1:0', telemetryPath: '/metrics' },
    log: { level: 'info', format: 'json' },
    demo: false,
  };
}

export type LogLine = { level: number; msg: string; target?: string; reason?: string } & Record<
  string,
  unknown
>;

/** The product's own logger (redaction included), writing JSON lines into memory. */
export function captureLogs(level = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json' }, sink), lines };
}

export type Scrape = { status: number; body: string; ms: number };

export async function scrape(base: string, path = '/metrics'): Promise<Scrape> {
  const started = performance.now();
  const res = await fetch(new URL(path, base));
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with the first truthy value of `probe`, or throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 8000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A reverse proxy that can strip obshell's auth headers, as a badly configured intermediary
 * does: the agent then answers 400 Request.Header.NotFound.
 */
export async function startHeaderStrippingProxy(upstream: string) {
  const state = { strip: true };
  const target = new URL(upstream);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers };
    if (state.strip) {
      delete headers['x-ocs-header'];
      delete headers['x-ocs-agent-header'];
    }
    const forward = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      res.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setStrip: (strip: boolean) => {
      state.strip = strip;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
