#!/usr/bin/env node
/**
 * `npm test`'s last step: the `main` test project once more on the container image's Node major
 * (deploy/docker/Dockerfile), fetched as the npm package `node@<major>` (the official Linux build,
 * cached by npm) when this machine runs another. Users run the exporter on that Node; CI machines
 * may run an older one. Fails when that Node cannot be had. The `timing` project (latency
 * assertions) runs on this machine's Node only.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageRuntime, nodeOfMajor } from './image-node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { major } = imageRuntime(root);
if (process.versions.node.split('.')[0] === String(major)) {
  console.log(`on-image-node: this is the image's Node ${major} already; nothing more to run`);
  process.exit(0);
}
const node = nodeOfMajor(major);
if (!node.path) {
  console.error(`on-image-node: ${node.reason}`);
  process.exit(1);
}
console.log(`on-image-node: the main test project once more on ${node.version}, the image's Node`);
// vitest, its workers and every `node` the tests start resolve to that Node first on PATH.
const run = spawnSync(
  node.path,
  [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'main'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${dirname(node.path)}:${process.env.PATH ?? ''}` },
  },
);
process.exit(run.status ?? 1);
