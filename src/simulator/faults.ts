/** Fault modes of the maintain route: what a broken agent, network or proxy answers instead. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DagJson } from '../obshell/schema.js';
import {
  deepNestingBody,
  extraFields,
  goJson,
  html502,
  missingFields,
  sendText,
  streamHuge,
  wrongTypes,
} from './bodies.js';
import { envelope, errorStatus, obError, type ObError, type ReplyMeta } from './envelope.js';
import type { FaultMode } from './types.js';

export const hugeBytes = 50 * 1024 * 1024;
export const deepNestingDepth = 100_000;

export type Stall = {
  /** Keeps a timer cancellable by close(). */
  later(ms: number, run: () => void): void;
};

/** Faults of the network or a proxy in front of obshell: they act before obshell's own middleware. */
export function transportFault(
  fault: FaultMode | null,
  req: IncomingMessage,
  res: ServerResponse,
  stall: Stall,
  slowMs: number,
  proceed: () => void,
): boolean {
  switch (fault) {
    case 'reset':
      req.socket.destroy();
      return true;
    case 'html_502':
      sendText(res, 502, html502, 'text/html');
      return true;
    case 'slowloris':
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 4096 });
      res.write('{"successful":true,"timestamp":"2026-05-12T10:00:03.1+08:00","duration":');
      return true; // never finished: close() destroys the socket
    case 'slow':
      stall.later(slowMs, proceed);
      return true;
    default:
      return false;
  }
}

const handlerErrors: Partial<Record<FaultMode, ObError>> = {
  unexpected_500: obError(
    'Common.Unexpected',
    'Unexpected error: get last maintenance dag failed: context deadline exceeded',
  ),
  not_hold: obError('Agent.OceanBase.NotHold', 'Agent is not holding OceanBase'),
  process_not_exist: obError('OB.Server.Process.NotExist', 'Observer process does not exist'),
  useless: obError(
    'Agent.OceanBase.Useless',
    'OceanBase connection is not usable: dial tcp 127.0.0.1:2881: connect: connection refused',
  ),
};

/** The error a handler-level fault turns a good answer into, or undefined. `flapCount` counts maintain calls. */
export function handlerFault(fault: FaultMode | null, flapCount: number): ObError | undefined {
  if (fault === 'flap') return flapCount % 2 === 0 ? handlerErrors.unexpected_500 : undefined;
  return fault === null ? undefined : handlerErrors[fault];
}

const shapeFaults: Partial<Record<FaultMode, (dag: DagJson) => unknown>> = {
  wrong_types: wrongTypes,
  missing_fields: missingFields,
  extra_fields: extraFields,
  null_nodes: (dag) => ({ ...dag, nodes: null }),
};

/** Faults that change the body of an answer that has a DAG; true when the answer was written. */
export function bodyFault(
  fault: FaultMode | null,
  dag: DagJson,
  res: ServerResponse,
  meta: ReplyMeta,
): boolean {
  const ok = (data: unknown): Record<string, unknown> => envelope({ status: 200, data }, meta);
  const shape = fault === null ? undefined : shapeFaults[fault];
  if (shape) {
    const body = ok(shape(dag));
    if (fault === 'extra_fields') Object.assign(body, { cost: 3, server: 'obshell', extra: { a: [1] } });
    sendText(res, 200, goJson(body));
    return true;
  }
  switch (fault) {
    case 'api_unsuccessful': {
      const error = errorStatus(
        obError('Common.Unexpected', 'Unexpected error: query dag failed'),
        false,
      ).error;
      sendText(res, 200, goJson(envelope({ status: 200, successful: false, error }, meta)));
      return true;
    }
    case 'non_json':
      sendText(res, 200, 'OK: obshell is busy, please try again later\n');
      return true;
    case 'truncated': {
      const text = goJson(ok(dag));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(text.slice(0, Math.floor(text.length * 0.6)));
      return true;
    }
    case 'deep_nesting':
      sendText(res, 200, deepNestingBody(ok(dag), deepNestingDepth));
      return true;
    case 'huge':
      void streamHuge(res, ok(dag), hugeBytes);
      return true;
    default:
      return false;
  }
}
