// What one reconcile pass sees of a resource's pods: the API object and what its Redis says.
import type { ReplicationInfo } from '../redis/info.js';
import { BOOT_PARENT } from './names.js';

export interface ObservedPod {
  name: string;
  index: number;
  /** From the tier label; 0 for the pod labelled primary. */
  tier: number;
  role: 'primary' | 'replica';
  /** From the parent annotation. */
  parent: string | undefined;
  podIP: string | undefined;
  deleting: boolean;
  /** The pod's redis container is not running (crashed, waiting to restart): its Redis cannot answer. */
  containerDown: boolean;
  /** undefined when Redis could not be reached (or the pod has no IP yet). */
  info: ReplicationInfo | undefined;
}

/** A pod whose Redis (re)started and waits for the operator to give it a role. */
export function isBooting(pod: ObservedPod): boolean {
  const info = pod.info;
  return info?.role === 'replica' && info.masterHost === BOOT_PARENT.host && info.masterPort === BOOT_PARENT.port;
}

/** A pod that accepts writes. */
export function isWritableMaster(pod: ObservedPod): boolean {
  return pod.info?.role === 'master';
}

/** How much of the replication stream a pod holds (master_repl_offset): 0 for a pod that never
 * synced, even though such a replica reports slave_repl_offset 1. -1 when it did not answer. */
export function dataOffset(pod: ObservedPod): number {
  return pod.info ? pod.info.replOffset : -1;
}
