// The observation model: what one reconcile pass sees of a resource's pods (the API object and what
// its Redis says) and of its claims. Every decision reads this, and only this.
import type { V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { ReplicationInfo, ServerInfo } from '../redis/info.js';
import { ANNOTATION, BOOT_PARENT, LABEL, REDIS_CONTAINER, podIndex } from './names.js';
import type { ClaimRef } from './topology.js';

export interface ObservedPod {
  name: string;
  /** The n of <resource>-<n>. */
  index: number;
  /** From the tier label; 0 for the pod labelled primary. */
  tier: number;
  role: 'primary' | 'replica';
  /** From the parent annotation. */
  parent: string | undefined;
  /** The pod template revision it was built from (annotation); undefined for pods from before revisions. */
  revision?: string | undefined;
  /** The image of its redis container. */
  image?: string | undefined;
  podIP: string | undefined;
  deleting: boolean;
  /** The pod's redis container is not running (crashed, waiting to restart): its Redis cannot answer. */
  containerDown: boolean;
  /** The node it runs on, and whether that node is being drained (cordoned: unschedulable). */
  node?: string | undefined;
  zone?: string | undefined;
  draining?: boolean;
  /** undefined when Redis could not be reached (or the pod has no IP yet). */
  info: ReplicationInfo | undefined;
  /** Which server it runs, and its version (INFO server), once known. */
  server?: ServerInfo | undefined;
  /** Why the pod does not run, when Kubernetes says (see podProblem). */
  problem?: { reason: string; message: string } | undefined;
}

/** The API half of an observation; `info` is filled in by asking the pod's Redis. Pods whose name is
 * not `<resource>-<n>` are not the operator's and are ignored. */
export function observePodObject(resource: string, pod: V1Pod): Omit<ObservedPod, 'info'> | undefined {
  const name = pod.metadata?.name;
  const index = name ? podIndex(resource, name) : undefined;
  if (!name || index === undefined) return undefined;
  const labels = pod.metadata?.labels ?? {};
  const running = pod.status?.phase === 'Running';
  return {
    name,
    index,
    tier: tierLabel(labels[LABEL.tier]),
    role: labels[LABEL.role] === 'primary' ? 'primary' : 'replica',
    parent: pod.metadata?.annotations?.[ANNOTATION.parent],
    revision: pod.metadata?.annotations?.[ANNOTATION.revision],
    image: pod.spec?.containers?.find((c) => c.name === REDIS_CONTAINER)?.image,
    podIP: running ? pod.status?.podIP : undefined,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    // Of the redis container only: a sidecar another controller injects (a service mesh's proxy) that
    // restarts says nothing of Redis, whose data a decision on a down container gives up at once.
    containerDown: running && Boolean(pod.status?.containerStatuses?.some((c) => c.name === REDIS_CONTAINER && !c.state?.running)),
    node: pod.spec?.nodeName,
    problem: podProblem(pod),
  };
}

/** Waiting reasons that are only steps of a normal start. */
const STARTING = new Set(['ContainerCreating', 'PodInitializing']);

/** Why a pod does not run, as Kubernetes reports it: it cannot be scheduled (an unbound claim, no
 * node that fits), or its container waits for a reason other than starting (an image that cannot
 * be pulled or run, a crash loop, a missing Secret or ConfigMap). Undefined for a pod on its way. */
export function podProblem(pod: V1Pod): { reason: string; message: string } | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (pod.status?.phase === 'Pending' && unscheduled) return { reason: 'Unschedulable', message: unscheduled.message ?? 'no node fits the pod' };
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && !STARTING.has(waiting.reason)) return { reason: waiting.reason, message: `container ${c.name}: ${waiting.message ?? waiting.reason}` };
  }
  return undefined;
}

/** The pod a persistent claim belongs to, from the labels the operator put on it. */
export function observeClaim(resource: string, claim: V1PersistentVolumeClaim): ClaimRef | undefined {
  const labels = claim.metadata?.labels ?? {};
  const pod = labels[LABEL.pod];
  const index = pod ? podIndex(resource, pod) : undefined;
  if (!pod || index === undefined) return undefined;
  return { pod, index, tier: tierLabel(labels[LABEL.tier]), holdsData: claim.metadata?.annotations?.[ANNOTATION.holdsData] === 'true' };
}

/** A missing tier label means tier 1 (a replica); an unreadable one means 0. */
function tierLabel(value: string | undefined): number {
  return Number(value ?? '1') || 0;
}

/** A pod whose Redis (re)started and waits for the operator to give it a role. */
export function isBooting(pod: Pick<ObservedPod, 'info'>): boolean {
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

/** Pods whose data claim is not yet marked as holding data although the pod now holds some. */
export function claimsToMark(observed: ObservedPod[], claims: ClaimRef[]): string[] {
  const unmarked = new Set(claims.filter((c) => !c.holdsData).map((c) => c.pod));
  return observed.filter((p) => unmarked.has(p.name) && (isWritableMaster(p) || dataOffset(p) > 0)).map((p) => p.name);
}

/** A node being drained: cordoned (`kubectl cordon`, `kubectl drain`), or tainted unschedulable. */
export function isDraining(node: V1Node | undefined): boolean {
  return Boolean(node?.spec?.unschedulable || node?.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unschedulable'));
}
