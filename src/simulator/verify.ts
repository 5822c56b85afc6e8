/** VerifyObRouters and VerifyAuth of obshell (ob/agent/api/common/middleware.go, secure/auth.go). */
import { obError, type ObError } from './envelope.js';
import type { HttpHeader } from './auth-verify.js';

export type VerifyContext = {
  identity: string;
  /** Password the server holds for root@sys. */
  rootPassword: string;
  /** Agent password, '' when none is set. */
  agentPassword: string;
  /** Unix seconds of the request. */
  nowSeconds: number;
};

export type PresentedHeader = { header: HttpHeader; kind: 'root' | 'agent' };

const int64 = /^[+-]?\d+$/;

function verifyTimestamp(ts: string, now: number): ObError | undefined {
  if (!int64.test(ts) || BigInt(ts) > 9223372036854775807n || BigInt(ts) < -9223372036854775808n) {
    return obError(
      'Security.Authentication.Timestamp.Invalid',
      `Unauthorized: Invalid timestamp '${ts}': strconv.ParseInt: parsing ${JSON.stringify(ts)}: invalid syntax`,
    );
  }
  if (BigInt(now) > BigInt(ts)) {
    return obError('Security.Authentication.Expired', 'Unauthorized: Authentication expired');
  }
  return undefined;
}

/** Ts is only checked when a password is sent, exactly as secure.VerifyAuth does. */
function verifyAuth(
  h: HttpHeader,
  expected: string,
  kind: 'root' | 'agent',
  now: number,
): ObError | undefined {
  if (h.auth !== '') {
    const tsError = verifyTimestamp(h.ts, now);
    if (tsError) return tsError;
  }
  if (h.auth === expected) return undefined;
  return kind === 'agent'
    ? obError('Security.Authentication.IncorrectAgentPassword', 'Unauthorized: Agent password is incorrect')
    : obError(
        'Security.Authentication.IncorrectOceanbasePassword',
        'Unauthorized: OceanBase password is incorrect',
      );
}

const withAgent = (why: string) =>
  obError('Security.Authentication.WithAgentPassword', `Unauthorized: Please use agent password: ${why}`);
const withOb = (why: string) =>
  obError(
    'Security.Authentication.WithOceanBasePassword',
    `Unauthorized: Please use OceanBase password: ${why}`,
  );

function verifySingle(p: PresentedHeader, ctx: VerifyContext): ObError | undefined {
  if (ctx.agentPassword === '') return undefined;
  if (p.kind !== 'agent') return withAgent('agent password has been set');
  return verifyAuth(p.header, ctx.agentPassword, 'agent', ctx.nowSeconds);
}

/** Cluster identities: the OceanBase password is initialised, so it is what X-OCS-Header must carry. */
function verifyCluster(p: PresentedHeader, ctx: VerifyContext): ObError | undefined {
  if (p.kind === 'root') return verifyAuth(p.header, ctx.rootPassword, 'root', ctx.nowSeconds);
  if (ctx.agentPassword === '') return withOb('agent password is not initialized');
  return verifyAuth(p.header, ctx.agentPassword, 'agent', ctx.nowSeconds);
}

/** Checks of Verify(ROUTE_TASK) for a path without :id; undefined when the request passes. */
export function verifyTaskRoute(
  presented: PresentedHeader | undefined,
  requestUri: string,
  ctx: VerifyContext,
): ObError | undefined {
  if (!presented) {
    return obError(
      'Request.Header.NotFound',
      'X-OCS-Agent-Header or X-OCS-Header not found in http request header',
    );
  }
  const { header } = presented;
  if (header.uri !== requestUri) return obError('Security.Authentication.Header.UriMismatch', 'URI mismatch');
  if (header.sessionId !== '' && ctx.identity === 'CLUSTER AGENT') {
    // No sessions are ever issued here, so every session id is unknown.
    const tsError = verifyTimestamp(header.ts, ctx.nowSeconds);
    return tsError ?? obError('Security.Authentication.SessionInvalid', 'Unauthorized: session is invalid');
  }
  return ctx.identity === 'SINGLE' ? verifySingle(presented, ctx) : verifyCluster(presented, ctx);
}
