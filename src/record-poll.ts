/** Turns one poll's outcome into metrics and log lines: the side effects of a poll, in one place. */
import type { Logger } from './logger.js';
import { taskResults } from './metrics/history.js';
import type { ExporterMetrics } from './metrics/registry.js';
import type { TargetMetrics } from './metrics/target-metrics.js';
import type { PassedOver, TaskOutcome } from './obshell/outcome.js';
import type { PollReport, PollTiming, TargetTracker } from './target.js';

export function recordPoll(
  tracker: TargetTracker,
  outcome: TaskOutcome,
  timing: PollTiming,
  deps: { metrics: ExporterMetrics; logger: Logger },
): void {
  const target = tracker.name;
  const report = tracker.apply(outcome, timing);
  const { logger } = deps;
  const metrics = deps.metrics.target(target);
  metrics.releaseSeen();
  metrics.setSnapshot(report.series, report.sameTask);
  if (outcome.kind === 'failure') {
    metrics.inc('pollErrors', { reason: outcome.reason });
    const { reason, status, errCode, traceId, agent, passedOver } = outcome;
    logger.warn(
      { target, agent, reason, status, errCode, traceId, passedOver },
      `poll failed: ${outcome.message}${passedOver ? `; before it: ${passedOverText(passedOver)}` : ''}`,
    );
  } else if (outcome.passedOver) {
    // Sticky failover asks the agent that answered first from now on: this line is the one sign
    // that the agents before it stopped answering.
    const agent = outcome.agent.address;
    logger.warn(
      { target, agent, passedOver: outcome.passedOver },
      `failed over to agent ${agent}; passed over: ${passedOverText(outcome.passedOver)}`,
    );
  }
  if (logger.isLevelEnabled('debug')) {
    const agent = outcome.kind === 'failure' ? outcome.agent : outcome.agent.address;
    logger.debug({ target, agent, outcome: outcome.kind, seconds: timing.durationSeconds }, 'polled');
  }
  for (const [label, values] of overflowsByLabel(report.overflows)) {
    metrics.inc('labelOverflows', { label }, values.length);
    // One line per label and poll: a DAG of thousands of nodes must not write thousands of lines.
    const examples = values.slice(0, overflowExamples);
    logger.warn(
      { target, label, count: values.length, values: examples },
      `too many distinct ${label} values; ${values.length} new ones exported as "other"`,
    );
  }
  recordObservations(report, metrics);
  logTransition(target, report, logger);
}

function passedOverText(passedOver: readonly PassedOver[]): string {
  return passedOver.map((p) => `${p.agent} (${p.reason}: ${p.message})`).join(', ');
}

/** How many of a poll's new overflowing values its log line names. */
const overflowExamples = 5;

function overflowsByLabel(overflows: PollReport['overflows']): Map<string, string[]> {
  const byLabel = new Map<string, string[]>();
  for (const { label, value } of overflows) {
    const values = byLabel.get(label);
    if (values) values.push(value);
    else byLabel.set(label, [value]);
  }
  return byLabel;
}

function recordObservations(report: PollReport, metrics: TargetMetrics): void {
  const obs = report.observations;
  if (!obs) return;
  const task_type = obs.taskType;
  if (obs.firstSeen.taskType) {
    metrics.inc('taskFailures', { task_type }, 0);
    for (const result of taskResults) metrics.zero('taskDuration', { task_type, result });
  }
  for (const node of obs.firstSeen.nodes) {
    metrics.zero('nodeDuration', { task_type, node });
    metrics.inc('subtaskRetries', { task_type, node }, 0);
  }
  for (const { result, seconds } of obs.taskDurations)
    metrics.observe('taskDuration', { task_type, result }, seconds);
  if (obs.failures > 0) metrics.inc('taskFailures', { task_type }, obs.failures);
  for (const { node, seconds } of obs.nodeDurations)
    metrics.observe('nodeDuration', { task_type, node }, seconds);
  for (const { node, count } of obs.retries) metrics.inc('subtaskRetries', { task_type, node }, count);
}

function logTransition(target: string, report: PollReport, logger: Logger): void {
  const change = report.transition;
  if (!change) return;
  const { from, to } = change;
  if (!to) {
    logger.info({ target }, 'no maintenance task (404 Task.NotFound)');
    return;
  }
  const was = from && from.id === to.id ? `${from.state}/${from.operator}` : 'new task';
  logger.info(
    {
      target,
      task_id: to.id,
      task_name: to.name,
      task_type: to.taskType,
      state: to.state,
      operator: to.operator,
      stage: to.stage,
      max_stage: to.maxStage,
    },
    `maintenance task "${to.name}" (${to.id}): ${was} -> ${to.state}/${to.operator} at stage ${to.stage}/${to.maxStage}`,
  );
}
