// What the per-resource metrics say after a pass: the facts the alert rules and the dashboard read
// (helm/redis-replication-operator/templates/prometheusrule.yaml, dashboards/), computed from the
// operator's own view so that no query joins series of different pods.
import type { NodeStatus, RedisReplicationSpec, RedisReplicationStatus } from '../api/schema.js';
import { isWritableMaster, type ObservedPod } from './observation.js';

/** What one pass says of a resource, as metrics (OperatorMetrics.setResourceState exports it). */
export interface ResourceState {
  primaryAvailable: boolean;
  writablePods: number;
  readMaxLagSeconds: number;
  primaryOffset: number | undefined;
  tiers: { tier: number; desired: number; linked: number }[];
  writeQuorum: { minReplicas: number; inSync: number } | undefined;
  rollingUpdateStalled: boolean;
  certificateNotAfterMs: number | undefined;
  lastFailover: { reason: string; timeMs: number } | undefined;
}

export interface MetricsInput {
  spec: RedisReplicationSpec;
  status: RedisReplicationStatus | undefined;
  observed: ObservedPod[];
  nodes: NodeStatus[];
  primary: string | undefined;
  rollingUpdateStalled: boolean;
  certificateNotAfterMs: number | undefined;
}

/** Replicas the spec asks for in each tier (1 is the primary's own replicas). */
export function desiredByTier(spec: Pick<RedisReplicationSpec, 'replicas' | 'cascade'>): number[] {
  const tiers = [spec.replicas];
  for (const c of spec.cascade) tiers.push(tiers[tiers.length - 1]! * c.replicasPerParent);
  return tiers;
}

export function resourceState(input: MetricsInput): ResourceState {
  const { spec, nodes, primary } = input;
  const replicas = nodes.filter((n) => n.role === 'replica');
  const quorum = spec.writeQuorum;
  // As the primary counts them for min-replicas-to-write: its own replicas, linked, lag within the limit.
  const inSync = replicas.filter((n) => n.parent === primary && n.link === 'up' && n.lagSeconds !== undefined && quorum && n.lagSeconds <= quorum.maxLagSeconds);
  const primaryPod = input.observed.find((p) => p.name === primary && !p.deleting);
  const last = input.status?.lastFailover;
  return {
    primaryAvailable: primaryPod !== undefined && isWritableMaster(primaryPod),
    writablePods: input.observed.filter((p) => !p.deleting && isWritableMaster(p)).length,
    readMaxLagSeconds: spec.readService.maxLagSeconds,
    primaryOffset: nodes.find((n) => n.role === 'primary')?.offset,
    tiers: desiredByTier(spec).map((desired, i) => ({
      tier: i + 1,
      desired,
      linked: replicas.filter((n) => n.tier === i + 1 && n.link === 'up').length,
    })),
    writeQuorum: quorum && { minReplicas: quorum.minReplicas, inSync: inSync.length },
    rollingUpdateStalled: input.rollingUpdateStalled,
    certificateNotAfterMs: input.certificateNotAfterMs,
    lastFailover: last && { reason: last.reason, timeMs: Date.parse(last.time) },
  };
}
