/** Public configuration types: what the rest of the exporter codes against. */

import type { ObshellTls } from '../obshell/client.js';

/** TLS settings of a target's agents: the client's own option type. */
export type { ObshellTls };

/** A credential by reference: the value is read when needed, never stored in the config. */
export type SecretRef = { kind: 'none' } | { kind: 'file'; path: string } | { kind: 'env'; name: string };

export type TargetConfig = {
  /** Label `target`; single-target default = first agent URL's host:port (or the socket path). */
  name: string;
  /** The cluster's agents as origins (`http://host:port`); empty when `socket` is set. */
  urls: string[];
  socket?: string;
  /** root@sys password. */
  password: SecretRef;
  agentPassword: SecretRef;
  tls: ObshellTls;
  timeoutMs: number;
};

/** Compiled at load; user rules are tried before the built-in ones. */
export type TaskTypeRule = { pattern: RegExp; taskType: string };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
/** `--targets.shard=i/n`: this replica keeps the targets whose name hashes to `index` mod `count`. */
export type Shard = { index: number; count: number };

export type ExporterConfig = {
  /** After sharding. */
  targets: TargetConfig[];
  /** User rules only (the built-ins live with the mapper). */
  taskTypeRules: TaskTypeRule[];
  /** node-cron expression with seconds. */
  pollSchedule: string;
  limits: { maxTaskTypes: number; maxNodes: number; maxLabelLength: number };
  /** `configFile` is `--web.config.file` (exporter-toolkit format), parsed by the server. */
  web: { listenAddress: string; telemetryPath: string; configFile?: string };
  log: { level: LogLevel; format: LogFormat };
  shard?: Shard;
  demo: boolean;
  configFile?: string;
  /** `--config.auto-reload-interval`: how often the configuration's files are checked for changes. */
  autoReloadIntervalMs?: number;
};

/** Values given on the command line or in `OBSHELL_EXPORTER_*`; absent means "use the default". */
export type CliFlags = {
  'obshell.url'?: string[];
  'obshell.password-file'?: string;
  'obshell.agent-password-file'?: string;
  'obshell.socket'?: string;
  'obshell.ca-file'?: string;
  'obshell.cert-file'?: string;
  'obshell.key-file'?: string;
  'obshell.server-name'?: string;
  'obshell.insecure-skip-verify'?: boolean;
  'obshell.timeout'?: number;
  'obshell.target-name'?: string;
  'poll.schedule'?: string;
  'web.listen-address'?: string;
  'web.telemetry-path'?: string;
  'web.config.file'?: string;
  'log.level'?: LogLevel;
  'log.format'?: LogFormat;
  'config.file'?: string;
  'config.auto-reload-interval'?: number;
  'config.check'?: boolean;
  'targets.shard'?: Shard;
  'limits.task-types'?: number;
  'limits.nodes'?: number;
  'limits.label-length'?: number;
  demo?: boolean;
  help?: boolean;
  version?: boolean;
};

export type FlagName = keyof CliFlags;

export type CommandLine = {
  command: 'run' | 'help' | 'version' | 'check';
  flags: CliFlags;
  /** Where each given flag came from (`--obshell.url` or `OBSHELL_EXPORTER_OBSHELL_URL`), for messages. */
  sources: Partial<Record<FlagName, string>>;
  /**
   * Whether an env var is set (for `password_env` and `OBSHELL_PASSWORD`). A function, not the env itself, so
   * that logging a CommandLine can never print a password held in the environment.
   */
  hasEnv: (name: string) => boolean;
};

/** What is at a path; `other` is a device, FIFO or socket. */
export type FileKind = 'file' | 'directory' | 'other';

/** What loadConfig reads from disk; tests pass a fake. */
export type ConfigIo = {
  /** Follows symlinks (Kubernetes mounts secrets as symlinks); throws an fs error. */
  stat(path: string): { kind: FileKind; size: number };
  readFile(path: string): string;
};
