/** Public types and names of the obshell simulator (re-exported by index.ts). */

export const scenarioNames = [
  'seed',
  'none',
  'running',
  'failed',
  'retry',
  'rollback',
  'cancel',
  'pass',
  'tenant',
  'upgrade',
  'scale-in',
  'lifecycle',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const faultModes = [
  'unexpected_500',
  'not_hold',
  'process_not_exist',
  'useless',
  'html_502',
  'api_unsuccessful',
  'non_json',
  'truncated',
  'wrong_types',
  'missing_fields',
  'extra_fields',
  'null_nodes',
  'deep_nesting',
  'huge',
  'slow',
  'slowloris',
  'reset',
  'wrong_password',
  'old_errors',
  'flap',
] as const;
export type FaultMode = (typeof faultModes)[number];

/** Identities obshell reports in /api/v1/info (contract §6). */
export const identities = [
  'SINGLE',
  'MASTER',
  'FOLLOWER',
  'CLUSTER AGENT',
  'TAKE OVER MASTER',
  'TAKE OVER FOLLOWER',
  'SCALING OUT',
  'SCALING IN',
  'UNIDENTIFIED',
] as const;

export type TlsOptions = {
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer;
  requireClientCert?: boolean;
};

export type SimulatorOptions = {
  host?: string;
  port?: number;
  /** Serve on this unix socket instead of TCP, with no auth (obshell's local router). */
  socketPath?: string;
  scenario?: ScenarioName;
  /** Story seconds per real second. */
  speed?: number;
  /** root@sys password. */
  password?: string;
  /** When set: /api/v1/info says security:true and X-OCS-Agent-Header must carry it. */
  agentPassword?: string;
  keyBits?: 512 | 1024;
  identity?: string;
  version?: string;
  tls?: TlsOptions;
  /** Milliseconds since the epoch; tests move it to expire headers and to drive the story. */
  clock?: () => number;
  fault?: FaultMode | null;
  /** Agents used as execute_agent of sub-tasks: "ip" or "ip:port" (port defaults to 2886). */
  agentIps?: string[];
  /** UTC offset of printed times, default '+08:00'. */
  utcOffset?: string;
  /** Delay of the 'slow' fault in real milliseconds, default 30000. */
  slowMs?: number;
};

export type Simulator = {
  url: string;
  address: string;
  close(): Promise<void>;
  setFault(fault: FaultMode | null): void;
  setScenario(name: ScenarioName): void;
  setPassword(password: string): void;
  rotateKey(bits?: 512 | 1024): void;
  requestCount(path?: string): number;
};
