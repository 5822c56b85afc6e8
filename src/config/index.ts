/** Configuration: command line, environment and YAML file → a checked ExporterConfig. The public surface. */
export type {
  CliFlags,
  CommandLine,
  ConfigIo,
  ExporterConfig,
  FlagName,
  LogFormat,
  LogLevel,
  ObshellTls,
  SecretRef,
  Shard,
  TargetConfig,
  TaskTypeRule,
} from './types.js';
export { parseCommandLine } from './command-line.js';
export { loadConfig } from './load.js';
export { nodeIo } from './files.js';
export { createWatchedLoad, watchForChanges } from './watch.js';
export { configNotes, renderEffectiveConfig } from './render.js';
export { usage } from './usage.js';
export { formatDuration, parseDuration } from './durations.js';
export { SecretReadError } from '../errors.js';
export { createSecretReader } from './secrets.js';
export type { SecretFs } from './secrets.js';
export { selectShard, shardOf } from './shard.js';
export { envName, flagSpecs } from './flags.js';
export { defaults } from './defaults.js';
