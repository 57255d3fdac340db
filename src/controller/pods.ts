// Pods and claims: create what the topology plan adds, delete what it removes (leaves first), and
// keep every pod's role, tier and read labels and parent annotation equal to the plan. Each step
// tolerates having been done already, so an interrupted pass is simply run again.
import type { V1Pod } from '@kubernetes/client-node';
import { apiErrorCode, apiErrorMessage, ignore, isConflict, isNotFound } from '../kube/client.js';
import { ANNOTATION, LABEL, dataClaimName } from '../plan/names.js';
import { claimsToMark, type ObservedPod } from '../plan/observation.js';
import { buildClaim, buildPod, type PodMeta, type PodPlacement } from '../plan/specs.js';
import { REFUSED_CODES, refusalReason, type Refusal } from '../plan/status.js';
import { imageForNewPods } from '../plan/versions.js';
import { deletableNow, membersOf, nextPodIndex, plan as planTopology, plannedPrimary, type ClaimRef, type Plan } from '../plan/topology.js';
import type { Pass } from './pass.js';

const isAlreadyExists = isConflict;

/** Creates, re-parents (by label) and, under a `settled` (writable) primary, deletes pods until the
 * topology matches the spec. */
export async function applyTopology(pass: Pass, observed: ObservedPod[], primary: string | undefined, claims: ClaimRef[], settled: boolean): Promise<Plan> {
  const { deps, rr, spec, name } = pass;
  const membership = { resource: name, persistent: spec.persistence.enabled, observed, claims, primary };
  const members = membersOf(membership);
  const plan = planTopology({
    resource: name,
    primary: plannedPrimary(membership),
    members,
    replicas: spec.replicas,
    cascade: spec.cascade.map((c) => c.replicasPerParent),
    nextIndex: nextPodIndex(rr.status?.nextPodIndex, observed, claims),
    zoneAware: spec.placement.zoneAware,
  });
  const live = new Set(observed.filter((p) => !p.deleting).map((p) => p.name));
  const image = imageForNewPods(spec.image, observed);
  // Every missing pod at once: each is independent of the others (replicas are wired once they
  // answer), and a new resource's first pass would otherwise wait for each API round trip in turn.
  const newPrimary = plan.primary.create || !live.has(plan.primary.name) ? createPod(pass, { name: plan.primary.name, tier: 0, parent: undefined }, image) : undefined;
  await Promise.all([
    newPrimary,
    ...plan.layout.map(async (placement) => {
      if (live.has(placement.name)) return;
      const parentZone = observed.find((p) => p.name === placement.parent)?.zone;
      // Zone-aware: a cascade replica is created once its parent's zone is known, to be placed there.
      if (spec.placement.zoneAware && placement.tier >= 2 && !parentZone) return;
      await createPod(pass, { ...placement, parentZone }, image);
    }),
  ]);
  for (const pod of settled ? deletableNow(plan, members) : []) {
    await deletePod(pass, pod, { withClaim: true });
    await deps.events.record(rr, 'Normal', 'ScaledDown', `removed pod ${pod}`);
  }
  return plan;
}

/** Marks the claims of pods that now hold data: from then on their volume may hold data no running
 * pod has, and decisions wait for it (see plan/primary.ts). */
export async function markClaimsHoldingData(pass: Pass, observed: ObservedPod[], claims: ClaimRef[]): Promise<void> {
  for (const pod of claimsToMark(observed, claims)) {
    await ignore(isNotFound, pass.deps.kube.patchClaimAnnotations(pass.namespace, dataClaimName(pod), { [ANNOTATION.holdsData]: 'true' }));
  }
}

/** Creates a pod (and its claim first). One the API server refuses is reported (see refuse). */
async function createPod(pass: Pass, placement: PodPlacement, image: string): Promise<void> {
  const { deps, rr } = pass;
  const spec = { ...pass.spec, image };
  if (spec.persistence.enabled) {
    const claim = buildClaim(rr, spec, placement.name, placement.tier);
    if (!(await refuse(pass, 'claim', claim.metadata!.name!, deps.kube.createClaim(claim)))) return;
  }
  await refuse(pass, 'pod', placement.name, deps.kube.createPod(buildPod(rr, spec, placement)));
}

/** Awaits the creation of an object: whether it exists now (created, or there already). One the API
 * server refuses (Refusal in plan/status.ts) is reported with the server's reason, in status and in
 * an Event, and tried again at the next pass; any other failure fails the pass. */
export async function refuse(pass: Pass, kind: Refusal['kind'], name: string, create: Promise<void>): Promise<boolean> {
  try {
    await ignore(isAlreadyExists, create);
    return true;
  } catch (err) {
    if (!REFUSED_CODES.includes(apiErrorCode(err) ?? 0)) throw err;
    const refusal = { kind, message: `${kind === 'service' ? 'Service' : kind} ${name} refused: ${apiErrorMessage(err)}` };
    pass.refusals.push(refusal);
    await pass.deps.events.record(pass.rr, 'Warning', refusalReason(refusal), refusal.message);
    return false;
  }
}

/** Deletes a pod; `fence` skips the grace period so a lost primary cannot come back writable. */
export async function deletePod(pass: Pass, pod: string, opts: { fence?: boolean; withClaim?: boolean } = {}): Promise<void> {
  const { deps, namespace } = pass;
  await ignore(isNotFound, deps.kube.deletePod(namespace, pod, opts.fence ? 0 : undefined));
  if (opts.withClaim) await ignore(isNotFound, deps.kube.deleteClaim(namespace, dataClaimName(pod)));
}

export async function patchPodMeta(pass: Pass, pod: string, labels: Record<string, string>, annotations: Record<string, string | null>): Promise<void> {
  await ignore(isNotFound, pass.deps.kube.patchPodMeta(pass.namespace, pod, labels, annotations));
}

/** Patches the labels and parent annotation that differ from `desired`; demotions go before the
 * promotion, so `<name>-primary` never selects two pods. */
export async function syncPodMeta(pass: Pass, pods: V1Pod[], desired: Map<string, PodMeta>): Promise<void> {
  const changes = pods.flatMap((pod) => {
    const name = pod.metadata?.name ?? '';
    const want = desired.get(name);
    if (!want || pod.metadata?.deletionTimestamp) return [];
    const labels = pod.metadata?.labels ?? {};
    const parent = pod.metadata?.annotations?.[ANNOTATION.parent] ?? null;
    const labelDiff = Object.fromEntries(Object.entries(want.labels).filter(([k, v]) => labels[k] !== v));
    if (Object.keys(labelDiff).length === 0 && parent === want.parent) return [];
    const annotations: Record<string, string | null> = parent === want.parent ? {} : { [ANNOTATION.parent]: want.parent };
    return [{ name, labels: labelDiff, annotations }];
  });
  const promotes = (c: (typeof changes)[number]) => c.labels[LABEL.role] === 'primary';
  for (const change of [...changes.filter((c) => !promotes(c)), ...changes.filter(promotes)]) {
    await patchPodMeta(pass, change.name, change.labels, change.annotations);
  }
}
