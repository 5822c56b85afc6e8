/** Every default in one place: flags, usage text and the loader all read them from here. */
export const defaults = {
  obshellUrl: 'http://127.0.0.1:2886',
  timeout: '10s',
  pollSchedule: '*/15 * * * * *',
  listenAddress: ':9886',
  telemetryPath: '/metrics',
  logLevel: 'info',
  logFormat: 'json',
  maxTaskTypes: 50,
  maxNodes: 500,
  maxLabelLength: 128,
} as const;

/** Plain env vars for the passwords, used when no password file is given (as the issue asks). */
export const passwordEnv = 'OBSHELL_PASSWORD';
export const agentPasswordEnv = 'OBSHELL_AGENT_PASSWORD';

/** Paths the server owns; the telemetry path may not take them. */
export const reservedPaths = ['/', '/-/healthy', '/-/ready', '/-/reload'] as const;
