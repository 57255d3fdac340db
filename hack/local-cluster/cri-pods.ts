// The state of a pod on a kubelet node, read from its containerd through CRI (crictl): the same
// shape as the node agent's state.json, so that faults and tests address pods alike on both kinds.
import { procStartTime, type ClusterPaths, type NodeSpec } from './common.js';
import { crictl } from './kubelet-node.js';
import type { PodState } from './node-agent/state.js';

interface Sandbox { id: string; state: string; createdAt: string; metadata: { name: string; uid: string; namespace: string } }
interface Container { id: string; state: string; createdAt: string; metadata: { name: string; attempt?: number } }

const json = <T>(text: string): T => JSON.parse(text) as T;

function sandboxes(paths: ClusterPaths, node: string, filter: string[] = []): Sandbox[] {
  return json<{ items: Sandbox[] | null }>(crictl(paths, node, ['pods', ...filter, '-o', 'json'])).items ?? [];
}

/** Everything the tests need of one sandbox: its address, network namespace and live containers. */
function stateOf(paths: ClusterPaths, node: string, sb: Sandbox): PodState {
  const info = json<{ status: { network?: { ip?: string } }; info?: { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } } }>(
    crictl(paths, node, ['inspectp', sb.id]));
  const netnsPath = info.info?.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path ?? '';
  const containers: PodState['containers'] = {};
  const list = json<{ containers: Container[] | null }>(crictl(paths, node, ['ps', '--all', '--pod', sb.id, '-o', 'json'])).containers ?? [];
  // Newest attempt first: a restarted container's earlier attempts are kept, exited, until collected.
  for (const c of list.sort((a, b) => Number(BigInt(b.createdAt) - BigInt(a.createdAt)))) {
    if (containers[c.metadata.name]) continue;
    let pid: number | undefined;
    if (c.state === 'CONTAINER_RUNNING') pid = json<{ info?: { pid?: number } }>(crictl(paths, node, ['inspect', c.id])).info?.pid;
    containers[c.metadata.name] = { id: c.id, pid, pidStart: pid ? procStartTime(pid) : undefined, restartCount: c.metadata.attempt ?? 0 };
  }
  return {
    uid: sb.metadata.uid, namespace: sb.metadata.namespace, name: sb.metadata.name, node,
    netns: netnsPath.split('/').pop() ?? '', veth: '', ip: info.status.network?.ip ?? '',
    createdAt: new Date(Number(BigInt(sb.createdAt) / 1_000_000n)).toISOString(), containers,
  };
}

/** The pod's ready sandbox on whichever kubelet node runs it, or undefined. */
export function criPodState(paths: ClusterPaths, nodes: NodeSpec[], namespace: string, pod: string): PodState | undefined {
  for (const n of nodes) {
    const hits = sandboxes(paths, n.name, ['--namespace', namespace, '--label', `io.kubernetes.pod.name=${pod}`, '--state', 'ready'])
      .filter((s) => s.metadata.namespace === namespace && s.metadata.name === pod);
    const newest = hits.sort((a, b) => Number(BigInt(b.createdAt) - BigInt(a.createdAt)))[0];
    if (newest) return stateOf(paths, n.name, newest);
  }
  return undefined;
}

/** The ready pods of one kubelet node. */
export function criPodsOnNode(paths: ClusterPaths, node: string): PodState[] {
  return sandboxes(paths, node, ['--state', 'ready']).map((s) => stateOf(paths, node, s));
}
