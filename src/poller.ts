/**
 * The schedule: a node-cron tick starts one poll per target, spread over the interval and run
 * with bounded concurrency. Polls of one target never overlap (a busy target's tick is skipped
 * and counted), and a whole poll is cut just before the target's next turn. The single catch point of the loop.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import cron, { type ScheduledTask } from 'node-cron';
import { formatDuration } from './config/durations.js';
import type { Logger } from './logger.js';
import type { ExporterMetrics } from './metrics/registry.js';
import { failureReasons, type TaskOutcome } from './obshell/outcome.js';
import { recordPoll } from './record-poll.js';
import { cronIntervalMs, createLimiter, pollBudgetMs, spreadDelayMs } from './schedule.js';
import type { TargetStatus, TargetTracker } from './target.js';

export type TaskSource = {
  fetchLastMaintenanceTask(options?: { signal?: AbortSignal }): Promise<TaskOutcome>;
  close(): void;
};

export type PolledTarget = {
  readonly tracker: TargetTracker;
  readonly source: TaskSource;
  /** What the source was built from (URLs, credentials, TLS, timeout): a reload that changes it drops the poll in flight. */
  readonly settings?: string;
};

export type PollerOptions = {
  readonly targets: readonly PolledTarget[];
  readonly schedule: string;
  readonly metrics: ExporterMetrics;
  readonly logger: Logger;
  readonly concurrency?: number;
  /** ms clock */
  readonly now?: () => number;
};

/** One target's mutable state; a reload keeps the slot of a target that stays with the same settings. */
type TargetSlot = {
  readonly tracker: TargetTracker;
  readonly settings: string | undefined;
  source: TaskSource;
  inFlight: Promise<void> | undefined;
  abort: AbortController | undefined;
  /**
   * Set when a reload removes or replaces the slot, or shutdown cuts its poll: it never records
   * again, or a late answer would bring back the series of a target no longer configured.
   */
  retired: boolean;
};

export class Poller {
  readonly #options: PollerOptions;
  readonly #limit: <T>(task: () => Promise<T>) => Promise<T>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #schedule: string;
  readonly #intervalMs: number;
  #slots: TargetSlot[] = [];
  #task: ScheduledTask | undefined;
  #ready = false;
  #stopped = false;
  #plan: { slots: TargetSlot[]; steps: Map<number, TargetSlot[]> } | undefined;

  constructor(options: PollerOptions) {
    this.#options = options;
    this.#schedule = options.schedule;
    this.#intervalMs = cronIntervalMs(options.schedule);
    this.#limit = createLimiter(options.concurrency ?? 64);
    this.#slots = this.#createSlots(options.targets);
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** True once every target has been polled once. */
  get ready(): boolean {
    return this.#ready;
  }

  statuses(): { name: string; status: TargetStatus }[] {
    return this.#slots.map((s) => ({ name: s.tracker.name, status: s.tracker.status }));
  }

  /** Polls every target now, then on the schedule. Resolves when the first round is done. */
  async start(): Promise<void> {
    this.#startSchedule();
    await this.pollAll();
    this.#ready = true;
  }

  /** One round over all targets, without spreading (start-up, reload and tests). */
  async pollAll(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#poll(slot)));
  }

  /**
   * Reload: swaps in new targets (the schedule is a flag, fixed for the process's life). A target
   * that stays (same tracker, same settings) keeps its slot, so its series and any poll in flight
   * carry over and its polls still never overlap. A removed or changed target's slot is retired:
   * its poll in flight is aborted and whatever it still answers is dropped. Every replaced source
   * is closed once its last poll is done.
   */
  reconfigure(targets: readonly PolledTarget[]): void {
    const previous = this.#slots;
    const replaced = previous.map((s) => ({ source: s.source, done: Promise.resolve(s.inFlight) }));
    this.#slots = this.#createSlots(targets, previous);
    for (const slot of previous) {
      if (!this.#slots.includes(slot)) retire(slot, 'target removed or changed by a reload');
    }
    for (const { source, done } of replaced) {
      void done.then(() => {
        source.close();
      });
    }
  }

  /** Stops the schedule; in-flight polls get `graceMs` to finish, then are aborted. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    await this.#task?.destroy();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const inFlight = this.#slots.flatMap((s) => (s.inFlight ? [s.inFlight] : []));
    // A poll cut short here says nothing about its target: it ends without a record.
    const grace = setTimeout(() => {
      for (const s of this.#slots) retire(s, 'exporter shutting down');
    }, graceMs);
    await Promise.allSettled(inFlight);
    clearTimeout(grace);
    for (const s of this.#slots) {
      retire(s, 'exporter stopped');
      s.source.close();
    }
  }

  #createSlots(targets: readonly PolledTarget[], previous: readonly TargetSlot[] = []): TargetSlot[] {
    const slots = targets.map(({ tracker, source, settings }): TargetSlot => {
      const kept = previous.find((s) => s.tracker === tracker);
      if (kept && kept.settings === settings) {
        kept.source = source;
        return kept;
      }
      if (!kept) this.#zeroCounters(tracker.name);
      return { tracker, settings, source, inFlight: undefined, abort: undefined, retired: false };
    });
    this.#options.metrics.retainTargets(slots.map((s) => s.tracker.name));
    return slots;
  }

  /** Counters known in advance are exported at 0, so rate() works from the first failure. */
  #zeroCounters(name: string): void {
    const target = this.#options.metrics.target(name);
    for (const reason of failureReasons) target.inc('pollErrors', { reason }, 0);
    target.inc('pollsSkipped', {}, 0);
  }

  #startSchedule(): void {
    const tick = () => {
      this.#tick();
    };
    this.#task = cron.schedule(this.#schedule, tick, { name: 'obshell-poll' });
  }

  /** One timer per grid step of the spread (schedule.ts), not one per target. */
  #tick(): void {
    for (const [delay, slots] of this.#steps()) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void this.#startStep(slots);
      }, delay);
      this.#timers.add(timer);
    }
  }

  /**
   * The targets of each grid step, kept until a reload changes the targets (an MD5 per target
   * each tick held the loop for 25 ms at 1 000 targets).
   */
  #steps(): Map<number, TargetSlot[]> {
    const plan = this.#plan;
    if (plan?.slots === this.#slots) return plan.steps;
    const steps = new Map<number, TargetSlot[]>();
    for (const slot of this.#slots) {
      const delay = spreadDelayMs(slot.tracker.name, this.#slots.length, this.#intervalMs);
      const step = steps.get(delay);
      if (step) step.push(slot);
      else steps.set(delay, [slot]);
    }
    this.#plan = { slots: this.#slots, steps };
    return steps;
  }

  /**
   * Starts the polls of a step one loop turn apart, letting I/O in between: starting a request
   * costs ~0.2 ms of CPU, so the ~63 of a step at 1 000 targets, started in one go, held every
   * scrape that arrived meanwhile for 15–20 ms, twice a second.
   */
  async #startStep(slots: readonly TargetSlot[]): Promise<void> {
    for (const [i, slot] of slots.entries()) {
      if (i > 0) await yieldToLoop();
      if (this.#stopped) return;
      void this.#poll(slot);
    }
  }

  #poll(slot: TargetSlot): Promise<void> {
    // A step timer set before a reload still holds the slots it had then.
    if (slot.retired) return Promise.resolve();
    if (slot.inFlight) {
      this.#options.metrics.target(slot.tracker.name).inc('pollsSkipped', {});
      this.#options.logger.warn({ target: slot.tracker.name }, 'previous poll still running; poll skipped');
      return slot.inFlight;
    }
    // A slot retired while its poll waited for the concurrency limit has nothing left to ask.
    const run = this.#limit(() => (slot.retired ? Promise.resolve() : this.#pollOnce(slot))).finally(() => {
      slot.inFlight = undefined;
    });
    slot.inFlight = run;
    return run;
  }

  /**
   * The budget runs from the poll's start, not its turn: a poll that waited for the concurrency
   * limit (a start-up round, many hung agents) still gets its time, and if it then overlaps its
   * next turn, that tick is skipped and counted, as the fleet is too slow for the schedule.
   */
  async #pollOnce(slot: TargetSlot): Promise<void> {
    const now = this.#options.now ?? Date.now;
    const started = now();
    const abort = new AbortController();
    slot.abort = abort;
    const budgetMs = pollBudgetMs(this.#intervalMs);
    const budget = setTimeout(() => {
      abort.abort(new Error(budgetText(budgetMs, this.#intervalMs)));
    }, budgetMs);
    try {
      const outcome = await slot.source.fetchLastMaintenanceTask({ signal: abort.signal });
      if (slot.retired) return; // a reload or shutdown retired it meanwhile: the answer is no one's
      const timing = { startedAt: started / 1000, durationSeconds: (now() - started) / 1000 };
      recordPoll(slot.tracker, outcome, timing, this.#options);
    } catch (err) {
      // Only a bug gets here: the client classifies every upstream failure.
      this.#options.logger.error({ err, target: slot.tracker.name }, 'poll failed unexpectedly');
    } finally {
      clearTimeout(budget);
      slot.abort = undefined;
    }
  }
}

/** Why a poll was cut by its budget: the figures a user can change (--poll.schedule, the timeout). */
export function budgetText(budgetMs: number, intervalMs: number): string {
  return `poll cut after ${formatDuration(budgetMs)}, the most a poll may take at this schedule (every ${formatDuration(intervalMs)})`;
}

/** Ends a slot's life: its poll in flight, if any, is aborted, and nothing it answers is recorded. */
function retire(slot: TargetSlot, reason: string): void {
  slot.retired = true;
  slot.abort?.abort(new Error(reason));
}
