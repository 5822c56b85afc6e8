/**
 * The live web config: the file and the certificate files it names are stat'ed on every new
 * connection and request (cheap, and no watcher to miss a Kubernetes symlink swap); on a change
 * they are re-read. A broken new version, or a file that can no longer be checked or read, keeps
 * the old one and is logged once.
 */
import { statSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { readTlsMaterial, tlsFiles, type TlsMaterial } from './tls.js';
import { checkWebConfigFile, WebConfigError, type WebConfig } from './web-config.js';

export type WebState = { readonly config: WebConfig; readonly tls?: TlsMaterial };
export type WebStateSource = { current(): WebState };

export type Loaded = { state?: WebState; files: string[]; error?: Error };

/** Reads the web config and the TLS files it names; never throws. */
export function loadWebConfig(file: string): Loaded {
  try {
    const { config, problems } = checkWebConfigFile(file);
    const files = config.tls ? tlsFiles(config.tls) : [];
    // The files are checked even when the YAML has problems, so one attempt names every problem.
    const tls = config.tls && readTlsMaterial(config.tls, problems);
    if (problems.length > 0) return { files, error: new WebConfigError(file, problems) };
    return { state: { config, ...(tls && { tls }) }, files };
  } catch (error) {
    return { files: [], error: error as Error };
  }
}

/** Reads the web config now (throws WebConfigError when it is invalid) and returns the live view of it. */
export function loadWebState(file: string): { state: WebState; files: string[] } {
  const { state, files, error } = loadWebConfig(file);
  if (error || !state) throw error ?? new WebConfigError(file, ['not loaded']);
  return { state, files };
}

/**
 * What the files look like now. Never throws: it runs in the request and connection listeners,
 * where a throw would end the process. A file stat() cannot check (ENOENT, ENOTDIR, ELOOP,
 * EACCES...) is marked by its error code, so the failed re-read is logged once per distinct failure.
 */
function fingerprint(files: readonly string[]): string {
  return files.map(fileFingerprint).join('|');
}

function fileFingerprint(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch (error) {
    return `!${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

export function createWebStateSource(
  file: string,
  logger: Logger,
  /** Why a valid new state cannot replace the running one without a restart, or undefined. */
  restartNeeded: (running: WebState, next: WebState) => string | undefined = () => undefined,
  load: (file: string) => Loaded = loadWebConfig,
): WebStateSource {
  const first = loadWebState(file);
  let state = first.state;
  let watched = [file, ...first.files];
  let seen = fingerprint(watched);
  return {
    current() {
      const before = fingerprint(watched);
      if (before === seen) return state;
      const previouslyWatched = watched;
      const next = load(file);
      try {
        if (next.error || !next.state) throw next.error ?? new Error('not loaded');
        const refused = restartNeeded(state, next.state);
        if (refused !== undefined) throw new Error(refused);
        state = next.state;
        watched = [file, ...next.files];
        logger.info({ file, tls: state.tls !== undefined }, 'web config reloaded');
      } catch (error) {
        // Watch the files the broken version names too, so fixing one of them is noticed.
        watched = [...new Set([...watched, ...next.files])];
        logger.error(
          { file, err: (error as Error).message },
          'web config reload failed; keeping the previous one',
        );
      }
      // A file rewritten while it was read (a certificate rotated mid-load) is read again next time.
      seen = fingerprint(previouslyWatched) === before ? fingerprint(watched) : 'changed while read';
      return state;
    },
  };
}
