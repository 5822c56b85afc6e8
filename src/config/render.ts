/** The effective configuration as YAML, for --config.check: secrets appear as references only. */
import { stringify } from 'yaml';
import { formatDuration } from './durations.js';
import type { ExporterConfig, ObshellTls, SecretRef, TargetConfig } from './types.js';
import { compact } from './file.js';

// Only where a secret lives is printed, never what it is: the reader is not even called.
function secretRef(prefix: string, ref: SecretRef): Record<string, string> {
  if (ref.kind === 'file') return { [`${prefix}_file`]: ref.path };
  if (ref.kind === 'env') return { [`${prefix}_env`]: ref.name };
  return {};
}

function renderTls(tls: ObshellTls): Record<string, unknown> | undefined {
  const out = compact({
    ca_file: tls.caFile,
    cert_file: tls.certFile,
    key_file: tls.keyFile,
    server_name: tls.serverName,
    insecure_skip_verify: tls.insecureSkipVerify,
  });
  return Object.keys(out).length > 0 ? out : undefined;
}

function renderTarget(target: TargetConfig): Record<string, unknown> {
  return compact({
    name: target.name,
    urls: target.socket === undefined ? target.urls : undefined,
    socket: target.socket,
    ...secretRef('password', target.password),
    ...secretRef('agent_password', target.agentPassword),
    tls: renderTls(target.tls),
    timeout: formatDuration(target.timeoutMs),
  });
}

/** YAML in the config file's vocabulary (snake_case), plus the flag-only settings. */
export function renderEffectiveConfig(config: ExporterConfig): string {
  const doc = compact({
    config_file: config.configFile,
    config_auto_reload_interval:
      config.autoReloadIntervalMs !== undefined ? formatDuration(config.autoReloadIntervalMs) : undefined,
    shard: config.shard ? `${config.shard.index}/${config.shard.count}` : undefined,
    targets: config.targets.map(renderTarget),
    task_type_rules: config.taskTypeRules.map((rule) => ({
      match: rule.pattern.source,
      task_type: rule.taskType,
    })),
    poll_schedule: config.pollSchedule,
    limits: {
      task_types: config.limits.maxTaskTypes,
      nodes: config.limits.maxNodes,
      label_length: config.limits.maxLabelLength,
    },
    web: compact({
      listen_address: config.web.listenAddress,
      telemetry_path: config.web.telemetryPath,
      config_file: config.web.configFile,
    }),
    log: { level: config.log.level, format: config.log.format },
    demo: config.demo,
  });
  const header = '# Effective configuration (secrets are shown as references, never values).\n';
  const note = config.shard ? '# Targets are those of this shard only.\n' : '';
  return header + note + stringify(doc, { lineWidth: 0 });
}

/**
 * What the configuration allows but is most likely a mistake, one line each: `--config.check`
 * prints them, the exporter logs them at start-up. Today: a target without any password, whose
 * polls obshell refuses as "incorrect password" unless its agent needs none (a SINGLE agent).
 */
export function configNotes(config: ExporterConfig): string[] {
  if (config.demo) return [];
  return config.targets
    .filter((t) => t.socket === undefined && t.password.kind === 'none' && t.agentPassword.kind === 'none')
    .map(
      (t) =>
        `target ${JSON.stringify(t.name)}: no root@sys password configured (--obshell.password-file, OBSHELL_PASSWORD, or password_file / password_env in the config file); its agents will refuse the polls unless they need none`,
    );
}
