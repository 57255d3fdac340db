// Reconcile(key): observe, decide with pure functions (plan/), act in small idempotent steps, write
// status. Level-triggered: everything is derived from the API objects and what Redis says, so a
// pass can be interrupted anywhere and the next one carries on.
import { parseSpec, totalPods } from '../api/schema.js';
import type { Requeue } from '../kube/workqueue.js';
import { ANNOTATION, LABEL } from '../plan/names.js';
import { dataOffset, isBooting, isWritableMaster, observeClaim, type ObservedPod } from '../plan/observation.js';
import { decidePrimary, type PrimaryDecision } from '../plan/primary.js';
import { nextPassMs } from '../plan/next-pass.js';
import { tlsDueInMs } from '../plan/tls.js';
import { cacheBehind, OWN_WRITE_RECHECK_MS, ownWriteAfter } from '../plan/own-write.js';
import { desiredMeta } from '../plan/specs.js';
import { computeNodes, finishedChange, replIds, type RoleChange } from '../plan/status.js';
import { marksFromStatus } from '../plan/sync.js';
import type { ClaimRef } from '../plan/topology.js';
import { tendBacklog } from './backlog.js';
import { recordMetrics } from './metrics.js';
import { observePods, reportStuckPods } from './observe.js';
import { redisTarget, type Deps, type Pass, type ResourceMemory } from './pass.js';
import { syncUsers, resolveUsers } from './acl.js';
import { resolveAuth, rotatePassword } from './auth.js';
import { applyTopology, markClaimsHoldingData, syncPodMeta } from './pods.js';
import { failover, promote, switchover } from './roles.js';
import { ensureNetworkPolicy } from './network.js';
import { ensureServicesAndBudgets } from './services.js';
import { roll } from './rollout.js';
import { clearIntent, recordPrimary, refuseSpec, writeStatus } from './status.js';
import { reloadCertificates, resolveTls, tlsCheckPending } from './tls.js';
import { applyWriteQuorum, wireReplicas } from './wiring.js';
import { runBackups } from './backups.js';
import { runArchive, stopArchive } from './archive.js';
import { restore, restoring } from './restore.js';
import { countingWrites } from './writes.js';
import { runRetention, runSchedule } from './backup-schedule.js';

export async function reconcile(processDeps: Deps, key: string): Promise<Requeue> {
  const { deps, writes } = countingWrites(processDeps);
  const [namespace, name] = key.split('/') as [string, string];
  const rr = deps.cache.resource(namespace, name);
  if (!rr || rr.metadata.deletionTimestamp) {
    // Owned objects go with the resource through their ownerReferences.
    const memory = deps.memory.get(key);
    if (memory) void stopArchive(memory);
    deps.memory.delete(key);
    deps.metrics.forgetResource(namespace, name);
    return;
  }
  const memory = memoryOf(deps, key);
  // The cache has not seen what the last pass wrote: this pass would act on a view it already
  // changed, and get 409 on its first conditional write (plan/own-write.ts).
  if (cacheBehind(memory.ownWrite, rr.metadata.resourceVersion, deps.now())) return { requeueAfterMs: OWN_WRITE_RECHECK_MS };
  const parsed = parseSpec(rr.spec, name);
  if (!parsed.ok) {
    await refuseSpec(deps, rr, parsed.message);
    deps.metrics.setReconciled(namespace, name, deps.now());
    return;
  }
  const spec = parsed.spec;
  const auth = await resolveAuth(deps, rr, spec);
  const users = await resolveUsers(deps, rr, spec, auth?.applied);
  const tls = await resolveTls(deps, rr, spec);
  const pass: Pass = {
    deps,
    rr,
    spec,
    namespace,
    name,
    auth: auth?.applied,
    newPassword: auth?.wanted,
    users: users.users,
    credentialsOf: new Map(),
    refusals: [],
    memory,
    log: deps.log.child({ resource: key }),
    resourceVersion: rr.metadata.resourceVersion,
    tls,
  };
  try {
    return await act(pass, auth, users, writes);
  } finally {
    memory.ownWrite = ownWriteAfter(rr.metadata.resourceVersion, pass.resourceVersion, deps.now());
  }
}

/** The pass proper: observe, decide, act on the primary, then everything else, then status. */
async function act(pass: Pass, auth: Awaited<ReturnType<typeof resolveAuth>>, users: Awaited<ReturnType<typeof resolveUsers>>, writes: () => number): Promise<Requeue> {
  const { deps, rr, spec, namespace, name, tls } = pass;
  const pods = deps.cache.pods(namespace, name);
  const claimRefs = spec.persistence.enabled ? deps.cache.claims(namespace, name).flatMap((c) => observeClaim(name, c) ?? []) : [];
  // No pod can start without a certificate or a password (an applied-auth Secret of the operator's).
  const noCertificate = tls !== undefined && tls.client === undefined;
  const noPassword = auth !== undefined && auth.applied === undefined;
  // Made from a backup: until its first pod holds it, nothing else happens (restore.ts).
  if (restoring(pass)) {
    await ensureServing(pass);
    return restore(pass, claimRefs, !noCertificate && !noPassword);
  }
  // An INFO sent now that gets no answer means no answer from now on (primaryDownSeconds counts from here).
  const observedAtMs = deps.now();
  let observed = await observePods(pass);
  await reportStuckPods(pass, observed);
  await markClaimsHoldingData(pass, observed, claimRefs);

  const { decision, claims } = decide(pass, observed, claimRefs, observedAtMs);
  const change = await actOnPrimary(pass, decision, observed);
  if (change !== 'none') observed = await observePods(pass);
  // After the primary: a failover needs no Service, budget or policy write, and an API server that
  // refuses them must not hold it up. Before any pod is created: the policy is there when it starts.
  await ensureServing(pass);
  const primary = typeof change === 'object' ? change.to : primaryOf(decision);

  // Touch nothing while the primary is lost with no failover allowed (every replica keeps its data),
  // or while it is still being deleted without a volume to come back on, or while there is no
  // certificate or no password for a pod to start with.
  // Under a writable primary only (the decision is ok, or this pass made a role change): pods and
  // claims are removed, replicas re-pointed. While the decision waits, a pod to remove may hold the
  // newest data (the primary of a view that lags the API), and a pod restarted from its volume keeps
  // booting (pointed at a parent, it would look synced while its offset says nothing).
  const settled = decision.kind === 'ok' || change !== 'none';
  const plan = keepsTopology(decision, observed, claims) || noCertificate || noPassword ? undefined : await applyTopology(pass, observed, primary, claimRefs, settled);
  // Which replicas' full sync is proven (plan/sync.ts) needs the marks of the last pass (a new
  // operator starts from what the last status showed).
  const { nodes, marks } = computeNodes(spec, observed, primary, plan, pass.memory.syncMarks ?? marksFromStatus(rr.status?.nodes, observed));
  pass.memory.syncMarks = marks;
  if (plan) {
    const readable = new Set(nodes.filter((n) => n.read).map((n) => n.name));
    // The primary role label lets clients write to a writable pod: it gets it only once a status
    // write, conditional on the view this pass read, names it the primary (an adopted one, promoted
    // by a pass that stopped before recording it, as a promotion is recorded in roles.ts). A stale
    // view gets 409 and labels nothing.
    const labelled = pods.some((p) => p.metadata?.name === primary && p.metadata?.labels?.[LABEL.role] === 'primary');
    const writablePod = observed.find((p) => p.name === primary && isWritableMaster(p));
    if (primary && writablePod?.info && !labelled) {
      await recordPrimary(pass, primary, finishedChange(rr, primary), replIds(writablePod.info));
      // A promotion that stopped before its record left it refusing writes (roles.ts makePrimary).
      await applyWriteQuorum(pass, redisTarget(pass, writablePod.podIP!));
    }
    await syncPodMeta(pass, pods, desiredMeta(plan, primary, readable));
    if (settled) await wireReplicas(pass, observed, plan);
  }
  // One step of a rolling update, on a settled topology only.
  const rollout = plan ? await roll(pass, { observed, primary, decision, plan, nodes, desiredReplicas: totalPods(spec.replicas, spec.cascade) - 1 }) : undefined;
  const backlog = await tendBacklog(pass, observed, primary, Boolean(plan) && settled);
  const acl = await syncUsers(pass, observed);
  pass.auth = acl.auth;
  pass.auth = await rotatePassword(pass, observed, acl.synced);
  await reloadCertificates(pass, observed);
  for (const problem of [auth?.problem, ...users.problems, tls?.problem]) if (problem) await deps.events.record(rr, 'Warning', problem.reason, problem.message);
  await recordMetrics(pass, { observed, nodes, primary, rollingUpdateStalled: rollout?.stalled !== undefined });
  // Started, created and retargeted on a settled primary only, as backups are (below).
  const archive = await runArchive(pass, nodes, decision.kind === 'ok');
  const roleChange = typeof change === 'object' ? change : rollout?.change;
  await writeStatus(pass, {
    decision,
    change: roleChange,
    observed,
    nodes,
    plan,
    primary: rollout?.change?.to ?? primary,
    authProblem: auth?.problem,
    usersProblems: users.problems,
    usersRefused: spec.auth.enabled ? acl.refused : undefined,
    tlsProblem: tls?.problem,
    refusals: pass.refusals,
    revision: rollout?.revision,
    rollout,
    backlog,
    archive,
  });
  // Only with a settled primary: a backup streams from what the topology is, not what it becomes.
  // Slots that come meanwhile are missed slots: one backup for them all once it is settled.
  let untilSlotMs: number | undefined;
  if (decision.kind === 'ok') {
    await runBackups(pass, nodes);
    untilSlotMs = await runSchedule(pass);
    await runRetention(pass);
  }
  deps.metrics.setReconciled(namespace, name, deps.now());
  const moving = nodes.some((n) => n.role === 'replica' && n.link !== 'up') || nodes.length !== totalPods(spec.replicas, spec.cascade) || (rollout?.outdated.length ?? 0) > 0;
  // Backups and the archive run beside passes and report through them; the certificate each pod
  // serves is checked until every pod serves the wanted one (tls.ts).
  const background = spec.backup !== undefined || deps.cache.backups(namespace, name).some((b) => !BACKUP_ENDED.has(b.status?.phase ?? '')) || tlsCheckPending(pass);
  const next = nextPassMs({
    resyncMs: deps.healthIntervalMs,
    decision,
    moving,
    wrote: writes() > 0,
    background,
    dueInMs: [untilSlotMs, tls?.validity && tlsDueInMs(tls.validity, deps.now())],
  });
  return next === undefined ? undefined : { requeueAfterMs: next };
}

const BACKUP_ENDED = new Set(['Completed', 'Failed']);

/** The Services (selectors follow the role labels), disruption budgets and NetworkPolicy. */
async function ensureServing(pass: Pass): Promise<void> {
  await Promise.all([ensureServicesAndBudgets(pass), ensureNetworkPolicy(pass)]);
}

/** The primary decision, from what this pass observed and what status recorded. */
function decide(pass: Pass, observed: ObservedPod[], claimRefs: ClaimRef[], observedAtMs: number): { decision: PrimaryDecision; claims: Set<string> } {
  const { deps, rr, spec, memory } = pass;
  const recorded = rr.status?.primary ?? observed.find((p) => p.role === 'primary' && !p.deleting)?.name;
  // Volumes that may hold data: marked ones, and the recorded primary's and the target's, which may
  // have taken writes before anything could mark them.
  const target = rr.status?.targetPrimary;
  const claims = new Set(claimRefs.filter((c) => c.holdsData || c.pod === recorded || c.pod === target).map((c) => c.pod));
  const decision = decidePrimary({
    recorded,
    target,
    targetCaughtUp: rr.status?.targetReason === 'Switchover',
    switchoverRequest: rr.metadata.annotations?.[ANNOTATION.switchover],
    pods: observed,
    claims,
    failoverEnabled: spec.failover.enabled,
    primaryDownSeconds: spec.failover.primaryDownSeconds,
    acceptDataLossAfterSeconds: spec.failover.acceptDataLossAfterSeconds,
    primaryReplIds: rr.status?.primaryReplIds,
    unreachableSinceMs: trackUnreachable(pass, observed, observedAtMs, recorded),
    targetUnreachableSinceMs: trackSilentTarget(pass, observed, observedAtMs),
    inDoubtSinceMs: memory.inDoubtSinceMs,
    nowMs: deps.now(),
  });
  if (decision.kind === 'ok' || decision.kind === 'create') delete memory.inDoubtSinceMs;
  else memory.inDoubtSinceMs ??= deps.now();
  if (decision.kind !== 'ok') {
    pass.log.info({ decision, pods: observed.map((p) => ({ name: p.name, ip: p.podIP, booting: isBooting(p), offset: dataOffset(p) })) }, 'primary decision');
  }
  return { decision, claims };
}

function memoryOf(deps: Deps, key: string): ResourceMemory {
  let memory = deps.memory.get(key);
  if (!memory) deps.memory.set(key, (memory = {}));
  return memory;
}

/** Remembers since when the recorded primary (status, else the pod labelled primary) has had an IP
 * but no answer: since this pass's INFO was sent, or the prober's first unanswered one, whichever
 * came first. */
function trackUnreachable(pass: Pass, observed: ObservedPod[], observedAtMs: number, recorded: string | undefined): number | undefined {
  const primary = observed.find((p) => p.name === recorded);
  return (pass.memory.unreachableSinceMs = silentSince(pass, primary, observedAtMs, pass.memory.unreachableSinceMs));
}

/** The same for the target of a hand-over whose intent status holds: it may have been promoted before
 * the operator stopped (plan/primary.ts interruptedHandOver). */
function trackSilentTarget(pass: Pass, observed: ObservedPod[], observedAtMs: number): number | undefined {
  const status = pass.rr.status;
  const target = status?.targetReason === 'Switchover' ? observed.find((p) => p.name === status.targetPrimary) : undefined;
  return (pass.memory.targetUnreachableSinceMs = silentSince(pass, target, observedAtMs, pass.memory.targetUnreachableSinceMs));
}

function silentSince(pass: Pass, pod: ObservedPod | undefined, observedAtMs: number, since: number | undefined): number | undefined {
  if (!pod?.podIP || pod.info) return undefined;
  const probed = pass.deps.silentSince(`${pass.namespace}/${pass.name}`, pod.name, pod.podIP);
  return since ?? Math.min(observedAtMs, probed ?? observedAtMs);
}

function primaryOf(decision: PrimaryDecision): string | undefined {
  switch (decision.kind) {
    case 'create':
      return undefined;
    case 'failover':
    case 'switchover':
      return decision.from;
    default:
      return decision.primary;
  }
}

function keepsTopology(decision: PrimaryDecision, observed: ObservedPod[], claims: ReadonlySet<string>): boolean {
  if (decision.kind === 'lost') return true;
  return decision.kind === 'wait' && !claims.has(decision.primary) && Boolean(observed.find((p) => p.name === decision.primary)?.deleting);
}

/** Carries out the primary decision: the change made, 'acted' when something else changed (the
 * pass looks at the pods again), or 'none'. */
async function actOnPrimary(pass: Pass, decision: PrimaryDecision, observed: ObservedPod[]): Promise<RoleChange | 'acted' | 'none'> {
  const requested = pass.rr.metadata.annotations?.[ANNOTATION.switchover] !== undefined;
  const clearRequest = async () => {
    // Conditional, as the intent that follows it: the version it returns must not vouch for a view
    // that lagged behind the API (a switchover to a pod this operator already deleted).
    if (requested) pass.resourceVersion = await pass.deps.kube.patchAnnotations(pass.namespace, pass.name, { [ANNOTATION.switchover]: null }, pass.resourceVersion);
  };
  switch (decision.kind) {
    case 'promote':
      await promote(pass, observed, decision.primary);
      return 'acted';
    case 'failover':
      return failover(pass, observed, decision);
    case 'switchover':
      await clearRequest();
      return switchover(pass, observed, decision.from, decision.to);
    case 'refuseSwitchover':
      await clearRequest();
      await pass.deps.events.record(pass.rr, 'Warning', 'SwitchoverRefused', decision.message);
      return 'none';
    case 'ok': {
      // An intent naming another pod is stale (the status write of this pass would drop it). It goes
      // first, conditional on this view: until it does, the primary's write refusal (a hand-over's
      // old primary, roles.ts) must stay, and the write quorum applied later in this pass lifts it.
      const target = pass.rr.status?.targetPrimary;
      if (target && target !== decision.primary) await clearIntent(pass, pass.resourceVersion);
      return 'none';
    }
    default:
      return 'none';
  }
}
