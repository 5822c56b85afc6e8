/** Shared by test/web-*.test.ts: openssl-made certificates, a secured server on 127.0.0.1:0, log capture. */
import { mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Counter, Registry, type RegistryContentType } from 'prom-client';
import { authFailureReasons, catalogue } from '../src/metrics/catalogue.js';
import { createLogger } from '../src/logger.js';
import { listen } from '../src/server.js';
import { createSecuredServer } from '../src/web/serve.js';
import { makeCa, makeLeaf } from './helpers/certs.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'web-config-'));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes every path under `dir` fail stat() and read: `ENOTDIR` puts a file in its place, `ELOOP`
 * a symlink to itself. `restore()` puts the directory back.
 */
export function breakDir(dir: string) {
  const saved = `${dir}.saved`;
  renameSync(dir, saved);
  return {
    as(code: 'ENOTDIR' | 'ELOOP') {
      rmSync(dir, { force: true });
      if (code === 'ENOTDIR') writeFileSync(dir, '');
      else symlinkSync(dir, dir);
    },
    restore() {
      rmSync(dir, { force: true });
      renameSync(saved, dir);
    },
  };
}

/** ca, other (a second CA), server-a and server-b (127.0.0.1), client (by ca) and stranger (by other). */
export function makeCertSet(dir: string): (name: string) => Buffer {
  makeCa(dir, 'ca');
  makeCa(dir, 'other');
  makeLeaf(dir, 'server-a', 'ca', 'IP:127.0.0.1', 'serverAuth');
  makeLeaf(dir, 'server-b', 'ca', 'IP:127.0.0.1', 'serverAuth');
  makeLeaf(dir, 'client', 'ca', 'DNS:scraper.test,URI:spiffe://test/prometheus,IP:2001:db8::1', 'clientAuth');
  makeLeaf(dir, 'stranger', 'other', 'DNS:scraper.test', 'clientAuth');
  return (name) => readFileSync(join(dir, name));
}

export type Captured = { lines: string[]; text(): string };

export function captureLogs(level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json' }, stream), lines };
}

/** The counter as the exporter registers it, every reason at 0. */
function createAuthFailureCounter(registry: Registry<RegistryContentType>): Counter<'reason'> {
  const { name, help, labelNames } = catalogue.httpAuthFailures;
  const counter = new Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
  for (const reason of authFailureReasons) counter.inc({ reason }, 0);
  return counter;
}

export type Started = { server: Server; port: number; registry: Registry<RegistryContentType>; tls: boolean };

/** A secured server whose only route answers 200 "ok". */
export async function startSecured(configFile: string, logger = captureLogs().logger): Promise<Started> {
  const registry = new Registry<RegistryContentType>();
  const { server, tls } = createSecuredServer({
    configFile,
    logger,
    authFailures: createAuthFailureCounter(registry),
    listener: (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    },
  });
  const { port } = await listen(server, '127.0.0.1:0');
  return { server, port, registry, tls };
}

export async function stop(started: Started | undefined): Promise<void> {
  if (!started) return;
  started.server.closeAllConnections();
  await new Promise((resolve) => started.server.close(resolve));
}

export type Reply = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peerCn?: string;
};

/** One request on a fresh connection (agent: false), so every call does its own TLS handshake. */
export function get(url: string, options: RequestOptions = {}): Promise<Reply> {
  const send = url.startsWith('https:') ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { agent: false, ...options }, (res) => {
      const socket = res.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } };
      const peerCn = socket.getPeerCertificate?.().subject?.CN;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(peerCn && { peerCn }) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
