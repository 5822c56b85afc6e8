/** Checks for single values, shared by flags and the config file. Each returns the value or throws a reason. */
import cron from 'node-cron';
import { reservedPaths } from './defaults.js';
import { fail, InvalidValueError, quote } from './problems.js';
import type { ConfigIo, FileKind, Shard } from './types.js';

const userInfoRefused = 'must not contain a user or password (use a password file)';

/** An agent URL: http or https, a host, optional port, nothing else. Returns the origin (`http://host:port`). */
export function parseAgentUrl(text: string): string {
  // Before anything echoes the text: a password holding `/`, `?` or `#` does not even parse as one.
  if (text.includes('@')) fail(userInfoRefused);
  const shown = quote(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(`${shown} is not an http or https URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${shown} is not an http or https URL`);
  // A query, fragment or path may carry a token (`?password=…`): only the origin is shown.
  const origin = quote(url.origin);
  if (text.includes('?') || text.includes('#'))
    fail(`${origin} followed by a query or fragment (not shown): an agent URL has neither`);
  if (url.pathname !== '/') fail(`${origin} followed by a path (not shown): an agent URL has none`);
  if (url.port === '0') fail(`${shown} has port 0, which no agent listens on`);
  return url.origin;
}

/** `host:port` of an agent origin, with the scheme's default port made explicit (the `target`/`agent` label). */
export function agentAddress(origin: string): string {
  const url = new URL(origin);
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return `${url.hostname}:${port}`;
}

/** `[host]:port`, host optional (`:9886` listens on every interface). */
export function parseListenAddress(text: string): string {
  const match = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(text);
  if (!match) fail(`${quote(text)} is not host:port (e.g. ":9886" or "127.0.0.1:9886")`);
  if (Number(match[2]) > 65_535) fail(`${quote(text)} has a port above 65535`);
  return text;
}

export function parseTelemetryPath(text: string): string {
  if (!text.startsWith('/')) fail(`${quote(text)} must start with "/"`);
  // Matched against the request path as sent: a character a client must percent-encode (or a
  // query, a fragment) would make the path unreachable.
  const bad = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/.exec(text);
  if (bad) fail(`${quote(text)} holds ${quote(bad[0])}, which a URL path cannot hold as is`);
  if ((reservedPaths as readonly string[]).includes(text)) {
    fail(`${quote(text)} is reserved (${reservedPaths.join(', ')})`);
  }
  return text;
}

export function parseCronSchedule(text: string): string {
  if (!cron.validate(text)) fail(`${quote(text)} is not a valid cron expression (e.g. "*/15 * * * * *")`);
  return text;
}

const maxShards = 10_000;

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) fail(`${quote(text)} is not i/n (e.g. "0/3")`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  // More shards than any fleet has targets is a typo, and past 2^53 the numbers are no longer exact.
  if (count > maxShards) fail(`${quote(text)} has more than ${maxShards} shards`);
  if (count < 1 || index >= count) fail(`${quote(text)} needs 0 <= i < n`);
  return { index, count };
}

export function parsePositiveInt(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    fail(`${quote(text)} is not a positive integer`);
  }
  return value;
}

export function parseBoolean(text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  return fail(`${quote(text)} is not true or false`);
}

export function oneOf<T extends string>(allowed: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(allowed as readonly string[]).includes(text)) {
      fail(`${quote(text)} is not one of ${allowed.join(', ')}`);
    }
    return text as T;
  };
}

export function parseNonEmpty(text: string): string {
  if (text === '') fail('must not be empty');
  return text;
}

/** The `target` label: a name of only whitespace would look empty on every dashboard. */
export function parseTargetName(text: string): string {
  if (text.trim() === '') fail(text === '' ? 'must not be empty' : 'must not be only whitespace');
  return text;
}

/** Said instead of a value that may be a password written in the wrong key. */
export const notShown = 'value not shown: it may be the password itself';

/** The name of the variable holding a password: never echoed when wrong, in case it is the password. */
export function parseEnvName(text: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) fail(`is not an environment variable name (${notShown})`);
  return text;
}

/** Password files hold a line; anything larger is a wrong path, not a password. */
export const maxPasswordFileBytes = 64 * 1024;

/** Why a file cannot be used, from its stat alone: a FIFO would block the read, a device never end it. */
export function fileProblem(kind: FileKind, size: number, maxBytes?: number): string | undefined {
  if (kind === 'directory') return 'is a directory';
  if (kind !== 'file') return 'not a regular file';
  if (maxBytes !== undefined && size > maxBytes) return `larger than ${maxBytes / 1024} KiB`;
  return undefined;
}

export type FileRule = {
  maxBytes?: number;
  /** For password files: a password written in the path key must not reach the message. */
  hidePath?: boolean;
  /** Checks the content; throws a reason that follows the quoted path ("has no PEM certificate"). */
  check?: (text: string) => void;
};

/** Reads a regular file, stat first; the message names the path (unless hidden) and the cause, never content. */
export function readCheckedFile(io: ConfigIo, path: string, rule: FileRule = {}): string {
  const cannot = (why: string): never =>
    rule.hidePath === true
      ? fail(`cannot read the file: ${why} (path not shown: it may be the password itself)`)
      : fail(`cannot read ${quote(path)}: ${why}`);
  let problem: string | undefined;
  try {
    const stat = io.stat(path);
    problem = fileProblem(stat.kind, stat.size, rule.maxBytes);
  } catch (error) {
    problem = describeFsError(error);
  }
  if (problem !== undefined) cannot(problem);
  let text: string;
  try {
    text = io.readFile(path);
  } catch (error) {
    return cannot(describeFsError(error));
  }
  if (rule.check) prefixReason(quote(path), () => rule.check?.(text));
  return text;
}

/** Runs a check whose reason reads after `subject`. */
export function prefixReason(subject: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof InvalidValueError) fail(`${subject} ${error.message}`);
    throw error;
  }
}

const fsReasons: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
};

/** Only the error code is used: an fs error message is safe, but a thrown value from elsewhere might not be. */
export function describeFsError(error: unknown): string {
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : '';
  return fsReasons[code] ?? (code !== '' ? code : 'unreadable');
}
