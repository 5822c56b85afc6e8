/** Durations with units, as Prometheus writes them: `500ms`, `10s`, `2m`, `1h30m`, `1d`. */
import { fail, quote } from './problems.js';

const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof unitMs;
const units: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

// Units in decreasing order, each at most once; `m(?!s)` keeps "500ms" from reading as minutes.
const durationPattern = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Parses a duration into milliseconds; throws InvalidValueError (a missing unit is an error, even for 0). */
export function parseDuration(text: string): number {
  if (text === '') fail('empty duration (e.g. "10s")');
  if (/^\d+$/.test(text)) fail(`${quote(text)} has no unit (use ms, s, m, h or d, e.g. "10s")`);
  const match = durationPattern.exec(text);
  if (!match) fail(`${quote(text)} is not a duration (e.g. "500ms", "10s", "1h30m")`);
  const ms = units.reduce((sum, unit, i) => sum + Number(match[i + 1] ?? 0) * unitMs[unit], 0);
  if (!Number.isSafeInteger(ms)) fail(`${quote(text)} is too long`);
  return ms;
}

/** The longest delay a Node.js timer keeps (2^31-1 ms, ~24.8 days): a longer one fires after 1 ms. */
export const maxTimerMs = 2 ** 31 - 1;

/** Parses a duration a timer waits for (timeouts): greater than zero, at most maxTimerMs. */
export function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) fail(`${quote(text)} must be greater than 0`);
  if (ms > maxTimerMs) fail(`${quote(text)} is longer than the maximum, ${formatDuration(maxTimerMs)}`);
  return ms;
}

/** Parses the period of a recurring check: at least one second, at most maxTimerMs. */
export function parseInterval(text: string): number {
  const ms = parseTimeout(text);
  if (ms < 1000) fail(`${quote(text)} is shorter than the minimum, 1s`);
  return ms;
}

/** The shortest text parseDuration reads back as `ms` (used by the effective-config dump). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of units) {
    const count = Math.floor(rest / unitMs[unit]);
    rest -= count * unitMs[unit];
    if (count > 0) text += `${count}${unit}`;
  }
  return text;
}

const goUnitNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3,
  '\u03bcs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.Duration is an int64 of nanoseconds. */
const maxGoDurationNs = 2n ** 63n - 1n;

/**
 * Go's time.ParseDuration, for keys that exporter-toolkit reads as a time.Duration (rate_limit.interval):
 * fractions and any order (`1.5s`, `500us`, `1h30m`), no days; `0` alone needs no unit. Computed
 * as Go does: whole nanoseconds, the integer part exactly, the fraction truncated; at most ~292
 * years. Milliseconds, 0 or more.
 */
export function parseGoDuration(text: string): number {
  if (text === '0' || text === '+0') return 0;
  const hint = `(Go syntax, e.g. "500ms", "1.5s", "1h30m")`;
  if (!/^\+?(?:(?:\d+\.?\d*|\.\d+)[a-z\u00b5\u03bc]+)+$/.test(text))
    fail(`${quote(text)} is not a duration ${hint}`);
  let ns = 0n;
  for (const [, whole = '', fraction = '', unit = ''] of text.matchAll(
    /(\d*)\.?(\d*)([a-z\u00b5\u03bc]+)/g,
  )) {
    const scale = Object.hasOwn(goUnitNs, unit) ? goUnitNs[unit] : undefined;
    if (scale === undefined) fail(`${quote(text)} has an unknown unit ${quote(unit)} ${hint}`);
    ns += BigInt(whole || '0') * BigInt(scale);
    // As Go: the fraction's digits as an integer, times unit / 10^digits, truncated.
    if (fraction !== '') ns += BigInt(Math.trunc(Number(fraction) * (scale / 10 ** fraction.length)));
    if (ns > maxGoDurationNs)
      fail(`${quote(text)} is longer than Go's longest duration (2562047h47m16.854775807s)`);
  }
  return Number(ns) / 1e6;
}
