#!/usr/bin/env node
/**
 * The command line: `obshell-exporter [flags]` runs the exporter, `obshell-exporter simulate`
 * the built-in obshell simulator. The only module that reads argv and env (but for the image's
 * health check, src/healthcheck.ts), handles signals and exits the process.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExporterConfig, SecretRef, TargetConfig } from './config/index.js';
import {
  configNotes,
  createSecretReader,
  createWatchedLoad,
  formatDuration,
  loadConfig,
  nodeIo,
  parseCommandLine,
  renderEffectiveConfig,
  usage,
  watchForChanges,
} from './config/index.js';
import { ConfigError, ListenError, UsageError } from './errors.js';
import {
  credentialsFromConfig,
  startExporter,
  type CredentialSource,
  type RunningExporter,
} from './exporter.js';
import { createLogger, type Logger } from './logger.js';
import { parseSimulateArgs, simulateUsage } from './simulator/cli.js';
import { startSimulator, type Simulator } from './simulator/index.js';
import { pinTickObjectShape } from './tick-shape.js';
import { revision, version } from './version.js';
import { loadWebState } from './web/reload.js';
import { WebConfigError } from './web/web-config.js';

type Env = Record<string, string | undefined>;

const none = { kind: 'none' } as const;

/** The demo's simulator runs its story this many times faster than real time. */
export const demoSpeed = 5;

const write = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const fail = (text: string) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);

/** Resolves with the exit code once the process should end (signals, or a fatal error). */
export async function main(argv: string[], env: Env): Promise<number> {
  try {
    if (argv[0] === 'simulate') return await runSimulate(argv.slice(1), env);
    const cli = parseCommandLine(argv, env);
    if (cli.command === 'help') return (write(usage), 0);
    if (cli.command === 'version')
      return (write(`obshell-exporter ${version} (revision ${revision}, node ${process.version})`), 0);
    // Every load remembers the files it read, for --config.auto-reload-interval.
    const watched = createWatchedLoad((io) => loadConfig(cli, io), nodeIo);
    const config = watched.load();
    // The web config (TLS, basic auth) is checked here too, certificate files included.
    if (config.web.configFile !== undefined) loadWebState(config.web.configFile);
    if (cli.command === 'check') {
      write(renderEffectiveConfig(config));
      for (const note of configNotes(config, secretIsEmpty(env))) fail(`note: ${note}`);
      return 0;
    }
    // A process's flags and environment never change, so a reload re-reads only the files they
    // name: --config.file (targets, task_type_rules) and the TLS files of the new clients.
    // Named as given: the flag, or its variable.
    const listenSource = cli.sources['web.listen-address'] ?? '--web.listen-address';
    return await runExporter(config, env, watched, listenSource);
  } catch (err) {
    if (err instanceof UsageError) {
      const help = argv[0] === 'simulate' ? 'obshell-exporter simulate --help' : 'obshell-exporter --help';
      return (fail(`obshell-exporter: ${err.message}\nRun "${help}" for usage.`), 2);
    }
    if (err instanceof ConfigError || err instanceof WebConfigError) return (fail(err.message), 1);
    throw err;
  }
}

type WatchedLoad = { load: () => ExporterConfig; changed: () => string | undefined };

async function runExporter(
  config: ExporterConfig,
  env: Env,
  watched: WatchedLoad,
  listenSource: string,
): Promise<number> {
  const logger = createLogger(config.log);
  logUnexpected(logger);
  for (const note of configNotes(config, secretIsEmpty(env))) logger.warn(note);
  // A long-running server: keep process.nextTick's fast path (see tick-shape.ts).
  await pinTickObjectShape();
  let credentials: CredentialSource = credentialsFromConfig(env);
  let demo: Simulator | undefined;
  let withDemo = (c: ExporterConfig) => c;
  if (config.demo) {
    const password = randomBytes(12).toString('hex');
    const simulator = await startSimulator({ port: 0, scenario: 'lifecycle', speed: demoSpeed, password });
    logger.info(
      { simulator: simulator.url, scenario: 'lifecycle', speed: demoSpeed },
      'demo mode: polling the built-in obshell simulator',
    );
    demo = simulator;
    withDemo = (c) => ({ ...c, targets: [demoTarget(simulator.url)] });
    credentials = () => ({ password: () => password });
  }
  let exporter: RunningExporter;
  try {
    exporter = await startExporter(withDemo(config), {
      logger,
      credentials,
      load: () => withDemo(watched.load()),
    });
  } catch (err) {
    await demo?.close();
    if (!(err instanceof ListenError)) throw err;
    // One log line naming the flag, no stack: a taken port is a setting, not a bug.
    logger.error({ address: err.address, code: err.code }, `${listenSource}: ${err.message}`);
    return 1;
  }
  const stopWatching = watchFiles(config, watched, (trigger) => exporter.reload(trigger), logger);
  return untilSignal(logger, {
    stop: async () => {
      stopWatching();
      await exporter.stop(5000);
      await demo?.close();
    },
    reload: () => exporter.reload('SIGHUP'),
  });
}

/** `--config.auto-reload-interval`: reload when a file the configuration was read from changed. */
function watchFiles(
  config: ExporterConfig,
  watched: WatchedLoad,
  reload: (trigger: string) => Promise<unknown>,
  logger: Logger,
): () => void {
  const intervalMs = config.autoReloadIntervalMs;
  if (intervalMs === undefined) return () => undefined;
  logger.info({ interval: formatDuration(intervalMs) }, 'reloading the configuration when its files change');
  return watchForChanges({ intervalMs, changed: watched.changed, reload });
}

/** Whether a password reads as empty; an unreadable one is not (the poll will say why). */
function secretIsEmpty(env: Env): (ref: SecretRef) => boolean {
  return (ref) => {
    try {
      return createSecretReader(ref, env)() === '';
    } catch {
      return false;
    }
  };
}

function demoTarget(url: string): TargetConfig {
  return { name: 'demo', urls: [url], password: none, agentPassword: none, tls: {}, timeoutMs: 10_000 };
}

async function runSimulate(argv: string[], env: Env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return (write(simulateUsage), 0);
  const options = parseSimulateArgs(argv, env);
  const logger = createLogger({ level: 'info', format: 'json' });
  logUnexpected(logger);
  let simulator: Simulator;
  try {
    simulator = await startSimulator(options);
  } catch (err) {
    // The address in use, or a socket of a running simulator: one line, no stack.
    return (fail(`obshell-exporter simulate: ${(err as Error).message}`), 1);
  }
  logger.info(
    { url: simulator.url, scenario: options.scenario ?? 'lifecycle', speed: options.speed ?? 1 },
    'obshell simulator listening',
  );
  return untilSignal(logger, { stop: () => simulator.close() });
}

/** SIGTERM/SIGINT: graceful stop, exit 0; a second signal exits at once. SIGHUP: reload. */
function untilSignal(
  logger: Logger,
  actions: { stop: () => Promise<void>; reload?: () => Promise<unknown> },
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      actions.stop().then(
        () => {
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      if (actions.reload) void actions.reload();
      else logger.warn('SIGHUP received: nothing to reload');
    });
  });
}

function logUnexpected(logger: Logger): void {
  process.on('unhandledRejection', (err) => {
    logger.error({ err }, 'unhandled promise rejection');
  });
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url);
}

if (isEntryPoint()) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      fail(`obshell-exporter: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
