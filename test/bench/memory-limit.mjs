/**
 * The exporter as deploy/ runs it: the image's Node major with its ENTRYPOINT's node flags
 * (deploy/docker/Dockerfile), inside the manifest's memory limit with its NODE_OPTIONS
 * (deploy/kubernetes). Node sizes V8's heap from the cgroup limit (a smaller young generation, a
 * lower heap-growing factor), so RSS and CPU differ from an unconstrained process on a 24 GB
 * machine, and Node majors differ in both. The limit is a real memory cgroup (v1 or v2) made under
 * this process's own; without one (not root, no memory controller) the phase is skipped with the
 * reason.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The container's memory limit (bytes) and NODE_OPTIONS from deploy/kubernetes/deployment.yaml. */
export function deploymentLimits(root) {
  const manifest = parse(readFileSync(join(root, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8'));
  const container = manifest.spec.template.spec.containers[0];
  const memory = String(container.resources.limits.memory);
  const match = /^(\d+)(Mi|Gi)$/.exec(memory);
  if (!match) throw new Error(`deployment.yaml: cannot read the memory limit ${memory}`);
  const bytes = Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
  const nodeOptions = (container.env ?? []).find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return { memory, bytes, nodeOptions };
}

/**
 * deploy/kubernetes/deployment.yaml's memory-first alternative: V8's memory saver mode on top of
 * the ENTRYPOINT's flags (Node 22 and later; Node 20 refuses the flag).
 */
export const memoryFirstFlags = ['--memory-saver-mode'];

/** A new memory cgroup limited to `bytes`: { dir, wrap(command, args), close() } or { reason }. */
export function memoryCgroup(bytes) {
  const own = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((line) => line.split(':'));
  const v1 = own.find(([, controllers]) => controllers?.split(',').includes('memory'));
  const v2 = own.find(([id, controllers]) => id === '0' && controllers === '');
  const name = `obshell-bench-${process.pid}`;
  const [dir, limitFile] = v1
    ? [join('/sys/fs/cgroup/memory', v1[2] ?? '/', name), 'memory.limit_in_bytes']
    : [join('/sys/fs/cgroup', v2?.[2] ?? '/', name), 'memory.max'];
  try {
    mkdirSync(dir);
  } catch (error) {
    return { reason: `cannot create a memory cgroup at ${dir}: ${error.code ?? error.message}` };
  }
  try {
    writeFileSync(join(dir, limitFile), String(bytes));
  } catch (error) {
    rmdirSync(dir);
    return { reason: `cannot set ${limitFile} in ${dir}: ${error.code ?? error.message}` };
  }
  return {
    dir,
    /** The command, started inside the cgroup (the shell joins it, then execs: same pid). */
    wrap: (command, args) => [
      'sh',
      ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, command, ...args],
    ],
    close: () => {
      try {
        rmdirSync(dir);
      } catch {
        // a process still inside; the kernel removes nothing else, so leave it for the next run
      }
    },
  };
}
