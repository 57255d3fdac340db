// The topology planner: from the pods that exist and the shape the spec asks for, which pods to
// create, which to point at another parent and which to delete. Pure and deterministic.
//
// Tier t has n_t pods: n_1 = replicas, n_{t+1} = n_t * cascade[t-1].replicasPerParent, and each
// parent holds at most its share (the primary: replicas; a tier t-1 pod: cascade[t-2]).
// Pods never change tier. Within a tier the pods kept are, in order of preference, healthy ones,
// then the lowest index: a shrinking tier loses its unhealthy pods first, then its newest ones.
// The children of a removed pod are re-parented when the tier below still has room for them, and
// removed with it otherwise. Zone-aware, a pod is only re-parented within its zone (a failover that
// promotes a tier-1 replica leaves its children without a parent): with no room in its zone it is
// removed, and its replacement is created in the zone of the parent that has room.
import { podName } from './names.js';
import type { ObservedPod } from './observation.js';

export interface Member {
  name: string;
  /** The n of <resource>-<n>. */
  index: number;
  /** >= 1; the primary is tier 0 and is not a member. */
  tier: number;
  /** The pod it is assigned to replicate from. */
  parent: string | undefined;
  healthy: boolean;
  /** The zone of its node, once scheduled. */
  zone?: string | undefined;
}

export interface PlanInput {
  /** Resource name: pods are `${resource}-${n}`. */
  resource: string;
  /** The existing primary pod, if any. */
  primary: string | undefined;
  /** Every existing non-primary pod that is not being deleted. */
  members: Member[];
  replicas: number;
  /** replicasPerParent of each cascade tier, top to bottom. */
  cascade: number[];
  /** The first index never used. */
  nextIndex: number;
  /** placement.zoneAware: a re-parented pod keeps a parent in its own zone. */
  zoneAware?: boolean;
}

export interface Placement {
  name: string;
  tier: number;
  parent: string;
}

export interface Plan {
  primary: { name: string; create: boolean };
  /** Every replica that should exist after the plan, by tier then index. */
  layout: Placement[];
  create: Placement[];
  /** Existing pods whose parent changes. */
  reparent: Placement[];
  /** Pods to delete, deepest tier first. */
  remove: string[];
  nextIndex: number;
}

/** n_t for t = 1..1+cascade.length. */
export function tierSizes(replicas: number, cascade: number[]): number[] {
  const sizes = [replicas];
  for (const perParent of cascade) sizes.push(sizes[sizes.length - 1]! * perParent);
  return sizes;
}

/** How many children each parent of `tier` may hold. */
export function capOf(tier: number, replicas: number, cascade: number[]): number {
  return tier === 1 ? replicas : (cascade[tier - 2] ?? 0);
}

interface Slot {
  name: string;
  index: number;
  children: number;
  zone?: string | undefined;
}

type Indexed = Placement & { index: number };

const byPreference = (a: Member, b: Member) => Number(b.healthy) - Number(a.healthy) || a.index - b.index;
const byTierThenIndex = (a: { tier: number; index: number }, b: { tier: number; index: number }) => a.tier - b.tier || a.index - b.index;

interface TierResult {
  placed: Indexed[];
  create: Indexed[];
  reparent: Indexed[];
  next: number;
}

function placeTier(tier: number, parents: Slot[], cap: number, candidates: Member[], resource: string, next: number, zoneAware: boolean): TierResult {
  const slots = new Map(parents.map((p) => [p.name, { ...p }]));
  const placed: Indexed[] = [];
  const reparent: Indexed[] = [];
  const create: Indexed[] = [];
  const take = (slot: Slot, name: string, index: number): Indexed => {
    slot.children++;
    const p = { name, tier, parent: slot.name, index };
    placed.push(p);
    return p;
  };
  // A zone unknown on either side (a pod not scheduled yet) matches any.
  const sameZone = (s: Slot, zone: string | undefined) => !zoneAware || tier < 2 || !zone || !s.zone || s.zone === zone;
  const freeSlot = (zone?: string) =>
    [...slots.values()].filter((s) => s.children < cap && sameZone(s, zone)).sort((a, b) => a.children - b.children || a.index - b.index)[0];

  const pool: Member[] = [];
  for (const m of [...candidates].sort(byPreference)) {
    const own = m.parent === undefined ? undefined : slots.get(m.parent);
    if (own && own.children < cap) take(own, m.name, m.index);
    else pool.push(m);
  }
  for (const m of pool) {
    const slot = freeSlot(m.zone);
    if (slot) reparent.push(take(slot, m.name, m.index));
  }
  for (let slot = freeSlot(); slot; slot = freeSlot()) {
    create.push(take(slot, podName(resource, next), next));
    next++;
  }
  return { placed, create, reparent, next };
}

const strip = ({ name, tier, parent }: Indexed): Placement => ({ name, tier, parent });

export function plan(input: PlanInput): Plan {
  const { resource, replicas, cascade } = input;
  const members = input.members.filter((m) => m.name !== input.primary);
  let next = Math.max(input.nextIndex, ...members.map((m) => m.index + 1));
  const primary = input.primary !== undefined ? { name: input.primary, create: false } : { name: podName(resource, next++), create: true };

  const layout: Indexed[] = [];
  const create: Indexed[] = [];
  const reparent: Indexed[] = [];
  const zoneOf = new Map(members.map((m) => [m.name, m.zone]));
  // The primary's zone is never asked: its children are tier 1, which goes anywhere (sameZone).
  let parents: Slot[] = [{ name: primary.name, index: -1, children: 0 }];
  tierSizes(replicas, cascade).forEach((_, i) => {
    const tier = i + 1;
    const candidates = members.filter((m) => m.tier === tier);
    const result = placeTier(tier, parents, capOf(tier, replicas, cascade), candidates, resource, next, input.zoneAware ?? false);
    next = result.next;
    layout.push(...result.placed);
    create.push(...result.create);
    reparent.push(...result.reparent);
    parents = result.placed.map((p) => ({ name: p.name, index: p.index, children: 0, zone: zoneOf.get(p.name) }));
  });

  const kept = new Set(layout.map((p) => p.name));
  const remove = members
    .filter((m) => !kept.has(m.name))
    .sort((a, b) => b.tier - a.tier || b.index - a.index)
    .map((m) => m.name);
  return {
    primary,
    layout: layout.sort(byTierThenIndex).map(strip),
    create: create.sort(byTierThenIndex).map(strip),
    reparent: reparent.sort(byTierThenIndex).map(strip),
    remove,
    nextIndex: next,
  };
}

/** The removed pods that no surviving pod still replicates from: the controller re-parents first, then deletes. */
export function deletableNow(plan: Plan, members: Member[]): string[] {
  const surviving = new Set(plan.layout.map((p) => p.name));
  const stillParents = new Set(members.filter((m) => surviving.has(m.name) && m.parent !== undefined).map((m) => m.parent));
  return plan.remove.filter((name) => !stillParents.has(name));
}

/** What the planner needs to know of the resource's persistent claims: which pod each belongs to. */
export interface ClaimRef {
  pod: string;
  index: number;
  tier: number;
  /** Its pod has held data (annotation): the volume may hold what no running pod has. */
  holdsData: boolean;
}

export interface MembershipInput {
  resource: string;
  persistent: boolean;
  observed: ObservedPod[];
  claims: ClaimRef[];
  primary: string | undefined;
}

/** Every replica the resource has: its live pods, and with persistence the claims whose pod is gone
 * (the pod is re-created under the same name and finds its data). */
export function membersOf(input: MembershipInput): Member[] {
  const { observed, claims, primary } = input;
  const claimed = new Set(claims.map((c) => c.pod));
  // With persistence, a pod being deleted is still a member: it comes back under its name, on its claim.
  const keeps = (p: ObservedPod) => !p.deleting || (input.persistent && claimed.has(p.name));
  const members: Member[] = observed
    .filter((p) => keeps(p) && p.name !== primary)
    .map((p) => ({ name: p.name, index: p.index, tier: Math.max(1, p.tier), parent: p.tier === 0 ? undefined : p.parent, healthy: Boolean(p.info) && !p.deleting, zone: p.zone }));
  if (!input.persistent) return members;
  const known = new Set(observed.map((p) => p.name));
  for (const claim of claims) {
    if (known.has(claim.pod) || claim.pod === primary) continue;
    members.push({ name: claim.pod, index: claim.index, tier: Math.max(1, claim.tier), parent: undefined, healthy: false });
  }
  return members;
}

/** The primary the planner builds around: the decided one, if its pod is live or its claim survives. */
export function plannedPrimary(input: MembershipInput): string | undefined {
  const { primary } = input;
  if (!primary) return undefined;
  const live = input.observed.some((p) => p.name === primary && !p.deleting);
  return live || input.claims.some((c) => c.pod === primary) ? primary : undefined;
}

/** The first pod index never used: pod names are never reused, even across claims of deleted pods. */
export function nextPodIndex(recorded: number | undefined, observed: ObservedPod[], claims: ClaimRef[]): number {
  return Math.max(recorded ?? 0, ...observed.map((p) => p.index + 1), ...claims.map((c) => c.index + 1));
}
