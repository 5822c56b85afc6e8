/** Turns a parsed tls_server_config into Node TLS options (reading the files) and checks client certificates. */
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

/** Lets OpenSSL parse one part alone, so a bad file is named rather than "the certificate and key". */
function checkPem(options: SecureContextOptions, source: Source, key: string, what: string): void {
  try {
    createSecureContext(options);
  } catch (error) {
    // OpenSSL's reason (e.g. "PEM routines::no start line") quotes nothing from the file.
    throw new Error(`${keyOf(source, key)}: not a PEM ${what} (${(error as Error).message})`);
  }
}

/** The same rule as the agents' CA files: at least one PEM certificate, every one of them valid. */
function checkClientCa(source: Source, ca: Buffer): void {
  try {
    checkCertificates(ca.toString('utf8'));
  } catch (error) {
    throw new Error(`${keyOf(source, 'client_ca')}: ${(error as Error).message}`);
  }
}

/**
 * Reads cert, key and CA and builds a context once, so a broken pair fails here and not per connection.
 * Throws an Error whose message starts with the key at fault.
 */
export function loadTlsMaterial(config: TlsServerConfig): TlsMaterial {
  const ca = config.clientCa && read(config.clientCa, 'client_ca');
  if (config.clientCa && ca) checkClientCa(config.clientCa, ca);
  const cert = read(config.cert, 'cert');
  const key = read(config.key, 'key');
  checkPem({ cert }, config.cert, 'cert', 'certificate');
  checkPem({ key }, config.key, 'key', 'private key');
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
    // OpenSSL's reason (e.g. "key values mismatch") names no key material.
    throw new Error(`tls_server_config: cannot use the certificate and key: ${(error as Error).message}`);
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
  return sans.some((san) => tls.clientAllowedSans?.includes(san))
    ? undefined
    : 'client certificate SAN not allowed';
}

/** `DNS:a, IP Address:10.0.0.1, email:x@y, URI:spiffe://z` → values; Node JSON-quotes values with commas. */
export function parseSubjectAltName(text: string): string[] {
  const entries = text.match(/[^:,\s][^:,]*:(?:"(?:[^"\\]|\\.)*"|[^,]*)/g) ?? [];
  return entries.map((entry) => {
    const value = entry.slice(entry.indexOf(':') + 1);
    return value.startsWith('"') ? (JSON.parse(value) as string) : value;
  });
}
