// Reconcile(key): observe, decide with pure functions, act in small idempotent steps, write status.
// Level-triggered: everything is derived from the API objects and what Redis says, so a pass can
// be interrupted anywhere and the next one carries on.
import { parseSpec, type RedisReplication, type RedisReplicationSpec } from '../api/schema.js';
import type { ReconcileResult } from '../kube/workqueue.js';
import { deletableNow, plan as planTopology, type Member, type Plan } from '../topology/plan.js';
import { createPod, deletePod, ensureServices } from './actions.js';
import type { Deps, ResourceMemory } from './deps.js';
import { failover, promote, switchover, type RoleChange } from './failover.js';
import { desiredMeta, syncPodMeta } from './labels.js';
import { ANNOTATION, LABEL, podIndex } from './names.js';
import { observePods } from './observe.js';
import { decidePrimary, nextCheckMs, type PrimaryDecision } from './primary.js';
import { computeNodes, recordNodeMetrics, refuseSpec, writeStatus } from './status.js';
import { wireReplicas } from './wiring.js';
import { dataOffset, isBooting, type ObservedPod } from './observed.js';

export async function reconcile(deps: Deps, key: string): Promise<ReconcileResult> {
  const [namespace, name] = key.split('/') as [string, string];
  const rr = deps.cache.resource(namespace, name);
  if (!rr || rr.metadata.deletionTimestamp) {
    // Owned objects go with the resource through their ownerReferences.
    deps.memory.delete(key);
    deps.metrics.forgetResource(namespace, name);
    return;
  }
  const parsed = parseSpec(rr.spec);
  if (!parsed.ok) {
    await refuseSpec(deps, rr, parsed.message);
    return;
  }
  const spec = parsed.spec;
  const memory = memoryOf(deps, key);
  const password = spec.auth ? await deps.passwords.get(namespace, spec.auth.secretName) : undefined;

  await ensureServices(deps, rr);
  const pods = deps.cache.pods(namespace, name);
  let observed = await observePods(deps, name, pods, password);

  const decision = decidePrimary({
    recorded: rr.status?.primary ?? observed.find((p) => p.role === 'primary' && !p.deleting)?.name,
    target: rr.status?.targetPrimary,
    pods: observed,
    failoverEnabled: spec.failover.enabled,
    primaryDownSeconds: spec.failover.primaryDownSeconds,
    unreachableSinceMs: trackUnreachable(memory, rr, observed, deps.now()),
    nowMs: deps.now(),
  });

  if (decision.kind !== 'ok') {
    deps.log.info({ resource: key, decision, pods: observed.map((p) => ({ name: p.name, ip: p.podIP, booting: isBooting(p), offset: dataOffset(p) })) }, 'primary decision');
  }
  const acted = await actOnPrimary(deps, rr, spec, decision, observed, password);
  if (acted) observed = await observePods(deps, name, deps.cache.pods(namespace, name), password);
  const change = typeof acted === 'boolean' ? undefined : acted;
  const primary = change?.to ?? primaryOf(decision);

  // A lost primary with no failover allowed: touch nothing, so every replica keeps its data.
  const plan = decision.kind === 'lost' ? undefined : await applyTopology(deps, rr, spec, observed, primary);
  const nodes = computeNodes(spec, observed, primary, plan);
  if (plan) {
    const readable = new Set(nodes.filter((n) => n.read).map((n) => n.name));
    await syncPodMeta(deps, pods, desiredMeta(plan, primary, readable));
    await wireReplicas(deps, rr, spec, observed, plan, password, rr.status?.observedGeneration !== rr.metadata.generation);
  }
  recordNodeMetrics(deps.metrics, rr, nodes);
  await writeStatus(deps, rr, spec, { decision, change, observed, nodes, plan, primary, memory });
  return { requeueAfterMs: nextCheckMs(deps.healthIntervalMs, decision) };
}

function memoryOf(deps: Deps, key: string): ResourceMemory {
  let memory = deps.memory.get(key);
  if (!memory) deps.memory.set(key, (memory = {}));
  return memory;
}

/** Remembers since when the recorded primary has had an IP but no answer. */
function trackUnreachable(memory: ResourceMemory, rr: RedisReplication, observed: ObservedPod[], nowMs: number): number | undefined {
  const primary = observed.find((p) => p.name === rr.status?.primary);
  if (primary?.podIP && !primary.info) memory.unreachableSinceMs ??= nowMs;
  else delete memory.unreachableSinceMs;
  return memory.unreachableSinceMs;
}

function primaryOf(decision: PrimaryDecision): string | undefined {
  return decision.kind === 'create' ? undefined : decision.kind === 'failover' ? decision.to : decision.primary;
}

async function actOnPrimary(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  decision: PrimaryDecision,
  observed: ObservedPod[],
  password: string | undefined,
): Promise<RoleChange | boolean> {
  switch (decision.kind) {
    case 'promote':
      await promote(deps, rr, spec, observed, decision.primary, password);
      return true;
    case 'failover':
      return failover(deps, rr, spec, observed, decision, password);
    case 'ok': {
      const wanted = rr.metadata.annotations?.[ANNOTATION.switchover];
      return wanted ? ((await switchover(deps, rr, spec, observed, decision.primary, wanted, password)) ?? false) : false;
    }
    default:
      return false;
  }
}

async function applyTopology(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  primary: string | undefined,
): Promise<Plan> {
  const name = rr.metadata.name;
  const members = membersOf(deps, rr, spec, observed, primary);
  const plan = planTopology({
    resource: name,
    primary: primary && (observed.some((p) => p.name === primary && !p.deleting) || hasClaim(deps, rr, primary)) ? primary : undefined,
    members,
    replicas: spec.replicas,
    cascade: spec.cascade.map((c) => c.replicasPerParent),
    nextIndex: nextIndex(deps, rr, observed),
  });
  const live = new Set(observed.filter((p) => !p.deleting).map((p) => p.name));
  if (plan.primary.create || !live.has(plan.primary.name)) {
    await createPod(deps, rr, spec, { name: plan.primary.name, tier: 0, parent: undefined });
  }
  for (const placement of plan.layout) {
    if (!live.has(placement.name)) await createPod(deps, rr, spec, placement);
  }
  for (const pod of deletableNow(plan, members)) {
    await deletePod(deps, rr, pod, { withClaim: true });
    await deps.events.record(rr, 'Normal', 'ScaledDown', `removed pod ${pod}`);
  }
  return plan;
}

/** Every replica the resource has: its live pods, and with persistence the claims whose pod is gone
 * (the pod is re-created under the same name and finds its data). */
function membersOf(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec, observed: ObservedPod[], primary: string | undefined): Member[] {
  // With persistence, a pod being deleted is still a member: it comes back under its name, on its claim.
  const keeps = (p: ObservedPod) => !p.deleting || (spec.persistence.enabled && hasClaim(deps, rr, p.name));
  const members: Member[] = observed
    .filter((p) => keeps(p) && p.name !== primary)
    .map((p) => ({ name: p.name, index: p.index, tier: Math.max(1, p.tier), parent: p.tier === 0 ? undefined : p.parent, healthy: Boolean(p.info) && !p.deleting }));
  if (!spec.persistence.enabled) return members;
  const known = new Set(observed.map((p) => p.name));
  for (const claim of deps.cache.claims(rr.metadata.namespace, rr.metadata.name)) {
    const pod = claim.metadata?.labels?.[LABEL.pod];
    const index = pod ? podIndex(rr.metadata.name, pod) : undefined;
    if (!pod || index === undefined || known.has(pod) || pod === primary) continue;
    members.push({ name: pod, index, tier: Math.max(1, Number(claim.metadata?.labels?.[LABEL.tier] ?? '1')), parent: undefined, healthy: false });
  }
  return members;
}

function hasClaim(deps: Deps, rr: RedisReplication, pod: string): boolean {
  return deps.cache.claims(rr.metadata.namespace, rr.metadata.name).some((c) => c.metadata?.labels?.[LABEL.pod] === pod);
}

function nextIndex(deps: Deps, rr: RedisReplication, observed: ObservedPod[]): number {
  const claimIndexes = deps.cache
    .claims(rr.metadata.namespace, rr.metadata.name)
    .map((c) => podIndex(rr.metadata.name, c.metadata?.labels?.[LABEL.pod] ?? '') ?? -1);
  return Math.max(rr.status?.nextPodIndex ?? 0, ...observed.map((p) => p.index + 1), ...claimIndexes.map((i) => i + 1));
}
