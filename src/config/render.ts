/** The effective configuration as YAML, for --config.check: secrets appear as references only. */
import { stringify } from 'yaml';
import { formatDuration } from './durations.js';
import type { ExporterConfig, ObshellTls, SecretRef, TargetConfig } from './types.js';
import { compact } from './file.js';
import { cronIntervalMs, pollBudgetMs } from '../schedule.js';

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
    // The demo polls only its simulator, whose URL is known once it has started.
    targets: config.demo ? undefined : config.targets.map(renderTarget),
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
  const note = config.demo
    ? '# --demo: polls only the built-in simulator, started on a loopback port; no other target.\n'
    : config.shard
      ? '# Targets are those of this shard only.\n'
      : '';
  return header + note + stringify(doc, { lineWidth: 0 });
}

/** `target "a"`, `targets "a", "b"`, or the first three and how many more: a fleet gets one line. */
function targetsText(targets: readonly TargetConfig[]): string {
  const names = targets.slice(0, 3).map((t) => JSON.stringify(t.name));
  const more = targets.length > 3 ? ` and ${targets.length - 3} more` : '';
  return `${targets.length === 1 ? 'target' : 'targets'} ${names.join(', ')}${more}`;
}

/**
 * What the configuration allows but is most likely a mistake, one line each (a fleet's targets
 * share a line): `--config.check` prints them, the exporter logs them at start-up. A target with
 * no password, or an empty one (an unfilled Kubernetes Secret), whose polls obshell refuses as
 * "incorrect password" unless its agent needs none (a SINGLE agent); a timeout the schedule cuts
 * short. `isEmpty` reads a secret only to tell whether it is empty (false when unreadable).
 */
export function configNotes(
  config: ExporterConfig,
  isEmpty: (ref: SecretRef) => boolean = () => false,
): string[] {
  if (config.demo) return [];
  const notes: string[] = [];
  const overTcp = config.targets.filter((t) => t.socket === undefined);
  const none = overTcp.filter((t) => t.password.kind === 'none' && t.agentPassword.kind === 'none');
  if (none.length > 0) {
    notes.push(
      `${targetsText(none)}: no root@sys password configured (--obshell.password-file, OBSHELL_PASSWORD, or password_file / password_env in the config file); its agents will refuse the polls unless they need none`,
    );
  }
  const blank = (ref: SecretRef) => ref.kind === 'none' || isEmpty(ref);
  const empty = overTcp.filter(
    (t) => t.password.kind !== 'none' && blank(t.password) && blank(t.agentPassword),
  );
  if (empty.length > 0) {
    notes.push(
      `${targetsText(empty)}: the root@sys password is empty (an empty file or variable); its agents will refuse the polls unless they need none`,
    );
  }
  const intervalMs = cronIntervalMs(config.pollSchedule);
  const budgetMs = pollBudgetMs(intervalMs);
  // Only where there is a next agent to fail over to; a lone agent is cut at the budget anyway.
  const slow = overTcp.filter((t) => t.urls.length > 1 && t.timeoutMs >= budgetMs);
  if (slow.length > 0) {
    notes.push(
      `${targetsText(slow)}: the timeout is not below ${formatDuration(budgetMs)}, the most a poll may take at --poll.schedule (every ${formatDuration(intervalMs)}): a hung agent uses up the poll, and the next agent is asked only at the next poll`,
    );
  }
  // An origin keeps its port only when it is not the scheme's default.
  const defaultPort = overTcp.filter((t) => t.urls.some((url) => new URL(url).port === ''));
  if (defaultPort.length > 0) {
    notes.push(
      `${targetsText(defaultPort)}: an agent URL uses the scheme's default port, 80 (http) or 443 (https); obshell listens on 2886 unless a proxy is in front`,
    );
  }
  return notes;
}
