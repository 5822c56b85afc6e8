/** Renders what the exporter would expose after a sequence of poll outcomes, through a private registry. */
import pino from 'pino';
import { createExporterMetrics } from '../../src/metrics/registry.js';
import type { AgentIdentity, TaskOutcome } from '../../src/obshell/outcome.js';
import { dagSchema } from '../../src/obshell/schema.js';
import { recordPoll } from '../../src/record-poll.js';
import { TargetTracker, type Limits } from '../../src/target.js';
import { base } from './dag-builder.js';

export const agent: AgentIdentity = {
  url: 'http://10.0.0.11:2886',
  address: '10.0.0.11:2886',
  version: '4.5.0.0-100000012026050812',
  identity: 'CLUSTER AGENT',
};

export const defaultLimits: Limits = { maxTaskTypes: 50, maxNodes: 500, maxLabelLength: 128 };

export function ok(dag: unknown): TaskOutcome {
  return { kind: 'ok', dag: dagSchema.parse(dag), agent };
}
export const noTask: TaskOutcome = { kind: 'no_task', agent };

export type Step = { outcome: TaskOutcome; at?: number };

/** A registry with one tracker per target; `poll` applies outcomes at base + `at` seconds. */
export function createHarness(options: { limits?: Limits; startedAt?: number } = {}) {
  const metrics = createExporterMetrics({
    buildInfo: { version: '0.0.0-test', revision: 'test', nodejsVersion: 'v0' },
    defaultMetrics: false,
  });
  const trackers = new Map<string, TargetTracker>();
  const logLines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const poll = (target: string, step: Step) => {
    let tracker = trackers.get(target);
    if (!tracker) {
      tracker = new TargetTracker(target, {
        watchedSince: options.startedAt ?? base - 600,
        rules: [],
        limits: options.limits ?? defaultLimits,
      });
      trackers.set(target, tracker);
    }
    const timing = { startedAt: base + (step.at ?? 60), durationSeconds: 0.25 };
    recordPoll(tracker, step.outcome, timing, { metrics, logger });
  };
  return { metrics, poll, logLines, render: () => metrics.registry.metrics(), trackers };
}

/**
 * /metrics after `steps`, scraped after each poll as Prometheus would: an event of a series the
 * poll created shows from the next poll on, once a scrape has seen the series at zero.
 */
export async function renderSteps(steps: readonly Step[], target = 'ob-cluster-1'): Promise<string> {
  const h = createHarness();
  for (const step of steps) {
    h.poll(target, step);
    await h.render();
  }
  return h.render();
}
