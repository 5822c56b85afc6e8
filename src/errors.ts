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

/** The HTTP server could not listen (port taken, no such address, no privilege); exit code 1. */
export class ListenError extends Error {
  override name = 'ListenError' as const;
  readonly address: string;
  readonly code: string | undefined;
  constructor(address: string, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const known = typeof code === 'string' ? listenProblems[code] : undefined;
    const why = known ?? (cause instanceof Error ? cause.message : String(cause));
    super(`cannot listen on ${JSON.stringify(address)}: ${why}`);
    this.address = address;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

const listenProblems: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (another exporter running?)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this host',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (temporary DNS failure)',
};
