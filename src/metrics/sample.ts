import type { SnapshotGauge } from './catalogue.js';

export type Labels = Readonly<Record<string, string>>;
export type Sample = { readonly labels: Labels; readonly value: number };

/** One target's gauge samples, by catalogue key; a poll replaces the whole object. */
export type SeriesSet = Partial<Record<SnapshotGauge, readonly Sample[]>>;
