/** The HTML landing page: version, links, and one row per target from its last poll. */
import type { TargetStatus } from './target.js';

export type LandingInfo = {
  readonly version: string;
  readonly telemetryPath: string;
  readonly targets: readonly { name: string; status: TargetStatus }[];
};

const escapes: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c] ?? c);
}

const isoTime = (seconds: number | undefined) =>
  seconds === undefined ? '' : new Date(seconds * 1000).toISOString();

/** A failing target's task is the one its last good poll saw (/metrics has withdrawn it): say when. */
const stale = (status: TargetStatus) =>
  status.up === false ? `, as of ${isoTime(status.lastSuccessAt) || 'an earlier poll'}` : '';

function targetRow({ name, status }: { name: string; status: TargetStatus }): string {
  const { task } = status;
  const up =
    status.up === undefined ? 'pending' : status.up ? '1' : `0 (${status.lastFailure?.reason ?? ''})`;
  const cells = [
    name,
    up,
    status.agent?.address ?? '',
    isoTime(status.lastPollAt),
    task ? `${task.name} (${task.id})${stale(status)}` : status.up ? 'none' : '',
    task?.state ?? '',
    task?.operator ?? '',
    task ? `${task.stage}/${task.maxStage}` : '',
  ];
  return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

export function renderLandingPage(info: LandingInfo): string {
  const path = escapeHtml(info.telemetryPath);
  const headers = ['target', 'up', 'agent', 'last poll', 'current task', 'state', 'operator', 'stage']
    .map((h) => `<th>${h}</th>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>obshell exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head>
<body>
<h1>obshell exporter</h1>
<p>Version ${escapeHtml(info.version)}. Prometheus exporter for OceanBase obshell maintenance tasks.</p>
<ul>
<li><a href="${path}">Metrics</a></li>
<li><a href="/-/healthy">Health</a> and <a href="/-/ready">readiness</a></li>
</ul>
<h2>Targets</h2>
<table>
<thead><tr>${headers}</tr></thead>
<tbody>
${info.targets.map(targetRow).join('\n')}
</tbody>
</table>
</body>
</html>
`;
}
