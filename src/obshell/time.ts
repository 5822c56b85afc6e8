/**
 * obshell prints times as RFC 3339 with up to nanosecond fractions and the host's UTC offset
 * (contract §4.5). Retry, rollback and cancel reset times to the Unix epoch, printed in local
 * time ("1970-01-01T08:00:00+08:00"); such a value means "no time", never a real instant.
 */

const rfc3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Anything before this instant is read as the epoch reset value. A whole year of margin covers
 * an OB session time zone that differs from the obshell host's (contract §8.3).
 */
export const epochResetBeforeSeconds = 365 * 24 * 3600;

/** Parses an obshell time into Unix seconds (microsecond precision), or undefined when malformed. */
export function parseObshellTime(text: string): number | undefined {
  const m = rfc3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999 (Go's zero time is year 1).
  const date = new Date(0);
  date.setUTCFullYear(fields[0], fields[1] - 1, fields[2]);
  date.setUTCHours(fields[3], fields[4], fields[5]);
  // Dates roll over (Feb 31 → Mar 3, second 99 → the next minute): only one given back unchanged is real.
  const back = [
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ];
  if (back.some((field, i) => field !== fields[i]) || Number(oh ?? 0) > 23 || Number(om ?? 0) > 59) {
    return undefined;
  }
  const offsetSeconds = z ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
  const fraction = frac ? Number(`0.${frac.slice(0, 6)}`) : 0;
  return date.getTime() / 1000 - offsetSeconds + fraction;
}

/** True for the epoch reset value: the time is unset and nothing may be computed from it. */
export function isEpochReset(seconds: number): boolean {
  return seconds < epochResetBeforeSeconds;
}

/** A parsed time that is undefined when obshell reset it to the epoch. */
export function realTime(seconds: number): number | undefined {
  return isEpochReset(seconds) ? undefined : seconds;
}
