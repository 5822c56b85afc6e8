/** obshell's response envelope and error bodies (contract §3). */
import { randomBytes } from 'node:crypto';
import { formatNow } from './timefmt.js';

/** status, legacy `code` (≥4.3.1 keeps it only where non-zero) and pre-4.3.1 numeric code. */
const errorTable = {
  'Task.NotFound': { status: 404, code: 0, old: 2300 },
  'Common.NotFound': { status: 404, code: 0, old: 1000 },
  'Common.IllegalArgument': { status: 400, code: 0, old: 1000 },
  'Common.Unexpected': { status: 500, code: 0, old: 1002 },
  'Request.Header.NotFound': { status: 400, code: 0, old: 10008 },
  'Security.Authentication.Header.DecryptFailed': { status: 401, code: 1, old: 10008 },
  'Security.Authentication.Header.UriMismatch': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.Expired': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.Timestamp.Invalid': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.IncorrectOceanbasePassword': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.IncorrectAgentPassword': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.WithAgentPassword': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.WithOceanBasePassword': { status: 401, code: 10008, old: 10008 },
  'Security.Authentication.SessionInvalid': { status: 401, code: 10008, old: 10008 },
  'Agent.OceanBase.NotHold': { status: 500, code: 0, old: 1002 },
  'OB.Server.Process.NotExist': { status: 500, code: 0, old: 1002 },
  'Agent.OceanBase.Useless': { status: 500, code: 0, old: 1002 },
} as const;

export type ErrCode = keyof typeof errorTable;
export type ObError = { errCode: ErrCode; message: string };

export const obError = (errCode: ErrCode, message: string): ObError => ({ errCode, message });

/** Before 4.3.1 every auth failure, a missing header included, was 401 {code:10008,"Unauthorized"}. */
function oldError(err: ObError): { status: number; error: object } {
  const entry = errorTable[err.errCode];
  if (entry.old === 10008) return { status: 401, error: { code: 10008, message: 'Unauthorized' } };
  return { status: entry.status, error: { code: entry.old, message: err.message } };
}

export function errorStatus(err: ObError, old: boolean): { status: number; error: object } {
  if (old) return oldError(err);
  const { status, code } = errorTable[err.errCode];
  const error = code === 0 ? { errCode: err.errCode, message: err.message } : { code, ...err };
  return { status, error };
}

export type Reply = { status: number; data?: unknown; error?: object; successful?: boolean };

export type ReplyMeta = { clockMs: number; startedMs: number; traceId: string; utcOffset: string };

/** Key order and omissions as Go's encoding of OcsAgentResponse: data or error, never both null. */
export function envelope(reply: Reply, meta: ReplyMeta): Record<string, unknown> {
  const body: Record<string, unknown> = {
    successful: reply.successful ?? reply.error === undefined,
    timestamp: formatNow(meta.clockMs, meta.utcOffset),
    duration: Math.max(0, Math.round(Date.now() - meta.startedMs)),
    status: reply.status,
    traceId: meta.traceId,
  };
  if (reply.data !== undefined && reply.data !== null) body['data'] = reply.data;
  if (reply.error !== undefined) body['error'] = reply.error;
  return body;
}

/** The client's X-OBSHELL-Trace-ID is echoed, otherwise 16 random hex characters. */
export function traceIdFor(header: string | string[] | undefined): string {
  const sent = Array.isArray(header) ? header[0] : header;
  return sent !== undefined && sent !== '' ? sent : randomBytes(8).toString('hex');
}
