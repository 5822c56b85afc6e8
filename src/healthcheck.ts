/**
 * The container image's HEALTHCHECK: `node dist/src/healthcheck.js [exporter flags]` exits 0 when
 * the exporter answers /-/healthy where it listens, 1 when not. Without flags it reads the
 * exporter's own command line (PID 1 in the image), so an address set by flag or by
 * OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS is found as the exporter found it.
 */
import { readFileSync } from 'node:fs';
import { exporterArgs, healthEndpoint, isHealthy } from './web/health-probe.js';

async function main(): Promise<number> {
  try {
    const given = process.argv.slice(2);
    const argv = given.length > 0 ? given : exporterArgs(readFileSync('/proc/1/cmdline', 'utf8'));
    const endpoint = healthEndpoint(argv, process.env);
    const healthy = await isHealthy(endpoint);
    if (!healthy) process.stderr.write(`no healthy answer on ${endpoint.host}:${endpoint.port}\n`);
    return healthy ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main();
