/**
 * The Node the container image runs (deploy/docker/Dockerfile), for what this machine's Node cannot
 * tell: the bench measures the exporter on it, and `npm test` runs the suite on it once more
 * (test/on-image-node.mjs), since the image's Node behaves differently in places (its HTTP client
 * reports a retried connection's dropped socket; Node 20 does not).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The runtime image's Node major, the node flags of its ENTRYPOINT and the environment its last
 * stage sets (`ENV NAME=value` lines: NODE_ENV, glibc's malloc settings), from deploy/docker/Dockerfile.
 */
export function imageRuntime(root) {
  const dockerfile = readFileSync(join(root, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  const major = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].at(-1)?.[1];
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  if (!major || !entrypoint) throw new Error('Dockerfile: cannot read the runtime Node major or ENTRYPOINT');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env = Object.fromEntries(
    [...runtimeStage.matchAll(/^ENV (\w+)=(\S+)$/gm)].map(([, name, value]) => [name, value]),
  );
  // ["node", ...flags, "dist/src/main.js"]
  return { major: Number(major), nodeArgs: JSON.parse(entrypoint).slice(1, -1), env };
}

/**
 * A Node binary of that major: this one when it matches, else the npm package `node@<major>`'s
 * (the official Linux build; npm exec caches it). { path, version } or { reason }.
 */
export function nodeOfMajor(major) {
  if (process.versions.node.split('.')[0] === String(major)) {
    return { path: process.execPath, version: process.version };
  }
  try {
    const run = (command, args) =>
      execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    const path = run('npm', [
      'exec',
      '--yes',
      `--package=node@${major}`,
      '--',
      'node',
      '-p',
      'process.execPath',
    ]);
    return { path, version: run(path, ['--version']) };
  } catch (error) {
    return { reason: `cannot get Node ${major} from npm: ${String(error.message).split('\n')[0]}` };
  }
}
