/** Time printing as obshell does it: Go's RFC3339Nano in the host's UTC offset. */

const nanosPerSecond = 1_000_000_000n;

/** '+08:00', '-02:30' or 'Z' → minutes east of UTC. */
export function offsetMinutes(offset: string): number {
  if (offset === 'Z' || offset === 'z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new RangeError(`invalid UTC offset ${JSON.stringify(offset)}: expected like +08:00`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function offsetSuffix(minutes: number): string {
  if (minutes === 0) return 'Z';
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${hh}:${mm}`;
}

/** Go trims trailing zeros of the fraction and drops the dot when it is whole. */
export function formatNanos(unixNanos: bigint, offset: string): string {
  const minutes = offsetMinutes(offset);
  const local = unixNanos + BigInt(minutes) * 60n * nanosPerSecond;
  let seconds = local / nanosPerSecond;
  let fraction = local % nanosPerSecond;
  if (fraction < 0n) {
    fraction += nanosPerSecond;
    seconds -= 1n;
  }
  const wall = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const frac = fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${wall}${frac}${offsetSuffix(minutes)}`;
}

/** Database times have microsecond precision (TIMESTAMP(6)). */
export function formatSeconds(unixSeconds: number, offset: string): string {
  return formatNanos(BigInt(Math.round(unixSeconds * 1e6)) * 1000n, offset);
}

/** Envelope timestamps carry nanoseconds; the sub-millisecond part comes from the monotonic clock. */
export function formatNow(clockMs: number, offset: string): string {
  const subMs = process.hrtime.bigint() % 1_000_000n;
  return formatNanos(BigInt(Math.floor(clockMs)) * 1_000_000n + subMs, offset);
}
