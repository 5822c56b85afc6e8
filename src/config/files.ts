/** Reading the files a configuration names, stat first: a FIFO would block the read, a device never end it. */
import { readFileSync, statSync, type Stats } from 'node:fs';
import type { ConfigIo, FileKind } from './types.js';
import { fileProblem } from './values.js';

export const fileKind = (stat: Stats): FileKind =>
  stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other';

/** The bytes of a regular file; throws fs's error (with its code), or an Error saying what else the path is. */
export function readRegularFile(path: string): Buffer {
  const stat = statSync(path);
  const problem = fileProblem(fileKind(stat), stat.size);
  if (problem !== undefined) throw new Error(problem);
  return readFileSync(path);
}

/** The configuration loader's file system. */
export const nodeIo: ConfigIo = {
  stat(path) {
    const stat = statSync(path);
    return { kind: fileKind(stat), size: stat.size };
  },
  readFile: (path) => readFileSync(path, 'utf8'),
};
