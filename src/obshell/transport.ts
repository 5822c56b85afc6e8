/**
 * The HTTP layer under the obshell client: one got instance per client with keep-alive agents,
 * TLS material, a per-request time budget (retries included), connection-level retries only,
 * a fresh auth header on every attempt, and a response-size cap enforced while streaming.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { KeyObject } from 'node:crypto';
import got, { type BeforeRequestHook, type Got, type Options, type RequestError } from 'got';
import { buildAuthHeader } from './auth.js';
import {
  classifyTransportError,
  connectErrorCodes,
  failure,
  type Failure,
  type RawAnswer,
} from './classify.js';

export type ObshellTls = {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  insecureSkipVerify?: boolean;
};

export type TransportOptions = {
  timeoutMs: number;
  maxResponseBytes: number;
  headerTtlSeconds: number;
  now: () => number;
  tls?: ObshellTls | undefined;
  unixSockets: boolean;
};

/** What the beforeRequest hook needs to sign one request; read at each attempt. */
export type RequestAuth = { headerName: string; publicKey: KeyObject; password: () => string };

export type TransportResult = { kind: 'answer'; answer: RawAnswer } | Failure;

export type Transport = {
  get(
    url: string,
    options: { auth?: RequestAuth; signal?: AbortSignal | undefined },
  ): Promise<TransportResult>;
  close(): void;
};

const retryLimit = 2;
const retryBaseDelayMs = 50;
const authHeaderErrorCode = 'EOBSHELL_AUTH_HEADER';

function readTlsFile(kind: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new Error(
      `cannot read obshell TLS ${kind} file ${path}: ${typeof code === 'string' ? code : 'error'}`,
    );
  }
}

function httpsOptions(tls: ObshellTls | undefined): Options['https'] {
  const ca = readTlsFile('CA', tls?.caFile);
  const cert = readTlsFile('certificate', tls?.certFile);
  const key = readTlsFile('key', tls?.keyFile);
  return {
    rejectUnauthorized: tls?.insecureSkipVerify !== true,
    ...(ca && { certificateAuthority: ca }),
    ...(cert && { certificate: cert }),
    ...(key && { key }),
    ...(tls?.serverName !== undefined && { serverName: tls.serverName }),
  };
}

/** Signs the request as it is actually sent: Uri = path + query of the final URL, fresh Ts each attempt. */
function signHook(now: () => number, ttlSeconds: number) {
  return (options: Parameters<BeforeRequestHook>[0]): void => {
    const auth = options.context['obshellAuth'] as RequestAuth | undefined;
    if (!auth || !(options.url instanceof URL)) return;
    try {
      options.headers[auth.headerName] = buildAuthHeader({
        publicKey: auth.publicKey,
        password: auth.password(),
        uri: options.url.pathname + options.url.search,
        expiresAt: Math.floor(now() / 1000) + ttlSeconds,
      });
    } catch {
      // Never let key or password material reach the error text.
      throw Object.assign(new Error('cannot build the auth header with the agent public key'), {
        code: authHeaderErrorCode,
      });
    }
  };
}

/** Connection-level errors only, small backoff, and never a retry that would start past the deadline. */
function retryDelay({ attemptCount, error }: { attemptCount: number; error: RequestError }): number {
  if (!connectErrorCodes.has(error.code) || error.name === 'ReadError') return 0;
  const deadline = error.options.context['obshellDeadline'];
  const delay = retryBaseDelayMs * 2 ** (attemptCount - 1);
  return typeof deadline === 'number' && Date.now() + delay < deadline ? delay : 0;
}

function createGot(options: TransportOptions, agents: { http: HttpAgent; https: HttpsAgent }): Got {
  const t = options.timeoutMs;
  return got.extend({
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'buffer',
    enableUnixSockets: options.unixSockets,
    agent: agents,
    https: httpsOptions(options.tls),
    headers: { accept: 'application/json', 'user-agent': 'obshell-exporter' },
    timeout: { lookup: t, connect: t, secureConnect: t, socket: t, send: t, response: t, request: t },
    retry: {
      limit: retryLimit,
      methods: ['GET'],
      statusCodes: [],
      errorCodes: [...connectErrorCodes],
      enforceRetryRules: true,
      calculateDelay: retryDelay,
    },
    hooks: { beforeRequest: [signHook(options.now, options.headerTtlSeconds)] },
  });
}

export function createTransport(options: TransportOptions): Transport {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const instance = createGot(options, agents);
  return {
    get: (url, request) => getCapped(instance, options, url, request),
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

async function getCapped(
  instance: Got,
  options: TransportOptions,
  url: string,
  { auth, signal }: { auth?: RequestAuth; signal?: AbortSignal | undefined },
): Promise<TransportResult> {
  if (signal?.aborted) return failure('timeout', 'poll aborted before the request');
  const cap = new AbortController();
  const cut = { tooLarge: false };
  const cutOff = (): void => {
    cut.tooLarge = true;
    cap.abort();
  };
  // The budget covers every attempt: the signal ends the request (and any retry) at the deadline.
  const budget = AbortSignal.timeout(options.timeoutMs);
  const signals = signal ? [signal, budget, cap.signal] : [budget, cap.signal];
  const context = { obshellAuth: auth, obshellDeadline: Date.now() + options.timeoutMs };
  const request = instance.get(url, { signal: AbortSignal.any(signals), context });
  // Emitted once right after the headers (total = content-length) and then per chunk read.
  void request.on('downloadProgress', ({ transferred, total }: { transferred: number; total?: number }) => {
    if (transferred > options.maxResponseBytes || (total ?? 0) > options.maxResponseBytes) cutOff();
  });
  try {
    const response = await request;
    return {
      kind: 'answer',
      answer: { status: response.statusCode, body: response.rawBody },
    };
  } catch (error) {
    if (cut.tooLarge) return failure('parse', `response too large (over ${options.maxResponseBytes} bytes)`);
    if (isAborted(signal)) return failure('timeout', 'poll aborted');
    if ((error as { code?: unknown }).code === authHeaderErrorCode) {
      return failure('auth', 'cannot build the auth header with the agent public key');
    }
    return classifyTransportError(error);
  }
}

/** A call, so that the checker does not narrow `aborted` from the check before the await. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted ?? false;
}
