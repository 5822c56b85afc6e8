/** Sharding targets across replicas with no coordination, as Prometheus' `hashmod` relabelling does. */
import { createHash } from 'node:crypto';
import type { Shard, TargetConfig } from './types.js';

/** md5 of the name, its low 8 bytes as a big-endian uint64, modulo `count` (Prometheus hashmod). */
export function shardOf(name: string, count: number): number {
  const digest = createHash('md5').update(name, 'utf8').digest();
  return Number(digest.readBigUInt64BE(8) % BigInt(count));
}

/** The targets of shard `index` of `count`: disjoint across indexes, together all targets, stable across runs. */
export function selectShard(targets: TargetConfig[], shard: Shard): TargetConfig[] {
  const { index, count } = shard;
  if (!Number.isInteger(count) || !Number.isInteger(index) || count < 1 || index < 0 || index >= count) {
    throw new RangeError(`invalid shard ${index}/${count}: need 0 <= i < n`);
  }
  return targets.filter((target) => shardOf(target.name, count) === index);
}
