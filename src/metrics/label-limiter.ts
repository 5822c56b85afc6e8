/** Bounds label cardinality per target: long values are cut, and values beyond a cap become "other". */

export const overflowLabelValue = 'other';

export function truncateLabelValue(value: string, maxLength: number): string {
  if (value.length <= maxLength) return value;
  // Cut on code points so a surrogate pair is never split into invalid UTF-8.
  return Array.from(value).slice(0, maxLength).join('');
}

/**
 * Remembers the first `cap` distinct values of one label for one target; later new values map
 * to "other". Reports each overflowing value once, so the caller can count and log it once.
 */
export class LabelLimiter {
  readonly #cap: number;
  readonly #maxLength: number;
  readonly #known = new Set<string>();
  readonly #overflowed = new Set<string>();

  constructor(cap: number, maxLength: number) {
    this.#cap = cap;
    this.#maxLength = maxLength;
  }

  /** The label value to export, and whether this call is the first overflow of that value. */
  limit(raw: string): { value: string; firstOverflow: boolean } {
    const value = truncateLabelValue(raw, this.#maxLength);
    if (this.#known.has(value)) return { value, firstOverflow: false };
    if (this.#known.size < this.#cap) {
      this.#known.add(value);
      return { value, firstOverflow: false };
    }
    // The overflow set is bounded too: it decides what is logged and counted, so past 4× the cap
    // further values are neither (obshell_exporter_label_overflows_total stops rising).
    const firstOverflow = !this.#overflowed.has(value) && this.#overflowed.size < this.#cap * 4;
    if (firstOverflow) this.#overflowed.add(value);
    return { value: overflowLabelValue, firstOverflow };
  }
}
