// Rolling-update phase: carries out the next step of plan/rollout.ts (re-create one replica, or
// switch over to an updated one), says when a roll stalls, and never touches more than one pod
// before the topology has settled again.
import type { NodeStatus } from '../api/schema.js';
import { ANNOTATION } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import type { PrimaryDecision } from '../plan/primary.js';
import { nextRollStep, podRevision, type RolloutState } from '../plan/rollout.js';
import { pendingChanges, type RoleChange } from '../plan/status.js';
import type { Plan } from '../plan/topology.js';
import type { Pass } from './pass.js';
import { deletePod } from './pods.js';
import { switchover } from './roles.js';

export interface Rollout extends RolloutState {
  revision: string;
  change?: RoleChange | undefined;
}

export interface RolloutInput {
  observed: ObservedPod[];
  primary: string | undefined;
  decision: PrimaryDecision;
  plan: Plan | undefined;
  nodes: NodeStatus[];
  desiredReplicas: number;
}

export async function roll(pass: Pass, input: RolloutInput): Promise<Rollout> {
  const { deps, rr, spec, memory } = pass;
  const revision = podRevision(spec, rr.metadata.annotations?.[ANNOTATION.restartedAt]);
  const replicas = input.nodes.filter((n) => n.role === 'replica');
  const settled =
    input.decision.kind === 'ok' &&
    pendingChanges(input.plan) === 0 &&
    replicas.length === input.desiredReplicas &&
    replicas.every((n) => n.link === 'up' && n.read);
  const step = nextRollStep({
    revision,
    image: spec.image,
    strategy: spec.updateStrategy,
    pods: input.observed,
    primary: input.primary,
    settled,
    persistent: spec.persistence.enabled,
    primaryOk: input.decision.kind === 'ok',
  });
  const result: Rollout = { revision, outdated: spec.updateStrategy.type === 'OnDelete' ? [] : step.outdated };
  if (step.kind === 'done') {
    delete memory.rollStepAtMs;
    delete memory.refusedImage;
    return result;
  }
  if (step.kind === 'refused') {
    if (memory.refusedImage !== spec.image) {
      memory.refusedImage = spec.image;
      await deps.events.record(rr, 'Warning', 'UpdateRefused', step.message);
    }
    return { ...result, refused: step.message };
  }
  delete memory.refusedImage;
  if (step.kind === 'supervised') return { ...result, supervised: step.message };
  if (step.kind === 'wait') {
    const since = memory.rollStepAtMs;
    if (since !== undefined && deps.now() - since > spec.updateStrategy.progressDeadlineSeconds * 1000) {
      const stalled = `the rolling update stopped: the topology has not settled ${Math.round((deps.now() - since) / 1000)} s after the last step (a pod that does not start or sync?); the rest keeps serving`;
      if (!memory.rollStallReported) {
        memory.rollStallReported = true;
        await deps.events.record(rr, 'Warning', 'RollingUpdateStalled', stalled);
      }
      return { ...result, stalled };
    }
    return result;
  }
  memory.rollStepAtMs = deps.now();
  memory.rollStallReported = false;
  if (step.kind === 'recreate') {
    await deps.events.record(rr, 'Normal', 'RollingUpdate', `re-creating ${step.pod} on revision ${revision} (${step.outdated.length} pods left)`);
    await deletePod(pass, step.pod);
    return result;
  }
  const change = await switchover(pass, input.observed, step.from, step.to);
  return { ...result, change: change === 'none' ? undefined : change };
}
