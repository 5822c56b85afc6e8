/**
 * Why a finished got request outlives the young generation (see promotion.mjs): V8 allocates a
 * function literal assigned straight to a property (`o.f = () => ...`) in the old generation,
 * taking it for a long-lived method. Such a closure is only freed by a full GC, and until then a
 * young-generation GC must keep what its context captured: the object it was attached to and
 * everything reachable from it. Assigned through a local first, the same closure is young.
 *
 * got does this per request (its promise's on/off/json/buffer/text helpers, its signal listener
 * remover), p-cancelable too (its shouldReject accessors), and from Node 24 on so does every
 * Writable and Duplex (WritableState's `this.onwrite = (er) => onwrite(stream, er)`; Node 20 and
 * 22 use `onwrite.bind(undefined, stream)`), and a got request is a Duplex.
 *
 * For each case: objects made one after another, each holding ~8 KB of its own data, then two
 * young-generation GCs and the old generation's growth per object. Needs --expose-gc.
 *
 * node --expose-gc pretenured-closures.mjs
 */
import { Readable, Writable } from 'node:stream';
import { getHeapSpaceStatistics } from 'node:v8';

const objects = 100;
const ownData = () => Array.from({ length: 200 }, (_, i) => ({ i }));

const cases = {
  /** The pattern: a closure capturing its holder, assigned straight to a property. */
  propertyAssignedClosure: () => {
    const holder = { data: ownData() };
    holder.callback = () => holder;
  },
  /** The same closure assigned through a local: young, dies young. */
  localAssignedClosure: () => {
    const holder = { data: ownData() };
    const callback = () => holder;
    holder.callback = callback;
  },
  writable: () => {
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() });
    stream.data = ownData();
  },
  readable: () => {
    const stream = new Readable({ read: () => {} });
    stream.data = ownData();
  },
};

const oldSpaceUsed = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;

function survivingBytesPerObject(make) {
  for (let i = 0; i < objects; i++) make(); // compile and warm up
  const perRound = [];
  for (let round = 0; round < 5; round++) {
    globalThis.gc();
    const before = oldSpaceUsed();
    for (let i = 0; i < objects; i++) make();
    globalThis.gc({ type: 'minor' });
    globalThis.gc({ type: 'minor' });
    perRound.push((oldSpaceUsed() - before) / objects);
  }
  perRound.sort((a, b) => a - b);
  return Math.round(perRound[Math.floor(perRound.length / 2)]);
}

const result = { node: process.version };
for (const [name, make] of Object.entries(cases)) result[`${name}Bytes`] = survivingBytesPerObject(make);
process.stdout.write(`${JSON.stringify(result)}\n`);
