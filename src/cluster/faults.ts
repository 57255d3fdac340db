// Faults for tests, acting on the local cluster's processes and network namespaces.
import { run, must, clusterPaths as paths0, signal, pidAlive, procStartTime, cacheBinDir, type ClusterPaths } from './common.js';
import { restartApiServerProcess } from './control-plane.js';
import { findState, type PodState } from './node-agent/state.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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
  if (!signal(-pid, sig) && !signal(pid, sig)) throw new Error(`could not send ${sig} to ${pid}`);
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

/** Drops every packet into and out of the pod's eth0 (loopback inside the pod keeps working). */
export async function partitionPod(namespace: string, pod: string): Promise<void> {
  const { netns } = podState(namespace, pod);
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
    if ((await run('ip', ['netns', 'exec', netns, 'iptables', '-w', '-C', chain, dir, 'eth0', '-j', 'DROP'])).code !== 0) {
      await must('ip', ['netns', 'exec', netns, 'iptables', '-w', '-I', chain, '1', dir, 'eth0', '-j', 'DROP']);
    }
  }
  // Established flows through Services must not survive on stale NAT entries either.
  const st = podState(namespace, pod);
  await run('conntrack', ['-D', '-s', st.ip], { timeoutMs: 5000 });
  await run('conntrack', ['-D', '-d', st.ip], { timeoutMs: 5000 });
}

/** Undoes partitionPod. */
export async function healPod(namespace: string, pod: string): Promise<void> {
  const { netns } = podState(namespace, pod);
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
    while ((await run('ip', ['netns', 'exec', netns, 'iptables', '-w', '-D', chain, dir, 'eth0', '-j', 'DROP'])).code === 0) { /* every copy */ }
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
