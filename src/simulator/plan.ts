/**
 * Plans one DAG's life as timed mutations (contract §4.5, §5), then replays them up to any
 * instant. Replaying from scratch keeps every answer a pure function of the elapsed time.
 */
import type { DagModel, NodeModel, NodeSpec, Operator, SubModel, TaskSpec } from './story.js';

type Event = { at: number; seq: number; apply: (d: DagModel, now: number) => void };

export type RunOptions = {
  operator?: Operator;
  /** Index of the sub-task that fails, with the ERROR line it logs. */
  fail?: { sub: number; error: string };
  /** The node is cancelled this many seconds after it starts. */
  cancelAfter?: number;
};

function node(d: DagModel, i: number): NodeModel {
  const found = d.nodes[i];
  if (!found) throw new RangeError(`${d.spec.name} has no node ${i}`);
  return found;
}
function sub(d: DagModel, i: number, j: number): SubModel {
  const found = node(d, i).subs[j];
  if (!found) throw new RangeError(`${d.spec.name} node ${i} has no sub-task ${j}`);
  return found;
}
const fill = (template: string, s: SubModel) => template.replaceAll('{ip}', s.agent.ip);

/** Small deterministic jitter so times look measured, not computed. */
const jitter = (n: number) => (((n * 2654435761) % 1000003) / 1000003) * 0.04;

export class Planner {
  private readonly events: Event[] = [];
  /** Node index → sub-task indexes that failed and a retry must run again. */
  private readonly failed = new Map<number, number[]>();
  private cursor: number;

  constructor(
    private readonly shape: DagModel,
    created: number,
  ) {
    this.cursor = created;
  }

  get spec(): TaskSpec {
    return this.shape.spec;
  }

  /** Story second of the last planned change. */
  get end(): number {
    return this.events.reduce((max, e) => Math.max(max, e.at), this.cursor);
  }

  private nodeSpec(i: number): NodeSpec {
    const spec = this.spec.nodes[i];
    if (!spec) throw new RangeError(`${this.spec.name} has no node ${i}`);
    return spec;
  }

  subCount(i: number): number {
    return node(this.shape, i).subs.length;
  }

  private add(at: number, apply: Event['apply']): void {
    this.events.push({ at, seq: this.events.length, apply });
  }

  private step(seconds: number): number {
    this.cursor += seconds + jitter(this.events.length + this.shape.dagId);
    return this.cursor;
  }

  wait(seconds: number): void {
    this.cursor += seconds;
  }

  /** The scheduler picks a READY DAG up within a fraction of a second. */
  start(): void {
    this.add(this.step(0.2), (d, now) => {
      d.state = 'RUNNING';
      d.start = now;
    });
  }

  runNodes(from: number, to: number): void {
    for (let i = from; i < to; i += 1) this.runNode(i);
  }

  runNode(i: number, opts: RunOptions = {}): void {
    const spec = this.nodeSpec(i);
    const start = this.step(1);
    const operator = opts.operator ?? 'RUN';
    const limit = opts.cancelAfter === undefined ? Infinity : start + opts.cancelAfter;
    this.add(start, (d, now) => {
      d.stage = i + 1;
      Object.assign(node(d, i), { state: 'RUNNING', operator, start: now, end: now });
    });
    const rerun = operator === 'RETRY' ? this.failed.get(i) : undefined;
    const subs = rerun ?? node(this.shape, i).subs.map((_, j) => j);
    const usable = Math.max(0.2, spec.seconds - 1.05);
    const ends = subs.map((j) =>
      this.planSub(i, j, start + 0.017 + 0.003 * j, usable, subs.length, opts, limit),
    );
    if (rerun) this.failed.delete(i);
    if (limit !== Infinity) {
      this.cursor = limit;
      return;
    }
    const failed = opts.fail !== undefined;
    this.cursor = Math.max(...ends) + 1 + jitter(i);
    this.add(this.cursor, (d, now) => {
      Object.assign(node(d, i), { state: failed ? 'FAILED' : 'SUCCEED', end: now });
    });
  }

  private planSub(
    i: number,
    j: number,
    start: number,
    usable: number,
    n: number,
    o: RunOptions,
    limit: number,
  ) {
    const fails = o.fail?.sub === j;
    const end = start + usable * (fails ? 0.6 : 0.55 + (0.45 * (j + 1)) / n);
    const lines = this.nodeSpec(i).logs ?? [];
    this.add(start, (d, now) => {
      const s = sub(d, i, j);
      Object.assign(s, { state: 'RUNNING', operator: 'RUN', start: now, executeTimes: s.executeTimes + 1 });
      s.logs ??= [];
    });
    lines.forEach((line, k) => {
      const at = start + ((end - start) * (k + 1)) / (lines.length + 1);
      if (at <= limit) this.add(at, (d) => sub(d, i, j).logs?.push(fill(line, sub(d, i, j))));
    });
    if (end > limit) return end;
    if (fails) this.failed.set(i, [...(this.failed.get(i) ?? []), j]);
    this.add(end, (d, now) => {
      const s = sub(d, i, j);
      if (fails) s.logs?.push(o.fail?.error ?? 'ERROR: [Common.Unexpected]: Unexpected error');
      Object.assign(s, { state: fails ? 'FAILED' : 'SUCCEED', end: now });
    });
    return end;
  }

  finish(state: 'SUCCEED' | 'FAILED'): void {
    this.add(this.step(0.01), (d, now) => {
      d.state = state;
      d.end = now;
    });
  }

  /** Retry, rollback and cancel: READY with the new operator, both times reset to the epoch. */
  reset(operator: Operator): void {
    this.add(this.step(0), (d) => Object.assign(d, { state: 'READY', operator, start: null, end: null }));
  }

  replay(d: DagModel, until: number): DagModel {
    const due = this.events.filter((e) => e.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const e of due) e.apply(d, e.at);
    return d;
  }

  /** Nodes from..1 run backwards; each executed sub-task runs its rollback (execute_times + 1). */
  rollback(from: number): void {
    this.reset('ROLLBACK');
    this.start();
    for (let i = from; i >= 0; i -= 1) {
      const start = this.step(1);
      this.add(start, (d, now) => {
        d.stage = i + 1;
        Object.assign(node(d, i), { state: 'RUNNING', operator: 'ROLLBACK', start: now, end: now });
        for (const s of node(d, i).subs.filter((x) => x.executeTimes > 0)) {
          Object.assign(s, { state: 'RUNNING', operator: 'ROLLBACK', executeTimes: s.executeTimes + 1 });
          s.logs?.push(`rollback ${node(d, i).name} on ${s.agent.ip}`);
        }
      });
      this.cursor = start + Math.min(20, 1 + this.nodeSpec(i).seconds * 0.3);
      this.add(this.cursor, (d, now) => {
        for (const s of node(d, i).subs.filter((x) => x.operator === 'ROLLBACK')) {
          Object.assign(s, { state: 'SUCCEED', end: now });
        }
        Object.assign(node(d, i), { state: 'SUCCEED', end: now });
      });
    }
    this.finish('SUCCEED');
  }

  /** Cancel of a running node: its unfinished sub-tasks fail with "sub task cancelled". */
  cancel(i: number): void {
    this.reset('CANCEL');
    this.start();
    this.add(this.step(1), (d, now) => {
      for (const s of node(d, i).subs.filter((x) => x.state !== 'SUCCEED')) {
        Object.assign(s, { state: 'FAILED', end: now });
        s.logs = [...(s.logs ?? []), 'sub task cancelled'];
      }
      Object.assign(node(d, i), { state: 'FAILED', operator: 'CANCEL', end: now });
    });
    this.finish('FAILED');
  }

  /** Pass: the DAG is SUCCEED/PASS at once; the failed node and the rest become SUCCEED/PASS. */
  pass(from: number): void {
    this.add(this.step(0), (d, now) => {
      Object.assign(d, { state: 'SUCCEED', operator: 'PASS', end: now });
      for (const n of d.nodes.slice(from)) {
        Object.assign(n, { state: 'SUCCEED', operator: 'PASS' });
        for (const s of n.subs.filter((x) => x.state !== 'SUCCEED')) {
          // Never executed: execute_times stays 0; finished, so its (empty) logs are loaded.
          Object.assign(s, { state: 'SUCCEED', operator: 'PASS', logs: s.logs ?? [] });
        }
      }
    });
  }
}
