/** The YAML config file: syntax, then every key checked, every problem collected. */
import { dirname, resolve } from 'node:path';
import { parseTimeout } from './durations.js';
import { attempt, fail, quote } from './problems.js';
import { certificateFileRule, checkKeyPairFiles, privateKeyFileRule } from './tls-files.js';
import { readRules } from './task-type-rules.js';
import type { ConfigIo, ObshellTls, SecretRef, TaskTypeRule } from './types.js';
import {
  maxPasswordFileBytes,
  notShown,
  parseAgentUrl,
  parseEnvName,
  parseNonEmpty,
  parseTargetName,
  readCheckedFile,
} from './values.js';
import type { FileRule } from './values.js';
import { parseYaml } from './yaml-parse.js';
import { keyPath, readBoolean, readList, readMapping, readString } from './yaml-walk.js';
import type { Mapping } from './yaml-walk.js';

/** A target as the file gives it; absent fields fall back to the flags. */
export type FileTarget = {
  name?: string;
  urls?: string[];
  socket?: string;
  password?: SecretRef;
  agentPassword?: SecretRef;
  tls: ObshellTls;
  timeoutMs?: number;
};

export type ConfigFile = { targets?: FileTarget[]; taskTypeRules: TaskTypeRule[] };

/** What checks need: where problems go, how files are read, which env vars `*_env` may name. */
export type Checker = {
  problems: string[];
  io: ConfigIo;
  hasEnv: (name: string) => boolean;
  /** The config file's directory: relative paths in the file are resolved against it, as Prometheus does. */
  baseDir?: string;
};

const topKeys = ['targets', 'task_type_rules'];
const targetKeys = [
  'name',
  'urls',
  'socket',
  'password_file',
  'password_env',
  'agent_password_file',
  'agent_password_env',
  'tls',
  'timeout',
];
const tlsKeys = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'];

/** Drops undefined members, so optional properties are absent rather than undefined. */
export function compact<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}

function localPath(c: Checker): (text: string) => string {
  return (text) => {
    const path = parseNonEmpty(text);
    return c.baseDir !== undefined ? resolve(c.baseDir, path) : path;
  };
}

/** Password files are small, and their path is never echoed: the password may have been written there. */
export const passwordFileRule: FileRule = { maxBytes: maxPasswordFileBytes, hidePath: true };

/** A path to a regular file that can be read now; returns the path (relative ones resolved). */
export function readableFile(c: Checker, rule: FileRule = {}): (text: string) => string {
  return (text) => {
    const path = localPath(c)(text);
    readCheckedFile(c.io, path, rule);
    return path;
  };
}

export function setEnvName(c: Checker): (text: string) => string {
  return (text) => {
    const name = parseEnvName(text);
    if (!c.hasEnv(name)) fail(`names an environment variable that is not set (${notShown})`);
    return name;
  };
}

/** `<prefix>_file` or `<prefix>_env`, at most one. */
function readSecret(map: Mapping, path: string, prefix: string, c: Checker): SecretRef | undefined {
  const [fileKey, envKey] = [`${prefix}_file`, `${prefix}_env`];
  const file = readString(
    map[fileKey],
    keyPath(path, fileKey),
    c.problems,
    readableFile(c, passwordFileRule),
  );
  const env = readString(map[envKey], keyPath(path, envKey), c.problems, setEnvName(c));
  if (map[fileKey] != null && map[envKey] != null) {
    c.problems.push(`${path}: ${fileKey} and ${envKey} are mutually exclusive`);
    return undefined;
  }
  if (file !== undefined) return { kind: 'file', path: file };
  return env !== undefined ? { kind: 'env', name: env } : undefined;
}

function readTls(value: unknown, path: string, c: Checker): ObshellTls {
  const map = readMapping(value, path, tlsKeys, c.problems);
  if (map === undefined) return {};
  const file = (key: string, rule: FileRule): string | undefined =>
    readString(map[key], keyPath(path, key), c.problems, readableFile(c, rule));
  const tls = compact({
    caFile: file('ca_file', certificateFileRule),
    certFile: file('cert_file', certificateFileRule),
    keyFile: file('key_file', privateKeyFileRule),
    serverName: readString(map['server_name'], keyPath(path, 'server_name'), c.problems, parseNonEmpty),
    insecureSkipVerify: readBoolean(
      map['insecure_skip_verify'],
      keyPath(path, 'insecure_skip_verify'),
      c.problems,
    ),
  });
  if (map['cert_file'] != null && map['key_file'] == null)
    c.problems.push(`${path}.key_file: required when cert_file is set`);
  if (map['key_file'] != null && map['cert_file'] == null)
    c.problems.push(`${path}.cert_file: required when key_file is set`);
  const { certFile: cert, keyFile: key } = tls;
  if (cert !== undefined && key !== undefined)
    attempt(c.problems, keyPath(path, 'key_file'), () => {
      checkKeyPairFiles(c.io, { cert, key }, 'cert_file');
    });
  return tls;
}

function readUrls(value: unknown, path: string, problems: string[]): string[] | undefined {
  const list = readList(value, path, problems);
  if (list === undefined) return undefined;
  if (list.length === 0) problems.push(`${path}: must not be empty`);
  const urls = list.map((item, i) => readString(item, keyPath(path, i), problems, parseAgentUrl));
  urls.forEach((url, i) => {
    const first = urls.indexOf(url);
    if (url !== undefined && first < i)
      problems.push(`${keyPath(path, i)}: ${quote(url)} is already urls[${first}]`);
  });
  return urls.filter((url) => url !== undefined);
}

// `timeout: 10` is a YAML number; it gets the same "has no unit" answer as the flag would.
function readDuration(value: unknown, path: string, problems: string[]): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  return readString(text, path, problems, parseTimeout);
}

function readTarget(value: unknown, path: string, c: Checker): FileTarget | undefined {
  const map = readMapping(value, path, targetKeys, c.problems);
  if (map === undefined) {
    if (value == null) c.problems.push(`${path}: must be a mapping`);
    return undefined;
  }
  if (map['name'] == null) c.problems.push(`${path}.name: is required`);
  if ((map['urls'] == null) === (map['socket'] == null)) {
    c.problems.push(
      `${path}: ${map['urls'] == null ? 'one of urls or socket is required' : 'urls and socket are mutually exclusive'}`,
    );
  }
  if (map['socket'] != null) {
    // These would be ignored: say so rather than let a reader think the socket is protected.
    if (map['tls'] != null) c.problems.push(`${keyPath(path, 'tls')}: a socket target uses no TLS`);
    for (const key of ['password_file', 'password_env', 'agent_password_file', 'agent_password_env']) {
      if (map[key] != null)
        c.problems.push(
          `${keyPath(path, key)}: a socket target sends no password (obshell's socket needs none)`,
        );
    }
  }
  return compact({
    name: readString(map['name'], keyPath(path, 'name'), c.problems, parseTargetName),
    urls: readUrls(map['urls'], keyPath(path, 'urls'), c.problems),
    socket: readString(map['socket'], keyPath(path, 'socket'), c.problems, localPath(c)),
    // A socket target's password keys are refused above; reading them would only add problems.
    password: map['socket'] == null ? readSecret(map, path, 'password', c) : undefined,
    agentPassword: map['socket'] == null ? readSecret(map, path, 'agent_password', c) : undefined,
    tls: readTls(map['tls'], keyPath(path, 'tls'), c),
    timeoutMs: readDuration(map['timeout'], keyPath(path, 'timeout'), c.problems),
  }) as FileTarget;
}

// `targets:` with no value is as empty as `targets: []`: falling back to the flags' target would
// swap a fleet for 127.0.0.1 on a half-written file.
function readTargets(value: unknown, c: Checker): FileTarget[] | undefined {
  const list = value === null ? [] : readList(value, 'targets', c.problems);
  if (list === undefined) return undefined;
  if (list.length === 0) c.problems.push('targets: must not be empty');
  const targets = list.map((item, i) => readTarget(item, `targets[${i}]`, c));
  const names = targets.map((target) => target?.name);
  names.forEach((name, i) => {
    const first = names.indexOf(name);
    if (name !== undefined && first < i)
      c.problems.push(`targets[${i}].name: ${quote(name)} is already used by targets[${first}]`);
  });
  return targets.filter((target) => target !== undefined);
}

/** Parses and checks the config file; problems go to `c.problems`, YAML syntax errors throw ConfigError. */
export function readConfigFile(path: string, text: string, checker: Checker): ConfigFile {
  const c: Checker = { ...checker, baseDir: dirname(resolve(path)) };
  const root: unknown = parseYaml(path, text);
  // An empty file is more likely truncated (a non-atomic write) than meant to say nothing.
  if (root === null) {
    c.problems.push(`${path}: the file is empty (it must list targets, task_type_rules or both)`);
    return { taskTypeRules: [] };
  }
  if (typeof root !== 'object' || Array.isArray(root)) {
    c.problems.push(`${path}: must be a mapping with targets and task_type_rules`);
    return { taskTypeRules: [] };
  }
  const map = readMapping(root, '', topKeys, c.problems) ?? {};
  return compact({
    targets: readTargets(map['targets'], c),
    taskTypeRules: readRules(map['task_type_rules'], c.problems),
  }) as ConfigFile;
}
