/**
 * Turns whatever came back from an obshell agent (a transport error or an HTTP answer) into one
 * classified result (contract §3.3). Pure: no I/O, never throws.
 */
import { Buffer } from 'node:buffer';
import type { z } from 'zod';
import type { FailureReason, PollFailure } from './outcome.js';
import { describeIssues, envelopeSchema, type Envelope } from './schema.js';

/** Transport-level error codes that mean "nobody answered here": retried and failed over. */
export const connectErrorCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENOENT', // unix socket file missing
  'EACCES', // unix socket not ours
]);

/** 500 errCodes meaning "this agent cannot tell, ask another one" (contract §3.3, §7). */
export const failoverErrCodes: ReadonlySet<string> = new Set([
  'Agent.OceanBase.NotHold',
  'OB.Server.Process.NotExist',
  'Agent.OceanBase.Useless',
  'Agent.OceanBase.DB.NotOcs',
  // Before 4.3.1 those all were the numeric ErrUnexpected (§2.4: no OB connection → 500 code
  // 1002), like any other unexpected error: asking one more agent is the cheaper mistake.
  '1002',
]);

const decryptFailedErrCode = 'Security.Authentication.Header.DecryptFailed';
const legacyDecryptFailedCode = 1;
const legacyUnauthorizedCode = 10008;
const legacyTaskNotFoundCode = 2300;
const maxMessageLength = 240;

/** A failure before the agent is known: `agent` is filled in by the caller. */
export type Failure = Omit<PollFailure, 'kind' | 'agent'> & { kind: 'failure' };

export function failure(reason: FailureReason, message: string, extra: Partial<Failure> = {}): Failure {
  return { ...extra, kind: 'failure', reason, message: oneLine(message) };
}

/** Why a poll was aborted, as its signal says (the poller's budget names itself), for the failure message. */
export function abortText(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason.message : 'poll aborted';
}

/** Messages are short and on one line; callers never pass secrets, this only bounds the size. */
export function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > maxMessageLength ? `${flat.slice(0, maxMessageLength - 1)}…` : flat;
}

/** Shorter secrets are not scrubbed: replacing "p" everywhere would only garble the message. */
export const minScrubbedSecretLength = 4;

/** A secret as a server might echo it: as is, URL-encoded, base64 or JSON-escaped. */
function echoedForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [...new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), json])];
}

/** Removes every occurrence of the given secrets (defence in depth for server-echoed text). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < minScrubbedSecretLength) continue;
    for (const form of echoedForms(secret)) out = out.split(form).join('[redacted]');
  }
  return out;
}

/** Maps a got/Node error into a failure class from its code and name only. */
export function classifyTransportError(error: unknown): Failure {
  const { code, name, message } = errorFields(error);
  const extra = code ? { errCode: code } : {};
  if (name === 'TimeoutError' || code === 'ETIMEDOUT')
    return failure('timeout', `request timed out (${message})`, extra);
  if (isTlsError(code, message)) return failure('tls', `TLS failure: ${message}`, extra);
  // The headers came, the body did not: a truncated answer, not an unreachable agent.
  if (name === 'ReadError') return failure('parse', `response body truncated: ${message}`, extra);
  if (code.startsWith('HPE_')) return failure('http', `invalid HTTP response: ${message}`, extra);
  return failure('connect', `connection failed (${code || name || 'error'}): ${message}`, extra);
}

function errorFields(error: unknown): { code: string; name: string; message: string } {
  if (!(error instanceof Error)) return { code: '', name: '', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : '', name: error.name, message: error.message };
}

/** Handshake, trust and name failures, and OpenSSL refusing our own TLS files (ERR_OSSL_*: not PEM, key mismatch). */
function isTlsError(code: string, message: string): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH)/.test(
      code,
    ) || /certificate|SSL routines|TLS|handshake/i.test(message)
  );
}

/** An HTTP answer read from an agent: status plus the raw body (already size-capped). */
export type RawAnswer = { status: number; body: Buffer };

export type DecodedAnswer =
  { kind: 'envelope'; status: number; envelope: Envelope } | { kind: 'failure'; failure: Failure };

/** An answer that is no obshell envelope: a 401 (a proxy's auth in front of the agents) is still auth. */
function nonEnvelopeReason(status: number): FailureReason {
  if (status === 401) return 'auth';
  return status >= 200 && status < 300 ? 'parse' : 'http';
}

/** Decodes the obshell envelope; non-JSON or non-envelope answers become http (non-2xx), auth (401) or parse failures. */
export function decodeEnvelope({ status, body }: RawAnswer): DecodedAnswer {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    const why = error instanceof RangeError ? 'nested too deeply' : 'not JSON';
    const reason = nonEnvelopeReason(status);
    return { kind: 'failure', failure: failure(reason, `HTTP ${status}: response ${why}`, { status }) };
  }
  const parsed = safeParse(envelopeSchema, json);
  if (!parsed.success) {
    const text = `HTTP ${status}: not an obshell envelope: ${parsed.issues}`;
    return { kind: 'failure', failure: failure(nonEnvelopeReason(status), text, { status }) };
  }
  return { kind: 'envelope', status, envelope: parsed.data };
}

/**
 * The envelope of an answer whose data bytes are known already: the body up to its `"data":` key
 * (at `dataAt`), closed with `"data":null}`, so the data is not parsed again. Undefined when that
 * is no valid envelope (the first `"data":` was a nested key): the caller decodes the whole answer.
 */
export function decodeEnvelopeHead(body: Buffer, dataAt: number): Envelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(`${body.toString('utf8', 0, dataAt)}"data":null}`);
  } catch {
    return undefined;
  }
  const parsed = envelopeSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** zod parse that also survives RangeError on pathological input. */
export function safeParse<T extends z.ZodType>(
  schema: T,
  value: unknown,
): { success: true; data: z.output<T> } | { success: false; issues: string } {
  try {
    const result = schema.safeParse(value);
    return result.success
      ? { success: true, data: result.data }
      : { success: false, issues: describeIssues(result.error) };
  } catch (error) {
    return { success: false, issues: error instanceof RangeError ? 'nested too deeply' : 'invalid value' };
  }
}

/**
 * True for a 401 that may mean "your cached public key is stale" (contract §2.6): DecryptFailed
 * (legacy code 1), or the bare `code:10008` with which obshell 4.2.3-4.3.0 answer every auth
 * failure (§2.4), where a stale key looks like any other refusal.
 */
export function mayBeStaleKey(status: number, envelope: Envelope): boolean {
  const error = envelope.error;
  if (status !== 401 || !error) return false;
  if (error.errCode === decryptFailedErrCode || error.code === legacyDecryptFailedCode) return true;
  return error.errCode === undefined && error.code === legacyUnauthorizedCode;
}

/** 404 Task.NotFound (or legacy code 2300): the cluster never had a maintenance DAG. */
export function isTaskNotFound(status: number, envelope: Envelope): boolean {
  const error = envelope.error;
  return status === 404 && (error?.errCode === 'Task.NotFound' || error?.code === legacyTaskNotFoundCode);
}

/** Text the agent chose (a trace id, an error code) as it may be logged: no secret, one short line. */
export function agentText(text: string, secrets: readonly string[]): string {
  return oneLine(scrub(text, secrets));
}

/** Classifies an envelope that is not a success: auth, http or api. */
export function envelopeFailure(status: number, envelope: Envelope, secrets: readonly string[]): Failure {
  const error = envelope.error;
  const code = error?.errCode ?? (error?.code === undefined ? undefined : String(error.code));
  // Every text the agent chose is scrubbed (an echo could land in the code or the trace id too),
  // and kept to one short line: they go into log lines as they are.
  const errCode = code === undefined ? undefined : agentText(code, secrets);
  const serverText = scrub(error?.message ?? '', secrets);
  const extra: Partial<Failure> = { status };
  if (errCode !== undefined) extra.errCode = errCode;
  if (envelope.traceId) extra.traceId = agentText(envelope.traceId, secrets);
  const text = `HTTP ${status}${errCode ? ` ${errCode}` : ''}${serverText ? `: ${serverText}` : ''}`;
  return failure(envelopeReason(status, envelope), text, extra);
}

function envelopeReason(status: number, envelope: Envelope): FailureReason {
  const error = envelope.error;
  if (status === 401 || error?.code === legacyUnauthorizedCode) return 'auth';
  if (status === 400 && error?.errCode === 'Request.Header.NotFound') return 'auth';
  if (status >= 200 && status < 300) return 'api';
  return 'http';
}

/** Failures that would look the same on every agent are not failed over (auth, parse, api, http). */
export function isFailoverable(f: Failure): boolean {
  if (f.reason === 'connect' || f.reason === 'timeout' || f.reason === 'tls') return true;
  return (
    f.reason === 'http' && f.status === 500 && f.errCode !== undefined && failoverErrCodes.has(f.errCode)
  );
}
