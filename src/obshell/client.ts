/**
 * The obshell client: asks the agents of one cluster for the last maintenance DAG and returns a
 * classified TaskOutcome, never an exception.
 *
 * Failover: agents are tried in order, starting with the one that answered last (sticky), or
 * after the one a poll cut by its budget was waiting for. Only
 * "this agent cannot tell" moves on to the next one: connect, timeout and TLS failures, and 500
 * Agent.OceanBase.NotHold / OB.Server.Process.NotExist / Agent.OceanBase.Useless (/DB.NotOcs).
 * Auth, parse, api and other http failures would look the same on every agent of the cluster, so
 * they are returned at once. When every agent failed over, the last agent's failure is returned.
 */
import { SecretReadError } from '../errors.js';
import {
  createAgentSession,
  maintenanceTaskPath,
  type AgentSession,
  type AgentTarget,
  type Credentials,
} from './agent-session.js';
import { abortText, failure, isFailoverable, oneLine, type Failure } from './classify.js';
import type { PassedOver, PollFailure, TaskOutcome } from './outcome.js';
import { createTransport, type BufferPool, type ObshellTls } from './transport.js';

export { maintenanceTaskPath };
export type { ObshellTls };

export type ObshellClientOptions = {
  /** Agents of ONE cluster ('http://h:2886', 'https://h:2886'), tried in order. */
  urls: readonly string[];
  /** <obshell home>/run/obshell.sock: used instead of urls, no auth at all. */
  socketPath?: string;
  /**
   * root@sys password ('' when none); called at the start of each poll, so rotation works. A
   * SecretReadError it throws fails the poll as `auth` with its message (it names the file).
   */
  password: () => string;
  /** When it returns a string: send X-OCS-Agent-Header with it instead. Read like `password`. */
  agentPassword?: () => string | undefined;
  /** Per HTTP request, all phases and retries included; default 10 000. */
  timeoutMs?: number;
  /** Default 16 MiB; bigger answers are cut off while streaming → parse failure. */
  maxResponseBytes?: number;
  /** Bytes of answers read at once across clients; default the process-wide pool of 32 MiB. */
  bufferPool?: BufferPool;
  /** Files read at client creation. */
  tls?: ObshellTls;
  /** Every auth header sent is valid at least this long (Ts >= now + ttl); default 60, as the SDKs. */
  headerTtlSeconds?: number;
  /** Headers are signed for ttl + this and reused while ttl is left; default 30. */
  headerReuseSeconds?: number;
  /** ms clock, default Date.now. */
  now?: () => number;
};

export type ObshellClient = {
  /** Never throws: every outcome is a TaskOutcome. signal aborts the whole poll → failure 'timeout'. */
  fetchLastMaintenanceTask(options?: { signal?: AbortSignal }): Promise<TaskOutcome>;
  /** Destroys the keep-alive agents. */
  close(): void;
};

export const defaultTimeoutMs = 10_000;
export const defaultMaxResponseBytes = 16 * 1024 * 1024;
export const defaultHeaderTtlSeconds = 60;
/** Two reuses at the default 15 s interval: one RSA operation per three polls. */
export const defaultHeaderReuseSeconds = 30;

/** host:port of an agent URL, with the scheme's default port when the URL leaves it out. */
export function agentAddress(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

function targetsOf(options: ObshellClientOptions): AgentTarget[] {
  if (options.socketPath !== undefined) {
    const base = `http://unix:${options.socketPath}:`;
    return [{ url: `unix:${options.socketPath}`, base, address: options.socketPath, socket: true }];
  }
  if (options.urls.length === 0)
    throw new Error('obshell client needs at least one agent URL or a socket path');
  return options.urls.map((raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`invalid obshell agent URL: ${JSON.stringify(raw)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`obshell agent URL must be http or https: ${url.protocol}//${url.host}`);
    }
    const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    return { url: base, base, address: agentAddress(url), socket: false };
  });
}

export function createObshellClient(options: ObshellClientOptions): ObshellClient {
  const now = options.now ?? Date.now;
  const targets = targetsOf(options);
  const transport = createTransport({
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? defaultMaxResponseBytes,
    ...(options.bufferPool && { bufferPool: options.bufferPool }),
    headerTtlSeconds: options.headerTtlSeconds ?? defaultHeaderTtlSeconds,
    headerReuseSeconds: options.headerReuseSeconds ?? defaultHeaderReuseSeconds,
    now,
    tls: options.tls,
    unixSockets: options.socketPath !== undefined,
  });
  const sessions = targets.map((target) => createAgentSession(target, { transport, now }));
  let preferred = 0;
  /** The agents a poll cut by its budget had asked: the next poll, which starts past them, names them. */
  let cutShort: PollFailure[] = [];

  async function pollAll(signal: AbortSignal | undefined): Promise<TaskOutcome> {
    const credentials = readCredentials(options);
    if (credentials.kind === 'failure') return credentials;
    // Each agent that could not tell, in the order asked: the outcome names the ones passed over,
    // with those of the cut poll before (never the one that answers, never one twice).
    const carried = cutShort;
    cutShort = [];
    const tried: PollFailure[] = [];
    for (const index of failoverOrder(sessions.length, preferred)) {
      if (signal?.aborted) break;
      const session = sessions[index] as AgentSession;
      const outcome = await session.poll(credentials, signal);
      if (outcome.kind !== 'failure' || !isFailoverable(outcome)) {
        preferred = index; // sticky: the next poll starts with the agent that answered
        const told = sentNoPassword(options, credentials) ? withNoPasswordHint(outcome) : outcome;
        return withPassedOver(told, carried.length === 0 ? tried : [...carried, ...tried]);
      }
      tried.push(outcome);
      // Cut by the poll's budget: the next poll starts past this agent, or a healthy agent behind
      // hung ones (each taking its whole timeout) would never be asked.
      if (signal?.aborted) {
        preferred = (index + 1) % sessions.length;
        cutShort = [...tried]; // this poll's own, so the list never grows
      }
    }
    const last = tried.pop();
    const before = [...carried, ...tried];
    if (signal?.aborted) {
      return withPassedOver({ ...failure('timeout', abortText(signal)), ...agentOf(last) }, before);
    }
    return last ? withPassedOver(last, before) : failure('connect', 'no obshell agent configured');
  }

  return {
    async fetchLastMaintenanceTask({ signal } = {}) {
      try {
        return await pollAll(signal);
      } catch (error) {
        // A bug of ours, not an obshell answer: still a classified outcome, without details.
        const name = error instanceof Error ? error.name : typeof error;
        return failure('parse', `unexpected client error (${name})`);
      }
    },
    close: () => {
      transport.close();
    },
  };
}

/**
 * The poll's passwords, read once: a file that went missing or unreadable fails the poll as `auth`
 * naming the file (the error's message never holds a value), before any request is sent.
 */
function readCredentials(options: ObshellClientOptions): (Credentials & { kind: 'credentials' }) | Failure {
  // The unix socket takes no auth: a password configured anyway is neither read nor needed.
  if (options.socketPath !== undefined)
    return { kind: 'credentials', password: '', agentPassword: undefined };
  try {
    return { kind: 'credentials', password: options.password(), agentPassword: options.agentPassword?.() };
  } catch (error) {
    if (error instanceof SecretReadError) return failure('auth', error.message);
    throw error;
  }
}

/**
 * obshell refuses a request without a password as it refuses a wrong one ("incorrect password"):
 * a refusal while none was sent says so first, as the cause is then the configuration.
 */
function withNoPasswordHint(outcome: TaskOutcome): TaskOutcome {
  if (outcome.kind !== 'failure' || outcome.reason !== 'auth') return outcome;
  const hint = 'no password was sent (none configured for this target, or an empty one)';
  return { ...outcome, message: oneLine(`${hint}; ${outcome.message}`) };
}

/** Over TCP with an empty root@sys password and no agent password (the unix socket takes none). */
function sentNoPassword(options: ObshellClientOptions, credentials: Credentials): boolean {
  return options.socketPath === undefined && credentials.password === '' && !credentials.agentPassword;
}

/** The outcome, naming the agents a poll asked before it (none: the outcome as it is). */
function withPassedOver<T extends TaskOutcome>(outcome: T, before: readonly PollFailure[]): T {
  if (before.length === 0) return outcome;
  const own = outcome.kind === 'failure' ? outcome.agent : outcome.agent.address;
  const latest = new Map<string, PassedOver>();
  for (const f of before) {
    const agent = f.agent ?? '';
    latest.delete(agent); // asked by the cut poll and again: named once, as last seen
    if (agent !== own) latest.set(agent, { agent, reason: f.reason, message: f.message });
  }
  return latest.size === 0 ? outcome : { ...outcome, passedOver: [...latest.values()] };
}

/** The preferred agent first, then the others in configured order. */
export function failoverOrder(count: number, preferred: number): number[] {
  const rest = Array.from({ length: count }, (_, i) => i).filter((i) => i !== preferred);
  return preferred < count ? [preferred, ...rest] : rest;
}

function agentOf(last: PollFailure | undefined): { agent?: string } {
  return last?.agent === undefined ? {} : { agent: last.agent };
}
