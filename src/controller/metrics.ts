// Per-pod metric series from status.nodes; the series of pods that went away are dropped.
import type { NodeStatus } from '../api/schema.js';
import type { Pass } from './pass.js';

export function recordNodeMetrics(pass: Pass, nodes: NodeStatus[]): void {
  const { deps, namespace, name, memory } = pass;
  const present = new Set(nodes.map((n) => n.name));
  for (const pod of memory.pods ?? []) if (!present.has(pod)) deps.metrics.forgetPod(namespace, name, pod);
  memory.pods = present;
  for (const node of nodes) {
    const labels = { namespace, resource: name, pod: node.name };
    deps.metrics.setRole(labels, node.role);
    if (node.role === 'replica') {
      deps.metrics.setLinkUp(labels, 'up', node.link === 'up');
      deps.metrics.setReplicationLag(labels, node.lagBytes ?? 0, node.lagSeconds ?? 0);
    } else {
      deps.metrics.clearReplication(labels);
    }
  }
}
