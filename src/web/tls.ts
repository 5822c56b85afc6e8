/** Turns a parsed tls_server_config into Node TLS options (reading the files) and checks client certificates. */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
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

function read(source: { file: string } | { inline: string }, key: string): Buffer {
  if ('inline' in source) return Buffer.from(source.inline);
  try {
    return readFileSync(source.file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`tls_server_config.${key}_file: cannot read ${source.file}: ${code}`);
  }
}

/** Reads cert, key and CA and builds a context once, so a broken pair fails here and not per connection. */
export function loadTlsMaterial(config: TlsServerConfig): TlsMaterial {
  const ca = config.clientCa && read(config.clientCa, 'client_ca');
  if (ca && !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('tls_server_config.client_ca_file: no PEM certificate found');
  }
  const context: SecureContextOptions = {
    cert: read(config.cert, 'cert'),
    key: read(config.key, 'key'),
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
