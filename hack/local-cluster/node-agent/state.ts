// Per-pod state kept on disk under .cluster/pods/<uid>/state.json, so that faults and a restarted agent can find it.
import { readFileSync, readdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export interface ContainerState {
  /** the CRI container id (kubelet nodes) */
  id?: string;
  pid?: number | undefined;
  /** start time of pid in clock ticks since boot (tells a reused pid apart) */
  pidStart?: number | undefined;
  startedAt?: string;
  restartCount: number;
}

export interface PodState {
  uid: string;
  namespace: string;
  name: string;
  /** the node whose agent runs the pod */
  node: string;
  netns: string;
  veth: string;
  ip: string;
  createdAt: string;
  /** init containers (keys init:<name> in containers) all completed */
  initDone?: boolean;
  containers: Record<string, ContainerState>;
}

export function podDir(podsRoot: string, uid: string): string {
  return join(podsRoot, uid);
}

export function writeState(podsRoot: string, st: PodState): void {
  const file = join(podDir(podsRoot, st.uid), 'state.json');
  writeFileSync(file + '.tmp', JSON.stringify(st, null, 2));
  renameSync(file + '.tmp', file);
}

export function readState(podsRoot: string, uid: string): PodState | undefined {
  try {
    return JSON.parse(readFileSync(join(podDir(podsRoot, uid), 'state.json'), 'utf8')) as PodState;
  } catch {
    return undefined;
  }
}

export function allStates(podsRoot: string): PodState[] {
  let uids: string[] = [];
  try {
    uids = readdirSync(podsRoot);
  } catch {
    return [];
  }
  return uids.map((u) => readState(podsRoot, u)).filter((s): s is PodState => s !== undefined);
}

export function findState(podsRoot: string, namespace: string, name: string): PodState | undefined {
  const matches = allStates(podsRoot).filter((s) => s.namespace === namespace && s.name === name);
  return matches.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}
