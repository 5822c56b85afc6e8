/** Reading credentials by reference, late: a rotated password file is picked up without a restart. */
import { readFileSync, statSync } from 'node:fs';
import { SecretReadError } from '../errors.js';
import { quote } from './problems.js';
import type { SecretRef } from './types.js';
import { describeFsError, fileProblem, maxPasswordFileBytes } from './values.js';

/** The file system calls a reader makes; tests pass a fake. */
export type SecretFs = {
  statSync(path: string): { mtimeMs: number; size: number; ino: number; isFile(): boolean };
  readFileSync(path: string, encoding: 'utf8'): string;
};

const nodeFs: SecretFs = { statSync, readFileSync };

// A Kubernetes secret rotates by swapping a symlink, which changes the inode; editors change mtime or size.
// The file was checked at load, but may have been replaced since: the load rule is applied again.
// Its path may be named here (load hides it): a path that passed the load check is a file, not a password.
function fileStamp(fs: SecretFs, path: string): string {
  const stat = fs.statSync(path);
  const problem = fileProblem(stat.isFile() ? 'file' : 'other', stat.size, maxPasswordFileBytes);
  if (problem !== undefined)
    throw new SecretReadError(`cannot read password file ${quote(path)}: ${problem}`);
  return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
}

function createFileReader(path: string, fs: SecretFs): () => string {
  let cached: { stamp: string; value: string } | undefined;
  return () => {
    try {
      const stamp = fileStamp(fs, path);
      if (cached?.stamp !== stamp) {
        // One trailing newline (or several) is how editors and `echo` save a password; it is never part of it.
        cached = { stamp, value: fs.readFileSync(path, 'utf8').replace(/[\r\n]+$/, '') };
      }
      return cached.value;
    } catch (error) {
      if (error instanceof SecretReadError) throw error;
      throw new SecretReadError(`cannot read password file ${quote(path)}: ${describeFsError(error)}`);
    }
  };
}

/**
 * A function that returns the secret's current value: a file is re-read when its inode, mtime or size changes;
 * an env var is read at each call; `none` is ''. Throws SecretReadError naming the file or variable.
 */
export function createSecretReader(
  ref: SecretRef,
  env: Record<string, string | undefined>,
  fs: SecretFs = nodeFs,
): () => string {
  switch (ref.kind) {
    case 'none':
      return () => '';
    case 'file':
      return createFileReader(ref.path, fs);
    case 'env':
      return () => {
        const value = env[ref.name];
        if (value === undefined)
          throw new SecretReadError(`environment variable ${quote(ref.name)} is not set`);
        return value;
      };
  }
}
