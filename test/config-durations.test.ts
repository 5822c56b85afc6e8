import { describe, expect, test } from 'vitest';
import { maxTimerMs, parseTimeout } from '../src/config/durations.js';
import { formatDuration, parseDuration } from '../src/config/index.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['1m30s250ms', 90_250],
    ['0s', 0],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  test.each([
    ['10', '"10" has no unit (use ms, s, m, h or d, e.g. "10s")'],
    ['0', '"0" has no unit (use ms, s, m, h or d, e.g. "10s")'],
    ['', 'empty duration (e.g. "10s")'],
    ['1.5s', '"1.5s" is not a duration (e.g. "500ms", "10s", "1h30m")'],
    ['30m1h', '"30m1h" is not a duration (e.g. "500ms", "10s", "1h30m")'],
    ['10S', '"10S" is not a duration (e.g. "500ms", "10s", "1h30m")'],
    [' 10s', '" 10s" is not a duration (e.g. "500ms", "10s", "1h30m")'],
    ['-5s', '"-5s" is not a duration (e.g. "500ms", "10s", "1h30m")'],
    ['99999999999999999d', '"99999999999999999d" is too long'],
  ])('%j is rejected', (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });

  test.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [90_061_001, '1d1h1m1s1ms'],
  ])('formatDuration(%i) is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('parseTimeout', () => {
  test('the longest Node.js timer is accepted, a millisecond more is not', () => {
    expect(parseTimeout(formatDuration(maxTimerMs))).toBe(2_147_483_647);
    expect(() => parseTimeout(formatDuration(maxTimerMs + 1))).toThrow(
      '"24d20h31m23s648ms" is longer than the maximum, 24d20h31m23s647ms',
    );
  });

  test.each(['25d', '600h', '99999999999999d'])('%s is too long for a timer', (text) => {
    expect(() => parseTimeout(text)).toThrow(/is longer than the maximum|is too long/);
  });
});
