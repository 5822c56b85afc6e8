/**
 * Canary secrets: the suite authenticates with these, and test/setup/no-secret-leaks.ts fails
 * the run if any of them ever reaches the output (logs, errors, console, crash output).
 */
export const canary = {
  root: 'canary-root-sys-Q7v4Zp',
  agent: 'canary-agent-W2k9Rt',
} as const;

export const canaryValues: readonly string[] = Object.values(canary);
