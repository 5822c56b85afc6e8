/** Flags + optional config file → one checked, frozen ExporterConfig, or a ConfigError listing every problem. */
import { ConfigError } from '../errors.js';
import { agentPasswordEnv, defaults, passwordEnv } from './defaults.js';
import { parseDuration } from './durations.js';
import { nodeIo } from './files.js';
import { compact, passwordFileRule, readConfigFile, readableFile } from './file.js';
import type { Checker, ConfigFile, FileTarget } from './file.js';
import { attempt, quote } from './problems.js';
import { flagNames } from './flags.js';
import { selectShard } from './shard.js';
import { certificateFileRule, checkKeyPairFiles, privateKeyFileRule } from './tls-files.js';
import type {
  CliFlags,
  CommandLine,
  ConfigIo,
  ExporterConfig,
  FlagName,
  SecretRef,
  TargetConfig,
} from './types.js';
import { agentAddress, readCheckedFile } from './values.js';
import type { FileRule } from './values.js';

type TargetDefaults = Pick<TargetConfig, 'password' | 'agentPassword' | 'tls' | 'timeoutMs'>;

/** How a flag is named in messages: as the user gave it (flag or env var). */
function sourceOf(cli: CommandLine, name: FlagName): string {
  return cli.sources[name] ?? `--${name}`;
}

function flagFile(
  cli: CommandLine,
  name: keyof CliFlags & `${string}file`,
  c: Checker,
  rule: FileRule = {},
): string | undefined {
  const path = cli.flags[name];
  return typeof path === 'string'
    ? attempt(c.problems, sourceOf(cli, name), () => readableFile(c, rule)(path))
    : undefined;
}

function flagSecret(file: string | undefined, variable: string, cli: CommandLine): SecretRef {
  if (file !== undefined) return { kind: 'file', path: file };
  return cli.hasEnv(variable) ? { kind: 'env', name: variable } : { kind: 'none' };
}

/** What the flags give every target: credentials, TLS, timeout. */
function targetDefaults(cli: CommandLine, c: Checker): TargetDefaults {
  const f = cli.flags;
  const certFile = flagFile(cli, 'obshell.cert-file', c, certificateFileRule);
  const keyFile = flagFile(cli, 'obshell.key-file', c, privateKeyFileRule);
  if (certFile !== undefined && keyFile !== undefined) {
    attempt(c.problems, sourceOf(cli, 'obshell.key-file'), () => {
      checkKeyPairFiles(c.io, { cert: certFile, key: keyFile }, sourceOf(cli, 'obshell.cert-file'));
    });
  }
  if (f['obshell.cert-file'] !== undefined && f['obshell.key-file'] === undefined) {
    c.problems.push(`--obshell.key-file: required when ${sourceOf(cli, 'obshell.cert-file')} is set`);
  }
  if (f['obshell.key-file'] !== undefined && f['obshell.cert-file'] === undefined) {
    c.problems.push(`--obshell.cert-file: required when ${sourceOf(cli, 'obshell.key-file')} is set`);
  }
  return {
    password: flagSecret(flagFile(cli, 'obshell.password-file', c, passwordFileRule), passwordEnv, cli),
    agentPassword: flagSecret(
      flagFile(cli, 'obshell.agent-password-file', c, passwordFileRule),
      agentPasswordEnv,
      cli,
    ),
    tls: compact({
      caFile: flagFile(cli, 'obshell.ca-file', c, certificateFileRule),
      certFile,
      keyFile,
      serverName: f['obshell.server-name'],
      insecureSkipVerify: f['obshell.insecure-skip-verify'],
    }),
    timeoutMs: f['obshell.timeout'] ?? parseDuration(defaults.timeout),
  };
}

/** The single target described by flags alone. */
function flagTarget(cli: CommandLine, base: TargetDefaults, c: Checker): TargetConfig {
  const f = cli.flags;
  const socket = f['obshell.socket'];
  if (socket !== undefined && f['obshell.url'] !== undefined) {
    c.problems.push(
      `${sourceOf(cli, 'obshell.url')}: cannot be combined with ${sourceOf(cli, 'obshell.socket')}`,
    );
  }
  const urls = socket !== undefined ? [] : (f['obshell.url'] ?? [defaults.obshellUrl]);
  urls.forEach((url, i) => {
    if (urls.indexOf(url) < i)
      c.problems.push(`${sourceOf(cli, 'obshell.url')}: ${quote(url)} is given twice`);
  });
  const first = urls[0];
  const name = f['obshell.target-name'] ?? socket ?? (first !== undefined ? agentAddress(first) : '');
  if (socket === undefined) return { name, urls, ...base };
  for (const flag of socketlessFlags) {
    if (f[flag] !== undefined) {
      c.problems.push(
        `${sourceOf(cli, flag)}: cannot be combined with ${sourceOf(cli, 'obshell.socket')}, which takes no password or TLS`,
      );
    }
  }
  return { name, urls, socket, ...base, ...socketless };
}

/** What a socket target never uses, as a socket target in the config file may not set. */
const socketlessFlags = [
  'obshell.password-file',
  'obshell.agent-password-file',
  'obshell.ca-file',
  'obshell.cert-file',
  'obshell.key-file',
  'obshell.server-name',
  'obshell.insecure-skip-verify',
] as const;
const socketless = { password: { kind: 'none' }, agentPassword: { kind: 'none' }, tls: {} } as const;

function mergeTarget(target: FileTarget, base: TargetDefaults): TargetConfig {
  // The flags' passwords and TLS settings are for the targets polled over TCP.
  if (target.socket !== undefined) {
    return {
      name: target.name ?? '',
      urls: [],
      socket: target.socket,
      ...socketless,
      timeoutMs: target.timeoutMs ?? base.timeoutMs,
    };
  }
  return {
    name: target.name ?? '',
    urls: target.urls ?? [],
    password: target.password ?? base.password,
    agentPassword: target.agentPassword ?? base.agentPassword,
    // Per key; the file sets cert_file and key_file together, so a pair is never mixed.
    tls: { ...base.tls, ...target.tls },
    timeoutMs: target.timeoutMs ?? base.timeoutMs,
  };
}

function readFile(cli: CommandLine, io: ConfigIo, c: Checker): ConfigFile | undefined {
  const path = cli.flags['config.file'];
  if (path === undefined) return undefined;
  const text = attempt(c.problems, sourceOf(cli, 'config.file'), () => readCheckedFile(io, path));
  return text !== undefined ? readConfigFile(path, text, c) : undefined;
}

function buildTargets(cli: CommandLine, file: ConfigFile | undefined, c: Checker): TargetConfig[] {
  const base = targetDefaults(cli, c);
  if (file?.targets === undefined) return [flagTarget(cli, base, c)];
  for (const name of ['obshell.url', 'obshell.socket', 'obshell.target-name'] as const) {
    if (cli.flags[name] !== undefined) {
      c.problems.push(
        `${sourceOf(cli, name)}: cannot be used when ${sourceOf(cli, 'config.file')} lists targets`,
      );
    }
  }
  return file.targets.map((target) => mergeTarget(target, base));
}

/**
 * The demo polls only its own simulator: targets given with it, or settings for them, would be
 * dropped without a word, and simulated data shown as if it were the cluster's (docker compose
 * turns the demo on by default).
 */
function checkDemoAlone(cli: CommandLine, c: Checker): void {
  if (cli.flags.demo !== true) return;
  const shapesTargets = (name: FlagName) =>
    name.startsWith('obshell.') || name === 'config.file' || name === 'targets.shard';
  for (const name of flagNames.filter(shapesTargets)) {
    if (cli.flags[name] !== undefined) {
      c.problems.push(
        `${sourceOf(cli, name)}: cannot be combined with ${sourceOf(cli, 'demo')}, which polls only the built-in simulator (set ${sourceOf(cli, 'demo')}=false to poll your cluster)`,
      );
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof RegExp)) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** Loads the effective configuration; throws ConfigError with every problem, each `<key path>: <reason>`. */
export function loadConfig(cli: CommandLine, io: ConfigIo = nodeIo): ExporterConfig {
  const c: Checker = { problems: [], io, hasEnv: cli.hasEnv };
  const f = cli.flags;
  const file = readFile(cli, io, c);
  const targets = buildTargets(cli, file, c);
  const webConfigFile = flagFile(cli, 'web.config.file', c);
  checkDemoAlone(cli, c);
  if (c.problems.length > 0) throw new ConfigError(c.problems);
  const shard = f['targets.shard'];
  return deepFreeze({
    targets: shard ? selectShard(targets, shard) : targets,
    taskTypeRules: file?.taskTypeRules ?? [],
    pollSchedule: f['poll.schedule'] ?? defaults.pollSchedule,
    limits: {
      maxTaskTypes: f['limits.task-types'] ?? defaults.maxTaskTypes,
      maxNodes: f['limits.nodes'] ?? defaults.maxNodes,
      maxLabelLength: f['limits.label-length'] ?? defaults.maxLabelLength,
    },
    web: {
      listenAddress: f['web.listen-address'] ?? defaults.listenAddress,
      telemetryPath: f['web.telemetry-path'] ?? defaults.telemetryPath,
      ...(webConfigFile !== undefined ? { configFile: webConfigFile } : {}),
    },
    log: { level: f['log.level'] ?? defaults.logLevel, format: f['log.format'] ?? defaults.logFormat },
    ...(shard ? { shard } : {}),
    demo: f.demo ?? false,
    ...(f['config.file'] !== undefined ? { configFile: f['config.file'] } : {}),
    ...(f['config.auto-reload-interval'] !== undefined
      ? { autoReloadIntervalMs: f['config.auto-reload-interval'] }
      : {}),
  });
}
