/**
 * The HTTP layer under the obshell client: keep-alive agents, TLS material, a per-request time
 * budget (retries included), connection-level retries only, a fresh auth header on every attempt,
 * and a response-size cap enforced while streaming.
 *
 * Clients with the same settings (TLS material, unix sockets) share one got instance and
 * one agent pair: 1 000 targets cost one of each instead of 1 000 (memory). Sharing an agent is
 * safe: Node pools sockets per host:port and per TLS options (Agent#getName covers ca, cert, key,
 * servername, rejectUnauthorized), and each request carries its own auth header.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { KeyObject } from 'node:crypto';
import got, { type BeforeRequestHook, type Got, type Options, type RequestError } from 'got';
import { reuseOrSign, type SignedHeader } from './auth.js';
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
  /** A header is signed for ttl + this and reused while ttl is left (see reuseOrSign). */
  headerReuseSeconds: number;
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

/** The client's clock, header lifetime and last signature per agent key, passed in the request context (the got instance is shared). */
type Signing = {
  now: () => number;
  ttlSeconds: number;
  reuseSeconds: number;
  signed: WeakMap<KeyObject, SignedHeader>;
};

/** Signs the request as it is actually sent: Uri = path + query of the final URL, at least ttl left at each attempt. */
function signHook(options: Parameters<BeforeRequestHook>[0]): void {
  const auth = options.context['obshellAuth'] as RequestAuth | undefined;
  const signing = options.context['obshellSigning'] as Signing | undefined;
  if (!auth || !signing || !(options.url instanceof URL)) return;
  try {
    const header = reuseOrSign(signing.signed.get(auth.publicKey), {
      publicKey: auth.publicKey,
      password: auth.password(),
      uri: options.url.pathname + options.url.search,
      nowSeconds: signing.now() / 1000,
      ttlSeconds: signing.ttlSeconds,
      reuseSeconds: signing.reuseSeconds,
    });
    signing.signed.set(auth.publicKey, header);
    options.headers[auth.headerName] = header.value;
  } catch {
    // Never let key or password material reach the error text.
    throw Object.assign(new Error('cannot build the auth header with the agent public key'), {
      code: authHeaderErrorCode,
    });
  }
}

/** Connection-level errors only, small backoff, and never a retry that would start past the deadline. */
function retryDelay({ attemptCount, error }: { attemptCount: number; error: RequestError }): number {
  if (!connectErrorCodes.has(error.code) || error.name === 'ReadError') return 0;
  const deadline = error.options.context['obshellDeadline'];
  const delay = retryBaseDelayMs * 2 ** (attemptCount - 1);
  return typeof deadline === 'number' && Date.now() + delay < deadline ? delay : 0;
}

export type Agents = { http: HttpAgent; https: HttpsAgent };

/**
 * Node 20's V8 (11.3) gives an object literal that follows the spread of a non-empty object a new
 * hidden class per added property, allocated in old space: got's native request options
 * (`{ ...cacheOptions, …34 keys }`) then cost ~17 KB per request (measured), half of what a poll
 * leaves for the major GC. got's cache is never used here, so its cacheOptions can be empty,
 * which keeps those objects in the young generation. (Node 22's V8 no longer does this.)
 */
function withoutCacheOptions(instance: Got): Got {
  const defaults = instance.defaults.options as unknown as { _internals?: { cacheOptions?: object } };
  if (defaults._internals?.cacheOptions) defaults._internals.cacheOptions = {};
  return instance;
}

export function createGot(options: TransportOptions, https: Options['https'], agents: Agents): Got {
  const instance = got.extend({
    mutableDefaults: true, // so that withoutCacheOptions can empty cacheOptions; nothing else mutates them
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'buffer',
    enableUnixSockets: options.unixSockets,
    agent: agents,
    https,
    headers: { accept: 'application/json', 'user-agent': 'obshell-exporter' },
    retry: {
      limit: retryLimit,
      methods: ['GET'],
      statusCodes: [],
      errorCodes: [...connectErrorCodes],
      enforceRetryRules: true,
      calculateDelay: retryDelay,
    },
    hooks: { beforeRequest: [signHook] },
  });
  return withoutCacheOptions(instance);
}

type Shared = { instance: Got; agents: Agents; users: number };
/** got instances and agents by settings, counted by user: the last client to close destroys them. */
const shared = new Map<string, Shared>();

function sharedKey(options: TransportOptions, https: Options['https']): string {
  const tls = Object.entries(https).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v]);
  return JSON.stringify([options.unixSockets, tls]);
}

export function createTransport(options: TransportOptions): Transport {
  const https = httpsOptions(options.tls); // TLS files are read (and checked) per client, as before
  const key = sharedKey(options, https);
  let entry = shared.get(key);
  if (!entry) {
    const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    entry = { instance: createGot(options, https, agents), agents, users: 0 };
    shared.set(key, entry);
  }
  entry.users += 1;
  const mine = entry;
  const signing: Signing = {
    now: options.now,
    ttlSeconds: options.headerTtlSeconds,
    reuseSeconds: options.headerReuseSeconds,
    signed: new WeakMap(),
  };
  let closed = false;
  return {
    get: (url, request) => getCapped(mine.instance, options, signing, url, request),
    close: () => {
      if (closed) return;
      closed = true;
      mine.users -= 1;
      if (mine.users > 0) return;
      shared.delete(key);
      mine.agents.http.destroy();
      mine.agents.https.destroy();
    },
  };
}

async function getCapped(
  instance: Got,
  options: TransportOptions,
  signing: Signing,
  url: string,
  { auth, signal }: { auth?: RequestAuth; signal?: AbortSignal | undefined },
): Promise<TransportResult> {
  if (signal?.aborted) return failure('timeout', 'poll aborted before the request');
  // One controller ends the request (and any retry) on the size cap, the caller's signal or the
  // budget, which covers every attempt and every phase. (Perf: AbortSignal.timeout + AbortSignal.any
  // cost a timer and weak-reference bookkeeping per request, GC work at hundreds of polls a second.
  // got's own per-phase timeouts are not set: they add timers and listeners to every request, and
  // leaving them out cut what the exporter allocates by a quarter at 1 000 targets (measured); the
  // budget ends a request in any phase.)
  const controller = new AbortController();
  const cut = { tooLarge: false };
  const cutOff = (): void => {
    cut.tooLarge = true;
    controller.abort();
  };
  const onAbort = (): void => {
    controller.abort(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // A TimeoutError reason, as AbortSignal.timeout gives: got then throws its TimeoutError.
  const budget = setTimeout(() => {
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, options.timeoutMs).unref();
  const context = {
    obshellAuth: auth,
    obshellSigning: signing,
    obshellDeadline: Date.now() + options.timeoutMs,
  };
  const request = instance.get(url, { signal: controller.signal, context });
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
  } finally {
    clearTimeout(budget);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A call, so that the checker does not narrow `aborted` from the check before the await. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted ?? false;
}
