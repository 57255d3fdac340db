// Metrics phase: per-pod series from status.nodes (the series of pods that went away are dropped),
// the per-resource series of src/plan/metrics.ts, and each pod's memory, asked now and then.
import type { NodeStatus } from '../api/schema.js';
import { resourceState, type MetricsInput } from '../plan/metrics.js';
import type { ObservedPod } from '../plan/observation.js';
import { pollMemory } from './measure.js';
import { redisTarget, type Pass } from './pass.js';

export async function recordMetrics(pass: Pass, input: Omit<MetricsInput, 'spec' | 'status' | 'certificateNotAfterMs'>): Promise<void> {
  const { deps, namespace, name, spec, rr } = pass;
  recordNodeMetrics(pass, input.nodes);
  deps.metrics.setResourceState(namespace, name, resourceState({ ...input, spec, status: rr.status, certificateNotAfterMs: pass.tls?.validity?.notAfterMs }));
  await recordMemory(pass, input.observed);
}

function recordNodeMetrics(pass: Pass, nodes: NodeStatus[]): void {
  const { deps, namespace, name, memory } = pass;
  const present = new Set(nodes.map((n) => n.name));
  for (const pod of memory.pods ?? []) if (!present.has(pod)) deps.metrics.forgetPod(namespace, name, pod);
  memory.pods = present;
  for (const node of nodes) {
    const labels = { namespace, resource: name, pod: node.name };
    deps.metrics.setRole(labels, node.role);
    deps.metrics.setPodInfo(labels, node.tier, node.parent);
    if (node.role === 'replica') {
      deps.metrics.setLinkUp(labels, 'up', node.link === 'up');
      deps.metrics.setReplicationLag(labels, node.lagBytes ?? 0, node.lagSeconds ?? 0);
    } else {
      deps.metrics.clearReplication(labels);
    }
  }
}

/** used_memory of every pod that answered this pass (measure.ts pollMemory). */
async function recordMemory(pass: Pass, observed: ObservedPod[]): Promise<void> {
  const { deps, namespace, name, memory } = pass;
  const answered = observed.filter((p) => p.info && p.podIP && !p.deleting).map((p) => ({ pod: p.name, target: redisTarget(pass, p.podIP!) }));
  await pollMemory({ ...deps, log: pass.log }, memory, namespace, name, answered);
}
