// Faults for tests, acting on the local cluster's processes and network namespaces.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { must, run } from '../../../hack/lib.js';
import {
  BRIDGE_IP, POD_CIDR, clusterPaths as paths0, signalGroup, pidAlive, procStartTime, cacheBinDir, type ClusterPaths,
} from '../../../hack/local-cluster/common.js';
import { restartApiServerProcess } from '../../../hack/local-cluster/control-plane.js';
import { findState, type PodState } from '../../../hack/local-cluster/node-agent/state.js';

export { clusterPaths } from '../../../hack/local-cluster/common.js';
export type { ClusterPaths } from '../../../hack/local-cluster/common.js';
export type { PodState } from '../../../hack/local-cluster/node-agent/state.js';

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
  for (const [chain, dir, peer] of [['INPUT', '-i', '-s'], ['OUTPUT', '-o', '-d']] as const) {
    if (opts.fromPodsOnly) {
      // Inserted in reverse: the host's ACCEPT ends up before the pod network's DROP.
      await iptables(['-I', chain, '1', dir, 'eth0', peer, POD_CIDR, ...FAULT_TAG, '-j', 'DROP']);
      await iptables(['-I', chain, '1', dir, 'eth0', peer, BRIDGE_IP, ...FAULT_TAG, '-j', 'ACCEPT']);
    } else {
      await iptables(['-I', chain, '1', dir, 'eth0', ...FAULT_TAG, '-j', 'DROP']);
    }
  }
  if (!opts.fromPodsOnly) {
    // Established flows through Services must not survive on stale NAT entries either.
    await run('conntrack', ['-D', '-s', ip], { timeoutMs: 5000 });
    await run('conntrack', ['-D', '-d', ip], { timeoutMs: 5000 });
  }
}

/** Undoes partitionPod (removes every rule it tagged). */
export async function healPod(namespace: string, pod: string): Promise<void> {
  const { netns } = podState(namespace, pod);
  const rules = await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-S']);
  for (const rule of rules.split('\n').filter((l) => l.startsWith('-A ') && l.includes('rro-fault'))) {
    // iptables -S prints rules as arguments; the comment is the only quoted word and has no spaces.
    const args = rule.slice(3).replaceAll('"', '').split(' ');
    await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-D', ...args]);
  }
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
