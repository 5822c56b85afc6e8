/**
 * The incremental body: whatever sequence of polls, counter increments, observations and reloads,
 * the body served from reused segments is exactly the body a fresh exporter renders from scratch
 * after the same changes, in both formats and encodings, across several groups of targets.
 */
import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { groupSize, largeBodyBytes, maxStaleBodyMs } from '../src/metrics/body-cache.js';
import { createExporterMetrics, type ExporterMetrics } from '../src/metrics/registry.js';

type Op =
  | { kind: 'poll'; target: number; up: number; nodes: number; elapsed: number }
  | { kind: 'fail'; target: number; reason: 'timeout' | 'connect' }
  | { kind: 'observe'; target: number; node: number; seconds: number }
  | { kind: 'retain'; keep: number[] }
  | { kind: 'release'; target: number };

const targets = groupSize * 2 + 5; // three groups, the last one partial
const name = (i: number) => `cluster-${i}`;

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('poll' as const),
    target: fc.nat(targets - 1),
    up: fc.constantFrom(0, 1),
    nodes: fc.nat(4),
    elapsed: fc.double({ min: 0, max: 1e5, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('fail' as const),
    target: fc.nat(targets - 1),
    reason: fc.constantFrom('timeout' as const, 'connect' as const),
  }),
  fc.record({
    kind: fc.constant('observe' as const),
    target: fc.nat(targets - 1),
    node: fc.nat(3),
    seconds: fc.double({ min: 0, max: 1e5, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('retain' as const),
    keep: fc.uniqueArray(fc.nat(targets - 1), { maxLength: targets }),
  }),
  // What each poll does first: observations held until a scrape saw their series join the body.
  fc.record({ kind: fc.constant('release' as const), target: fc.nat(targets - 1) }),
);

function apply(metrics: ExporterMetrics, o: Op): void {
  if (o.kind === 'retain') {
    metrics.retainTargets(o.keep.map(name));
    return;
  }
  const target = metrics.target(name(o.target));
  const labels = { target: name(o.target) };
  if (o.kind === 'release') {
    target.releaseSeen();
  } else if (o.kind === 'poll') {
    target.setSnapshot({
      up: [{ labels, value: o.up }],
      nodeElapsed: Array.from({ length: o.nodes }, (_, i) => ({
        labels: {
          ...labels,
          task_id: '7',
          task_type: 'Scale out',
          node_index: String(i + 1),
          node: `n"${i}`,
        },
        value: o.elapsed + i,
      })),
    });
  } else if (o.kind === 'fail') {
    target.inc('pollErrors', { reason: o.reason });
  } else {
    target.zero('taskDuration', { task_type: 'Scale out', result: 'failed' });
    target.observe('nodeDuration', { task_type: 'Scale out', node: `node ${o.node}` }, o.seconds);
  }
}

function fresh(ops: readonly Op[]): ExporterMetrics {
  const metrics = createExporterMetrics({
    buildInfo: { version: '1', revision: 'r', nodejsVersion: 'v' },
    defaultMetrics: false,
  });
  for (const o of ops) apply(metrics, o);
  return metrics;
}

/** A fresh exporter given the same rounds of changes, scraped after each but the last, as `live` was. */
async function replayed(rounds: readonly (readonly Op[])[]): Promise<ExporterMetrics> {
  const metrics = fresh([]);
  for (const [r, round] of rounds.entries()) {
    for (const o of round) apply(metrics, o);
    if (r < rounds.length - 1) await metrics.registry.exposition(Registry.PROMETHEUS_CONTENT_TYPE, 'gzip');
  }
  return metrics;
}

async function served(metrics: ExporterMetrics, contentType: string): Promise<string> {
  const type = contentType as typeof Registry.PROMETHEUS_CONTENT_TYPE;
  const zipped = gunzipSync(await metrics.registry.exposition(type, 'gzip')).toString('utf8');
  const identity = (await metrics.registry.exposition(type, 'identity')).toString('utf8');
  expect(identity).toBe(zipped);
  return zipped;
}

describe('incremental /metrics body', () => {
  it('equals a from-scratch render after any sequence of changes, in both formats', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 8 }),
        async (rounds) => {
          const live = fresh([]);
          for (const [r, round] of rounds.entries()) {
            for (const o of round) apply(live, o);
            for (const type of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
              // Scraped after the same rounds (scrapes decide when held observations may show).
              const expected = await (
                await replayed(rounds.slice(0, r + 1))
              ).registry.exposition(type, 'identity');
              expect(await served(live, type)).toBe(expected.toString('utf8'));
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('serves the current bytes without a rebuild while nothing changes, and a new body after a change', async () => {
    const metrics = fresh([{ kind: 'poll', target: 1, up: 1, nodes: 2, elapsed: 5 }]);
    const type = Registry.PROMETHEUS_CONTENT_TYPE;
    const first = await metrics.registry.exposition(type, 'gzip');
    expect(metrics.registry.cached(type, 'gzip')).toBe(first);
    apply(metrics, { kind: 'fail', target: 1, reason: 'timeout' });
    // Built under maxStaleBodyMs ago: scrapes get it as it is, a poll does not cost a build each.
    expect(metrics.registry.cached(type, 'gzip')).toBe(first);
    const rebuilt = await metrics.registry.exposition(type, 'gzip'); // exposition() is always current
    const second = gunzipSync(rebuilt).toString('utf8');
    expect(second).toContain('obshell_exporter_poll_errors_total{target="cluster-1",reason="timeout"} 1');
    expect(metrics.registry.cached(type, 'gzip')).toBe(rebuilt);
    apply(metrics, { kind: 'fail', target: 1, reason: 'connect' });
    await new Promise((resolve) => setTimeout(resolve, maxStaleBodyMs + 10));
    expect(metrics.registry.cached(type, 'gzip')).toBeUndefined(); // too old to serve stale: build
  });

  it('answers identity scrapes of a large body with its gzip bytes to inflate on sending', async () => {
    const metrics = fresh([]);
    const lines = (i: number, value: number) =>
      Array.from({ length: 400 }, (_, n) => ({
        labels: {
          target: name(i),
          task_id: String(n),
          task_type: 'x'.repeat(40),
          node_index: '1',
          node: 'y',
        },
        value,
      }));
    for (let i = 0; i < 140; i++) metrics.target(name(i)).setSnapshot({ nodeElapsed: lines(i, 1) });
    const type = Registry.PROMETHEUS_CONTENT_TYPE;
    const whole = await metrics.registry.exposition(type, 'identity'); // the API stays exact bytes
    expect(whole.length).toBeGreaterThan(largeBodyBytes);
    const answer = await metrics.registry.scrape(type, 'identity');
    expect(Buffer.isBuffer(answer)).toBe(false);
    const streamed = answer as Exclude<typeof answer, Buffer>;
    expect(streamed.zipped).toBe(await metrics.registry.exposition(type, 'gzip'));
    expect(streamed.length).toBe(whole.length);
    expect(gunzipSync(streamed.zipped).equals(whole)).toBe(true);
    expect(metrics.registry.cached(type, 'identity')).toBe(streamed); // one answer per build
    // A change is in the next build's answer at once (no inflated bytes to reuse).
    metrics.target(name(0)).setSnapshot({ nodeElapsed: lines(0, 2) });
    const next = (await metrics.registry.scrape(type, 'identity')) as typeof streamed;
    expect(gunzipSync(next.zipped).toString('utf8')).toContain(`node="y"} 2`);
    expect(await metrics.registry.metrics()).toBe(gunzipSync(next.zipped).toString('utf8'));
  });

  it('answers identity scrapes of a small body with its inflated bytes, kept per build', async () => {
    const metrics = fresh([{ kind: 'poll', target: 1, up: 1, nodes: 2, elapsed: 5 }]);
    const type = Registry.PROMETHEUS_CONTENT_TYPE;
    const answer = await metrics.registry.scrape(type, 'identity');
    expect(Buffer.isBuffer(answer)).toBe(true);
    expect(answer).toEqual(await metrics.registry.exposition(type, 'identity'));
    expect(metrics.registry.cached(type, 'identity')).toBe(answer);
  });

  it('drops every series of a target removed by a reload, counters and histograms included', async () => {
    const metrics = fresh([
      { kind: 'poll', target: 1, up: 1, nodes: 1, elapsed: 5 },
      { kind: 'observe', target: 2, node: 0, seconds: 3 },
      { kind: 'fail', target: 2, reason: 'connect' },
    ]);
    expect(await metrics.registry.metrics()).toContain('target="cluster-2"');
    metrics.retainTargets([name(1)]);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('target="cluster-2"');
    expect(text).toContain('obshell_up{target="cluster-1"} 1');
  });
});
