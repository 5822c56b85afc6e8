/**
 * `--web.config.file` in exporter-toolkit's format (tls_server_config, http_server_config,
 * basic_auth_users, rate_limit), so a node_exporter web-config.yml works unchanged.
 * Messages name the key and never quote a hash or key material.
 */
import { validateHeaderValue } from 'node:http';
import { dirname, resolve } from 'node:path';
import { parseGoDuration } from '../config/durations.js';
import { readRegularFile } from '../config/files.js';
import { parseYamlText } from '../config/yaml-parse.js';
import { quote } from '../config/problems.js';
import { keyPath, readBoolean, readMapping, readString, type Mapping } from '../config/yaml-walk.js';
import { readTlsServerConfig, type TlsServerConfig } from './tls-config.js';

export type WebConfig = {
  readonly tls?: TlsServerConfig;
  /** Accepted for compatibility; the server speaks HTTP/1.1. */
  readonly http2: boolean;
  readonly headers: Readonly<Record<string, string>>;
  /** user → bcrypt hash */
  readonly users: ReadonlyMap<string, string>;
  readonly rateLimit?: { readonly intervalMs: number; readonly burst: number };
};

export class WebConfigError extends Error {
  override name = 'WebConfigError' as const;
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid web config ${file}: ${problems.join('; ')}`);
  }
}

const topKeys = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'] as const;

/** exporter-toolkit allows only these headers; `undefined` means any value. */
const allowedHeaders: Readonly<Record<string, readonly string[] | undefined>> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

// $2a$, $2b$, $2y$ with a two-digit cost and 53 characters of salt and hash. The original $2$,
// which no current tool (htpasswd, Go's bcrypt) writes, is refused rather than trusted to match.
const bcryptPattern = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** A user name that starts like a crypt hash ($2y$, $apr1$, $6$…): name and hash swapped; not to be printed. */
const hashLike = /^\$[0-9a-z]+\$/i;

/** A web config and every problem found in it; the config may be used only when there is none. */
export type CheckedWebConfig = { readonly config: WebConfig; readonly problems: string[] };

/**
 * Reads and checks the file. Throws WebConfigError only when there is nothing to check (the file
 * cannot be read, or is not YAML); any other problem is returned, so more can be added to it.
 */
export function checkWebConfigFile(file: string): CheckedWebConfig {
  let text: string;
  try {
    text = readRegularFile(file).toString('utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new WebConfigError(file, [`cannot read: ${why}`]);
  }
  return checkWebConfig(text, dirname(resolve(file)), file);
}

/** Parses the YAML text; relative file names resolve against `baseDir`. */
export function parseWebConfig(text: string, baseDir: string, file = 'web config'): WebConfig {
  const { config, problems } = checkWebConfig(text, baseDir, file);
  if (problems.length > 0) throw new WebConfigError(file, problems);
  return config;
}

function checkWebConfig(text: string, baseDir: string, file: string): CheckedWebConfig {
  const problems: string[] = [];
  const root = parseYaml(text, file);
  if (root !== null && root !== undefined && !isMapping(root)) {
    throw new WebConfigError(file, [`must be a mapping with ${topKeys.join(', ')}`]);
  }
  const top = readMapping(root, '', topKeys, problems) ?? {};
  const tls = readTlsServerConfig(top['tls_server_config'], baseDir, problems);
  const http =
    readMapping(top['http_server_config'], 'http_server_config', ['http2', 'headers'], problems) ?? {};
  const config: WebConfig = {
    ...(tls !== undefined && { tls }),
    http2: readBoolean(http['http2'], 'http_server_config.http2', problems) ?? true,
    headers: readHeaders(http['headers'], problems),
    users: readUsers(top['basic_auth_users'], problems),
    ...readRateLimit(top['rate_limit'], problems),
  };
  return { config, problems };
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The web config's YAML; a problem names the key that holds it, else its line and column. */
function parseYaml(text: string, file: string): unknown {
  const parsed = parseYamlText(text);
  if ('value' in parsed) return parsed.value;
  throw new WebConfigError(
    file,
    parsed.problems.map(({ reason, line, col, key }) =>
      key ? `${key}: ${reason}` : `${line ? `line ${line}, column ${col}: ` : ''}${reason}`,
    ),
  );
}

function readHeaders(value: unknown, problems: string[]): Record<string, string> {
  const path = 'http_server_config.headers';
  const map = readMapping(value, path, [], []) ?? {};
  if (value !== undefined && value !== null && !isMapping(value)) problems.push(`${path}: must be a mapping`);
  const headers: Record<string, string> = {};
  for (const [name, raw] of Object.entries(map)) {
    if (!Object.hasOwn(allowedHeaders, name)) {
      problems.push(
        `${keyPath(path, name)}: this header can not be configured (allowed: ${Object.keys(allowedHeaders).join(', ')})`,
      );
      continue;
    }
    const allowed = allowedHeaders[name];
    const text = readString(raw, keyPath(path, name), problems);
    if (text === undefined || text === '') continue;
    if (allowed && !allowed.includes(text)) {
      problems.push(`${keyPath(path, name)}: ${quote(text)} is not one of ${allowed.join(', ')}`);
    } else if (!isValidHeaderValue(name, text)) {
      // Node would throw on it in every answer, inside the request listener.
      problems.push(`${keyPath(path, name)}: invalid characters (a control character, or one above U+00FF)`);
    } else headers[name] = text;
  }
  return headers;
}

function isValidHeaderValue(name: string, value: string): boolean {
  try {
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

function readUsers(value: unknown, problems: string[]): Map<string, string> {
  const path = 'basic_auth_users';
  const users = new Map<string, string>();
  if (value === undefined || value === null) return users;
  if (!isMapping(value)) {
    problems.push(`${path}: must be a mapping of user names to bcrypt hashes`);
    return users;
  }
  for (const [user, hash] of Object.entries(value)) {
    if (hashLike.test(user)) {
      problems.push(`${path}: a user name looks like a password hash (are the name and the hash swapped?)`);
      continue;
    }
    const cost = typeof hash === 'string' ? Number(bcryptPattern.exec(hash)?.[1]) : NaN;
    if (typeof hash !== 'string' || !(cost >= 4 && cost <= 31)) {
      problems.push(
        `${keyPath(path, user)}: not a bcrypt hash (make one with: htpasswd -nBC 10 "" | tr -d ':\\n')`,
      );
    } else users.set(user, hash);
  }
  return users;
}

function readRateLimit(value: unknown, problems: string[]): Pick<WebConfig, 'rateLimit'> {
  const map = readMapping(value, 'rate_limit', ['interval', 'burst'], problems);
  if (!map) return {};
  const interval = map['interval'];
  if (typeof interval === 'number' && !(Number.isSafeInteger(interval) && interval >= 0)) {
    problems.push(
      'rate_limit.interval: a bare number is nanoseconds: a whole number up to 9007199254740991 (or a duration such as "1.5s")',
    );
    return {};
  }
  // yaml.v2 reads a bare integer into a time.Duration as nanoseconds (`interval: 0`).
  const intervalMs =
    typeof interval === 'number'
      ? interval / 1e6
      : (readString(interval, 'rate_limit.interval', problems, parseGoDuration) ?? 0);
  const burst = map['burst'] ?? 0;
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0) {
    problems.push('rate_limit.burst: must be a whole number of requests, 0 or more');
    return {};
  }
  return intervalMs > 0 ? { rateLimit: { intervalMs, burst } } : {};
}
