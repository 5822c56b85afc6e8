/**
 * The HTTP(S) server for `--web.config.file`: TLS (with certificates swapped in on change),
 * client-certificate policy, rate limit, extra headers and basic auth in front of every path.
 */
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Counter } from 'prom-client';
import type { Logger } from '../logger.js';
import { createBasicAuth } from './basic-auth.js';
import { createWebStateSource, type WebState, type WebStateSource } from './reload.js';
import { clientCertProblem, type TlsMaterial } from './tls.js';
import type { ClientAuthType } from './tls-config.js';

export type SecuredServerOptions = {
  readonly configFile: string;
  readonly logger: Logger;
  /** obshell_exporter_http_auth_failures_total, registered by the caller so it exists without basic auth too. */
  readonly authFailures: Counter<'reason'>;
  readonly listener: RequestListener;
  readonly now?: () => number;
};

export const authChallenge = 'Basic realm="obshell-exporter", charset="UTF-8"';

/** Throws WebConfigError when the file is invalid; later broken versions are logged and skipped. */
export function createSecuredServer(options: SecuredServerOptions): { server: Server; tls: boolean } {
  const source = createWebStateSource(options.configFile, options.logger, restartNeeded);
  const initial = source.current();
  // Connections whose client certificate the policy refuses: their requests get 403.
  const refused = new WeakSet<object>();
  const handler = guard(source, options, refused);
  options.logger.info(
    {
      file: options.configFile,
      tls: initial.tls !== undefined,
      clientAuth: initial.tls?.clientAuthType,
      basicAuthUsers: initial.config.users.size,
    },
    'web config loaded',
  );
  if (!initial.tls) return { server: createHttpServer(handler), tls: false };
  return { server: createTlsServer(source, initial.tls, handler, options.logger, refused), tls: true };
}

/** The changes a re-read web config may not make while the exporter runs. */
function restartNeeded(running: WebState, next: WebState): string | undefined {
  if ((next.tls === undefined) !== (running.tls === undefined)) {
    return 'tls_server_config: switching between HTTP and HTTPS needs a restart';
  }
  // Fail closed: a file emptied or half-written by a non-atomic save must not open every path.
  if (running.config.users.size > 0 && next.config.users.size === 0) {
    return 'basic_auth_users: no users in the new version; basic auth can only be turned off by a restart';
  }
  return running.tls && next.tls ? clientCertsWeakened(running.tls, next.tls) : undefined;
}

const requiresCert = (type: ClientAuthType) =>
  type === 'RequireAnyClientCert' || type === 'RequireAndVerifyClientCert';
const verifiesCert = (type: ClientAuthType) =>
  type === 'VerifyClientCertIfGiven' || type === 'RequireAndVerifyClientCert';

/** Client-certificate checks, like basic auth, may be tightened live but loosened only by a restart. */
function clientCertsWeakened(running: TlsMaterial, next: TlsMaterial): string | undefined {
  const [was, now] = [running.clientAuthType, next.clientAuthType];
  if ((requiresCert(was) && !requiresCert(now)) || (verifiesCert(was) && !verifiesCert(now))) {
    return `tls_server_config: client_auth_type ${was} → ${now} checks less; that needs a restart`;
  }
  if (running.clientAllowedSans && !next.clientAllowedSans) {
    return 'tls_server_config: client_allowed_sans removed; that needs a restart';
  }
  return undefined;
}

/** How long a connection whose client certificate was refused may stay open without a request. */
const refusedIdleMs = 5_000;

function serverTlsOptions(tls: TlsMaterial) {
  return { requestCert: tls.requestCert, rejectUnauthorized: tls.rejectUnauthorized };
}

function createTlsServer(
  source: WebStateSource,
  first: TlsMaterial,
  handler: RequestListener,
  logger: Logger,
  refused: WeakSet<object>,
) {
  const server = createHttpsServer({ ...first.context, ...serverTlsOptions(first) }, handler);
  let applied = first;
  // Runs before tls.Server wraps the socket, so this connection already gets a rotated certificate.
  server.prependListener('connection', () => {
    const tls = source.current().tls;
    if (!tls || tls === applied) return;
    server.setSecureContext(tls.context);
    // tls.Server reads these per connection; setSecureContext does not cover them.
    Object.assign(server, serverTlsOptions(tls));
    applied = tls;
  });
  // What Node cannot refuse in the handshake is refused with an answer, as a scraper (and the
  // image's HEALTHCHECK) can tell a 403 from a network fault; nothing is served on it.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const problem = clientCertProblem(socket, applied);
    if (problem === undefined) return;
    logger.debug({ remote: socket.remoteAddress, problem }, 'TLS client refused');
    refused.add(socket);
    // It is answered only when it asks; one that stays silent is closed rather than held open.
    socket.setTimeout(refusedIdleMs, () => socket.destroy());
  });
  server.on('tlsClientError', (err, socket) => {
    logger.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
  });
  return server;
}

/** Token bucket like Go's rate.Limiter: `burst` tokens, one more every `intervalMs`. */
function createLimiter(now: () => number) {
  let current: WebState['config']['rateLimit'];
  let tokens = 0;
  let last = 0;
  return (limit: WebState['config']['rateLimit']): boolean => {
    if (!limit) return true;
    if (limit !== current) [current, tokens, last] = [limit, limit.burst, now()];
    tokens = Math.min(limit.burst, tokens + (now() - last) / limit.intervalMs);
    last = now();
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

function refuse(res: Parameters<RequestListener>[1], status: number, body: string, challenge?: string): void {
  if (challenge) res.setHeader('WWW-Authenticate', challenge);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function guard(
  source: WebStateSource,
  options: SecuredServerOptions,
  refused: WeakSet<object>,
): RequestListener {
  const failures = options.authFailures;
  const auth = createBasicAuth();
  const allow = createLimiter(options.now ?? Date.now);
  return (req, res) => {
    if (refused.has(req.socket)) {
      res.setHeader('Connection', 'close');
      refuse(res, 403, 'Forbidden: client certificate missing or not allowed\n');
      return;
    }
    const { config } = source.current();
    if (!allow(config.rateLimit)) {
      refuse(res, 429, 'Too Many Requests\n');
      return;
    }
    for (const [name, value] of Object.entries(config.headers)) res.setHeader(name, value);
    if (config.users.size === 0) {
      options.listener(req, res);
      return;
    }
    auth.check(config.users, req.headers.authorization).then(
      (result) => {
        if (result === 'ok') {
          options.listener(req, res);
          return;
        }
        failures.inc({ reason: result });
        refuse(res, 401, 'Unauthorized\n', authChallenge);
      },
      (err: unknown) => {
        options.logger.error({ err: (err as Error).message }, 'basic auth check failed');
        refuse(res, 500, 'Internal Server Error\n');
      },
    );
  };
}
