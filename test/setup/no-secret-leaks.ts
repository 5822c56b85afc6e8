/**
 * Runs in every test worker: fails the file when a canary secret appears in anything it writes
 * to stdout, stderr or the console. Together with the canary passwords the suite authenticates
 * with, this is the check that no secret leaks through logs, errors or crash output.
 */
import { afterAll, expect } from 'vitest';
import { canaryValues } from '../helpers/canary.js';

const leaks: string[] = [];

function watch(text: unknown): void {
  const s =
    typeof text === 'string' ? text : text instanceof Uint8Array ? Buffer.from(text).toString('utf8') : '';
  for (const value of canaryValues)
    if (s.includes(value)) leaks.push(s.slice(0, 200).replaceAll(value, '[CANARY]'));
}

for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream) as unknown as (...args: unknown[]) => boolean;
  stream.write = (chunk: unknown, ...rest: unknown[]) => {
    watch(chunk);
    return original(chunk, ...rest);
  };
}

for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    for (const arg of args) watch(arg instanceof Error ? `${arg.message}\n${arg.stack ?? ''}` : String(arg));
    original(...args);
  };
}

afterAll(() => {
  expect(leaks, 'a canary secret reached the test output').toEqual([]);
});
