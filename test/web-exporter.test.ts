import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExporterConfig } from '../src/config/index.js';
import { startExporter } from '../src/exporter.js';
import { captureLogs, get, makeCertSet, tempDir } from './web-helpers.js';

const canary = 'canary-exporter-7c1d';

describe('startExporter with --web.config.file', () => {
  const temp = tempDir();
  afterAll(temp.cleanup);

  it('serves /metrics over https behind basic auth and counts refusals in its own metrics', async () => {
    const pem = makeCertSet(temp.dir);
    const hash = bcrypt.hashSync(canary, 4);
    const file = join(temp.dir, 'web.yml');
    writeFileSync(
      file,
      `tls_server_config:\n  cert_file: server-a.crt\n  key_file: server-a.key\nbasic_auth_users:\n  prometheus: ${hash}\n`,
    );
    const config: ExporterConfig = {
      targets: [],
      taskTypeRules: [],
      pollSchedule: '*/1 * * * * *',
      limits: { maxTaskTypes: 50, maxNodes: 500, maxLabelLength: 128 },
      web: { listenAddress: '127.0.0.1:0', telemetryPath: '/metrics', configFile: file },
      log: { level: 'info', format: 'json' },
      demo: false,
    };
    const { logger, lines } = captureLogs();
    const exporter = await startExporter(config, { logger, credentials: () => ({ password: () => '' }) });
    try {
      const base = `https://127.0.0.1:${exporter.address.port}`;
      const auth = { authorization: `Basic ${Buffer.from(`prometheus:${canary}`).toString('base64')}` };
      expect((await get(`${base}/metrics`, { ca: pem('ca.crt') })).status).toBe(401);
      const metrics = await get(`${base}/metrics`, { ca: pem('ca.crt'), headers: auth });
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('obshell_exporter_http_auth_failures_total{reason="missing"} 1');
      const landing = await get(`${base}/`, { ca: pem('ca.crt'), headers: auth });
      expect(landing.status).toBe(200);
      for (const secret of [canary, hash]) {
        expect(landing.body + metrics.body + lines.join('\n')).not.toContain(secret);
      }
      expect(lines.some((l) => l.includes('"scheme":"https"'))).toBe(true);
    } finally {
      await exporter.stop(100);
    }
  });
});
