/**
 * A small fake obshell agent for the client tests: real sockets, real RSA auth v2 verification
 * (block-by-block decryption as obshell does it), obshell's envelope and error bodies. Routes can
 * be overridden per test to produce faults.
 */
import { constants, generateKeyPairSync, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { DagJson } from '../../src/obshell/schema.js';
import { canary } from './canary.js';

export type FakeAgentOptions = {
  password?: string;
  agentPassword?: string;
  keyBits?: 512 | 1024;
  identity?: string;
  version?: string;
  supportedAuth?: string[] | null;
  tls?: HttpsOptions;
  socketPath?: string;
  /** Maintenance DAG to serve; undefined → 404 Task.NotFound. */
  dag?: DagJson;
};

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export type SeenRequest = { path: string; headers: IncomingMessage['headers'] };

export type FakeAgent = {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Overrides the answer of one path (without query); null restores the default. */
  route(path: string, handler: Handler | null): void;
  rotateKey(bits?: 512 | 1024): void;
  /** The agent's current private key, to read what the client signed. */
  privateKey(): KeyObject;
  count(path: string): number;
  close(): Promise<void>;
  options: FakeAgentOptions;
};

export function envelope(status: number, body: { data?: unknown; error?: Record<string, unknown> }): string {
  const traceId = randomBytes(8).toString('hex');
  const successful = body.error === undefined;
  return JSON.stringify({
    successful,
    timestamp: new Date().toISOString(),
    duration: 1,
    status,
    traceId,
    ...body,
  });
}

export function send(
  res: ServerResponse,
  status: number,
  body: { data?: unknown; error?: Record<string, unknown> },
) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(envelope(status, body));
}

export function sendError(
  res: ServerResponse,
  status: number,
  errCode: string,
  message: string,
  code?: number,
) {
  send(res, status, { error: { ...(code === undefined ? {} : { code }), errCode, message } });
}

/** Decrypts block by block with NO_PADDING and strips PKCS#1 v1.5 padding, like obshell (contract §2.6). */
export function decryptHeader(privateKey: KeyObject, value: string): unknown {
  const k = (privateKey.asymmetricKeyDetails?.modulusLength ?? 512) / 8;
  const data = Buffer.from(value, 'base64');
  if (data.length === 0 || data.length % k !== 0) throw new Error('bad length');
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += k) {
    const block = privateDecrypt(
      { key: privateKey, padding: constants.RSA_NO_PADDING },
      data.subarray(offset, offset + k),
    );
    const end = block.indexOf(0, 2);
    if (block[0] !== 0 || block[1] !== 2 || end < 10) throw new Error('bad padding');
    parts.push(block.subarray(end + 1));
  }
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

type Keys = { publicDer: string; privateKey: KeyObject };

function makeKeys(bits: number): Keys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { publicDer: publicKey.export({ type: 'pkcs1', format: 'der' }).toString('base64'), privateKey };
}

/** obshell's VerifyObRouters for a network request (contract §1.3, §3.3); undefined = allowed. */
function verify(req: IncomingMessage, res: ServerResponse, keys: Keys, o: FakeAgentOptions): boolean {
  const agentHeader = req.headers['x-ocs-agent-header'];
  const rootHeader = req.headers['x-ocs-header'];
  const value = typeof agentHeader === 'string' ? agentHeader : rootHeader;
  if (typeof value !== 'string') {
    sendError(
      res,
      400,
      'Request.Header.NotFound',
      'X-OCS-Agent-Header or X-OCS-Header not found in http request header',
    );
    return false;
  }
  let header: { Auth?: unknown; Ts?: unknown; Uri?: unknown };
  try {
    header = decryptHeader(keys.privateKey, value) as typeof header;
    if (typeof header.Ts !== 'string') throw new Error('Ts');
  } catch {
    sendError(
      res,
      401,
      'Security.Authentication.Header.DecryptFailed',
      'Decrypt http header failed: crypto/rsa: decryption error',
      1,
    );
    return false;
  }
  const fail = (errCode: string, message: string) => (sendError(res, 401, errCode, message, 10008), false);
  if (header.Uri !== req.url) return fail('Security.Authentication.Header.UriMismatch', 'URI mismatch');
  if (Number(header.Ts) < Date.now() / 1000)
    return fail('Security.Authentication.Expired', 'Unauthorized: Authentication expired');
  const expected =
    typeof agentHeader === 'string'
      ? (o.agentPassword ?? '')
      : o.identity === 'SINGLE'
        ? ''
        : (o.password ?? '');
  if (header.Auth !== expected) {
    const code = typeof agentHeader === 'string' ? 'IncorrectAgentPassword' : 'IncorrectOceanbasePassword';
    return fail(`Security.Authentication.${code}`, 'Unauthorized: password is incorrect');
  }
  return true;
}

export async function startFakeAgent(options: FakeAgentOptions = {}): Promise<FakeAgent> {
  let keys = makeKeys(options.keyBits ?? 512);
  const routes = new Map<string, Handler>();
  const requests: SeenRequest[] = [];
  const defaults: Record<string, Handler> = {
    '/api/v1/info': (_req, res) => {
      send(res, 200, {
        data: {
          identity: options.identity ?? 'CLUSTER AGENT',
          version: options.version ?? '4.4.2.0-100000012026032301',
          ...(options.supportedAuth === null ? {} : { supportedAuth: options.supportedAuth ?? ['v2'] }),
          security: options.agentPassword !== undefined,
        },
      });
    },
    '/api/v1/secret': (_req, res) => {
      send(res, 200, { data: { ip: '127.0.0.1', port: 2886, public_key: keys.publicDer } });
    },
    '/api/v1/task/dag/maintain/ob': (req, res) => {
      if (!options.socketPath && !verify(req, res, keys, options)) return;
      if (options.dag === undefined)
        sendError(res, 404, 'Task.NotFound', 'Task not found: Cluster is not under maintenance');
      else send(res, 200, { data: options.dag });
    },
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requests.push({ path, headers: req.headers });
    const handler = routes.get(path) ?? defaults[path];
    if (handler) handler(req, res);
    else sendError(res, 404, 'Common.NotFound', 'Element not found: 404 not found');
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => {
    if (options.socketPath) server.listen(options.socketPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const port = options.socketPath ? 0 : (server.address() as AddressInfo).port;
  const agent: FakeAgent = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    options,
    route: (path, handler) => (handler ? routes.set(path, handler) : routes.delete(path), undefined),
    rotateKey: (bits) => {
      keys = makeKeys(bits ?? options.keyBits ?? 512);
    },
    privateKey: () => keys.privateKey,
    count: (path) => requests.filter((r) => r.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  return agent;
}

/**
 * A port on 127.0.0.1 that refuses connections (bound, then closed), below the ephemeral range
 * (32768–60999): an ephemeral port could be taken meanwhile as the local port of an outgoing
 * connection, or even connect to itself (TCP simultaneous open), and then not refuse at all.
 */
export async function refusedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createHttpServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => {
        resolve(false);
      });
      server.listen(port, '127.0.0.1', () => {
        resolve(true);
      });
    });
    if (!bound) continue;
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    return port;
  }
}

/** The real 9-node scale-out answer's DAG, as obshell sends it. */
export const seedDag = (
  JSON.parse(readFileSync(new URL('../fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8')) as {
    data: DagJson;
  }
).data;

/** A fake agent with the canary root password answering the seed DAG; `cleanups` closes it. */
export async function seedAgent(
  cleanups: (() => unknown)[],
  options: FakeAgentOptions = {},
): Promise<FakeAgent> {
  const agent = await startFakeAgent({ password: canary.root, dag: seedDag, ...options });
  cleanups.push(() => agent.close());
  return agent;
}
