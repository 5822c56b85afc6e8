/**
 * src/tick-shape.ts against the V8 behaviour it works around, read from V8's own feedback
 * (`%DebugPrint` of process.nextTick, whose entry literal has four DefineKeyedOwnPropertyInLiteral
 * slots). The unpinned run is the control: if a Node release stops turning those slots
 * megamorphic after idle full GCs, it fails, and the pin can go.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const module = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'src', 'tick-shape.js')).href;

/** Ticks, six full GCs with no tick pending (an idle server's), ticks again, then the slots' states. */
function literalSlotStates(pin: boolean): string[] {
  const script = `
    ${pin ? `await (await import(${JSON.stringify(module)})).pinTickObjectShape();` : ''}
    const spin = (n) => { if (n > 0) process.nextTick(spin, n - 1); };
    spin(2000);
    setTimeout(() => {
      for (let i = 0; i < 6; i++) gc();
      spin(2000);
      setTimeout(() => %DebugPrint(process.nextTick), 10);
    }, 50);
  `;
  const run = spawnSync(
    process.execPath,
    ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
  return [...run.stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] ?? '');
}

describe('pinTickObjectShape', () => {
  it('without it, idle full GCs turn the tick entry literal megamorphic (the V8 behaviour)', () => {
    const states = literalSlotStates(false);
    expect(states.length).toBeGreaterThanOrEqual(4);
    expect(states).toContain('MEGAMORPHIC');
  });

  it('with it, every property definition of the entry literal stays monomorphic', () => {
    const states = literalSlotStates(true);
    expect(states.length).toBeGreaterThanOrEqual(4);
    expect(new Set(states)).toEqual(new Set(['MONOMORPHIC']));
  });
});
