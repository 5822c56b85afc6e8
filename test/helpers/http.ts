/** Tiny HTTP(S)/unix-socket client for tests: the whole answer, no retries, no magic. */
import { constants, publicEncrypt, type KeyObject } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { buildAuthHeader, parsePublicKey } from '../../src/obshell/auth.js';

export type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

export type GetOptions = {
  headers?: Record<string, string>;
  /** For https: CA to trust and optional client certificate. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  method?: string;
};

/** url is `http(s)://host:port/path` or `unix:/sock/path` plus `path`. */
export function get(url: string, path: string, options: GetOptions = {}): Promise<Answer> {
  const headers = { connection: 'close', ...options.headers };
  const method = options.method ?? 'GET';
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    };
    const req = url.startsWith('unix:')
      ? httpRequest({ socketPath: url.slice(5), path, method, headers }, onResponse)
      : url.startsWith('https:')
        ? httpsRequest(new URL(path, url), { method, headers, ...options.tls }, onResponse)
        : httpRequest(new URL(path, url), { method, headers }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

export type Envelope = {
  successful: boolean;
  timestamp: string;
  duration: number;
  status: number;
  traceId: string;
  data?: unknown;
  error?: { code?: number; errCode?: string; message?: string };
};

export async function getJson(url: string, path: string, options: GetOptions = {}) {
  const answer = await get(url, path, options);
  return { ...answer, json: JSON.parse(answer.body) as Envelope };
}

export async function publicKeyOf(url: string, options: GetOptions = {}): Promise<KeyObject> {
  const { json } = await getJson(url, '/api/v1/secret', options);
  return parsePublicKey((json.data as { public_key: string }).public_key);
}

export type AuthOptions = {
  password?: string;
  /** Header name: root password or agent password. */
  kind?: 'root' | 'agent';
  /** Uri put in the header; defaults to the path requested. */
  uri?: string;
  expiresAt?: number;
  tls?: GetOptions['tls'];
  extraHeaders?: Record<string, string>;
};

/** GET with an X-OCS-Header built by the product's own client code. */
export async function authedGet(url: string, path: string, o: AuthOptions = {}) {
  const publicKey = await publicKeyOf(url, o.tls ? { tls: o.tls } : {});
  const value = buildAuthHeader({
    publicKey,
    password: o.password ?? '',
    uri: o.uri ?? path,
    expiresAt: o.expiresAt ?? Math.floor(Date.now() / 1000) + 60,
  });
  const name = o.kind === 'agent' ? 'x-ocs-agent-header' : 'x-ocs-header';
  const options: GetOptions = { headers: { [name]: value, ...o.extraHeaders } };
  if (o.tls) options.tls = o.tls;
  return getJson(url, path, options);
}

/** Encrypts arbitrary header JSON text the way obshell's clients do (PKCS#1 v1.5, k-11 byte chunks). */
export function encryptHeaderText(publicKey: KeyObject, text: string): string {
  const plain = Buffer.from(text, 'utf8');
  const chunk = (publicKey.asymmetricKeyDetails?.modulusLength ?? 1024) / 8 - 11;
  const blocks: Buffer[] = [];
  for (let offset = 0; offset < plain.length; offset += chunk) {
    const part = plain.subarray(offset, offset + chunk);
    blocks.push(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, part));
  }
  return Buffer.concat(blocks).toString('base64');
}
