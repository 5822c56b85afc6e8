/**
 * Keeps one `process.nextTick` queue entry alive for the life of the process, so that V8 keeps
 * defining the entries' properties inline.
 *
 * Node builds each entry with an object literal keyed by symbols. For each key V8 remembers the
 * object shape it saw, weakly; a few full GCs at an idle moment, with no entry alive, let those
 * shapes die, the next entry gets new ones, and V8 marks the four definitions megamorphic for good
 * (Node 20 to 26): every `process.nextTick` from then on, several per HTTP response, adds its
 * properties in V8's runtime. An exporter is idle between scrapes, so it got there within minutes:
 * ~15 % more CPU per /metrics request (test/bench/HISTORY.md). One entry held keeps the shapes.
 */
import { executionAsyncResource } from 'node:async_hooks';

let pinned: object | undefined;

/** Resolves once an entry is held: the current execution resource inside a tick is its entry. */
export function pinTickObjectShape(): Promise<void> {
  return new Promise((resolve) => {
    process.nextTick(() => {
      pinned ??= executionAsyncResource();
      resolve();
    });
  });
}
