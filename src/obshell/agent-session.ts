/**
 * One obshell agent as seen by the client: its cached /api/v1/info and public key, and one poll
 * of the last maintenance DAG with auth v2 (contract §2), including the single re-key retry.
 */
import { hash, type KeyObject } from 'node:crypto';
import { agentHeaderName, KeySizeError, parsePublicKey, rootHeaderName } from './auth.js';
import {
  agentText,
  decodeEnvelope,
  decodeEnvelopeHead,
  envelopeFailure,
  failure,
  mayBeStaleKey,
  isTaskNotFound,
  safeParse,
  scrub,
  type Failure,
} from './classify.js';
import type { AgentIdentity, PollFailure, TaskOutcome } from './outcome.js';
import { agentInfoSchema, dagSchema, secretSchema, type AgentInfo, type Dag } from './schema.js';
import type { RequestAuth, Transport, TransportResult } from './transport.js';

export const maintenanceTaskPath = '/api/v1/task/dag/maintain/ob?show_details=true';
export const infoPath = '/api/v1/info';
export const secretPath = '/api/v1/secret';

/**
 * /api/v1/info is re-read at least this often, after any failed poll and after the task changed
 * (its id, state or operator): identity and version change with tasks (a scale-out, an upgrade,
 * which restarts the agent) or with a restart, which fails a poll. A re-read every minute was a
 * fifth of all requests at one poll per 15 s, ~15 % of the exporter's CPU at 1 000 targets.
 */
export const infoMaxAgeMs = 600_000;

/** Where an agent lives: `base` + path is requested; `address` names it in outcomes. */
export type AgentTarget = { url: string; base: string; address: string; socket: boolean };

export type SessionDeps = { transport: Transport; now: () => number };

/** The poll's passwords, read once at its start: root@sys, and the agent password when one is set. */
export type Credentials = { password: string; agentPassword: string | undefined };

type Value<T> = { kind: 'value'; value: T };
const value = <T>(v: T): Value<T> => ({ kind: 'value', value: v });

type CachedInfo = { info: AgentInfo; fetchedAt: number };

export type AgentSession = {
  readonly target: AgentTarget;
  poll(credentials: Credentials, signal?: AbortSignal): Promise<TaskOutcome>;
};

export function createAgentSession(target: AgentTarget, deps: SessionDeps): AgentSession {
  let cachedInfo: CachedInfo | undefined;
  let publicKey: KeyObject | undefined;
  /** The last valid DAG and a digest of the raw bytes it came from (see dataDigest). */
  let lastDag: { digest: string; dag: Dag } | undefined;
  /** The task of the last answer (see taskKey); when it changes, the next poll re-reads /info. */
  let lastTask: string | undefined;

  const withAgent = (f: Failure): PollFailure => ({ ...f, agent: target.address });
  const identityOf = (info: AgentInfo | undefined): AgentIdentity => ({
    url: target.url,
    address: target.address,
    version: info?.version ?? '',
    identity: info?.identity ?? '',
  });

  async function info(secrets: string[], signal?: AbortSignal): Promise<Value<AgentInfo> | Failure> {
    if (cachedInfo && deps.now() - cachedInfo.fetchedAt < infoMaxAgeMs) return value(cachedInfo.info);
    const result = await readData(deps.transport, target.base, infoPath, signal, secrets);
    if (result.kind === 'failure') {
      // An unreachable agent fails the poll; an odd /info answer only costs us the identity.
      return isUnreachable(result) ? result : value(cachedInfo?.info ?? {});
    }
    const parsed = safeParse(agentInfoSchema, result.value);
    const read = parsed.success ? parsed.data : {};
    cachedInfo = { info: read, fetchedAt: deps.now() };
    return value(read);
  }

  async function key(secrets: string[], signal?: AbortSignal): Promise<Value<KeyObject> | Failure> {
    if (publicKey) return value(publicKey);
    const result = await readData(deps.transport, target.base, secretPath, signal, secrets);
    if (result.kind === 'failure') return result;
    // The agent's trace id goes with a refusal of what it answered, as with its own errors.
    const traced = result.traceId === undefined ? {} : { traceId: result.traceId };
    const parsed = safeParse(secretSchema, result.value);
    if (!parsed.success) return failure('parse', `${secretPath}: ${scrub(parsed.issues, secrets)}`, traced);
    try {
      publicKey = parsePublicKey(parsed.data.public_key);
      return value(publicKey);
    } catch (error) {
      const why =
        error instanceof KeySizeError ? error.message : 'public_key is not a base64 PKCS#1 RSA public key';
      return failure('parse', `${secretPath}: ${why}`, traced);
    }
  }

  function authFor(agentInfo: AgentInfo, rsaKey: KeyObject, credentials: Credentials): RequestAuth {
    const { agentPassword, password } = credentials;
    // Only an agent that has an agent password takes its header (as the SDKs choose): the flag is
    // every target's default, and a fleet may mix agents with and without one.
    if (agentPassword !== undefined && agentInfo.security === true) {
      return { headerName: agentHeaderName, publicKey: rsaKey, password: () => agentPassword };
    }
    // A SINGLE agent (not in a cluster yet) takes an empty root password (contract §1.3).
    const single = agentInfo.identity === 'SINGLE';
    return { headerName: rootHeaderName, publicKey: rsaKey, password: single ? () => '' : () => password };
  }

  async function authenticatedTask(
    agentInfo: AgentInfo,
    credentials: Credentials,
    signal?: AbortSignal,
  ): Promise<TaskOutcome> {
    for (let attempt = 0; ; attempt++) {
      const rsaKey = await key(secretsOf(credentials), signal);
      if (rsaKey.kind === 'failure') return withAgent(rsaKey);
      const auth = authFor(agentInfo, rsaKey.value, credentials);
      const result = await deps.transport.get(target.base + maintenanceTaskPath, { auth, signal });
      if (attempt === 0 && staleKey(result)) {
        publicKey = undefined; // the agent has a new key pair (restart, upgrade to 1024 bits)
        continue;
      }
      // The header holds the password RSA-encrypted, replayable until its Ts: never echo it either.
      const header = deps.transport.signedHeader(rsaKey.value) ?? '';
      return taskOutcome(result, agentInfo, [...secretsOf(credentials), header]);
    }
  }

  function taskOutcome(result: TransportResult, agentInfo: AgentInfo, secrets: string[]): TaskOutcome {
    const outcome = classifiedTask(result, agentInfo, secrets);
    const task = taskKey(outcome);
    if (task !== undefined) {
      if (lastTask !== undefined && task !== lastTask) cachedInfo = undefined;
      lastTask = task;
    }
    return outcome;
  }

  function classifiedTask(result: TransportResult, agentInfo: AgentInfo, secrets: string[]): TaskOutcome {
    if (result.kind === 'failure') return withAgent(result);
    const { status, body } = result.answer;
    const ok = (dag: Dag, traceId: string | undefined): TaskOutcome => ({
      kind: 'ok',
      dag,
      agent: identityOf(agentInfo),
      ...(traceId ? { traceId } : {}),
    });
    const data = dataDigest(body);
    const last = lastDag !== undefined && data?.digest === lastDag.digest ? lastDag : undefined;
    if (last && data && status >= 200 && status < 300) {
      // The same data as last poll: parse only the envelope before it (perf: the whole answer's
      // JSON.parse was ~6 % of a poll's CPU).
      const head = decodeEnvelopeHead(body, data.at);
      if (head?.successful) return ok(last.dag, head.traceId);
    }
    const decoded = decodeEnvelope(result.answer);
    if (decoded.kind === 'failure') return withAgent(decoded.failure);
    const { envelope } = decoded;
    const traceId = envelope.traceId ? { traceId: envelope.traceId } : {};
    if (isTaskNotFound(status, envelope)) {
      return { kind: 'no_task', agent: identityOf(agentInfo), ...traceId };
    }
    if (!envelope.successful || status < 200 || status >= 300) {
      return withAgent(envelopeFailure(status, envelope, secrets));
    }
    if (last) return ok(last.dag, envelope.traceId);
    const dag = safeParse(dagSchema, envelope.data);
    if (!dag.success) {
      // The issues quote bad values (a time field), and the trace id is the agent's text too:
      // both scrubbed and cut to a line, as an error answer's are.
      const traced = envelope.traceId ? { traceId: agentText(envelope.traceId, secrets) } : {};
      return withAgent(
        failure('parse', `HTTP ${status}: ${scrub(dag.issues, secrets)}`, { status, ...traced }),
      );
    }
    lastDag = data === undefined ? undefined : { digest: data.digest, dag: dag.data };
    return ok(dag.data, envelope.traceId);
  }

  async function poll(credentials: Credentials, signal?: AbortSignal): Promise<TaskOutcome> {
    const read = await info(secretsOf(credentials), signal);
    if (read.kind === 'failure') return withAgent(read);
    const agentInfo = read.value;
    const unsupported = unsupportedAuth(agentInfo);
    if (unsupported && !target.socket) return withAgent(unsupported);
    const outcome = target.socket
      ? taskOutcome(
          await deps.transport.get(target.base + maintenanceTaskPath, { signal }),
          agentInfo,
          secretsOf(credentials),
        )
      : await authenticatedTask(agentInfo, credentials, signal);
    if (outcome.kind === 'failure') cachedInfo = undefined; // re-read identity after any failure
    return outcome;
  }

  return { target, poll };
}

/**
 * SHA-256 of the raw bytes from the envelope's `"data":` key to the end. The same bytes as last
 * time mean the same DAG, so its validated object is reused (and, downstream, its task gauges): a
 * finished task is answered unchanged for hours. Unescaped `"data":` can only be a key, and a
 * nested one found first only makes the hashed bytes longer, so equal bytes imply equal data. A
 * digest, not the bytes: a fleet would otherwise keep every target's last answer in memory. `at`
 * is where that key starts: when the bytes are the same, only the envelope before it is parsed.
 */
function dataDigest(body: Buffer): { at: number; digest: string } | undefined {
  const at = body.indexOf('"data":');
  return at < 0 ? undefined : { at, digest: hash('sha256', body.subarray(at), 'base64') };
}

/** What identifies a task's phase: id, state and operator; 'none' for no task; undefined on failure. */
function taskKey(outcome: TaskOutcome): string | undefined {
  if (outcome.kind === 'no_task') return 'none';
  if (outcome.kind !== 'ok') return undefined;
  const { id, state, operator } = outcome.dag;
  return `${id}\u0000${state}\u0000${operator}`;
}

/** What an error message must never contain (obshell may echo a password back). */
function secretsOf({ password, agentPassword }: Credentials): string[] {
  return [password, agentPassword ?? ''];
}

function isUnreachable(f: Failure): boolean {
  return f.reason === 'connect' || f.reason === 'timeout' || f.reason === 'tls';
}

function staleKey(result: TransportResult): boolean {
  // Only a 401 can mean "decryption failed": do not parse every successful body twice.
  if (result.kind === 'failure' || result.answer.status !== 401) return false;
  const decoded = decodeEnvelope(result.answer);
  return decoded.kind === 'envelope' && mayBeStaleKey(decoded.status, decoded.envelope);
}

/** Auth v1 (obshell 4.2.2.0) is not implemented: say so instead of sending a header it rejects. */
function unsupportedAuth(info: AgentInfo): Failure | undefined {
  const supported = info.supportedAuth;
  const v1Only = supported
    ? supported.length > 0 && !supported.includes('v2')
    : /^4\.2\.2\./.test(info.version ?? '');
  if (!v1Only) return undefined;
  return failure(
    'auth',
    `agent ${info.version ?? ''} does not support auth v2 (supports: ${(supported ?? ['v1']).join(',')})`,
  );
}

/** GET of an unauthenticated route (/info, /secret): the envelope's `data`, or a classified failure. */
async function readData(
  transport: Transport,
  base: string,
  path: string,
  signal: AbortSignal | undefined,
  secrets: readonly string[],
): Promise<(Value<unknown> & { traceId?: string }) | Failure> {
  const result = await transport.get(base + path, { signal });
  const named = (f: Failure): Failure => ({ ...f, message: `${path}: ${f.message}` });
  if (result.kind === 'failure') return named(result);
  const decoded = decodeEnvelope(result.answer);
  if (decoded.kind === 'failure') return named(decoded.failure);
  const { status, envelope } = decoded;
  if (!envelope.successful || status < 200 || status >= 300) {
    return named(envelopeFailure(status, envelope, secrets));
  }
  return envelope.traceId
    ? { ...value(envelope.data), traceId: agentText(envelope.traceId, secrets) }
    : value(envelope.data);
}
