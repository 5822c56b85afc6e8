/**
 * `--config.auto-reload-interval`: reload when a file the configuration was read from changes, as
 * Prometheus 3 does with its config file. A load records what it saw of each file it touched (a
 * stat's kind and size, a read's SHA-256); a check replays those operations and compares. Replaying
 * the load's own operations needs no knowledge of which files a configuration names, and a
 * Kubernetes ConfigMap update (a symlink swapped under the path) reads as a change like any other.
 */
import { createHash } from 'node:crypto';
import type { ConfigIo } from './types.js';

/** One file operation of a load and its outcome; no content, only a digest. */
export type FileObservation = { op: 'stat' | 'read'; path: string; outcome: string };

function errorOutcome(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return `error:${typeof code === 'string' ? code : 'unknown'}`;
}

function observe(io: ConfigIo, op: FileObservation['op'], path: string): string {
  try {
    if (op === 'stat') {
      const stat = io.stat(path);
      return `${stat.kind}:${stat.size}`;
    }
    return createHash('sha256').update(io.readFile(path)).digest('hex');
  } catch (error) {
    return errorOutcome(error);
  }
}

/** An io that records every operation into `seen` (first outcome per operation and path). */
export function observingIo(io: ConfigIo, seen: FileObservation[]): ConfigIo {
  const record = (op: FileObservation['op'], path: string, outcome: string) => {
    if (!seen.some((s) => s.op === op && s.path === path)) seen.push({ op, path, outcome });
  };
  return {
    stat(path) {
      try {
        const stat = io.stat(path);
        record('stat', path, `${stat.kind}:${stat.size}`);
        return stat;
      } catch (error) {
        record('stat', path, errorOutcome(error));
        throw error;
      }
    },
    readFile(path) {
      try {
        const text = io.readFile(path);
        record('read', path, createHash('sha256').update(text).digest('hex'));
        return text;
      } catch (error) {
        record('read', path, errorOutcome(error));
        throw error;
      }
    },
  };
}

const isError = (outcome: string) => outcome.startsWith('error:');

/**
 * The first path whose operation now has another outcome than the load saw, if any. A path that
 * named no readable file before or after is not shown: it may be a password written where a
 * password file's path belongs (as readCheckedFile's hidePath).
 */
export function changedPath(io: ConfigIo, seen: readonly FileObservation[]): string | undefined {
  for (const s of seen) {
    const now = observe(io, s.op, s.path);
    if (now === s.outcome) continue;
    return isError(now) && isError(s.outcome) ? 'a path that cannot be read (not shown)' : s.path;
  }
  return undefined;
}

/**
 * A loader that remembers what its last attempt (valid or not) read, and can tell whether any of
 * it changed since. An invalid file is thus reloaded once per change, not at every check.
 */
export function createWatchedLoad<T>(
  load: (io: ConfigIo) => T,
  io: ConfigIo,
): { load: () => T; changed: () => string | undefined } {
  let seen: FileObservation[] = [];
  return {
    load() {
      const next: FileObservation[] = [];
      seen = next;
      return load(observingIo(io, next));
    },
    changed: () => changedPath(io, seen),
  };
}

/**
 * Checks every `intervalMs` and reloads on a change; a check is skipped while the reload it
 * started runs. The timer does not hold the process open. Returns the function that stops it.
 */
export function watchForChanges(options: {
  intervalMs: number;
  changed: () => string | undefined;
  reload: (trigger: string) => Promise<unknown>;
}): () => void {
  let reloading = false;
  const timer = setInterval(() => {
    if (reloading) return;
    const path = options.changed();
    if (path === undefined) return;
    reloading = true;
    void options.reload(`file changed: ${path}`).finally(() => {
      reloading = false;
    });
  }, options.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
