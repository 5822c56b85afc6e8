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
  abortText,
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

/**
 * Bytes of answers being read, across every client of the process: 64 polls at once, each allowed
 * maxResponseBytes, could otherwise hold a gigabyte. Measured, 40 agents answering 50 MB every 5 s,
 * heap capped at 192 MB: peak RSS 746 MB without the pool, 235 MB with 64 MiB, 198 MB with 32 MiB
 * (twice the largest answer allowed, so one always fits). Past `max`, the answer that would exceed
 * it is dropped as too large, unless it is still within poolFreeBytes; the others go on, and it is
 * asked again at the next poll.
 */
export type BufferPool = { used: number; readonly max: number };
export const sharedBufferPool: BufferPool = { used: 0, max: 32 * 1024 * 1024 };
/**
 * Every answer may read this much whatever the pool holds: a small answer (a real one is KBs) is
 * never dropped because a big one is being read. 64 polls in flight add at most 16 MiB to max.
 */
export const poolFreeBytes = 256 * 1024;

export type TransportOptions = {
  timeoutMs: number;
  maxResponseBytes: number;
  /** Default sharedBufferPool. */
  bufferPool?: BufferPool;
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
  /** The auth header last signed with this key: an agent that echoes it must not get it logged. */
  signedHeader(publicKey: KeyObject): string | undefined;
  close(): void;
};

/** Connection-level failures are retried this often, after 50 ms, then 100 ms. */
export const retryLimit = 2;
export const retryBaseDelayMs = 50;
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

/** Attempts got has decided to retry, counted by retryDelay (got copies the context, not this object). */
type Retries = { scheduled: number };

/** Connection-level errors only, small backoff, and never a retry that would start past the deadline. */
function retryDelay({ attemptCount, error }: { attemptCount: number; error: RequestError }): number {
  if (!connectErrorCodes.has(error.code) || error.name === 'ReadError') return 0;
  const { obshellDeadline: deadline, obshellRetries: retries } = error.options.context;
  const delay = retryBaseDelayMs * 2 ** (attemptCount - 1);
  if (typeof deadline !== 'number' || Date.now() + delay >= deadline) return 0;
  if (retries) (retries as Retries).scheduled = attemptCount;
  return delay;
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
    signedHeader: (publicKey) => signing.signed.get(publicKey)?.value,
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

/** Why the transport itself ended a request early; undefined while got is in charge. */
type Stop = 'budget' | 'aborted' | 'tooLarge' | 'poolFull';

function stopFailure(stop: Stop, options: TransportOptions, signal: AbortSignal | undefined): Failure {
  if (stop === 'tooLarge')
    return failure('parse', `response too large (over ${options.maxResponseBytes} bytes)`);
  if (stop === 'poolFull') {
    const mib = Math.round((options.bufferPool ?? sharedBufferPool).max / 1024 / 1024);
    return failure(
      'parse',
      `response too large while other answers are read (the exporter holds at most ${mib} MiB of answers at once)`,
    );
  }
  if (stop === 'aborted') return failure('timeout', abortText(signal));
  return failure('timeout', `request timed out after ${options.timeoutMs} ms`, { errCode: 'ETIMEDOUT' });
}

/**
 * One GET through got's stream API, the body collected here. (Perf: got's promise API wraps each
 * request in closures that V8 allocates in the old generation, `promise.on/json/… = …` and
 * p-cancelable's accessors, and an abort signal adds one more in got's core; each keeps the
 * finished request's objects alive through young-generation GCs until a full GC, 16–19 KB per
 * request (test/bench/promotion.mjs). The stream API, the request destroyed here instead of by a
 * signal, leaves 0.6–2 KB on Node 20 and 22; ~13.5 KB on Node 24 and 26, whose Writable keeps a
 * pretenured closure per stream, test/bench/HISTORY.md.) got still runs
 * its hooks (the auth header), decompression and connection retries: a retry arrives as a new
 * stream from `createRetryStream`, read the same way.
 */
function getCapped(
  instance: Got,
  options: TransportOptions,
  signing: Signing,
  url: string,
  { auth, signal }: { auth?: RequestAuth; signal?: AbortSignal | undefined },
): Promise<TransportResult> {
  if (signal?.aborted)
    return Promise.resolve(failure('timeout', `${abortText(signal)} (before the request)`));
  return new Promise((resolve) => {
    const retries: Retries = { scheduled: 0 };
    const context = {
      obshellAuth: auth,
      obshellSigning: signing,
      obshellDeadline: Date.now() + options.timeoutMs,
      obshellRetries: retries,
    };
    let request = instance.stream(url, { context });
    let chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let settled = false;
    const pool = options.bufferPool ?? sharedBufferPool;
    let held = 0; // this request's bytes in the pool
    const release = (): void => {
      pool.used -= held;
      held = 0;
    };
    const settle = (result: TransportResult): void => {
      if (settled) return;
      settled = true;
      release();
      clearTimeout(budget);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    // The request's budget covers every attempt and every phase (got's per-phase timeouts are not
    // set: their timers and listeners were a quarter of what the exporter allocated, measured).
    const stop = (why: Stop): void => {
      settle(stopFailure(why, options, signal));
      request.destroy();
    };
    const onAbort = (): void => {
      stop('aborted');
    };
    const budget = setTimeout(stop, options.timeoutMs, 'budget').unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    const read = (attempt: typeof request, index: number): void => {
      attempt.once('response', (response: { statusCode: number; headers: Record<string, unknown> }) => {
        status = response.statusCode;
        if (Number(response.headers['content-length'] ?? 0) > options.maxResponseBytes) stop('tooLarge');
      });
      attempt.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        held += chunk.length;
        pool.used += chunk.length;
        if (size > options.maxResponseBytes) stop('tooLarge');
        else if (size > poolFreeBytes && pool.used > pool.max) stop('poolFull');
        else chunks.push(chunk);
      });
      attempt.once('end', () => {
        settle({ kind: 'answer', answer: { status, body: Buffer.concat(chunks, size) } });
      });
      attempt.on('error', (error: Error) => {
        // An attempt got retries is not the answer. (On Node 24 and later the attempt also reports
        // its dropped socket, ERR_SOCKET_CLOSED_BEFORE_CONNECTION, before got's 'retry' event.)
        if (retries.scheduled > index) return;
        settle(
          (error as { code?: unknown }).code === authHeaderErrorCode
            ? failure('auth', 'cannot build the auth header with the agent public key')
            : classifyTransportError(error),
        );
      });
      attempt.once('retry', (_count: number, _error: Error, createRetryStream: () => typeof request) => {
        if (settled) return;
        chunks = [];
        size = 0;
        release();
        request = createRetryStream();
        read(request, index + 1);
      });
    };
    read(request, 0);
  });
}
