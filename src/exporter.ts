/**
 * Composition of a running exporter: clients → trackers → poller → metrics → HTTP server.
 * main.ts owns the process (argv, env, signals, exit); this file owns the wiring.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExporterConfig, TargetConfig } from './config/index.js';
import { createSecretReader } from './config/index.js';
import { createRenderer } from './exposition.js';
import type { Logger } from './logger.js';
import { createExporterMetrics, type ExporterMetrics } from './metrics/registry.js';
import { createObshellClient } from './obshell/client.js';
import { Poller, type PolledTarget } from './poller.js';
import { createReloader, type ReloadResult } from './reload.js';
import { cronLongestGapMs } from './schedule.js';
import { createHttpServer, createRequestListener, listen, type ServerOptions } from './server.js';
import { TargetTracker } from './target.js';
import { revision, version } from './version.js';
import { createSecuredServer } from './web/serve.js';

export type RunningExporter = {
  readonly address: AddressInfo;
  readonly metrics: ExporterMetrics;
  readonly poller: Poller;
  /** Re-reads and applies the configuration; an invalid one keeps the old one running. */
  reload(trigger: string): Promise<ReloadResult>;
  /** Stops polling (in-flight polls get `graceMs`), then closes the HTTP server. */
  stop(graceMs?: number): Promise<void>;
};

/** How to read a target's credentials: by reference from the config, or given directly (demo). */
export type CredentialSource = (target: TargetConfig) => {
  password: () => string;
  agentPassword?: () => string | undefined;
};

export function credentialsFromConfig(env: Record<string, string | undefined>): CredentialSource {
  return (target) => {
    const password = createSecretReader(target.password, env);
    if (target.agentPassword.kind === 'none') return { password };
    return { password, agentPassword: createSecretReader(target.agentPassword, env) };
  };
}

function createSource(target: TargetConfig, credentials: CredentialSource) {
  return createObshellClient({
    urls: target.urls,
    ...(target.socket !== undefined && { socketPath: target.socket }),
    ...credentials(target),
    timeoutMs: target.timeoutMs,
    tls: target.tls,
  });
}

/** Plain HTTP, or TLS/basic auth/headers from `--web.config.file` (exporter-toolkit format). */
function createServerFor(
  config: ExporterConfig,
  options: ServerOptions,
  metrics: ExporterMetrics,
): { server: Server; tls: boolean } {
  if (config.web.configFile === undefined) return { server: createHttpServer(options), tls: false };
  return createSecuredServer({
    configFile: config.web.configFile,
    logger: options.logger,
    authFailures: metrics.httpAuthFailures,
    listener: createRequestListener(options),
  });
}

export type ExporterDeps = {
  readonly logger: Logger;
  readonly credentials: CredentialSource;
  /** Reads the configuration again for SIGHUP, POST /-/reload and auto-reload; without it reload is off. */
  readonly load?: () => ExporterConfig;
  readonly now?: () => number;
};

/**
 * Keeps one tracker per target name, so a reload never loses a target's exactly-once history. A
 * target a reload adds (or adds back) is watched from then on: what it finished before is shown
 * but not observed, as at start-up, or a target removed and added back would count again what its
 * dropped series had already counted.
 */
function createTargetSet(deps: ExporterDeps, now: () => number) {
  const trackers = new Map<string, TargetTracker>();
  return (config: ExporterConfig): PolledTarget[] => {
    // Clients first: a bad TLS file throws here, before anything has changed (and the clients
    // already built are closed, or their keep-alive agents would outlive the refused reload).
    const sources: { target: TargetConfig; source: ReturnType<typeof createSource> }[] = [];
    try {
      for (const target of config.targets)
        sources.push({ target, source: createSource(target, deps.credentials) });
    } catch (error) {
      for (const { source } of sources) source.close();
      throw error;
    }
    const watchedSince = now() / 1000;
    const names = new Set(config.targets.map((t) => t.name));
    for (const name of trackers.keys()) if (!names.has(name)) trackers.delete(name);
    return sources.map(({ target, source }) => {
      let tracker = trackers.get(target.name);
      if (tracker) tracker.configure(config.taskTypeRules);
      else {
        tracker = new TargetTracker(target.name, {
          watchedSince,
          rules: config.taskTypeRules,
          limits: config.limits,
        });
        trackers.set(target.name, tracker);
      }
      // Credentials are references (a file or variable name), so the key holds no secret.
      return { tracker, source, settings: JSON.stringify(target) };
    });
  };
}

function refuseReload(): never {
  throw new Error('reload is not enabled: the configuration was not read from flags or a file');
}

export async function startExporter(config: ExporterConfig, deps: ExporterDeps): Promise<RunningExporter> {
  const now = deps.now ?? Date.now;
  const targetsFor = createTargetSet(deps, now);
  const metrics = createExporterMetrics({
    buildInfo: { version, revision, nodejsVersion: process.version },
    pollIntervalSeconds: cronLongestGapMs(config.pollSchedule) / 1000,
    ...(config.shard && { shard: config.shard }),
  });
  const live = new Poller({
    targets: targetsFor(config),
    schedule: config.pollSchedule,
    metrics,
    logger: deps.logger,
    now,
  });
  // A reload changes the targets and task_type_rules only: every other setting is a flag or an
  // environment variable, which stay as the process was started with (main.ts).
  const apply = (next: ExporterConfig) => {
    live.reconfigure(targetsFor(next));
  };
  const { load } = deps;
  // Without `load` (configuration given in code) a reload is refused, and says so.
  const reloader = createReloader({
    load: load ?? refuseReload,
    apply,
    gauges: { successful: metrics.configReloadSuccessful, timestamp: metrics.configReloadTimestamp },
    logger: deps.logger,
    now,
  });
  const serverOptions: ServerOptions = {
    telemetryPath: config.web.telemetryPath,
    render: createRenderer(metrics.registry),
    landing: () => ({ version, telemetryPath: config.web.telemetryPath, targets: live.statuses() }),
    ready: () => live.ready,
    logger: deps.logger,
    ...(load && { reload: () => reloader.reload('POST /-/reload') }),
  };
  const { server, tls } = createServerFor(config, serverOptions, metrics);
  const address = await listen(server, config.web.listenAddress);
  deps.logger.info(
    {
      version,
      revision,
      listen: `${address.address}:${address.port}`,
      scheme: tls ? 'https' : 'http',
      targets: config.targets.map((t) => t.name),
      schedule: config.pollSchedule,
    },
    'obshell-exporter started',
  );
  void live.start();
  return {
    address,
    metrics,
    poller: live,
    reload: (trigger) => reloader.reload(trigger),
    async stop(graceMs = 5000) {
      await live.stop(graceMs);
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
