/** The few typed errors that cross module boundaries. Upstream failures are not errors: see obshell/outcome.ts. */

/** Bad command line: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError' as const;
}

/** Invalid configuration: every problem at once, each naming its key path; exit code 1. */
export class ConfigError extends Error {
  override name = 'ConfigError' as const;
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A password could not be read (file, environment variable); the message names it, never a value. */
export class SecretReadError extends Error {
  override name = 'SecretReadError' as const;
}
