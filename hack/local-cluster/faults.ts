// Faults on the local cluster's processes, network namespaces and nodes: used by the e2e tests
// (test/e2e/support/faults.ts re-exports them) and by `npm run cluster:fault` (fault-cli.ts).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, run } from '../lib.js';
import {
  BRIDGE_IP, POD_CIDR, agentName, clusterPaths as paths0, daemonPid, findNode, signal, signalGroup, pidAlive, procStartTime, cacheBinDir,
  type ClusterPaths,
} from './common.js';
import { restartApiServerProcess } from './control-plane.js';
import { allStates, findState, type PodState } from './node-agent/state.js';

export { clusterPaths } from './common.js';
export type { ClusterPaths } from './common.js';
export type { PodState } from './node-agent/state.js';

/** The on-disk state of a pod the node agent runs (netns, IP, container pids), or throws. */
export function podState(namespace: string, pod: string, p: ClusterPaths = paths0()): PodState {
  const st = findState(p.pods, namespace, pod);
  if (!st) throw new Error(`pod ${namespace}/${pod} is not run by the local node agent (no state under ${p.pods})`);
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

/** SIGKILL of the container's process (redis-server); the node agent restarts it per restartPolicy. */
export async function killContainer(namespace: string, pod: string, container?: string): Promise<void> {
  sendGroup(containerPid(namespace, pod, container), 'SIGKILL');
}

/** SIGSTOP: the process stays, answers nothing. */
export async function freezePod(namespace: string, pod: string, container?: string): Promise<void> {
  sendGroup(containerPid(namespace, pod, container), 'SIGSTOP');
}

/** SIGCONT after freezePod. */
export async function thawPod(namespace: string, pod: string, container?: string): Promise<void> {
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

/** Pids of the node's live agent, or throws. */
export function agentPid(node: string, p: ClusterPaths = paths0()): number {
  findNode(node, p);
  const pid = daemonPid(p, agentName(node));
  if (!pid) throw new Error(`the agent of node ${node} does not run`);
  return pid;
}

/** The pods (on-disk state) the node's agent runs. */
export function podsOnNode(node: string, p: ClusterPaths = paths0()): PodState[] {
  return allStates(p.pods).filter((s) => s.node === node);
}

/**
 * The node goes away as seen from the cluster: its agent is stopped (SIGSTOP: no Lease renewal, no
 * status, no pod changes) and every pod on it is cut off from the network in both directions; the
 * container processes keep running. The node controller marks it NotReady after its grace period.
 */
export async function nodeDown(node: string, p: ClusterPaths = paths0()): Promise<void> {
  const pid = agentPid(node, p);
  signal(pid, 'SIGSTOP');
  writeFileSync(downMarker(p, node), String(pid));
  for (const st of podsOnNode(node, p)) {
    if (!st.ip || !existsSync(`/run/netns/${st.netns}`)) continue;
    await removeTagged(st.netns, 'rro-node-down');
    await cutOff(st.netns, st.ip, NODE_DOWN_TAG);
  }
}

/** Undoes nodeDown: the pods' network comes back and the agent resumes (it renews its Lease, and stops pods deleted meanwhile). */
export async function nodeUp(node: string, p: ClusterPaths = paths0()): Promise<void> {
  const pid = agentPid(node, p);
  for (const st of podsOnNode(node, p)) {
    if (existsSync(`/run/netns/${st.netns}`)) await removeTagged(st.netns, 'rro-node-down');
  }
  signal(pid, 'SIGCONT');
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
