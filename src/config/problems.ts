/** How config checks report: a check throws InvalidValueError(reason); the caller adds `<key path>: <reason>`. */

export class InvalidValueError extends Error {
  override name = 'InvalidValueError' as const;
}

export function fail(reason: string): never {
  throw new InvalidValueError(reason);
}

/** Runs one check; a failure is recorded as `<path>: <reason>` and yields undefined, so checking goes on. */
export function attempt<T>(problems: string[], path: string, check: () => T): T | undefined {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    problems.push(`${path}: ${error.message}`);
    return undefined;
  }
}

/** Quoted for messages: JSON quoting shows empty strings and control characters plainly. */
export function quote(text: string): string {
  return JSON.stringify(text);
}
