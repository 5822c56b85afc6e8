/** Pure helpers for the poll schedule: the interval a cron expression implies and a stable spread. */
import { createHash } from 'node:crypto';
import cron from 'node-cron';

/** The shortest gap between the next runs of a cron expression (with seconds), in ms. */
export function cronIntervalMs(expression: string): number {
  const task = cron.createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(4).map((d) => d.getTime());
    const gaps = runs.slice(1).map((t, i) => t - (runs[i] ?? t));
    return Math.max(1000, Math.min(...gaps.filter((g) => g > 0), 24 * 3600 * 1000));
  } finally {
    void task.destroy();
  }
}

/** How many days cronLongestGapMs walks: eight years and a month, so two leap days are seen (~1 ms). */
const walkedDays = 8 * 365 + 2 + 31;
/** How many days with runs it asks node-cron for when the day fields are words (`L`, `1#2`, `15W`). */
const sampledDays = 60;

const sortedNumbers = (values: readonly (number | string)[]) =>
  values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);

/** The longest gap, in seconds, between two runs of one day (hours × minutes × seconds). */
function longestGapInDayS(hours: number[], minutes: number[], seconds: number[]): number {
  const steps = (values: number[], unit: number, wrap: number) =>
    values.slice(1).map((v, i) => (v - (values[i] ?? v)) * unit - wrap);
  const secondsWrap = (seconds.at(-1) ?? 0) - (seconds[0] ?? 0);
  const minuteSpan =
    (minutes.at(-1) ?? 0) * 60 + (seconds.at(-1) ?? 0) - (minutes[0] ?? 0) * 60 - (seconds[0] ?? 0);
  return Math.max(
    0,
    ...steps(seconds, 1, 0),
    ...steps(minutes, 60, secondsWrap),
    ...steps(hours, 3600, minuteSpan),
  );
}

/** A local calendar day as a day number (24 h days: daylight saving does not move it). */
const dayNumber = (date: Date) => Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / 86_400_000;

/** The days with runs, as day numbers: walked from the numeric fields (node-cron wants all three). */
function walkedRunDays(fields: ReturnType<typeof cron.parse>, fromMs: number): number[] {
  const [months, daysOfMonth, daysOfWeek] = [fields.month, fields.dayOfMonth, fields.dayOfWeek].map(
    (v) => new Set(sortedNumbers(v)),
  ) as [Set<number>, Set<number>, Set<number>];
  const from = new Date(fromMs);
  const days: number[] = [];
  for (let i = 0; i < walkedDays; i++) {
    const day = new Date(from.getFullYear(), from.getMonth(), from.getDate() + i);
    if (months.has(day.getMonth() + 1) && daysOfMonth.has(day.getDate()) && daysOfWeek.has(day.getDay()))
      days.push(dayNumber(day));
  }
  return days;
}

/** The days with runs when a day field is a word node-cron resolves itself: its runs at midnight. */
function sampledRunDays(expression: string): number[] {
  const parts = expression.trim().split(/\s+/);
  const [dayOfMonth, month, dayOfWeek] = parts.slice(-3);
  const task = cron.createTask(`0 0 0 ${dayOfMonth} ${month} ${dayOfWeek}`, () => undefined);
  try {
    return task.getNextRuns(sampledDays).map(dayNumber);
  } catch {
    return []; // a day that never comes (30W in February): no second day to measure to
  } finally {
    void task.destroy();
  }
}

/**
 * The longest gap between two runs of a cron expression, in ms: how long a target may go without
 * a poll on a schedule that pauses (nights, weekends, months). From the expression's fields over
 * the next eight years from `fromMs`, so it does not depend on when the exporter started. Local
 * days of 24 h: a daylight-saving change may make a real gap an hour longer or shorter.
 */
export function cronLongestGapMs(expression: string, fromMs = Date.now()): number {
  const fields = cron.parse(expression);
  const words = [...fields.dayOfMonth, ...fields.dayOfWeek].some((v) => typeof v !== 'number');
  const days = words ? sampledRunDays(expression) : walkedRunDays(fields, fromMs);
  const [hours, minutes, seconds] = [fields.hour, fields.minute, fields.second].map(sortedNumbers) as [
    number[],
    number[],
    number[],
  ];
  const dayTime = (pick: (values: number[]) => number | undefined) =>
    (pick(hours) ?? 0) * 3600 + (pick(minutes) ?? 0) * 60 + (pick(seconds) ?? 0);
  const firstOfDay = dayTime((v) => v[0]);
  const lastOfDay = dayTime((v) => v.at(-1));
  let longestS = longestGapInDayS(hours, minutes, seconds);
  for (let i = 1; i < days.length; i++) {
    longestS = Math.max(longestS, ((days[i] ?? 0) - (days[i - 1] ?? 0)) * 86_400 + firstOfDay - lastOfDay);
  }
  // Fewer than two days with runs in the walk (29 February on a Monday): longer than the walk.
  if (days.length < 2) longestS = Math.max(longestS, walkedDays * 86_400);
  return Math.max(1000, longestS * 1000);
}

/**
 * How long a poll may run: until a little before the same target's next turn. Cut at the full
 * interval, a hung target's poll raced its next tick and lost every other time, so it was polled
 * at half the rate with every other tick skipped.
 */
export function pollBudgetMs(intervalMs: number): number {
  return intervalMs - Math.min(1_000, intervalMs / 10);
}

/** A stable fraction in [0, 1) from a name, so each target keeps its slot in the interval. */
export function stableFraction(name: string): number {
  return createHash('md5').update(name).digest().readUInt32BE(0) / 2 ** 32;
}

/** Spread polls start on a grid of steps of at most 500 ms, so the targets of a step share a wake-up... */
export const maxSpreadStepMs = 500;
/** ...and at most 16 steps per window (fewer when 500 ms steps cover it): a small fleet spreads too. */
export const maxSpreadSteps = 16;

/** The spread window: up to half the interval, 50 ms per target. */
export function spreadWindowMs(targetCount: number, intervalMs: number): number {
  return Math.min(intervalMs / 2, targetCount * 50);
}

/** The grid step for a fleet: whole milliseconds, so the targets of a step get the same delay. */
export function spreadStepMs(targetCount: number, intervalMs: number): number {
  return Math.max(
    1,
    Math.min(maxSpreadStepMs, Math.ceil(spreadWindowMs(targetCount, intervalMs) / maxSpreadSteps)),
  );
}

/**
 * Delay of a target's poll after a tick: polls are spread over the window, so 1 000 targets
 * never fire in one burst. Delays are whole grid steps, so the polls of one step share their
 * wake-ups and socket reads: at 1 000 targets every 15 s, 16 steps of ~63 (the poller runs 64
 * at once anyway) took the process from 10.8 % to 5.5 % of a core; 100 ms steps gave 7.5 %
 * (measured). A small fleet gets small steps: 30 targets polled every second fire in 16 groups
 * of ~2 over 500 ms, not all at once, so a scrape never waits behind the whole fleet's burst.
 */
export function spreadDelayMs(name: string, targetCount: number, intervalMs: number): number {
  const step = spreadStepMs(targetCount, intervalMs);
  return Math.floor((stableFraction(name) * spreadWindowMs(targetCount, intervalMs)) / step) * step;
}

/** Runs at most `limit` tasks at once, in arrival order. */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}
