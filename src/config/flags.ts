/** The flag table: every flag's parser, default, env var and help line. Usage and parsing both read it. */
import { defaults } from './defaults.js';
import { parseInterval, parseTimeout } from './durations.js';
import { fail } from './problems.js';
import type { CliFlags, FlagName, LogFormat, LogLevel } from './types.js';
import {
  oneOf,
  parseAgentUrl,
  parseBoolean,
  parseCronSchedule,
  parseListenAddress,
  parseNonEmpty,
  parsePositiveInt,
  parseShard,
  parseTargetName,
  parseTelemetryPath,
} from './values.js';

export type FlagSpec<T> = {
  /** One line of meaning for --help and the README. */
  help: string;
  /** Shown as `--flag=<placeholder>`; absent for booleans. */
  placeholder?: string;
  /** As written by a user; shown in --help. */
  default?: string;
  /** Boolean flags may be given bare (`--demo`) and take `true`/`false` as a value. */
  boolean?: true;
  /** Repeatable flags accumulate; others may be given once. */
  repeatable?: true;
  /** False for flags that only make sense on a terminal (--help, --version). */
  env: boolean;
  parse: (raw: string) => T;
};

export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const logFormats: readonly LogFormat[] = ['json', 'pretty'];

// A comma list of agent URLs; empty items (a trailing comma) are ignored.
function parseUrlList(raw: string): string[] {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) fail('must not be empty');
  return items.map(parseAgentUrl);
}

const path = (help: string): FlagSpec<string> => ({
  help,
  placeholder: 'path',
  env: true,
  parse: parseNonEmpty,
});
const bool = (help: string, env = true): FlagSpec<boolean> => ({
  help,
  boolean: true,
  env,
  parse: parseBoolean,
});
const count = (help: string, value: number): FlagSpec<number> => ({
  help,
  placeholder: 'n',
  default: String(value),
  env: true,
  parse: parsePositiveInt,
});

export const flagSpecs: { readonly [K in FlagName]-?: FlagSpec<NonNullable<CliFlags[K]>> } = {
  'obshell.url': {
    help: 'Agent URL of the cluster; repeat the flag or use commas for several agents',
    placeholder: 'url',
    default: defaults.obshellUrl,
    repeatable: true,
    env: true,
    parse: parseUrlList,
  },
  'obshell.password-file': path('File holding the root@sys password (else env OBSHELL_PASSWORD)'),
  'obshell.agent-password-file': path(
    'File holding the obshell agent password (else env OBSHELL_AGENT_PASSWORD)',
  ),
  'obshell.socket': path('obshell unix socket (<obshell home>/run/obshell.sock), instead of URLs; no auth'),
  'obshell.ca-file': path('CA bundle (PEM) to verify https agents'),
  'obshell.cert-file': path('Client certificate (PEM) for https agents; needs --obshell.key-file'),
  'obshell.key-file': path('Client private key (PEM) for https agents; needs --obshell.cert-file'),
  'obshell.server-name': {
    help: 'TLS server name to verify instead of the URL host',
    placeholder: 'name',
    env: true,
    parse: parseNonEmpty,
  },
  'obshell.insecure-skip-verify': bool("Do not verify the agents' TLS certificates (testing only)"),
  'obshell.timeout': {
    help: 'Timeout of each HTTP request to an agent',
    placeholder: 'duration',
    default: defaults.timeout,
    env: true,
    parse: parseTimeout,
  },
  'obshell.target-name': {
    help: "The `target` label; default: the first agent's host:port, or the socket path",
    placeholder: 'name',
    env: true,
    parse: parseTargetName,
  },
  'poll.schedule': {
    help: 'When to poll: a cron expression of six fields, seconds first (five fields start with minutes)',
    placeholder: 'cron',
    default: defaults.pollSchedule,
    env: true,
    parse: parseCronSchedule,
  },
  'web.listen-address': {
    help: 'Address to serve /metrics on',
    placeholder: 'host:port',
    default: defaults.listenAddress,
    env: true,
    parse: parseListenAddress,
  },
  'web.telemetry-path': {
    help: 'Path of the metrics endpoint',
    placeholder: 'path',
    default: defaults.telemetryPath,
    env: true,
    parse: parseTelemetryPath,
  },
  'web.config.file': path('Web config file (exporter-toolkit format): TLS and basic auth for /metrics'),
  'log.level': {
    help: 'Least severe log level to write: debug, info, warn, error',
    placeholder: 'level',
    default: defaults.logLevel,
    env: true,
    parse: oneOf(logLevels),
  },
  'log.format': {
    help: 'Log format: json, or pretty for people',
    placeholder: 'format',
    default: defaults.logFormat,
    env: true,
    parse: oneOf(logFormats),
  },
  'config.file': path('YAML file with targets and task_type rules (deploy/obshell-exporter.example.yml)'),
  'config.auto-reload-interval': {
    help: 'Reload when a file of the configuration changed, checked this often (e.g. 30s); off if not set',
    placeholder: 'duration',
    env: true,
    parse: parseInterval,
  },
  'config.check': bool(
    'Validate the configuration, print it with secrets redacted; exit 0, 1 (invalid), 2 (bad flags)',
  ),
  'targets.shard': {
    help: 'Poll only shard i of n (0 <= i < n) of the targets, split by a hash of their names',
    placeholder: 'i/n',
    env: true,
    parse: parseShard,
  },
  'limits.task-types': count(
    'Most distinct task_type values per target; more become "other"',
    defaults.maxTaskTypes,
  ),
  'limits.nodes': count('Most distinct node values per target; more become "other"', defaults.maxNodes),
  'limits.label-length': count('Longest label value; longer values are truncated', defaults.maxLabelLength),
  demo: bool('Start the built-in obshell simulator on loopback and poll only it (no other targets)'),
  help: bool('Show this help and exit (also -h)', false),
  version: bool('Show the version and exit', false),
};

export const flagNames = Object.keys(flagSpecs) as FlagName[];

/** `OBSHELL_EXPORTER_<NAME>`: the flag upper-cased, with `.` and `-` as `_`. */
export function envName(flag: FlagName): string {
  return `OBSHELL_EXPORTER_${flag.toUpperCase().replace(/[.-]/g, '_')}`;
}
