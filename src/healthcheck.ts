/**
 * The container image's HEALTHCHECK: `node dist/src/healthcheck.js [exporter flags]` exits 0 when
 * the exporter answers /-/healthy where it listens, 1 when not. Without flags it reads the
 * exporter's own command line (PID 1 in the image), so an address set by flag or by
 * OBSHELL_EXPORTER_WEB_LISTEN_ADDRESS is found as the exporter found it.
 */
import { readFileSync } from 'node:fs';
import { exporterArgs, healthEndpoints, isHealthy } from './web/health-probe.js';

/**
 * The exporter's arguments when it is PID 1; none when /proc cannot tell (the environment then
 * decides). A shell as PID 1 (`sh -c "node … --web.listen-address=…"`) hides them: give them here.
 */
function pidOneArgs(): string[] {
  try {
    return exporterArgs(readFileSync('/proc/1/cmdline', 'utf8'));
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  try {
    const given = process.argv.slice(2);
    const endpoints = healthEndpoints(given.length > 0 ? given : pidOneArgs(), process.env);
    const healthy = await isHealthy(endpoints);
    if (!healthy) {
      const where = endpoints.map((e) => `${e.host}:${e.port}`).join(' or ');
      process.stderr.write(`no healthy answer on ${where}\n`);
    }
    return healthy ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main();
