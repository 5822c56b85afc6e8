/** The public agent endpoints: /api/v1/info, /api/v1/status, /api/v1/secret (contract §2.1, §6). */
import type { SimState } from './state.js';

const self = (st: SimState) => st.agents[0] ?? { ip: '127.0.0.1', port: 2886 };
/** Unix nanoseconds; a double cannot hold them exactly, and obshell's readers only need seconds. */
const startAt = (st: SimState) => Math.floor(st.startedMs) * 1_000_000;

export function infoData(st: SimState): Record<string, unknown> {
  const { ip, port } = self(st);
  return {
    pid: process.pid,
    state: 2,
    startAt: startAt(st),
    homePath: '/home/admin/oceanbase',
    obVersion: '4.3.5.2',
    architecture: 'x86_64',
    ip,
    port,
    zone: 'zone1',
    identity: st.identity,
    version: st.version,
    isObproxyAgent: false,
    security: st.agentPassword !== '',
    supportedAuth: ['v2'],
  };
}

export function statusData(st: SimState): Record<string, unknown> {
  const { ip, port } = self(st);
  return {
    agent: { ip, port, identity: st.identity },
    state: 2,
    version: st.version,
    pid: process.pid,
    startAt: startAt(st),
    port,
    obState: 3,
    sqlPort: 2881,
    underMaintenance: false,
  };
}

export function secretData(st: SimState): Record<string, unknown> {
  const { ip, port } = self(st);
  return { ip, port, public_key: st.keys.publicKeyBase64 };
}
