/** The one typed result of asking obshell for the last maintenance task. */
import type { Dag } from './schema.js';

/** Failure classes, exported as `reason` of obshell_exporter_poll_errors_total. */
export const failureReasons = ['timeout', 'connect', 'tls', 'auth', 'http', 'api', 'parse'] as const;
export type FailureReason = (typeof failureReasons)[number];

/** The agent that answered: `address` is host:port of the configured URL (or the socket path). */
export type AgentIdentity = {
  url: string;
  address: string;
  version: string;
  identity: string;
};

/** An agent a poll asked before another, and why it moved on (connect, timeout, tls, "no OceanBase here"). */
export type PassedOver = { agent: string; reason: FailureReason; message: string };

export type TaskOutcome =
  | { kind: 'ok'; dag: Dag; agent: AgentIdentity; traceId?: string; passedOver?: PassedOver[] }
  | { kind: 'no_task'; agent: AgentIdentity; traceId?: string; passedOver?: PassedOver[] }
  | PollFailure;

export type PollFailure = {
  kind: 'failure';
  reason: FailureReason;
  message: string;
  status?: number;
  errCode?: string;
  traceId?: string;
  /** host:port of the last agent tried. */
  agent?: string;
  /** The agents tried before it, when the poll failed over. */
  passedOver?: PassedOver[];
};
