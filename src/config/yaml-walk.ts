/** Reading an untyped YAML value with key paths, collecting problems instead of stopping at the first. */
import { attempt } from './problems.js';

export type Mapping = Readonly<Record<string, unknown>>;

/** `targets` + 0 → `targets[0]`; `targets[0]` + `tls` → `targets[0].tls`. */
export function keyPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A mapping with only `allowed` keys; each unknown key is its own problem. Null (an empty value) is absent. */
export function readMapping(
  value: unknown,
  path: string,
  allowed: readonly string[],
  problems: string[],
): Mapping | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) {
    problems.push(`${path}: must be a mapping`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) problems.push(`${keyPath(path, key)}: unknown key`);
  }
  return value;
}

export function readList(value: unknown, path: string, problems: string[]): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    problems.push(`${path}: must be a list`);
    return undefined;
  }
  return value as unknown[];
}

/** A string, then `check` on it (which may throw a reason); absent or wrong → undefined. */
export function readString<T = string>(
  value: unknown,
  path: string,
  problems: string[],
  check?: (text: string) => T,
): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${path}: must be a string`);
    return undefined;
  }
  return attempt(problems, path, () => (check ? check(value) : (value as T)));
}

export function readBoolean(value: unknown, path: string, problems: string[]): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    problems.push(`${path}: must be true or false`);
    return undefined;
  }
  return value;
}
