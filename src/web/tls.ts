/** Turns a parsed tls_server_config into Node TLS options (reading the files) and checks client certificates. */
import { isIP } from 'node:net';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { readRegularFile } from '../config/files.js';
import { checkCertificates } from '../config/tls-files.js';
import type { ClientAuthType, TlsServerConfig } from './tls-config.js';

export type TlsMaterial = {
  readonly context: SecureContextOptions;
  readonly clientAuthType: ClientAuthType;
  /** Whether Node asks for, and itself rejects failing, client certificates. */
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  readonly clientAllowedSans?: readonly string[];
};

/** The files this TLS config reads, for change detection. */
export function tlsFiles(config: TlsServerConfig): string[] {
  return [config.cert, config.key, config.clientCa].flatMap((s) => (s && 'file' in s ? [s.file] : []));
}

type Source = TlsServerConfig['cert'];

/** The key a problem with this source names: `cert_file` for a file, `cert` for inline PEM. */
const keyOf = (source: Source, key: string) => `tls_server_config.${'file' in source ? `${key}_file` : key}`;

function read(source: Source, key: string): Buffer {
  if ('inline' in source) return Buffer.from(source.inline);
  try {
    return readRegularFile(source.file);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${keyOf(source, key)}: cannot read ${source.file}: ${why}`);
  }
}

/** Reads one part and lets OpenSSL parse it alone, so a bad file is named rather than "the certificate and key". */
function checkPem(
  options: (pem: Buffer) => SecureContextOptions,
  source: Source,
  key: string,
  what: string,
): Buffer {
  const pem = read(source, key);
  try {
    createSecureContext(options(pem));
  } catch (error) {
    // OpenSSL's reason (e.g. "PEM routines::no start line") quotes nothing from the file.
    throw new Error(`${keyOf(source, key)}: not a PEM ${what} (${(error as Error).message})`);
  }
  return pem;
}

/** The same rule as the agents' CA files: at least one PEM certificate, every one of them valid. */
function checkClientCa(source: Source, ca: Buffer): Buffer {
  try {
    checkCertificates(ca.toString('utf8'));
  } catch (error) {
    throw new Error(`${keyOf(source, 'client_ca')}: ${(error as Error).message}`);
  }
  return ca;
}

function checkPair(cert: Buffer, key: Buffer): true {
  try {
    createSecureContext({ cert, key });
    return true;
  } catch (error) {
    // OpenSSL's reason (e.g. "key values mismatch") names no key material.
    throw new Error(`tls_server_config: cannot use the certificate and key: ${(error as Error).message}`);
  }
}

/** Runs one check of a part; the Error it throws (its message starts with the key at fault) becomes a problem. */
function attempt<T>(problems: string[], check: () => T): T | undefined {
  try {
    return check();
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

/**
 * Reads cert, key and CA and builds a context once, so a broken pair fails here and not per connection.
 * Each part is checked even after problems elsewhere, so one attempt names all of them; undefined
 * when there is any problem.
 */
export function readTlsMaterial(config: TlsServerConfig, problems: string[]): TlsMaterial | undefined {
  const { clientCa } = config;
  const ca = clientCa && attempt(problems, () => checkClientCa(clientCa, read(clientCa, 'client_ca')));
  const cert = attempt(problems, () => checkPem((cert) => ({ cert }), config.cert, 'cert', 'certificate'));
  const key = attempt(problems, () => checkPem((key) => ({ key }), config.key, 'key', 'private key'));
  // The pair alone, whatever else is wrong, so a key that does not match its certificate is named too.
  const pair = cert && key && attempt(problems, () => checkPair(cert, key));
  if (problems.length > 0 || !pair) return undefined;
  const context: SecureContextOptions = {
    cert,
    key,
    ...(ca && { ca }),
    minVersion: config.minVersion,
    maxVersion: config.maxVersion,
    honorCipherOrder: config.honorCipherOrder,
    ...(config.ciphers !== undefined && { ciphers: config.ciphers }),
    ...(config.ecdhCurve !== undefined && { ecdhCurve: config.ecdhCurve }),
  };
  try {
    createSecureContext(context);
  } catch (error) {
    problems.push(`tls_server_config: cannot use these TLS settings: ${(error as Error).message}`);
    return undefined;
  }
  const type = config.clientAuthType;
  return {
    context,
    clientAuthType: type,
    requestCert: type !== 'NoClientCert',
    rejectUnauthorized: type === 'RequireAndVerifyClientCert',
    ...(config.clientAllowedSans && { clientAllowedSans: config.clientAllowedSans }),
  };
}

/**
 * The client-certificate policy Node cannot express by itself (and, for RequireAndVerifyClientCert,
 * a second check). Returns why the connection must be closed, or undefined.
 */
export function clientCertProblem(socket: TLSSocket, tls: TlsMaterial): string | undefined {
  const type = tls.clientAuthType;
  if (type === 'NoClientCert' || type === 'RequestClientCert') return undefined;
  const cert = socket.getPeerX509Certificate();
  if (!cert) {
    return type === 'VerifyClientCertIfGiven' ? undefined : 'no client certificate';
  }
  if (type !== 'RequireAnyClientCert' && !socket.authorized) {
    return `client certificate not trusted: ${String(socket.authorizationError)}`;
  }
  if (!tls.clientAllowedSans) return undefined;
  const sans = parseSubjectAltName(cert.subjectAltName ?? '');
  return tls.clientAllowedSans.some((allowed) => sans.includes(allowedSan(allowed) ?? ''))
    ? undefined
    : 'client certificate SAN not allowed';
}

/** An allowed SAN as it is compared: an IP address in Go's form; undefined for a zoned address, which no SAN is. */
function allowedSan(entry: string): string | undefined {
  return isIP(entry) === 0 ? entry : canonicalIp(entry);
}

/**
 * `DNS:a, IP Address:10.0.0.1, email:x@y, URI:spiffe://z` → values; Node JSON-quotes values with
 * commas. IP addresses come out as Go prints them (Node writes `2001:DB8:0:0:0:0:0:1`).
 */
export function parseSubjectAltName(text: string): string[] {
  const entries = text.match(/[^:,\s][^:,]*:(?:"(?:[^"\\]|\\.)*"|[^,]*)/g) ?? [];
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    const raw = entry.slice(colon + 1);
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    return entry.slice(0, colon).trim() === 'IP Address' ? (canonicalIp(value) ?? value) : value;
  });
}

/**
 * An IP address in Go's net.IP String() form (IPv6 lower case, zeros compressed, an IPv4-mapped
 * one as IPv4); undefined for anything else, a zoned address (`fe80::1%eth0`) included. Never
 * throws: it runs in the connection listener.
 */
export function canonicalIp(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6 || !URL.canParse(`http://[${text}]/`)) return undefined;
  // The URL parser writes IPv6 hosts in RFC 5952 form, as Go does.
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [high, low] = [parseInt(mapped[1] ?? '', 16), parseInt(mapped[2] ?? '', 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
