/**
 * What the image's HEALTHCHECK (src/healthcheck.ts) asks: /-/healthy where the exporter listens,
 * found from the exporter's own arguments and environment as the exporter resolves them.
 *
 * Plain http first, then https (a web config with TLS): the check is that the exporter answers,
 * not who may read it, so the certificate is not verified and any answer below 500 counts, 401
 * included (basic auth guards every path; a client certificate the policy refuses after the
 * handshake gets 403), as does a demand for a client certificate in the handshake (mTLS).
 * Nothing is sent but the request line: no credentials.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { defaults, parseCommandLine } from '../config/index.js';

type Env = Record<string, string | undefined>;
type Endpoint = { host: string; port: number };

/** Docker's --timeout is 5 s: every attempt together ends before it, so the check says why. */
const checkTimeoutMs = 4_000;

/** The exporter's arguments in a /proc/<pid>/cmdline: what follows its main script, or none. */
export function exporterArgs(cmdline: string): string[] {
  const words = cmdline.split('\0').filter((word) => word !== '');
  const script = words.findIndex((word) => /(^|\/)(main\.js|obshell-exporter)$/.test(word));
  return script < 0 ? [] : words.slice(script + 1);
}

/**
 * Where to ask: the listen address the exporter resolves, an unspecified host made loopback. For
 * `::` both: its socket takes IPv4 too (unless bindv6only), and a container without IPv6 has no ::1.
 */
export function healthEndpoints(argv: string[], env: Env): Endpoint[] {
  const address = parseCommandLine(argv, env).flags['web.listen-address'] ?? defaults.listenAddress;
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(at + 1));
  const hosts =
    host === '' || host === '0.0.0.0' ? ['127.0.0.1'] : host === '::' ? ['127.0.0.1', '::1'] : [host];
  return hosts.map((h) => ({ host: h, port }));
}

/**
 * An exporter that requires client certificates (RequireAndVerifyClientCert) refuses the probe in
 * the TLS handshake with an alert: its TLS layer, on the same event loop, answered, and that is
 * what is checked. TLS 1.3 says "certificate required"; with `max_version: TLS12` it is a bare
 * handshake-failure alert (which a hung exporter cannot send either).
 */
function isHandshakeRefusal(error: NodeJS.ErrnoException): boolean {
  if (error.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return true;
  // TLS 1.2: Node reports the alert as EPROTO, with OpenSSL's "SSL alert number 40" in the message.
  return error.code === 'EPROTO' && /\bSSL alert number 40\b/.test(error.message);
}

/** Whether GET /-/healthy got a healthy answer; undefined when nothing answered at all. */
function healthAnswer(endpoint: Endpoint, tls: boolean, signal: AbortSignal): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const options = { ...endpoint, path: '/-/healthy', signal, agent: false };
    const req = tls
      ? httpsRequest({ ...options, rejectUnauthorized: false }, answered)
      : httpRequest(options, answered);
    function answered(res: { statusCode?: number | undefined; resume(): void }): void {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode < 500);
    }
    req.on('error', (error: NodeJS.ErrnoException) => {
      resolve(isHandshakeRefusal(error) ? true : undefined);
    });
    req.end();
  });
}

/** Each endpoint over http, then https, until one answers; all of it within checkTimeoutMs. */
export async function isHealthy(endpoints: readonly Endpoint[]): Promise<boolean> {
  const signal = AbortSignal.timeout(checkTimeoutMs);
  for (const endpoint of endpoints) {
    const answer =
      (await healthAnswer(endpoint, false, signal)) ?? (await healthAnswer(endpoint, true, signal));
    if (answer !== undefined) return answer;
  }
  return false;
}
