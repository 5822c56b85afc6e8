/**
 * The built-in obshell simulator: the demo's data source and the test double of every test.
 * It behaves like obshell (contract ../../shared/obshell-api.md), not like our client expects.
 */
export { faultModes, identities, scenarioNames } from './types.js';
export type { FaultMode, ScenarioName, Simulator, SimulatorOptions, TlsOptions } from './types.js';
export { startSimulator, defaultVersion } from './server.js';
export { scenarioAt, scenarioTimeline, defaultStartedAt } from './scenarios.js';
export type { ScenarioAtOptions, ScenarioTimeline } from './scenarios.js';
export { deepNestingDepth, hugeBytes } from './faults.js';
