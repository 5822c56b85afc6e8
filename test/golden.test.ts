/**
 * Golden exposition files: what /metrics shows after a sequence of polls, compared as text.
 * `npm run test:update` rewrites them; review the diff. Only deterministic series are rendered
 * (no process or Node.js metrics, fixed poll times and durations).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultStartedAt, scenarioAt, type ScenarioName } from '../src/simulator/index.js';
import { base, dagJson } from './helpers/dag-builder.js';
import { noTask, ok, renderSteps, type Step } from './helpers/render.js';

const seed = (
  JSON.parse(readFileSync(new URL('fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8')) as {
    data: unknown;
  }
).data;

const hostileNames = dagJson({
  id: '1777',
  name: 'Create tenant "t\\1"\n租户',
  state: 'FAILED',
  stage: 2,
  end: 25,
  maintenanceType: 3,
  maintenanceKey: 't"1\\\n租户',
  nodes: [
    { name: 'Create "resource" pool', state: 'SUCCEED', start: 0, end: 10 },
    {
      name: 'Back\\slash\nnewline 创建',
      state: 'FAILED',
      start: 10,
      end: 25,
      agents: ['10.0.0.11', '10.0.0.12'],
    },
  ],
});

/**
 * Polls a simulator scenario every 15 s of story time from its start to `until`, as the
 * exporter would, so each golden file also proves the exactly-once histograms and counters.
 */
function scenarioPolls(name: ScenarioName, until: number): Step[] {
  const steps: Step[] = [];
  for (let t = 0; t <= until; t += 15) {
    const dag = scenarioAt(name, t);
    steps.push({ outcome: dag ? ok(dag) : noTask, at: defaultStartedAt + t - base });
  }
  return steps;
}

const cases: Record<string, Step[]> = {
  running: scenarioPolls('running', 150),
  failed: scenarioPolls('failed', 120),
  retry: scenarioPolls('retry', 270),
  rollback: scenarioPolls('rollback', 195),
  cancel: scenarioPolls('cancel', 60),
  pass: scenarioPolls('pass', 165),
  tenant: scenarioPolls('tenant', 75),
  'scenario-none': scenarioPolls('none', 30),
  // Polled twice: the first poll creates the node series at zero, the second shows its events.
  seed: [{ outcome: ok(seed) }, { outcome: ok(seed), at: 75 }],
  none: [{ outcome: noTask }],
  'poll-failed': [
    { outcome: ok(seed) },
    {
      outcome: {
        kind: 'failure',
        reason: 'timeout',
        message: 'request timed out after 10000 ms',
        agent: '10.0.0.11:2886',
      },
      at: 75,
    },
  ],
  'hostile-names': [{ outcome: ok(hostileNames) }, { outcome: ok(hostileNames), at: 75 }],
};

describe('golden exposition', () => {
  for (const [name, steps] of Object.entries(cases)) {
    it(name, async () => {
      await expect(await renderSteps(steps)).toMatchFileSnapshot(`golden/${name}.prom`);
    });
  }
});
