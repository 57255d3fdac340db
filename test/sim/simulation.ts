// The fault simulation: a deterministic, seeded schedule of client writes, replication steps, time,
// faults (freeze, restart, graceful and forced pod deletion, API errors, operator crashes at any
// await point, stale caches) and reconcile passes of the real controller code, run against the
// fake API and the Redis model. Invariants are checked after every step and inside every pass:
// - a pod is promoted only if it holds every write that another pod (or a claim's volume) that may
//   come back holds; the one exception is the unreplicated tail of a primary lost to a failover;
// - no claim whose volume holds writes the primary lacks is deleted;
// - at most one pod that the primary Service selects accepts writes;
// - once the faults heal, the resource becomes Ready with a writable primary (no lock-out).
import type { RedisReplication } from '../../src/api/schema.js';
import { LABEL } from '../../src/plan/names.js';
import { ApiError } from '../support/fake-kube.js';
import type { RedisServer } from '../support/redis-model.js';
import { World } from '../support/world.js';

export class Crash extends Error {}
export class Violation extends Error {}

/** mulberry32: a small, good-enough PRNG whose whole state is one number. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimResult {
  seed: number;
  violation?: string;
  trace: string[];
  writes: number;
}

export async function simulate(seed: number, steps = 40): Promise<SimResult> {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  const world = new World();
  const trace: string[] = [];
  const log = (line: string) => trace.push(`${(world.nowMs - Date.UTC(2026, 11, 1)) / 1000}s ${line}`);

  const persistent = chance(0.4);
  const replicas = persistent ? pick([0, 1, 2]) : pick([1, 2, 3]);
  const spec = {
    replicas,
    ...(chance(0.2) && replicas > 0 ? { cascade: [{ replicasPerParent: 1 }] } : {}),
    persistence: { enabled: persistent },
    failover: { primaryDownSeconds: pick([1, 2, 3]) },
  };
  log(`spec ${JSON.stringify(spec)}`);
  const rr: RedisReplication = world.kube.apply({
    apiVersion: 'redis.replication.dev/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name: 'sim', namespace: 'ns' },
    spec: spec as unknown as RedisReplication['spec'],
  });

  // Faults that strike inside a pass: at the n-th API call or Redis command from now.
  let crashAt: number | undefined;
  let apiErrorAt: number | undefined;
  let calls = 0;
  let inPass = false;
  const masters = new Map<string, number>();
  const onCall = (what: string) => {
    calls++;
    if (!inPass) return;
    checkInvariants(`during a pass, before ${what}`);
    if (crashAt !== undefined && calls >= crashAt) {
      crashAt = undefined;
      throw new Crash(`operator crashed before ${what}`);
    }
    if (apiErrorAt !== undefined && calls >= apiErrorAt && !what.startsWith('redis')) {
      apiErrorAt = undefined;
      throw new ApiError(500, `injected API error on ${what}`);
    }
    // Clients keep writing and replicas keep syncing while the operator works.
    if (chance(0.2)) clientWrites(1 + Math.floor(random() * 3));
    if (chance(0.2)) world.redis.replicate(Math.floor(random() * 3));
    world.advance(1);
  };
  world.kube.beforeCall = (verb, what) => onCall(`${verb} ${what}`);
  world.redis.beforeCommand = (ip, args) => onCall(`redis ${ip} ${args.join(' ')}`);

  // Every server that answered as a master, and the data each promotion must hold.
  const serverName = (s: RedisServer) =>
    [...world.kube.pods.values()].find((p) => p.status?.podIP === s.ip)?.metadata?.name ?? `gone(${s.ip})`;

  // A pod being deleted without a volume: its data goes with it, nothing can keep it.
  const goingAway = (server: RedisServer) => {
    const pod = [...world.kube.pods.values()].find((p) => p.status?.podIP === server.ip);
    return Boolean(pod?.metadata?.deletionTimestamp) && !server.options.persistent;
  };

  function checkInvariants(when: string): void {
    const servers = [...world.redis.servers.values()];
    for (const s of servers) {
      const wasMaster = masters.get(s.ip);
      if (s.role !== 'master' || !s.running) {
        masters.delete(s.ip);
        continue;
      }
      if (wasMaster !== undefined) continue;
      masters.set(s.ip, world.nowMs);
      // A new promotion: it must hold what every other pod or volume that may come back holds. The one
      // exception is a failover to a replica that followed a lost primary's stream (the primary is
      // unreachable, or its pod is gone): its unreplicated tail is the price of the failover, given up
      // once and for all.
      const holds = new Set(s.log);
      const lostTail = (pod: string) => s.origin === pod;
      const others = servers.filter((o) => o !== s && o.running && !goingAway(o));
      const volumes = [...world.kube.disks];
      for (const o of others) if (o.unreachable && lostTail(o.options.pod)) for (const id of o.log) if (!holds.has(id)) abandoned.add(id);
      for (const [, d] of volumes) if (lostTail(d.pod)) for (const id of d.log) if (!holds.has(id)) abandoned.add(id);
      const lacks = (log: number[]) => log.filter((id) => !holds.has(id) && !abandoned.has(id)).length;
      for (const o of others) {
        if (lacks(o.log) > 0) throw new Violation(`${when}: promoted ${serverName(s)} (${s.log.length} writes) while ${serverName(o)} holds ${lacks(o.log)} writes it lacks`);
      }
      for (const [claim, d] of volumes) {
        if (lacks(d.log) > 0) throw new Violation(`${when}: promoted ${serverName(s)} (${s.log.length} writes) while claim ${claim} holds ${lacks(d.log)} writes it lacks`);
      }
      log(`promoted ${serverName(s)} with ${s.log.length} writes`);
    }
    const writable = [...world.kube.pods.values()].filter((p) => {
      if (p.metadata?.labels?.[LABEL.role] !== 'primary' || p.metadata.deletionTimestamp) return false;
      const s = world.redis.servers.get(p.status?.podIP ?? '');
      return s && s.running && !s.unreachable && s.role === 'master' && s.pausedUntilMs <= world.nowMs;
    });
    if (writable.length > 1) throw new Violation(`${when}: two writable primaries behind the Service: ${writable.map((p) => p.metadata!.name).join(', ')}`);
  }


  // Writes given up with a lost primary's tail in a failover.
  const abandoned = new Set<number>();
  let nextId = 1;
  let acked = 0;
  function clientWrites(n: number): void {
    // Clients reach the primary through `<name>-primary`: every pod labelled primary and not deleting.
    const targets = [...world.kube.pods.values()].filter((p) => p.metadata?.labels?.[LABEL.role] === 'primary' && !p.metadata.deletionTimestamp);
    for (let i = 0; i < n; i++) {
      const pod = targets.length > 0 ? pick(targets) : undefined;
      if (pod && world.redis.write(pod.status!.podIP!, nextId)) acked++;
      nextId++;
    }
  }

  async function pass(): Promise<void> {
    inPass = true;
    try {
      await world.reconcile(rr);
    } catch (err) {
      if (err instanceof Violation) throw err;
      if (err instanceof Crash) {
        log(err.message);
        world.restartOperator();
      } else log(`pass failed: ${(err as Error).message}`);
    } finally {
      inPass = false;
      crashAt = undefined;
      apiErrorAt = undefined;
    }
  }

  try {
    for (let n = 0; n < 40 && world.status(rr)?.phase !== 'Ready'; n++) {
      await pass();
      world.redis.replicate();
      world.advance(500);
      checkInvariants('bring-up');
    }
    if (world.status(rr)?.phase !== 'Ready') throw new Violation('never became Ready');
    log('Ready');

    for (let step = 0; step < steps; step++) {
      const pods = [...world.kube.pods.values()].map((p) => p.metadata!.name!);
      const r = random();
      if (r < 0.35) {
        if (chance(0.15)) crashAt = calls + 1 + Math.floor(random() * 12);
        if (chance(0.1)) apiErrorAt = calls + 1 + Math.floor(random() * 8);
        await pass();
      } else if (r < 0.55) {
        clientWrites(1 + Math.floor(random() * 10));
      } else if (r < 0.65) {
        world.redis.replicate(chance(0.5) ? Number.POSITIVE_INFINITY : Math.floor(random() * 5));
      } else if (r < 0.75) {
        world.advance(200 + Math.floor(random() * 1800));
      } else if (pods.length > 0) {
        const pod = pick(pods);
        const server = world.kube.serverOf('ns', pod);
        const fault = pick(['freeze', 'thaw', 'restart', 'delete', 'force-delete', 'finish-deletions', 'operator-restart'] as const);
        log(`${fault} ${pod}`);
        switch (fault) {
          case 'freeze':
            if (server) server.unreachable = true;
            break;
          case 'thaw':
            for (const s of world.redis.servers.values()) s.unreachable = false;
            break;
          case 'restart':
            world.kube.restartContainer('ns', pod);
            break;
          case 'delete':
            await world.kube.deletePod('ns', pod);
            break;
          case 'force-delete':
            await world.kube.deletePod('ns', pod, 0);
            break;
          case 'finish-deletions':
            world.kube.finishDeletions();
            break;
          case 'operator-restart':
            world.restartOperator();
            break;
        }
      }
      checkInvariants(`after step ${step}`);
    }

    // Heal every fault, then the operator must bring the resource back to Ready.
    log('heal');
    for (const s of world.redis.servers.values()) s.unreachable = false;
    world.kube.finishDeletions();
    for (let n = 0; n < 80 && !(world.status(rr)?.phase === 'Ready'); n++) {
      await pass();
      world.redis.replicate();
      world.advance(1000);
      world.kube.finishDeletions();
      checkInvariants('healing');
    }
    if (world.status(rr)?.phase !== 'Ready') throw new Violation(`not Ready 80 s after every fault healed: ${world.status(rr)?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`).join('; ')}`);
    return { seed, trace, writes: acked };
  } catch (err) {
    if (!(err instanceof Violation)) throw err;
    // The state the violation left, to read with the trace.
    for (const p of world.kube.pods.values()) {
      const s = world.redis.servers.get(p.status?.podIP ?? '');
      const server = s ? `${s.role}${s.role === 'replica' ? ` of ${s.masterHost}` : ''} link=${s.linkUp} offset=${s.offset} replid=${s.replId} writes=${s.log.length}${s.unreachable ? ' unreachable' : ''}` : 'no server';
      log(`pod ${p.metadata!.name} ${p.status?.podIP} ${JSON.stringify(p.metadata!.labels?.[LABEL.role])}${p.metadata!.deletionTimestamp ? ' deleting' : ''}: ${server}`);
    }
    for (const [claim, disk] of world.kube.disks) log(`volume ${claim} (no pod): writes=${disk.log.length}`);
    return { seed, violation: err.message, trace, writes: acked };
  }
}
