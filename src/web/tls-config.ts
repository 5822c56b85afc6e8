/** `tls_server_config` of exporter-toolkit's web config, mapped onto Node's TLS option names. */
import { resolve } from 'node:path';
import { quote } from '../config/problems.js';
import { keyPath, readBoolean, readList, readMapping, readString } from '../config/yaml-walk.js';

export const clientAuthTypes = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof clientAuthTypes)[number];

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const tlsVersions: Readonly<Record<string, TlsVersion>> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

/** Go's names (crypto/tls CipherSuites()) → OpenSSL's; Go ignores the TLS 1.3 suites, and so do we. */
const tls12Ciphers: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
const tls13Ciphers = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];
const curves: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/** A table's own entry: a YAML value such as `toString` must not find Object.prototype's. */
const lookup = <T>(table: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined;

export type TlsServerConfig = {
  readonly cert: { readonly file: string } | { readonly inline: string };
  readonly key: { readonly file: string } | { readonly inline: string };
  readonly clientCa?: { readonly file: string } | { readonly inline: string };
  readonly clientAuthType: ClientAuthType;
  readonly clientAllowedSans?: readonly string[];
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list; TLS 1.3 suites are always appended so TLS 1.3 stays on (as in Go). */
  readonly ciphers?: string;
  readonly honorCipherOrder: boolean;
  readonly ecdhCurve?: string;
};

const tlsKeys = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_ca_file',
  'client_auth_type',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'cipher_suites',
  'prefer_server_cipher_suites',
  'curve_preferences',
] as const;
const at = (key: string) => keyPath('tls_server_config', key);

/** Undefined when the section is absent or sets nothing (plain HTTP, as in exporter-toolkit). */
export function readTlsServerConfig(
  value: unknown,
  baseDir: string,
  problems: string[],
): TlsServerConfig | undefined {
  const map = readMapping(value, 'tls_server_config', tlsKeys, problems);
  // Fail closed: a key that is present but empty or null (a template's unset value) turns TLS on
  // and is then reported missing, rather than silently serving plain HTTP.
  const given = (k: string) => map !== undefined && Object.hasOwn(map, k);
  if (!map || !['cert', 'key', 'client_ca', 'cert_file', 'key_file', 'client_ca_file'].some(given)) {
    if (map?.['client_auth_type'])
      problems.push('tls_server_config: client_auth_type needs cert_file and key_file');
    return undefined;
  }
  const source = (inlineKey: string, fileKey: string) => {
    const inline = readString(map[inlineKey], at(inlineKey), problems);
    const file = readString(map[fileKey], at(fileKey), problems);
    if (inline && file) problems.push(`tls_server_config: set ${inlineKey} or ${fileKey}, not both`);
    return file ? { file: resolve(baseDir, file) } : inline ? { inline } : undefined;
  };
  const cert = source('cert', 'cert_file');
  const key = source('key', 'key_file');
  const clientCa = source('client_ca', 'client_ca_file');
  const absent = (...keys: string[]) => keys.every((k) => !map[k]);
  if (absent('cert', 'cert_file')) problems.push('tls_server_config: missing one of cert or cert_file');
  if (absent('key', 'key_file')) problems.push('tls_server_config: missing one of key or key_file');
  const clientAuthType = readClientAuth(map['client_auth_type'], problems);
  // An empty list checks nothing, as in exporter-toolkit (which verifies SANs only when some are given).
  const sanList = readStrings(map['client_allowed_sans'], 'client_allowed_sans', problems);
  const clientAllowedSans = sanList && sanList.length > 0 ? sanList : undefined;
  const caKey = given('client_ca') ? 'client_ca' : 'client_ca_file';
  if (clientAuthType)
    checkClientAuth(clientAuthType, clientCa && caKey, clientAllowedSans !== undefined, problems);
  const minVersion = readVersion(map['min_version'], 'min_version', 'TLSv1.2', problems);
  const maxVersion = readVersion(map['max_version'], 'max_version', 'TLSv1.3', problems);
  if (minVersion > maxVersion) problems.push('tls_server_config: min_version is above max_version');
  const ciphers = readCiphers(map['cipher_suites'], problems);
  const ecdhCurve = readCurves(map['curve_preferences'], problems);
  if (!cert || !key) return undefined;
  return {
    cert,
    key,
    ...(clientCa && { clientCa }),
    // A misspelt type is already a problem; the files are still checked, as for no client certificates.
    clientAuthType: clientAuthType ?? 'NoClientCert',
    ...(clientAllowedSans && { clientAllowedSans }),
    minVersion,
    maxVersion,
    ...(ciphers !== undefined && { ciphers }),
    honorCipherOrder:
      readBoolean(map['prefer_server_cipher_suites'], at('prefer_server_cipher_suites'), problems) ?? true,
    ...(ecdhCurve !== undefined && { ecdhCurve }),
  };
}

function readClientAuth(value: unknown, problems: string[]): ClientAuthType | undefined {
  // Empty means the default, as in Go, where "" is NoClientCert.
  const text = readString(value, at('client_auth_type'), problems) || 'NoClientCert';
  if (text === 'RequireClientCert') return 'RequireAnyClientCert'; // toolkit's old name
  if ((clientAuthTypes as readonly string[]).includes(text)) return text as ClientAuthType;
  problems.push(`${at('client_auth_type')}: ${quote(text)} is not one of ${clientAuthTypes.join(', ')}`);
  return undefined;
}

/** `caKey` is the key that set the client CA (`client_ca` or `client_ca_file`), when one did. */
function checkClientAuth(
  type: ClientAuthType,
  caKey: string | undefined,
  hasSans: boolean,
  problems: string[],
): void {
  const hasCa = caKey !== undefined;
  if (hasCa && type === 'NoClientCert') {
    problems.push(`tls_server_config: ${caKey} is set but client_auth_type is NoClientCert`);
  }
  if (!hasCa && (type === 'RequireAndVerifyClientCert' || type === 'VerifyClientCertIfGiven')) {
    problems.push(`tls_server_config: client_auth_type ${type} needs client_ca_file`);
  }
  if (hasSans && type !== 'RequireAnyClientCert' && type !== 'RequireAndVerifyClientCert') {
    problems.push(
      'tls_server_config: client_allowed_sans needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
    );
  }
}

function readVersion(value: unknown, key: string, fallback: TlsVersion, problems: string[]): TlsVersion {
  const text = readString(value, at(key), problems);
  if (text === undefined) return fallback;
  const version = lookup(tlsVersions, text);
  if (!version)
    problems.push(`${at(key)}: unknown TLS version ${quote(text)} (use TLS10, TLS11, TLS12 or TLS13)`);
  return version ?? fallback;
}

function readStrings(value: unknown, key: string, problems: string[]): string[] | undefined {
  const list = readList(value, at(key), problems);
  if (!list) return undefined;
  if (list.every((item) => typeof item === 'string')) return list;
  problems.push(`${at(key)}: must be a list of strings`);
  return undefined;
}

function readCiphers(value: unknown, problems: string[]): string | undefined {
  const names = readStrings(value, 'cipher_suites', problems);
  if (!names || names.length === 0) return undefined;
  const unknown = names.filter(
    (name) => lookup(tls12Ciphers, name) === undefined && !tls13Ciphers.includes(name),
  );
  for (const name of unknown) problems.push(`${at('cipher_suites')}: unknown cipher ${quote(name)}`);
  const openssl = names.flatMap((name) => lookup(tls12Ciphers, name) ?? []);
  return [...openssl, ...tls13Ciphers].join(':');
}

function readCurves(value: unknown, problems: string[]): string | undefined {
  const names = readStrings(value, 'curve_preferences', problems);
  if (!names || names.length === 0) return undefined;
  for (const name of names.filter((n) => lookup(curves, n) === undefined)) {
    problems.push(
      `${at('curve_preferences')}: unknown curve ${quote(name)} (use ${Object.keys(curves).join(', ')})`,
    );
  }
  return names.flatMap((name) => lookup(curves, name) ?? []).join(':');
}
