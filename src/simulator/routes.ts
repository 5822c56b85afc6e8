/** Request handling in obshell's middleware order (contract §1.2): decrypt, route, verify, answer. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decryptHeader } from './auth-verify.js';
import { goJson, sendText } from './bodies.js';
import {
  envelope,
  errorStatus,
  obError,
  traceIdFor,
  type ObError,
  type Reply,
  type ReplyMeta,
} from './envelope.js';
import { bodyFault, handlerFault, transportFault } from './faults.js';
import { maintainReply } from './maintain.js';
import { infoData, secretData, statusData } from './agent-info.js';
import { storyElapsed, type SimState } from './state.js';
import { formatNow } from './timefmt.js';
import { verifyTaskRoute, type PresentedHeader } from './verify.js';

export const maintainPath = '/api/v1/task/dag/maintain/ob';

/** Go's Header.Get: the first value; an empty value counts as absent. */
function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** HeaderDecrypt: the agent header wins; a header that fails to decrypt stops every route. */
function presentedHeader(st: SimState, req: IncomingMessage): PresentedHeader | ObError | undefined {
  const agent = headerValue(req, 'x-ocs-agent-header');
  const root = headerValue(req, 'x-ocs-header');
  const value = agent !== '' ? agent : root;
  if (value === '') return undefined;
  const header = decryptHeader(value, st.keys);
  if ('errCode' in header) return header;
  return { header, kind: agent !== '' ? 'agent' : 'root' };
}

function send(res: ServerResponse, reply: Reply, meta: ReplyMeta): void {
  sendText(res, reply.status, goJson(envelope(reply, meta)));
}

const failure = (st: SimState, err: ObError): Reply => {
  const { status, error } = errorStatus(err, st.fault === 'old_errors');
  return { status, error };
};

type Ctx = { st: SimState; req: IncomingMessage; res: ServerResponse; target: string; meta: ReplyMeta };

function maintain(ctx: Ctx, presented: PresentedHeader | undefined): void {
  const { st, res, target, meta } = ctx;
  if (!st.local) {
    const rootPassword = st.fault === 'wrong_password' ? `${st.password}#changed` : st.password;
    const nowSeconds = Math.floor(st.clock() / 1000);
    const verifyCtx = { identity: st.identity, rootPassword, agentPassword: st.agentPassword, nowSeconds };
    const denied = verifyTaskRoute(presented, target, verifyCtx);
    if (denied) {
      send(res, failure(st, denied), meta);
      return;
    }
  }
  if (st.fault === 'flap') st.flapCount += 1;
  const injected = handlerFault(st.fault, st.flapCount);
  if (injected) {
    send(res, failure(st, injected), meta);
    return;
  }
  const answer = maintainReply(st, new URL(target, 'http://x').searchParams, storyElapsed(st));
  if ('error' in answer) {
    send(res, failure(st, answer.error), meta);
    return;
  }
  if (bodyFault(st.fault, answer.dag ?? answer.fallback, res, meta)) return;
  if (!answer.dag) {
    send(res, failure(st, answer.notFound), meta);
    return;
  }
  send(res, { status: 200, data: answer.dag }, meta);
}

function route(ctx: Ctx, path: string, presented: PresentedHeader | undefined): void {
  const { st, req, res, meta } = ctx;
  const get = req.method === 'GET';
  if (path === '/api/v1/status' && (get || req.method === 'POST')) {
    // PreHandlers skip /status, so its traceId stays empty.
    send(res, { status: 200, data: statusData(st) }, { ...meta, traceId: '' });
    return;
  }
  if (get && path === '/api/v1/info') {
    send(res, { status: 200, data: infoData(st) }, meta);
    return;
  }
  if (get && path === '/api/v1/secret') {
    send(res, { status: 200, data: secretData(st) }, meta);
    return;
  }
  if (get && path === '/api/v1/time') {
    send(res, { status: 200, data: formatNow(st.clock(), st.utcOffset) }, meta);
    return;
  }
  if (get && path === maintainPath) {
    maintain(ctx, presented);
    return;
  }
  send(res, failure(st, obError('Common.NotFound', 'Element not found: 404 not found')), meta);
}

function count(st: SimState, path: string): void {
  st.total += 1;
  st.counts.set(path, (st.counts.get(path) ?? 0) + 1);
}

export function handleRequest(st: SimState, req: IncomingMessage, res: ServerResponse): void {
  const startedMs = Date.now();
  const target = req.url ?? '/';
  const path = target.split('?')[0] ?? '/';
  count(st, path);
  if (!path.startsWith('/api/v1/') && path !== '/api/v1') {
    sendText(res, 404, '404 page not found', 'text/plain');
    return;
  }
  const stall = {
    later: (ms: number, run: () => void) => {
      later(st, ms, run);
    },
  };
  const proceed = () => {
    answer(st, req, res, target, path, startedMs);
  };
  if (path === maintainPath && transportFault(st.fault, req, res, stall, st.slowMs, proceed)) return;
  proceed();
}

function answer(
  st: SimState,
  req: IncomingMessage,
  res: ServerResponse,
  target: string,
  path: string,
  startedMs: number,
) {
  const meta: ReplyMeta = { clockMs: st.clock(), startedMs, traceId: '', utcOffset: st.utcOffset };
  const presented = presentedHeader(st, req);
  // Decryption fails before PreHandlers assign a trace id.
  if (presented && 'errCode' in presented) {
    send(res, failure(st, presented), meta);
    return;
  }
  const traceId = traceIdFor(req.headers['x-obshell-trace-id']);
  route({ st, req, res, target, meta: { ...meta, traceId } }, path, presented);
}

function later(st: SimState, ms: number, run: () => void): void {
  const timer = setTimeout(() => {
    st.timers.delete(timer);
    run();
  }, ms);
  st.timers.add(timer);
}
