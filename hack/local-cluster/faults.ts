// Faults on the local cluster's processes, network namespaces and nodes: used by the e2e tests
// (test/e2e/support/faults.ts re-exports them) and by `npm run cluster:fault` (fault-cli.ts).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, run } from '../lib.js';
import {
  BRIDGE_IP, POD_CIDR, agentName, clusterNodeKind, clusterNodes, clusterPaths as paths0, daemonPid, findNode, signal, signalGroup, pidAlive, procStartTime, cacheBinDir,
  type ClusterPaths,
} from './common.js';
import { restartApiServerProcess } from './control-plane.js';
import { containerdName, ctr, kubeletName } from './kubelet-node.js';
import { criPodState, criPodsOnNode } from './cri-pods.js';
import { allStates, findState, type PodState } from './node-agent/state.js';

export { clusterPaths } from './common.js';
export type { ClusterPaths } from './common.js';
export type { PodState } from './node-agent/state.js';

/** The state of a running pod (node, netns, IP, container pids): from the node's containerd on
 * kubelet nodes, from the node agent's state.json on agent nodes; throws when no node runs it. */
export function podState(namespace: string, pod: string, p: ClusterPaths = paths0()): PodState {
  const st = clusterNodeKind(p) === 'kubelet' ? criPodState(p, clusterNodes(p), namespace, pod) : findState(p.pods, namespace, pod);
  if (!st) throw new Error(`pod ${namespace}/${pod} runs on no node of the local cluster`);
  return st;
}

/** The pod's IP as the node agent assigned it. */
export function podIPOf(namespace: string, pod: string): string {
  return podState(namespace, pod).ip;
}

/** Pid of a live container process of the pod (the first container unless one is named). */
export function containerPid(namespace: string, pod: string, container?: string): number {
  const st = podState(namespace, pod);
  const entries = Object.entries(st.containers).filter(([n]) => container !== undefined || !n.startsWith('init:'));
  const hit = container ? entries.find(([n]) => n === container) : entries[0];
  const c = hit?.[1];
  if (!c?.pid || !pidAlive(c.pid) || (c.pidStart !== undefined && procStartTime(c.pid) !== c.pidStart)) {
    throw new Error(`pod ${namespace}/${pod}: container ${container ?? hit?.[0] ?? '?'} has no running process`);
  }
  return c.pid;
}

function sendGroup(pid: number, sig: NodeJS.Signals): void {
  if (!signalGroup(pid, sig)) throw new Error(`could not send ${sig} to ${pid}`);
}

/** SIGKILL of the container's process (redis-server: on a kubelet node the container's PID 1, which
 * takes the whole container down); the kubelet (or agent) restarts it per restartPolicy, with its back-off. */
export async function killContainer(namespace: string, pod: string, container?: string): Promise<void> {
  const pid = containerPid(namespace, pod, container);
  if (clusterNodeKind() === 'kubelet') {
    if (!signal(pid, 'SIGKILL')) throw new Error(`could not send SIGKILL to ${pid}`);
  } else {
    sendGroup(pid, 'SIGKILL');
  }
}

/** The CRI container of a pod on a kubelet node: its node and id. */
function criContainer(namespace: string, pod: string, container?: string): { node: string; id: string } {
  const st = podState(namespace, pod);
  const hit = container ? st.containers[container] : Object.values(st.containers)[0];
  if (!hit?.id || !hit.pid) throw new Error(`pod ${namespace}/${pod}: container ${container ?? '(first)'} is not running`);
  return { node: st.node, id: hit.id };
}

/** The container stops answering, its processes stay: containerd's pause (the freezer cgroup) on a
 * kubelet node, SIGSTOP on an agent node. */
export async function freezePod(namespace: string, pod: string, container?: string): Promise<void> {
  if (clusterNodeKind() === 'kubelet') {
    const c = criContainer(namespace, pod, container);
    await ctr(paths0(), c.node, ['tasks', 'pause', c.id], 30_000);
    return;
  }
  sendGroup(containerPid(namespace, pod, container), 'SIGSTOP');
}

/** Undoes freezePod. */
export async function thawPod(namespace: string, pod: string, container?: string): Promise<void> {
  if (clusterNodeKind() === 'kubelet') {
    const c = criContainer(namespace, pod, container);
    await ctr(paths0(), c.node, ['tasks', 'resume', c.id], 30_000);
    return;
  }
  sendGroup(containerPid(namespace, pod, container), 'SIGCONT');
}

const FAULT_TAG = ['-m', 'comment', '--comment', 'rro-fault'];

/**
 * Drops every packet into and out of the pod's eth0 (loopback inside the pod keeps working).
 * With `fromPodsOnly`, only traffic with other pods is dropped: the host (the operator, clients on the
 * machine, Services reached from the host) still gets through, as when a primary loses its replicas
 * but not every client.
 */
export async function partitionPod(namespace: string, pod: string, opts: { fromPodsOnly?: boolean } = {}): Promise<void> {
  const { netns, ip } = podState(namespace, pod);
  const iptables = (args: string[]) => must('ip', ['netns', 'exec', netns, 'iptables', '-w', ...args]);
  await healPod(namespace, pod);
  if (!opts.fromPodsOnly) {
    await cutOff(netns, ip, FAULT_TAG);
    return;
  }
  for (const [chain, dir, peer] of [['INPUT', '-i', '-s'], ['OUTPUT', '-o', '-d']] as const) {
    // Inserted in reverse: the host's ACCEPT ends up before the pod network's DROP.
    await iptables(['-I', chain, '1', dir, 'eth0', peer, POD_CIDR, ...FAULT_TAG, '-j', 'DROP']);
    await iptables(['-I', chain, '1', dir, 'eth0', peer, BRIDGE_IP, ...FAULT_TAG, '-j', 'ACCEPT']);
  }
}

/** Drops every packet into and out of eth0 of a pod's netns (rules tagged `tag`), and its conntrack entries. */
async function cutOff(netns: string, ip: string, tag: string[]): Promise<void> {
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
    await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-I', chain, '1', dir, 'eth0', ...tag, '-j', 'DROP']);
  }
  // Established flows through Services must not survive on stale NAT entries either.
  await run('conntrack', ['-D', '-s', ip], { timeoutMs: 5000 });
  await run('conntrack', ['-D', '-d', ip], { timeoutMs: 5000 });
}

/** Removes the rules tagged with `tag` (the comment) from a pod's netns. */
async function removeTagged(netns: string, tag: string): Promise<void> {
  const rules = await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-S']);
  for (const rule of rules.split('\n').filter((l) => l.startsWith('-A ') && l.includes(`--comment ${tag}`))) {
    // iptables -S prints rules as arguments; the comment is the only quoted word and has no spaces.
    const args = rule.slice(3).replaceAll('"', '').split(' ');
    await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-D', ...args]);
  }
}

/** Undoes partitionPod (removes every rule it tagged). */
export async function healPod(namespace: string, pod: string): Promise<void> {
  await removeTagged(podState(namespace, pod).netns, 'rro-fault');
}

const NODE_DOWN_TAG = ['-m', 'comment', '--comment', 'rro-node-down'];
const downMarker = (p: ClusterPaths, node: string): string => join(p.run, `node-down-${node}`);

/** Whether nodeDown was applied to the node (and no nodeUp since). */
export function isNodeDown(node: string, p: ClusterPaths = paths0()): boolean {
  return existsSync(downMarker(p, node));
}

/** Pid of the node's live agent (kubelet nodes: its kubelet), or throws. */
export function agentPid(node: string, p: ClusterPaths = paths0()): number {
  findNode(node, p);
  const name = clusterNodeKind(p) === 'kubelet' ? kubeletName(node) : agentName(node);
  const pid = daemonPid(p, name);
  if (!pid) throw new Error(`${name} does not run`);
  return pid;
}

/** Pids of the node's processes that a lost machine takes with it: agent, or kubelet and containerd. */
function nodeDaemonPids(node: string, p: ClusterPaths): number[] {
  if (clusterNodeKind(p) === 'agent') return [agentPid(node, p)];
  const pids = [kubeletName(node), containerdName(node)].map((d) => daemonPid(p, d));
  if (pids.some((x) => x === undefined)) throw new Error(`node ${node}: kubelet or containerd does not run`);
  return pids as number[];
}

/** The pods the node runs. */
export function podsOnNode(node: string, p: ClusterPaths = paths0()): PodState[] {
  if (clusterNodeKind(p) === 'kubelet') return criPodsOnNode(p, node);
  return allStates(p.pods).filter((s) => s.node === node);
}

/**
 * The node goes away as seen from the cluster, as a lost machine: its agent (kubelet nodes: kubelet
 * and containerd) is stopped (SIGSTOP: no Lease renewal, no status, no pod changes) and every pod on
 * it is cut off from the network in both directions; the container processes keep running. The node
 * controller marks it NotReady after its grace period. The pods' namespaces are recorded in the
 * down marker (containerd cannot be asked while it is stopped).
 */
export async function nodeDown(node: string, p: ClusterPaths = paths0()): Promise<void> {
  const pids = nodeDaemonPids(node, p);
  const pods = podsOnNode(node, p).filter((st) => st.ip && existsSync(`/run/netns/${st.netns}`));
  for (const pid of pids) signal(pid, 'SIGSTOP');
  writeFileSync(downMarker(p, node), JSON.stringify({ pids, netns: pods.map((st) => st.netns) }));
  for (const st of pods) {
    await removeTagged(st.netns, 'rro-node-down');
    await cutOff(st.netns, st.ip, NODE_DOWN_TAG);
  }
}

/** Undoes nodeDown: the pods' network comes back and the node resumes (it renews its Lease, and stops pods deleted meanwhile). */
export async function nodeUp(node: string, p: ClusterPaths = paths0()): Promise<void> {
  const pids = nodeDaemonPids(node, p);
  let netns: string[] = [];
  try {
    netns = (JSON.parse(readFileSync(downMarker(p, node), 'utf8')) as { netns: string[] }).netns;
  } catch { /* not down, or down by an older version: no namespaces recorded */ }
  for (const ns of netns) if (existsSync(`/run/netns/${ns}`)) await removeTagged(ns, 'rro-node-down');
  for (const pid of [...pids].reverse()) signal(pid, 'SIGCONT');
  rmSync(downMarker(p, node), { force: true });
}

/**
 * Kills kube-apiserver and starts it again with the same arguments; resolves once /readyz is ok.
 * kube-controller-manager, kube-scheduler and kube-proxy are restarted right after, because their
 * client-go informers would otherwise back off for a minute or more; pods and the node agent are untouched.
 */
export async function restartApiServer(): Promise<void> {
  const p = paths0();
  const bin = existsSync(join(p.bin, 'kube-apiserver')) ? p.bin : cacheBinDir();
  await restartApiServerProcess(p, bin);
}
