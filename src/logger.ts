/** pino, JSON by default or pretty for people; secrets are redacted wherever they might appear. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };
export type LogOptions = { level: string; format: 'json' | 'pretty' };

/** Paths that could ever carry a secret: passwords, obshell auth headers, key material, basic-auth hashes. */
export const redactedPaths = [
  'password',
  'agentPassword',
  '*.password',
  '*.agentPassword',
  '*.agent_password',
  'headers["x-ocs-header"]',
  'headers["x-ocs-agent-header"]',
  'headers.authorization',
  '*.headers["x-ocs-header"]',
  '*.headers["x-ocs-agent-header"]',
  '*.headers.authorization',
  '*.key',
  '*.passphrase',
  'basic_auth_users',
  '*.basic_auth_users',
];

/**
 * An error as logged: its type, message, code and stack, nothing else. got's errors carry the
 * request's options (its headers, the X-OCS ones among them) and its response as properties, and
 * pino's default error serializer copies every property, deeper than redaction paths reach.
 */
export function errorSummary(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return {
    type: value.name,
    message: value.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(value.stack !== undefined && { stack: value.stack }),
  };
}

export function createLogger(options: LogOptions, destination?: NodeJS.WritableStream): Logger {
  const base = {
    level: options.level,
    redact: { paths: redactedPaths, censor: '[REDACTED]' },
    serializers: { err: errorSummary, error: errorSummary },
  };
  if (options.format === 'pretty') {
    return pino(base, pretty({ colorize: false, destination: destination ?? process.stderr, sync: true }));
  }
  return pino(base, destination ?? pino.destination({ dest: 2, sync: true }));
}
