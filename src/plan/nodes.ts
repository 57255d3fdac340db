// status.nodes from what was observed: the placement of each pod and its INFO replication.
import { totalPods, type NodeStatus, type RedisReplicationSpec } from '../api/schema.js';
import type { ObservedPod } from './observation.js';
import { replicaSync, type ReplicaSync, type SyncMark } from './sync.js';

/** A pod as status shows it: its place in the topology (as planned) and what its Redis said. */
export type NodePod = Pick<ObservedPod, 'name' | 'index' | 'tier' | 'parent' | 'podIP' | 'info'> & Partial<Pick<ObservedPod, 'node' | 'zone' | 'server'>>;

/** Where a pod runs and what, as status shows it (absent fields stay out). */
const where = (pod: NodePod) => ({
  ...(pod.node ? { node: pod.node } : {}),
  ...(pod.zone ? { zone: pod.zone } : {}),
  ...(pod.server ? { server: pod.server.server, version: pod.server.version } : {}),
});

export interface NodesInput {
  primary: string;
  pods: NodePod[];
  readService: RedisReplicationSpec['readService'];
  /** Each replica's sync mark from the last pass (plan/sync.ts): none, and no replica is synced yet. */
  marks?: ReadonlyMap<string, SyncMark> | undefined;
}

const parentOf = (pod: NodePod, byName: Map<string, NodePod>) => (pod.parent === undefined ? undefined : byName.get(pod.parent));

/** The link of every replica, and the marks to keep for the next pass. */
export function replicaLinks(input: NodesInput): Map<string, ReplicaSync> {
  const byName = new Map(input.pods.map((p) => [p.name, p]));
  return new Map(input.pods.filter((p) => p.name !== input.primary).map((p) => [p.name, replicaSync(p, parentOf(p, byName), input.marks?.get(p.name))]));
}

/** Seconds since the parent last heard from the replica, as the parent reports it, else since the replica last heard from its parent.
 * Replicas acknowledge once a second, so the first second is sampling noise, not lag: counting it would
 * flip status between 0 and 1 on an idle resource. */
function lagSeconds(pod: NodePod, parent: NodePod | undefined): number | undefined {
  const entry = pod.podIP === undefined ? undefined : parent?.info?.replicas.find((r) => r.ip === pod.podIP);
  const raw = entry && entry.lag >= 0 ? entry.lag : pod.info?.role === 'replica' && pod.info.lastIoSecondsAgo >= 0 ? pod.info.lastIoSecondsAgo : undefined;
  return raw === undefined ? undefined : Math.max(0, raw - 1);
}

function primaryNode(pod: NodePod, includePrimary: boolean): NodeStatus {
  return {
    name: pod.name,
    role: 'primary',
    tier: 0,
    podIP: pod.podIP,
    ...where(pod),
    offset: pod.info?.replOffset,
    read: includePrimary && pod.info?.role === 'master',
  };
}

function replicaNode(pod: NodePod, parent: NodePod | undefined, state: NonNullable<NodeStatus['link']>, maxLagSeconds: number): NodeStatus {
  const offset = pod.info?.role === 'replica' ? pod.info.replicaOffset : undefined;
  const parentOffset = parent?.info?.replOffset;
  const lag = lagSeconds(pod, parent);
  return {
    name: pod.name,
    role: 'replica',
    tier: pod.tier,
    parent: pod.parent,
    podIP: pod.podIP,
    ...where(pod),
    link: state,
    offset,
    // A replica in a full sync (or not yet streaming after it) has no meaningful offset yet.
    lagBytes: offset === undefined || parentOffset === undefined || state === 'syncing' ? undefined : Math.max(0, parentOffset - offset),
    lagSeconds: lag,
    read: state === 'up' && lag !== undefined && lag <= maxLagSeconds,
  };
}

/** One entry per pod: the primary first, then by tier, then by the index in the pod name. */
export function buildNodes(input: NodesInput): NodeStatus[] {
  const byName = new Map(input.pods.map((p) => [p.name, p]));
  const links = replicaLinks(input);
  return [...input.pods]
    .sort((a, b) => Number(b.name === input.primary) - Number(a.name === input.primary) || a.tier - b.tier || a.index - b.index)
    .map((pod) =>
      pod.name === input.primary
        ? primaryNode(pod, input.readService.includePrimary)
        : replicaNode(pod, parentOf(pod, byName), links.get(pod.name)!.link, input.readService.maxLagSeconds),
    );
}

export interface Summary {
  /** Tier-1 replicas that exist: the scale subresource reads it. */
  replicas: number;
  readyReplicas: number;
  desiredReplicas: number;
  maxLagSeconds: number;
  ready: string;
  primaryOffset: number | undefined;
}

export function summarize(nodes: NodeStatus[], spec: Pick<RedisReplicationSpec, 'replicas' | 'cascade'>): Summary {
  const replicas = nodes.filter((n) => n.role === 'replica');
  const readyReplicas = replicas.filter((n) => n.read).length;
  const desiredReplicas = totalPods(spec.replicas, spec.cascade) - 1;
  return {
    replicas: replicas.filter((n) => n.tier === 1).length,
    readyReplicas,
    desiredReplicas,
    maxLagSeconds: Math.max(0, ...replicas.map((n) => n.lagSeconds ?? 0)),
    ready: `${readyReplicas}/${desiredReplicas}`,
    primaryOffset: nodes.find((n) => n.role === 'primary')?.offset,
  };
}
