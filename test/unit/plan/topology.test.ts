import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ObservedPod } from '../../../src/plan/observation.js';
import { capOf, deletableNow, membersOf, nextPodIndex, plan, plannedPrimary, tierSizes, type ClaimRef, type Member, type Placement, type Plan, type PlanInput } from '../../../src/plan/topology.js';

const member = (index: number, tier: number, parent: string | undefined, healthy = true): Member => ({ name: `r-${index}`, index, tier, parent, healthy });
const input = (over: Partial<PlanInput>): PlanInput => ({ resource: 'r', primary: 'r-0', members: [], replicas: 0, cascade: [], nextIndex: 1, ...over });
const at = (index: number, tier: number, parent: string): Placement => ({ name: `r-${index}`, tier, parent });
/** The members that exist once a plan is carried out. */
const applied = (p: Plan): Member[] => p.layout.map((l) => member(Number(l.name.slice(2)), l.tier, l.parent));

describe('tierSizes and capOf', () => {
  it('multiply down the cascade', () => {
    expect(tierSizes(2, [])).toEqual([2]);
    expect(tierSizes(2, [2, 3])).toEqual([2, 4, 12]);
    expect(tierSizes(0, [2])).toEqual([0, 0]);
    expect([1, 2, 3, 4].map((t) => capOf(t, 3, [2, 5]))).toEqual([3, 2, 5, 0]);
  });
});

describe('plan', () => {
  it('creates a primary and the replicas from nothing', () => {
    expect(plan(input({ primary: undefined, replicas: 2, cascade: [2], nextIndex: 0 }))).toEqual({
      primary: { name: 'r-0', create: true },
      layout: [at(1, 1, 'r-0'), at(2, 1, 'r-0'), at(3, 2, 'r-1'), at(4, 2, 'r-2'), at(5, 2, 'r-1'), at(6, 2, 'r-2')],
      create: [at(1, 1, 'r-0'), at(2, 1, 'r-0'), at(3, 2, 'r-1'), at(4, 2, 'r-2'), at(5, 2, 'r-1'), at(6, 2, 'r-2')],
      reparent: [],
      remove: [],
      nextIndex: 7,
    });
  });

  it('scales 2 -> 3 with a new pod', () => {
    const p = plan(input({ members: [member(1, 1, 'r-0'), member(2, 1, 'r-0')], replicas: 3, nextIndex: 5 }));
    expect(p.create).toEqual([at(5, 1, 'r-0')]);
    expect(p).toMatchObject({ reparent: [], remove: [], nextIndex: 6, primary: { name: 'r-0', create: false } });
  });

  it('scales 3 -> 1 with cascade [2]: the newest tier-1 pods go with their subtrees, leaves first', () => {
    const members = [1, 2, 3].map((i) => member(i, 1, 'r-0')).concat([4, 5, 6, 7, 8, 9].map((i) => member(i, 2, `r-${1 + ((i - 4) % 3)}`)));
    const p = plan(input({ members, replicas: 1, cascade: [2], nextIndex: 10 }));
    expect(p.layout).toEqual([at(1, 1, 'r-0'), at(4, 2, 'r-1'), at(7, 2, 'r-1')]);
    expect(p.remove).toEqual(['r-9', 'r-8', 'r-6', 'r-5', 'r-3', 'r-2']);
    expect(p).toMatchObject({ create: [], reparent: [] });
    expect(deletableNow(p, members)).toEqual(p.remove);
  });

  it('shrinks an unhealthy pod first', () => {
    const p = plan(input({ members: [member(1, 1, 'r-0', false), member(2, 1, 'r-0'), member(3, 1, 'r-0')], replicas: 2, nextIndex: 4 }));
    expect(p.remove).toEqual(['r-1']);
  });

  it('removing the cascade [2] -> [] removes tier 2', () => {
    const members = [member(1, 1, 'r-0'), member(2, 1, 'r-0'), member(3, 2, 'r-1'), member(4, 2, 'r-2'), member(5, 2, 'r-1'), member(6, 2, 'r-2')];
    const p = plan(input({ members, replicas: 2, cascade: [], nextIndex: 7 }));
    expect(p.layout).toEqual([at(1, 1, 'r-0'), at(2, 1, 'r-0')]);
    expect(p.remove).toEqual(['r-6', 'r-5', 'r-4', 'r-3']);
  });

  it('cascade [2] -> [3] adds one pod under each tier-1 pod', () => {
    const members = [member(1, 1, 'r-0'), member(2, 1, 'r-0'), member(3, 2, 'r-1'), member(4, 2, 'r-2'), member(5, 2, 'r-1'), member(6, 2, 'r-2')];
    const p = plan(input({ members, replicas: 2, cascade: [3], nextIndex: 7 }));
    expect(p.create).toEqual([at(7, 2, 'r-1'), at(8, 2, 'r-2')]);
    expect(p).toMatchObject({ reparent: [], remove: [] });
  });

  it('replicas 3 -> 2 with cascade 2 -> 3 re-parents the children of the removed pod', () => {
    const members = [1, 2, 3].map((i) => member(i, 1, 'r-0')).concat([4, 5, 6, 7, 8, 9].map((i) => member(i, 2, `r-${1 + ((i - 4) % 3)}`)));
    const p = plan(input({ members, replicas: 2, cascade: [3], nextIndex: 10 }));
    expect(p.remove).toEqual(['r-3']);
    expect(p.reparent).toEqual([at(6, 2, 'r-1'), at(9, 2, 'r-2')]);
    expect(p.create).toEqual([]);
    expect(deletableNow(p, members)).toEqual([]);
    expect(deletableNow(p, applied(p))).toEqual(['r-3']);
  });

  it('gives orphans to the parent with the fewest children, then the lowest index', () => {
    const members = [member(1, 1, 'r-0'), member(2, 1, 'r-0'), member(3, 2, 'r-1'), member(4, 2, 'gone'), member(5, 2, undefined)];
    const p = plan(input({ members, replicas: 2, cascade: [2], nextIndex: 6 }));
    expect(p.reparent).toEqual([at(4, 2, 'r-2'), at(5, 2, 'r-1')]);
    expect(p.create).toEqual([at(6, 2, 'r-2')]);
  });

  it('re-parents overflow of a parent that holds too many', () => {
    const members = [member(1, 1, 'r-0'), member(2, 1, 'r-0'), member(3, 2, 'r-1'), member(4, 2, 'r-1'), member(5, 2, 'r-1')];
    const p = plan(input({ members, replicas: 2, cascade: [2], nextIndex: 6 }));
    expect(p.reparent).toEqual([at(5, 2, 'r-2')]);
    expect(p.create).toEqual([at(6, 2, 'r-2')]);
  });

  it('removes pods with a tier beyond the cascade or below 1', () => {
    const p = plan(input({ members: [member(1, 1, 'r-0'), member(2, 3, 'r-1'), member(3, 0, undefined)], replicas: 1, nextIndex: 4 }));
    expect(p.remove).toEqual(['r-2', 'r-3']);
  });

  it('makes a new primary when there is none, never promoting a replica, and re-parents tier 1 to it', () => {
    const p = plan(input({ primary: undefined, members: [member(1, 1, 'r-0')], replicas: 1, nextIndex: 2 }));
    expect(p.primary).toEqual({ name: 'r-2', create: true });
    expect(p.reparent).toEqual([at(1, 1, 'r-2')]);
    expect(p.nextIndex).toBe(3);
  });

  it('zone-aware: after a tier-1 replica is promoted, its children are re-parented only within their zone, else replaced', () => {
    // r-1 (zone-a) was promoted; r-0, the old primary (zone-c), is back as a tier-1 replica.
    const zoned = (m: Member, zone: string): Member => ({ ...m, zone });
    const members = [
      zoned(member(0, 1, undefined), 'zone-c'),
      zoned(member(2, 1, 'r-1'), 'zone-b'),
      zoned(member(3, 1, 'r-1'), 'zone-c'),
      zoned(member(4, 2, 'r-1'), 'zone-a'),
      zoned(member(5, 2, 'r-2'), 'zone-b'),
      zoned(member(6, 2, 'r-3'), 'zone-c'),
      zoned(member(7, 2, 'r-1'), 'zone-a'),
      zoned(member(8, 2, 'r-2'), 'zone-b'),
      zoned(member(9, 2, 'r-3'), 'zone-c'),
    ];
    const shape = { primary: 'r-1', members, replicas: 3, cascade: [2], nextIndex: 10 };
    const aware = plan(input({ ...shape, zoneAware: true }));
    expect(aware.reparent).toEqual([at(0, 1, 'r-1')]);
    expect(aware.remove).toEqual(['r-7', 'r-4']);
    expect(aware.create).toEqual([at(10, 2, 'r-0'), at(11, 2, 'r-0')]);
    // Without zoneAware, the orphans simply move to the parent with room.
    const plain = plan(input(shape));
    expect(plain.reparent).toEqual([at(0, 1, 'r-1'), at(4, 2, 'r-0'), at(7, 2, 'r-0')]);
    expect(plain.remove).toEqual([]);
  });

  it('never reuses an index even when nextIndex lags behind the members', () => {
    const p = plan(input({ members: [member(7, 1, 'r-0')], replicas: 2, nextIndex: 3 }));
    expect(p.create).toEqual([at(8, 1, 'r-0')]);
  });
});

/** Random existing layouts: tiers of pods whose parents are pods of the tier above, the primary, gone, or unset. */
const existing = fc
  .record({
    hasPrimary: fc.boolean(),
    tiers: fc.array(fc.array(fc.record({ pick: fc.nat(20), kind: fc.nat(9), healthy: fc.boolean(), gap: fc.nat(2) }), { maxLength: 7 }), { maxLength: 4 }),
    replicas: fc.nat(5),
    cascade: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
    spare: fc.nat(3),
  })
  .map(({ hasPrimary, tiers, replicas, cascade, spare }) => {
    const members: Member[] = [];
    let index = 1;
    let above = ['r-0'];
    tiers.forEach((pods, i) => {
      const tier = i + 1;
      const names: string[] = [];
      for (const { pick, kind, healthy, gap } of pods) {
        index += gap;
        const parent = kind === 0 ? undefined : kind === 1 ? 'r-gone' : above.length > 0 ? above[pick % above.length] : undefined;
        members.push({ name: `r-${index}`, index, tier, parent, healthy });
        names.push(`r-${index}`);
        index++;
      }
      above = names;
    });
    return { resource: 'r', primary: hasPrimary ? 'r-0' : undefined, members, replicas, cascade, nextIndex: index + spare } satisfies PlanInput;
  });

describe('plan invariants', () => {
  it('hold for random layouts and shapes', () => {
    fc.assert(
      fc.property(existing, (inp) => {
        const p = plan(inp);
        const primary = p.primary.name;
        const sizes = tierSizes(inp.replicas, inp.cascade);
        const inLayout = new Map(p.layout.map((l) => [l.name, l]));
        const byName = new Map(inp.members.map((m) => [m.name, m]));

        expect(p.primary.create).toBe(inp.primary === undefined);
        if (inp.primary !== undefined) expect(p.primary.name).toBe(inp.primary);
        // exactly n_t pods per tier, in tier then index order
        expect(sizes.map((_, i) => p.layout.filter((l) => l.tier === i + 1).length)).toEqual(sizes);
        expect(p.layout.length).toBe(sizes.reduce((a, b) => a + b, 0));
        const order = p.layout.map((l) => [l.tier, Number(l.name.slice(2))] as const);
        expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
        // parents exist one tier up and hold no more than their cap
        const children = new Map<string, number>();
        for (const l of p.layout) {
          if (l.tier === 1) expect(l.parent).toBe(primary);
          else expect(inLayout.get(l.parent)?.tier).toBe(l.tier - 1);
          children.set(l.parent, (children.get(l.parent) ?? 0) + 1);
        }
        for (const [parent, n] of children) {
          expect(n).toBeLessThanOrEqual(capOf((inLayout.get(parent)?.tier ?? 0) + 1, inp.replicas, inp.cascade));
        }
        // every member is kept or removed, never both; the primary is never removed
        expect(p.remove).not.toContain(primary);
        for (const m of inp.members) expect(inLayout.has(m.name) !== p.remove.includes(m.name)).toBe(true);
        expect(new Set(p.remove).size).toBe(p.remove.length);
        // leaf first: no removed pod comes before one of its descendants
        const ancestors = (name: string): string[] => {
          const out: string[] = [];
          for (let parent = byName.get(name)?.parent; parent && byName.has(parent) && !out.includes(parent); parent = byName.get(parent)?.parent) out.push(parent);
          return out;
        };
        p.remove.forEach((name, i) => {
          for (const later of p.remove.slice(i + 1)) expect(ancestors(later)).not.toContain(name);
        });
        // minimal movement: a kept pod moves only when its parent is gone or holds too many
        for (const m of inp.members) {
          const l = inLayout.get(m.name);
          if (!l || l.parent === m.parent || m.parent === undefined) continue;
          const parentKept = m.tier === 1 ? m.parent === primary : inLayout.get(m.parent)?.tier === m.tier - 1;
          const siblings = inp.members.filter((s) => s.tier === m.tier && s.parent === m.parent).length;
          expect(parentKept && siblings <= capOf(m.tier, inp.replicas, inp.cascade)).toBe(false);
        }
        // create and reparent describe the layout; created names are new
        for (const c of p.create) {
          expect(inLayout.get(c.name)).toEqual(c);
          expect(byName.has(c.name)).toBe(false);
          expect(Number(c.name.slice(2))).toBeGreaterThanOrEqual(inp.nextIndex);
          expect(Number(c.name.slice(2))).toBeLessThan(p.nextIndex);
        }
        for (const r of p.reparent) {
          expect(inLayout.get(r.name)).toEqual(r);
          expect(byName.get(r.name)?.parent).not.toBe(r.parent);
        }
        for (const l of p.layout) {
          const m = byName.get(l.name);
          if (m && m.parent !== l.parent) expect(p.reparent).toContainEqual(l);
          if (!m) expect(p.create).toContainEqual(l);
        }
        // a tier either creates or removes, never both
        sizes.forEach((size, i) => {
          const have = inp.members.filter((m) => m.tier === i + 1).length;
          expect(p.create.filter((c) => c.tier === i + 1).length).toBe(Math.max(0, size - have));
        });
        // idempotent
        const again = plan({ ...inp, primary, members: applied(p), nextIndex: p.nextIndex });
        expect(again).toEqual({ ...p, primary: { name: primary, create: false }, create: [], reparent: [], remove: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('deletableNow never deletes a parent of a surviving pod, and all of remove once the plan is applied', () => {
    fc.assert(
      fc.property(existing, (inp) => {
        const p = plan(inp);
        const now = deletableNow(p, inp.members);
        const survivingParents = new Set(inp.members.filter((m) => p.layout.some((l) => l.name === m.name)).map((m) => m.parent));
        for (const name of now) expect(survivingParents.has(name)).toBe(false);
        expect(now).toEqual(p.remove.filter((n) => now.includes(n)));
        const after = [...applied(p), ...inp.members.filter((m) => p.remove.includes(m.name))];
        expect(deletableNow(p, after)).toEqual(p.remove);
      }),
      { numRuns: 300 },
    );
  });
});

describe('membership', () => {
  const observed = (index: number, tier: number, over: Partial<ObservedPod> = {}): ObservedPod => ({
    name: `r-${index}`,
    index,
    tier,
    role: tier === 0 ? 'primary' : 'replica',
    parent: tier === 0 ? undefined : 'r-0',
    podIP: `10.0.0.${index}`,
    deleting: false,
    containerDown: false,
    info: { role: 'replica', replId: 'x', replOffset: 0, connectedReplicas: 0, replicas: [] } as unknown as ObservedPod['info'],
    ...over,
  });
  const claim = (index: number, tier: number, holdsData = false): ClaimRef => ({ pod: `r-${index}`, index, tier, holdsData });
  const pods = [observed(0, 0), observed(1, 1), observed(2, 1, { info: undefined }), observed(3, 1, { deleting: true }), observed(4, 0, { zone: 'b', parent: 'r-9' }), observed(8, 1, { deleting: true })];

  it('every live pod but the primary is a member; a pod being deleted only with persistence and its claim; claims of gone pods are members too', () => {
    expect(membersOf({ resource: 'r', persistent: false, observed: pods, claims: [claim(3, 1), claim(7, 2, true)], primary: 'r-0' })).toEqual([
      { name: 'r-1', index: 1, tier: 1, parent: 'r-0', healthy: true, zone: undefined },
      { name: 'r-2', index: 2, tier: 1, parent: 'r-0', healthy: false, zone: undefined },
      // A pod labelled primary that is not the primary (a demoted one): tier 1, no parent yet.
      { name: 'r-4', index: 4, tier: 1, parent: undefined, healthy: true, zone: 'b' },
    ]);
    const claims = [claim(0, 0), claim(3, 1), claim(7, 2, true), claim(1, 1), claim(6, 0)];
    // r-6, the primary, is gone: it is re-created as the primary, not a member.
    expect(membersOf({ resource: 'r', persistent: true, observed: pods, claims, primary: 'r-6' }).map((m) => [m.name, m.tier, m.parent, m.healthy])).toEqual([
      ['r-0', 1, undefined, true],
      ['r-1', 1, 'r-0', true],
      ['r-2', 1, 'r-0', false],
      ['r-3', 1, 'r-0', false],
      ['r-4', 1, undefined, true],
      ['r-7', 2, undefined, false],
    ]);
  });

  it('the planned primary is the decided one while its pod is live or its claim survives', () => {
    const base = { resource: 'r', persistent: true, observed: pods, claims: [claim(5, 0), claim(1, 1)] };
    expect(plannedPrimary({ ...base, primary: undefined })).toBeUndefined();
    expect(plannedPrimary({ ...base, primary: 'r-2' })).toBe('r-2');
    expect(plannedPrimary({ ...base, primary: 'r-3' })).toBeUndefined();
    expect(plannedPrimary({ ...base, primary: 'r-5' })).toBe('r-5');
    expect(plannedPrimary({ ...base, primary: 'r-9' })).toBeUndefined();
  });

  it('the next pod index is past every index recorded, observed or claimed', () => {
    expect(nextPodIndex(undefined, [], [])).toBe(0);
    expect(nextPodIndex(20, pods, [claim(12, 1)])).toBe(20);
    expect(nextPodIndex(2, pods, [claim(12, 1)])).toBe(13);
    expect(nextPodIndex(2, pods, [])).toBe(9);
  });
});
