/** startSimulator: an obshell look-alike on TCP (http or https, optionally mTLS) or a unix socket. */
import { lstatSync, unlinkSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { generateKeys } from './auth-verify.js';
import { handleRequest } from './routes.js';
import { parseAgents } from './scenarios.js';
import type { SimState } from './state.js';
import { offsetMinutes } from './timefmt.js';
import type { Simulator, SimulatorOptions } from './types.js';

export const defaultVersion = '4.5.0.0-100000012026050812';

function initialState(o: SimulatorOptions): SimState {
  const clock = o.clock ?? Date.now;
  const utcOffset = o.utcOffset ?? '+08:00';
  offsetMinutes(utcOffset); // fail early on a bad offset
  const speed = o.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed))
    throw new RangeError(`speed must be a positive number, got ${speed}`);
  const now = clock();
  return {
    local: o.socketPath !== undefined,
    identity: o.identity ?? 'CLUSTER AGENT',
    version: o.version ?? defaultVersion,
    agentPassword: o.agentPassword ?? '',
    speed,
    utcOffset,
    slowMs: o.slowMs ?? 30_000,
    agents: parseAgents(o.agentIps),
    agentIps: o.agentIps,
    clock,
    startedMs: now,
    password: o.password ?? '',
    keys: generateKeys(o.keyBits ?? 1024),
    scenario: o.scenario ?? 'lifecycle',
    scenarioStartMs: now,
    fault: o.fault ?? null,
    flapCount: 0,
    total: 0,
    counts: new Map(),
    timers: new Set(),
  };
}

function createServer(
  o: SimulatorOptions,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  if (!o.tls || o.socketPath !== undefined) return createHttpServer(handler);
  const { cert, key, ca, requireClientCert = false } = o.tls;
  const tls = { cert, key, requestCert: requireClientCert, rejectUnauthorized: requireClientCert };
  return createHttpsServer(ca === undefined ? tls : { ...tls, ca }, handler);
}

function listenOnce(server: Server, o: SimulatorOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (o.socketPath !== undefined) server.listen(o.socketPath, done);
    else server.listen(o.port ?? 2886, o.host ?? '127.0.0.1', done);
  });
}

/** Whether a server answers on the unix socket: a socket file nobody listens on refuses. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * A socket file left by an earlier run makes listen fail with EADDRINUSE: it is removed, but only
 * when it is a socket that nothing answers on, so a running simulator keeps its socket.
 */
async function listen(server: Server, o: SimulatorOptions): Promise<void> {
  const path = o.socketPath;
  try {
    await listenOnce(server, o);
  } catch (error) {
    if (path === undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (!lstatSync(path).isSocket() || (await socketAnswers(path))) {
      throw new Error(`cannot listen on ${path}: in use by a running server (or not a socket)`);
    }
    unlinkSync(path);
    await listenOnce(server, o);
  }
}

function addressOf(server: Server, o: SimulatorOptions): { url: string; address: string } {
  if (o.socketPath !== undefined) return { url: `unix:${o.socketPath}`, address: o.socketPath };
  const info = server.address();
  const port = typeof info === 'object' && info !== null ? info.port : (o.port ?? 2886);
  const host = o.host ?? '127.0.0.1';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const scheme = o.tls ? 'https' : 'http';
  return { url: `${scheme}://${hostPart}:${port}`, address: `${hostPart}:${port}` };
}

function closer(server: Server, st: SimState, sockets: Set<Socket>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise((resolve) => {
      for (const timer of st.timers) clearTimeout(timer);
      st.timers.clear();
      server.close(() => {
        resolve();
      });
      // Stalled answers (slow, slowloris, huge) must not keep close() waiting.
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const st = initialState(options);
  const server = createServer(options, (req, res) => {
    handleRequest(st, req, res);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await listen(server, options);
  return {
    ...addressOf(server, options),
    close: closer(server, st, sockets),
    setFault: (fault) => {
      st.fault = fault;
      st.flapCount = 0;
    },
    setScenario: (name) => {
      st.scenario = name;
      st.scenarioStartMs = st.clock();
    },
    setPassword: (password) => {
      st.password = password;
    },
    rotateKey: (bits) => {
      st.keys = generateKeys(bits ?? (st.keys.modulusBytes * 8 === 512 ? 512 : 1024));
    },
    requestCount: (path) =>
      path === undefined ? st.total : (st.counts.get(path.split('?')[0] ?? path) ?? 0),
  };
}
