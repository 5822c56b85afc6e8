/**
 * Configuration reload (SIGHUP, POST /-/reload, a changed file with --config.auto-reload-interval): load the new configuration and apply it, or
 * keep the old one running when it is invalid. Visible as two gauges, as other exporters do.
 */
import type { Gauge } from 'prom-client';
import type { ExporterConfig } from './config/index.js';
import type { Logger } from './logger.js';

export type ReloadResult = { ok: true } | { ok: false; error: string };

export type Reloader = { reload(trigger: string): Promise<ReloadResult> };

export function createReloader(deps: {
  /** Reads and checks the configuration again; throws with every problem on invalid input. */
  load: () => ExporterConfig;
  apply: (config: ExporterConfig) => void;
  /** obshell_exporter_config_last_reload_successful and …_success_timestamp_seconds */
  gauges: { successful: Gauge; timestamp: Gauge };
  logger: Logger;
  now?: () => number;
}): Reloader {
  const now = deps.now ?? Date.now;
  const { successful, timestamp } = deps.gauges;
  successful.set(1);
  timestamp.set(now() / 1000);
  let queue: Promise<unknown> = Promise.resolve();
  const reloadOnce = (trigger: string): ReloadResult => {
    try {
      deps.apply(deps.load());
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      successful.set(0);
      deps.logger.error(
        { trigger, error },
        'configuration reload failed; the previous configuration stays in force',
      );
      return { ok: false, error };
    }
    successful.set(1);
    timestamp.set(now() / 1000);
    deps.logger.info({ trigger }, 'configuration reloaded');
    return { ok: true };
  };
  return {
    // One reload at a time: a burst of SIGHUPs applies them in order.
    reload(trigger) {
      const next = queue.then(() => reloadOnce(trigger));
      queue = next;
      return next;
    },
  };
}
