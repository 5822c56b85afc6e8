/** The simulator's mutable state, shared by the server and the route handlers. */
import type { KeyPair } from './auth-verify.js';
import type { Agent } from './story.js';
import type { FaultMode, ScenarioName } from './types.js';

export type SimState = {
  readonly local: boolean;
  readonly identity: string;
  readonly version: string;
  readonly agentPassword: string;
  readonly speed: number;
  readonly utcOffset: string;
  readonly slowMs: number;
  readonly agents: readonly Agent[];
  readonly agentIps: string[] | undefined;
  readonly clock: () => number;
  readonly startedMs: number;
  password: string;
  keys: KeyPair;
  scenario: ScenarioName;
  scenarioStartMs: number;
  fault: FaultMode | null;
  /** Maintain requests seen while the flap fault is on. */
  flapCount: number;
  total: number;
  readonly counts: Map<string, number>;
  readonly timers: Set<NodeJS.Timeout>;
};

/** Story seconds since the scenario (re)started; the clock is scaled by speed. */
export const storyElapsed = (st: SimState): number =>
  Math.max(0, ((st.clock() - st.scenarioStartMs) / 1000) * st.speed);
