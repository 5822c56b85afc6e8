import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createExporterMetrics } from '../src/metrics/registry.js';
import type { TaskOutcome } from '../src/obshell/outcome.js';
import { Poller, type TaskSource } from '../src/poller.js';
import { cronIntervalMs, cronLongestGapMs, spreadDelayMs } from '../src/schedule.js';
import { TargetTracker } from '../src/target.js';
import { dagJson } from './helpers/dag-builder.js';
import { defaultLimits, noTask, ok } from './helpers/render.js';

const running = ok(dagJson({ state: 'RUNNING', nodes: [{ name: 'Prepare', state: 'RUNNING', start: 0 }] }));

/** A task source answering from a script; `hold` keeps a poll open until released or aborted. */
function scriptedSource(answers: (() => TaskOutcome | Promise<TaskOutcome>)[]) {
  let calls = 0;
  const source: TaskSource & { calls: () => number } = {
    calls: () => calls,
    fetchLastMaintenanceTask: async () => {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls += 1;
      return answer();
    },
    close: () => undefined,
  };
  return source;
}

/**
 * A source whose polls stay open until the test settles them. It ignores the abort signal (only
 * records it), so a test sees what the poller does with an answer that comes anyway.
 */
function heldSource() {
  const polls: { signal: AbortSignal | undefined; settle: (outcome: TaskOutcome) => void }[] = [];
  const source: TaskSource = {
    fetchLastMaintenanceTask: (options) =>
      new Promise((resolve) => polls.push({ signal: options?.signal, settle: resolve })),
    close: () => undefined,
  };
  return { source, polls };
}

const refused: TaskOutcome = {
  kind: 'failure',
  reason: 'connect',
  message: 'connection refused',
  agent: '127.0.0.1:1',
};

const pollers: Poller[] = [];
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop(100)));
});

function createPoller(sources: Record<string, TaskSource>, schedule = '*/1 * * * * *', concurrency?: number) {
  const metrics = createExporterMetrics({
    buildInfo: { version: 't', revision: 't', nodejsVersion: 't' },
    defaultMetrics: false,
  });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
  const targets = Object.entries(sources).map(([name, source]) => ({
    tracker: new TargetTracker(name, { watchedSince: 0, rules: [], limits: defaultLimits }),
    source,
  }));
  const poller = new Poller({ targets, schedule, metrics, logger, ...(concurrency && { concurrency }) });
  pollers.push(poller);
  return { poller, metrics, lines, trackers: targets.map((t) => t.tracker) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tracker = (name: string) =>
  new TargetTracker(name, { watchedSince: 0, rules: [], limits: defaultLimits });

/** Every log line about `target`, as `level msg`. */
const linesAbout = (lines: string[], target: string) =>
  lines
    .map((l) => JSON.parse(l) as { level: number; target?: string; msg: string })
    .filter((l) => l.target === target)
    .map((l) => `${l.level} ${l.msg}`);

describe('Poller', () => {
  it('polls every target at start and is ready after the first round', async () => {
    const a = scriptedSource([() => running]);
    const b = scriptedSource([() => noTask]);
    const { poller, metrics } = createPoller({ a, b }, '0 0 * * * *');
    expect(poller.ready).toBe(false);
    await poller.start();
    expect(poller.ready).toBe(true);
    expect([a.calls(), b.calls()]).toEqual([1, 1]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('obshell_maintenance_task_present{target="a"} 1');
    expect(text).toContain('obshell_maintenance_task_present{target="b"} 0');
    expect(text).toContain('obshell_exporter_poll_errors_total{target="a",reason="timeout"} 0');
  });

  it('derives the interval from the cron schedule', () => {
    expect(createPoller({}, '*/15 * * * * *').poller.intervalMs).toBe(15_000);
    expect(createPoller({}, '0 */5 * * * *').poller.intervalMs).toBe(300_000);
  });

  it('finds the longest gap of a schedule that pauses, whatever the hour it starts', () => {
    const hour = 3600_000;
    const day = 24 * hour;
    // Starting on Wednesday 2026-12-02 at 06:00, 15:00 and 17:59 local time, and on a Saturday.
    const starts = [6, 15, 17.99].map((h) => new Date(2026, 11, 2, 0, h * 60).getTime());
    starts.push(new Date(2026, 11, 5, 12).getTime());
    for (const from of starts) {
      expect(cronLongestGapMs('*/15 * * * * *', from)).toBe(15_000);
      expect(cronLongestGapMs('0 */15 * * * *', from)).toBe(900_000);
      // Every 15 s in working hours: the night, from 17:59:45 to 09:00:00.
      expect(cronLongestGapMs('*/15 * 9-17 * * *', from)).toBe(15 * hour + 15_000);
      expect(cronLongestGapMs('0 0 9-17 * * *', from)).toBe(16 * hour);
      // Weekdays only: Friday 17:59:45 to Monday 09:00.
      expect(cronLongestGapMs('*/15 * 9-17 * * 1-5', from)).toBe(2 * day + 15 * hour + 15_000);
      // Weekly, on Sundays (7 is Sunday too).
      expect(cronLongestGapMs('0 0 0 * * 7', from)).toBe(7 * day);
      // Five fields: minutes first.
      expect(cronLongestGapMs('*/15 * * * *', from)).toBe(900_000);
    }
    // The poll budget keeps the shortest gap.
    expect(cronIntervalMs('0 0 9-17 * * *')).toBe(hour);
    for (const from of [starts[0], new Date(2026, 5, 15).getTime(), new Date(2027, 1, 15).getTime()]) {
      // Seasons and leap years, from any day of the year.
      expect(cronLongestGapMs('0 0 0 * 12 *', from)).toBe(336 * day);
      expect(cronLongestGapMs('0 0 0 1 1 *', from)).toBe(366 * day);
      expect(cronLongestGapMs('0 0 0 1 3,9 *', from)).toBe(184 * day);
      expect(cronLongestGapMs('0 0 0 29 2 *', from)).toBe(1461 * day);
      // Never twice in the walk (29 February on a Monday): longer than the walk itself.
      expect(cronLongestGapMs('0 0 0 29 2 1', from)).toBeGreaterThan(1461 * day);
    }
    // Day fields node-cron reads as words are resolved by node-cron: the last day of the month,
    // the second Monday, even when the schedule runs every 15 s on that day.
    expect(cronLongestGapMs('*/15 * * L * *')).toBeGreaterThanOrEqual(28 * day);
    expect(cronLongestGapMs('*/15 * 9-17 * * 1#2')).toBeGreaterThanOrEqual(28 * day);
  });

  it('logs a failover once, naming the agents passed over, and a failed poll as one line with them', async () => {
    const passedOver = [
      { agent: '10.0.0.10:2886', reason: 'connect' as const, message: 'connection refused' },
    ];
    const failedOver: TaskOutcome = { ...running, passedOver };
    const allDown: TaskOutcome = { ...refused, agent: '10.0.0.12:2886', passedOver };
    const { poller, lines } = createPoller({
      ob1: scriptedSource([() => failedOver, () => running, () => allDown]),
    });
    await poller.pollAll();
    await poller.pollAll();
    await poller.pollAll();
    expect(linesAbout(lines, 'ob1').filter((l) => !l.includes('maintenance task'))).toEqual([
      '40 failed over to agent 10.0.0.11:2886; passed over: 10.0.0.10:2886 (connect: connection refused)',
      '40 poll failed: connection refused; before it: 10.0.0.10:2886 (connect: connection refused)',
    ]);
  });

  it('skips and counts a tick that finds the previous poll still running, and cuts a poll before its next turn', async () => {
    let aborted = 0;
    // Hears the cut but answers only 1.5 s later, so the next tick still finds it running.
    const deaf: TaskSource = {
      fetchLastMaintenanceTask: (options) =>
        new Promise((resolve) => {
          options?.signal?.addEventListener('abort', () => {
            aborted += 1;
          });
          setTimeout(() => {
            resolve({ kind: 'failure', reason: 'timeout', message: 'poll interval exceeded' });
          }, 1500);
        }),
      close: () => undefined,
    };
    const { poller, metrics, lines } = createPoller({ slow: deaf });
    await poller.start();
    await sleep(1600);
    const text = await metrics.registry.metrics();
    expect(aborted).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/obshell_exporter_polls_skipped_total\{target="slow"\} [1-9]/);
    expect(text).toMatch(/obshell_exporter_poll_errors_total\{target="slow",reason="timeout"\} [1-9]/);
    expect(lines.some((l) => l.includes('poll skipped'))).toBe(true);
  });

  it('polls a hung target at every tick: its poll is cut before its next turn, not skipped', async () => {
    const starts: number[] = [];
    const aborts: number[] = [];
    const reasons = new Set<string>();
    const hanging: TaskSource = {
      fetchLastMaintenanceTask: (options) =>
        new Promise((resolve) => {
          starts.push(performance.now());
          options?.signal?.addEventListener('abort', () => {
            aborts.push(performance.now());
            reasons.add((options.signal?.reason as Error).message);
            resolve({ kind: 'failure', reason: 'timeout', message: 'poll interval exceeded' });
          });
        }),
      close: () => undefined,
    };
    const { poller, metrics } = createPoller({ hung: hanging });
    await poller.start(); // the start-up round, off the tick grid, may still cost one skip
    await sleep(4200);
    const text = await metrics.registry.metrics();
    const skipped = Number(/obshell_exporter_polls_skipped_total\{target="hung"\} (\d+)/.exec(text)?.[1]);
    expect(skipped).toBeLessThanOrEqual(1);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    // Each scheduled poll was cut ~100 ms before the next began. Cut at the full interval, the cut
    // and the next tick came within a few ms of each other, and every other tick or so was skipped.
    const gaps = starts.slice(2).map((next, i) => next - aborts[i + 1]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(30);
    // The cut says what it was and which setting decides it (the client puts it in the log line).
    expect([...reasons]).toEqual([
      'poll cut after 900ms, the most a poll may take at this schedule (every 1s)',
    ]);
  });

  it('gives a poll that waited for the concurrency limit its whole budget: a queued healthy target is not cut', async () => {
    const hanging: TaskSource = {
      fetchLastMaintenanceTask: (options) =>
        new Promise((resolve) => {
          options?.signal?.addEventListener('abort', () => {
            resolve({ kind: 'failure', reason: 'timeout', message: 'poll interval exceeded' });
          });
        }),
      close: () => undefined,
    };
    // One poll at a time: `healthy` waits ~0.9 s behind the hung one, past its own turn's budget.
    let healthyCalls = 0;
    const healthy: TaskSource = {
      // Answers in 50 ms unless cut first, as the real client does.
      fetchLastMaintenanceTask: (options) =>
        new Promise((resolve) => {
          healthyCalls += 1;
          const answered = setTimeout(() => {
            resolve(running);
          }, 50);
          options?.signal?.addEventListener('abort', () => {
            clearTimeout(answered);
            resolve({ kind: 'failure', reason: 'timeout', message: 'poll interval exceeded' });
          });
        }),
      close: () => undefined,
    };
    const { poller, metrics } = createPoller({ hung: hanging, healthy }, '*/1 * * * * *', 1);
    await poller.pollAll();
    const text = await metrics.registry.metrics();
    expect(text).toContain('obshell_up{target="healthy"} 1');
    expect(text).toContain('obshell_exporter_poll_errors_total{target="healthy",reason="timeout"} 0');
    expect(healthyCalls).toBe(1);
  });

  it("withdraws a failed target's task series and leaves other targets untouched", async () => {
    const flaky = scriptedSource([
      () => running,
      () => ({ kind: 'failure', reason: 'connect', message: 'connection refused', agent: '127.0.0.1:1' }),
    ]);
    const steady = scriptedSource([() => running]);
    const { poller, metrics, lines } = createPoller({ flaky, steady }, '0 0 * * * *');
    await poller.pollAll();
    await poller.pollAll();
    const text = await metrics.registry.metrics();
    expect(text).toContain('obshell_up{target="flaky"} 0');
    expect(text).toContain('obshell_up{target="steady"} 1');
    expect(text).not.toMatch(/obshell_maintenance_task_state\{target="flaky"/);
    expect(text).toMatch(/obshell_maintenance_task_state\{target="steady"/);
    expect(text).not.toMatch(/obshell_agent_info\{target="flaky"/);
    expect(text).toContain('obshell_exporter_poll_errors_total{target="flaky",reason="connect"} 1');
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; target?: string; msg: string })
      .filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({ target: 'flaky', msg: 'poll failed: connection refused' }),
    ]);
  });

  it('reconfigures: kept targets keep their series, dropped ones vanish, replaced sources are closed', async () => {
    const closed: string[] = [];
    const source = (name: string, outcome: TaskOutcome): TaskSource => ({
      fetchLastMaintenanceTask: () => Promise.resolve(outcome),
      close: () => closed.push(name),
    });
    const { poller, metrics, trackers } = createPoller(
      { keep: source('keep-v1', running), drop: source('drop', noTask) },
      '0 0 * * * *',
    );
    await poller.pollAll();
    const keepTracker = trackers[0]!;
    const added = tracker('added');
    poller.reconfigure([
      { tracker: keepTracker, source: source('keep-v2', running) },
      { tracker: added, source: source('added', noTask) },
    ]);
    await new Promise((r) => setTimeout(r, 10));
    expect(closed.sort()).toEqual(['drop', 'keep-v1']);
    let text = await metrics.registry.metrics();
    expect(text).toContain('obshell_maintenance_task_present{target="keep"} 1');
    expect(text).not.toContain('target="drop"');
    expect(text).toContain('obshell_exporter_poll_errors_total{target="added",reason="auth"} 0');
    await poller.pollAll();
    text = await metrics.registry.metrics();
    expect(text).toContain('obshell_maintenance_task_present{target="added"} 0');
    expect(poller.statuses().map((s) => s.name)).toEqual(['keep', 'added']);
  });

  it('drops the late answer of a target a reload removed, success or failure, and aborts its poll', async () => {
    const lateOk = heldSource();
    const lateFail = heldSource();
    const { poller, metrics, lines, trackers } = createPoller(
      { 'late-ok': lateOk.source, 'late-fail': lateFail.source, stays: scriptedSource([() => running]) },
      '0 0 * * * *',
    );
    const round = poller.pollAll();
    await sleep(10);
    expect([lateOk.polls.length, lateFail.polls.length]).toEqual([1, 1]);
    poller.reconfigure([{ tracker: trackers[2]!, source: scriptedSource([() => running]) }]);
    expect(lateOk.polls[0]!.signal?.aborted).toBe(true);
    expect(lateFail.polls[0]!.signal?.aborted).toBe(true);
    lateOk.polls[0]!.settle(running);
    lateFail.polls[0]!.settle(refused);
    await round;
    const text = await metrics.registry.metrics();
    expect(text).toContain('obshell_up{target="stays"} 1');
    expect(text).not.toContain('target="late-ok"');
    expect(text).not.toContain('target="late-fail"');
    expect(linesAbout(lines, 'late-ok')).toEqual([]);
    expect(linesAbout(lines, 'late-fail')).toEqual([]);
    expect(poller.statuses().map((s) => s.name)).toEqual(['stays']);
  });

  it('never asks a target a reload removed while its poll waited for the concurrency limit', async () => {
    const first = heldSource();
    const queued = scriptedSource([() => running]);
    const { poller, metrics, trackers } = createPoller({ first: first.source, queued }, '0 0 * * * *', 1);
    const round = poller.pollAll();
    await sleep(10);
    poller.reconfigure([{ tracker: trackers[0]!, source: first.source }]);
    first.polls[0]!.settle(noTask);
    await round;
    expect(queued.calls()).toBe(0);
    expect(await metrics.registry.metrics()).not.toContain('target="queued"');
  });

  it("never lets a removed target's late answer overwrite the target re-added under its name", async () => {
    const old = heldSource();
    const { poller, metrics, lines, trackers } = createPoller({ again: old.source }, '0 0 * * * *');
    const round = poller.pollAll();
    await sleep(10);
    poller.reconfigure([]);
    // Re-added by a later reload: a new tracker (the exporter forgets a removed target's history).
    poller.reconfigure([{ tracker: tracker('again'), source: scriptedSource([() => noTask]) }]);
    expect(trackers[0]!.status.up).toBe(undefined);
    await poller.pollAll();
    let text = await metrics.registry.metrics();
    expect(text).toContain('obshell_maintenance_task_present{target="again"} 0');
    old.polls[0]!.settle(running);
    await round;
    text = await metrics.registry.metrics();
    expect(text).toContain('obshell_maintenance_task_present{target="again"} 0');
    expect(text).not.toMatch(/obshell_maintenance_task_state\{target="again"/);
    expect(trackers[0]!.status.up).toBe(undefined);
    expect(linesAbout(lines, 'again')).toEqual([]);
  });

  it("drops a poll started with a target's old settings; one with unchanged settings carries over", async () => {
    const changed = heldSource();
    const same = heldSource();
    const { poller, metrics, trackers } = createPoller(
      { changed: changed.source, same: same.source },
      '0 0 * * * *',
    );
    const round = poller.pollAll();
    await sleep(10);
    // createPoller gives no settings: a target given the same (none) keeps its slot and its poll.
    poller.reconfigure([
      { tracker: trackers[0]!, source: scriptedSource([() => noTask]), settings: 'url: v2' },
      { tracker: trackers[1]!, source: scriptedSource([() => noTask]) },
    ]);
    expect(changed.polls[0]!.signal?.aborted).toBe(true);
    expect(same.polls[0]!.signal?.aborted).toBe(false);
    changed.polls[0]!.settle(refused);
    same.polls[0]!.settle(running);
    await round;
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('obshell_up{target="changed"}');
    expect(text).toContain('obshell_exporter_poll_errors_total{target="changed",reason="connect"} 0');
    expect(text).toContain('obshell_up{target="same"} 1');
    await poller.pollAll();
    expect(await metrics.registry.metrics()).toContain(
      'obshell_maintenance_task_present{target="changed"} 0',
    );
  });

  it('records nothing for a poll that shutdown cut short, nor after it', async () => {
    const hanging: TaskSource & { calls: number } = {
      calls: 0,
      fetchLastMaintenanceTask(options) {
        this.calls += 1;
        if (this.calls > 1) return Promise.resolve(running);
        return new Promise((resolve) => {
          options?.signal?.addEventListener('abort', () => {
            resolve({ kind: 'failure', reason: 'timeout', message: 'poll aborted' });
          });
        });
      },
      close: () => undefined,
    };
    const { poller, metrics, lines } = createPoller({ hanging }, '0 0 * * * *');
    const round = poller.pollAll();
    await poller.stop(50);
    await round;
    await poller.pollAll();
    expect(hanging.calls).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('obshell_up{target="hanging"}');
    expect(text).toContain('obshell_exporter_poll_errors_total{target="hanging",reason="timeout"} 0');
    expect(linesAbout(lines, 'hanging')).toEqual([]);
  });

  it('starts the polls of one spread step a loop turn apart, so a scrape is served in between', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `t-${i}`);
    // Loop turns, counted by an immediate that re-queues itself (one per turn).
    let turn = 0;
    let counting = true;
    const count = () => {
      turn += 1;
      if (counting) setImmediate(count);
    };
    const startedAt = new Map<string, number[]>();
    const sources = Object.fromEntries(
      names.map((name) => [
        name,
        {
          fetchLastMaintenanceTask: () => {
            startedAt.set(name, [...(startedAt.get(name) ?? []), turn]);
            return Promise.resolve(noTask);
          },
          close: () => undefined,
        } satisfies TaskSource,
      ]),
    );
    const { poller } = createPoller(sources); // every second: 16 steps of 32 ms over 500 ms
    await poller.start();
    setImmediate(count);
    // One scheduled round: every target started a second time (the first is start()'s round).
    for (let waited = 0; waited < 10_000; waited += 50) {
      if (names.every((name) => (startedAt.get(name)?.length ?? 0) >= 2)) break;
      await sleep(50);
    }
    counting = false;
    const steps = new Map<number, string[]>();
    for (const name of names) {
      const delay = spreadDelayMs(name, names.length, 1000);
      steps.set(delay, [...(steps.get(delay) ?? []), name]);
    }
    const shared = [...steps.values()].filter((step) => step.length > 1);
    expect(shared.length).toBeGreaterThan(0);
    for (const step of shared) {
      const turns = step.map((name) => startedAt.get(name)?.[1]);
      expect(turns.every((t) => t !== undefined)).toBe(true);
      expect(new Set(turns).size).toBe(step.length); // never two starts in one turn
    }
  });
});
