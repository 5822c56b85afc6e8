import { describe, expect, it } from 'vitest';
import {
  pollBudgetMs,
  maxSpreadSteps,
  spreadDelayMs,
  maxSpreadStepMs,
  spreadStepMs,
  spreadWindowMs,
  stableFraction,
} from '../src/schedule.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `cluster-${String(i).padStart(4, '0')}`);

/** How many targets each delay gets. */
function groups(count: number, intervalMs: number): Map<number, number> {
  const slots = new Map<number, number>();
  for (const name of names(count)) {
    const delay = spreadDelayMs(name, count, intervalMs);
    slots.set(delay, (slots.get(delay) ?? 0) + 1);
  }
  return slots;
}

describe('spreadDelayMs', () => {
  it('puts every delay on the grid, inside the window, the same for a name every time', () => {
    for (const [count, interval] of [
      [1000, 15_000],
      [100, 15_000],
      [30, 1000],
      [5, 15_000],
    ] as const) {
      const step = spreadStepMs(count, interval);
      expect(Number.isInteger(step)).toBe(true);
      for (const name of names(count)) {
        const delay = spreadDelayMs(name, count, interval);
        expect(delay % step).toBe(0);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(spreadWindowMs(count, interval));
        expect(spreadDelayMs(name, count, interval)).toBe(delay);
      }
    }
  });

  it('gives a large fleet 500 ms steps at most, filled evenly: no step takes a burst', () => {
    expect(spreadStepMs(1000, 15_000)).toBeLessThanOrEqual(maxSpreadStepMs);
    const slots = groups(1000, 15_000);
    expect(slots.size).toBe(maxSpreadSteps);
    const average = 1000 / slots.size;
    expect(Math.max(...slots.values())).toBeLessThan(average * 1.6);
    expect(Math.min(...slots.values())).toBeGreaterThan(average * 0.4);
    // A longer interval keeps 500 ms steps: more of them, not longer ones.
    expect(spreadStepMs(1000, 60_000)).toBe(maxSpreadStepMs);
  });

  it('spreads a small fleet too, in at most 16 groups, so its polls never fire as one burst', () => {
    // 30 targets polled every second: the window is 500 ms, in steps of 32 ms.
    expect(spreadWindowMs(30, 1000)).toBe(500);
    expect(spreadStepMs(30, 1000)).toBe(32);
    const slots = groups(30, 1000);
    expect(slots.size).toBeGreaterThan(8);
    expect(slots.size).toBeLessThanOrEqual(maxSpreadSteps);
    expect(Math.max(...slots.values())).toBeLessThanOrEqual(6);
  });

  it('spreads 100 targets over 50 ms each', () => {
    const delays = new Set(names(100).map((name) => spreadDelayMs(name, 100, 15_000)));
    expect(Math.max(...delays)).toBeLessThan(100 * 50);
    expect(delays.size).toBeGreaterThan(8);
    expect(stableFraction('a')).toBe(stableFraction('a'));
    expect(stableFraction('a')).not.toBe(stableFraction('b'));
  });

  it('never divides by zero: one target waits under 50 ms, no targets give a 1 ms step', () => {
    expect(spreadDelayMs('only', 1, 15_000)).toBeLessThan(50);
    expect(spreadStepMs(0, 15_000)).toBe(1);
  });
});

describe('pollBudgetMs', () => {
  it("ends a poll before the same target's next turn, by a tenth of the interval and at most 1 s", () => {
    expect(pollBudgetMs(1_000)).toBe(900);
    expect(pollBudgetMs(15_000)).toBe(14_000);
    expect(pollBudgetMs(300_000)).toBe(299_000);
  });
});
