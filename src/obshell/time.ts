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
  const wholeMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(wholeMs) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59) {
    return undefined;
  }
  const offsetSeconds = z ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
  const fraction = frac ? Number(`0.${frac.slice(0, 6)}`) : 0;
  return wholeMs / 1000 - offsetSeconds + fraction;
}

/** True for the epoch reset value: the time is unset and nothing may be computed from it. */
export function isEpochReset(seconds: number): boolean {
  return seconds < epochResetBeforeSeconds;
}

/** A parsed time that is undefined when obshell reset it to the epoch. */
export function realTime(seconds: number): number | undefined {
  return isEpochReset(seconds) ? undefined : seconds;
}
