/** Turns one poll's outcome into metrics and log lines: the side effects of a poll, in one place. */
import type { Logger } from './logger.js';
import { taskResults } from './metrics/history.js';
import type { ExporterMetrics } from './metrics/registry.js';
import type { SeriesSet } from './metrics/sample.js';
import type { TaskOutcome } from './obshell/outcome.js';
import type { PollReport, PollTiming, TargetTracker } from './target.js';

export function recordPoll(
  tracker: TargetTracker,
  outcome: TaskOutcome,
  timing: PollTiming,
  deps: { metrics: ExporterMetrics; logger: Logger },
): SeriesSet {
  const target = tracker.name;
  const report = tracker.apply(outcome, timing);
  const { metrics, logger } = deps;
  if (outcome.kind === 'failure') {
    metrics.pollErrors.inc({ target, reason: outcome.reason });
    const { reason, status, errCode, traceId, agent } = outcome;
    logger.warn({ target, agent, reason, status, errCode, traceId }, `poll failed: ${outcome.message}`);
  }
  for (const { label, value } of report.overflows) {
    metrics.labelOverflows.inc({ target, label });
    logger.warn({ target, label, value }, `too many distinct ${label} values; exported as "other"`);
  }
  recordObservations(target, report, metrics);
  logTransition(target, report, logger);
  return report.series;
}

function recordObservations(target: string, report: PollReport, metrics: ExporterMetrics): void {
  const obs = report.observations;
  if (!obs) return;
  const task_type = obs.taskType;
  if (obs.firstSeen.taskType) {
    metrics.taskFailures.inc({ target, task_type }, 0);
    for (const result of taskResults) metrics.taskDuration.zero({ target, task_type, result });
  }
  for (const node of obs.firstSeen.nodes) {
    metrics.nodeDuration.zero({ target, task_type, node });
    metrics.subtaskRetries.inc({ target, task_type, node }, 0);
  }
  for (const { result, seconds } of obs.taskDurations)
    metrics.taskDuration.observe({ target, task_type, result }, seconds);
  if (obs.failures > 0) metrics.taskFailures.inc({ target, task_type }, obs.failures);
  for (const { node, seconds } of obs.nodeDurations)
    metrics.nodeDuration.observe({ target, task_type, node }, seconds);
  for (const { node, count } of obs.retries) metrics.subtaskRetries.inc({ target, task_type, node }, count);
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
