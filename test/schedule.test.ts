import { describe, expect, it } from 'vitest';
import { spreadDelayMs, spreadSlotMs, stableFraction } from '../src/schedule.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `cluster-${String(i).padStart(4, '0')}`);

describe('spreadDelayMs', () => {
  it('polls a small fleet at once', () => {
    expect(names(5).map((name) => spreadDelayMs(name, 5, 15_000))).toEqual([0, 0, 0, 0, 0]);
  });

  it('puts every delay on the slot grid, inside half the interval, the same for a name every time', () => {
    const interval = 15_000;
    for (const name of names(1000)) {
      const delay = spreadDelayMs(name, 1000, interval);
      expect(delay % spreadSlotMs).toBe(0);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(interval / 2);
      expect(spreadDelayMs(name, 1000, interval)).toBe(delay);
    }
  });

  it('fills the slots of a large fleet evenly: no slot takes a burst', () => {
    const slots = new Map<number, number>();
    for (const name of names(1000)) {
      const delay = spreadDelayMs(name, 1000, 15_000);
      slots.set(delay, (slots.get(delay) ?? 0) + 1);
    }
    expect(slots.size).toBe(15_000 / 2 / spreadSlotMs);
    const average = 1000 / slots.size;
    expect(Math.max(...slots.values())).toBeLessThan(average * 1.6);
    expect(Math.min(...slots.values())).toBeGreaterThan(average * 0.4);
  });

  it('spreads 100 targets over 50 ms each, still on the grid', () => {
    const delays = new Set(names(100).map((name) => spreadDelayMs(name, 100, 15_000)));
    expect(Math.max(...delays)).toBeLessThan(100 * 50);
    expect(delays.size).toBeGreaterThan(5);
    expect(stableFraction('a')).toBe(stableFraction('a'));
  });
});
