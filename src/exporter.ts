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
import { Poller } from './poller.js';
import { createHttpServer, createRequestListener, listen, type ServerOptions } from './server.js';
import { TargetTracker } from './target.js';
import { revision, version } from './version.js';
import { createSecuredServer } from './web/serve.js';

export type RunningExporter = {
  readonly address: AddressInfo;
  readonly metrics: ExporterMetrics;
  readonly poller: Poller;
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
    registry: metrics.registry,
    listener: createRequestListener(options),
  });
}

export async function startExporter(
  config: ExporterConfig,
  deps: { logger: Logger; credentials: CredentialSource; now?: () => number },
): Promise<RunningExporter> {
  const now = deps.now ?? Date.now;
  const exporterStartedAt = now() / 1000;
  const targets = config.targets.map((target) => ({
    tracker: new TargetTracker(target.name, {
      exporterStartedAt,
      rules: config.taskTypeRules,
      limits: config.limits,
    }),
    source: createSource(target, deps.credentials),
  }));
  // The metrics read the poller's series, and the poller writes the metrics.
  const ref: { poller?: Poller } = {};
  const metrics = createExporterMetrics({
    series: () => ref.poller?.series() ?? [],
    buildInfo: { version, revision, nodejsVersion: process.version },
  });
  const live = new Poller({ targets, schedule: config.pollSchedule, metrics, logger: deps.logger, now });
  ref.poller = live;
  const serverOptions: ServerOptions = {
    telemetryPath: config.web.telemetryPath,
    render: createRenderer(metrics.registry),
    landing: () => ({ version, telemetryPath: config.web.telemetryPath, targets: live.statuses() }),
    ready: () => live.ready,
    logger: deps.logger,
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
