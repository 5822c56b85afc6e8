import { describe, expect, test } from 'vitest';
import { selectShard, shardOf } from '../src/config/index.js';
import type { TargetConfig } from '../src/config/index.js';

const targets: TargetConfig[] = Array.from({ length: 50 }, (_, i) => ({
  name: `cluster-${i}`,
  urls: [`http://10.0.0.${i}:2886`],
  password: { kind: 'none' },
  agentPassword: { kind: 'none' },
  tls: {},
  timeoutMs: 10_000,
}));

describe('selectShard', () => {
  test.each([1, 2, 3, 4, 5])('n=%i: shards are disjoint and cover every target', (count) => {
    const shards = Array.from({ length: count }, (_, index) =>
      selectShard(targets, { index, count }).map((t) => t.name),
    );
    const all = shards.flat();
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual(targets.map((t) => t.name).sort());
  });

  test('n=1 keeps everything in order', () => {
    expect(selectShard(targets, { index: 0, count: 1 })).toEqual(targets);
  });

  test('stable: the same name lands in the same shard regardless of the other targets or their order', () => {
    const reversed = [...targets].reverse();
    for (const count of [2, 3, 5]) {
      for (let index = 0; index < count; index++) {
        const a = selectShard(targets, { index, count })
          .map((t) => t.name)
          .sort();
        const b = selectShard(reversed, { index, count })
          .map((t) => t.name)
          .sort();
        expect(b).toEqual(a);
      }
    }
  });

  test('Prometheus hashmod: md5, low 8 bytes big-endian, mod n (pinned values)', () => {
    // Pinned so that a change of hash (which would move targets between replicas) is a deliberate break.
    // Values computed independently: int.from_bytes(hashlib.md5(name).digest()[8:], 'big') % 1000 in Python.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => shardOf(`cluster-${i}`, 1000))).toEqual([
      720, 697, 106, 711, 654, 548, 621, 86,
    ]);
    // md5("") = d41d8cd98f00b204 e9800998ecf8427e: the low half, read big-endian, as Go's hashmod does.
    expect(shardOf('', 7)).toBe(Number(0xe9800998ecf8427en % 7n));
  });

  test('spreads 50 names over 5 shards without leaving one empty', () => {
    const sizes = [0, 1, 2, 3, 4].map((index) => selectShard(targets, { index, count: 5 }).length);
    expect(Math.min(...sizes)).toBeGreaterThan(0);
  });

  test.each([
    [{ index: 3, count: 3 }],
    [{ index: -1, count: 3 }],
    [{ index: 0, count: 0 }],
    [{ index: 0.5, count: 2 }],
  ])('rejects %j', (shard) => {
    expect(() => selectShard(targets, shard)).toThrow(RangeError);
  });
});
