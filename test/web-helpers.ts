/** Shared by test/web-*.test.ts: openssl-made certificates, a secured server on 127.0.0.1:0, log capture. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'web-config-'));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const ecKey = (dir: string, name: string) =>
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);

export function makeCa(dir: string, name: string): void {
  ecKey(dir, name);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

/** A leaf `<name>.crt`/`<name>.key` signed by `<ca>`, with the given SANs. */
export function makeLeaf(
  dir: string,
  name: string,
  ca: string,
  san: string,
  usage: 'serverAuth' | 'clientAuth',
): void {
  ecKey(dir, name);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

/** ca, other (a second CA), server-a and server-b (127.0.0.1), client (by ca) and stranger (by other). */
export function makeCertSet(dir: string): (name: string) => Buffer {
  makeCa(dir, 'ca');
  makeCa(dir, 'other');
  makeLeaf(dir, 'server-a', 'ca', 'IP:127.0.0.1', 'serverAuth');
  makeLeaf(dir, 'server-b', 'ca', 'IP:127.0.0.1', 'serverAuth');
  makeLeaf(dir, 'client', 'ca', 'DNS:scraper.test,URI:spiffe://test/prometheus', 'clientAuth');
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
