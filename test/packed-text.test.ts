import { describe, expect, it } from 'vitest';
import { renderSamples } from '../src/metrics/exposition-text.js';
import { minPackedLength, packText, unpackText } from '../src/metrics/packed-text.js';
import { TargetMetrics, targetFamilies } from '../src/metrics/target-metrics.js';
import { catalogue } from '../src/metrics/catalogue.js';
import type { Sample } from '../src/metrics/sample.js';

const states = ['PENDING', 'READY', 'RUNNING', 'FAILED', 'SUCCEED'];

/** The node state-set of a task with `nodes` nodes, the biggest per-target family. */
function nodeStates(nodes: number, running = 0, nodeName = (i: number) => `Add server 10.0.0.${i}:2882`) {
  const samples: Sample[] = [];
  for (let i = 1; i <= nodes; i++) {
    for (const state of states) {
      const labels = {
        target: 'prod-α',
        task_id: '42',
        task_type: 'Cluster scale out',
        node_index: String(i),
      };
      const value = state === (i === running ? 'RUNNING' : 'SUCCEED') ? 1 : 0;
      samples.push({ labels: { ...labels, node: nodeName(i), state }, value });
    }
  }
  return samples;
}

describe('packed text', () => {
  it('keeps short text as the very string', () => {
    const line = 'obshell_up{target="a"} 1';
    expect(packText(line)).toBe(line);
    expect(unpackText(line)).toBe(line);
  });

  it('deflates long text to a fraction of its size and gives back the exact text, UTF-8 included', () => {
    const text = renderSamples(
      catalogue.nodeState.name,
      nodeStates(9, 0, (i) => `扩容节点 ${i} "quoted" \\ back`),
    );
    expect(text.length).toBeGreaterThan(minPackedLength);
    const packed = packText(text);
    expect(typeof packed).toBe('object');
    const { deflated } = packed as { deflated: string };
    expect(deflated.length).toBeLessThan(Buffer.byteLength(text) / 8);
    expect(unpackText(packed)).toBe(text);
  });
});

describe('TargetMetrics with packed gauge text', () => {
  const nodeStateFamily = targetFamilies.indexOf('nodeState');

  it('renders a long family exactly and bumps its version only when the text changes', () => {
    let changes = 0;
    const metrics = new TargetMetrics('prod-α', () => (changes += 1));
    metrics.setSnapshot({ nodeState: nodeStates(9) });
    const expected = renderSamples(catalogue.nodeState.name, nodeStates(9));
    expect(metrics.text(nodeStateFamily)).toBe(expected);
    const version = metrics.versions[nodeStateFamily];

    metrics.setSnapshot({ nodeState: nodeStates(9) }); // the same text again
    expect(metrics.versions[nodeStateFamily]).toBe(version);

    metrics.setSnapshot({ nodeState: nodeStates(9, 4) }); // node 4 now RUNNING
    expect(metrics.versions[nodeStateFamily]).toBe((version ?? 0) + 1);
    expect(metrics.text(nodeStateFamily)).toBe(renderSamples(catalogue.nodeState.name, nodeStates(9, 4)));
    expect(changes).toBeGreaterThan(0);
  });
});
