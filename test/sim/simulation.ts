// The fault simulation: a deterministic, seeded schedule of client writes, replication steps, time,
// faults (freeze, network cut that some clients still reach, container restart, container killed
// and not restarted yet, graceful and forced pod deletion, API errors, operator crashes at any
// await point, informer caches lagging behind the API, scaling) and reconcile passes of the real
// controller code, run against the fake API and the Redis model, with the operator's prober probing
// between passes. Once the faults heal, passes come only as the controller's do: when the prober
// enqueues the resource, when its objects change (a watch event), or when its last pass asked.
// Every acknowledged write is in a ledger. Invariants are checked after every step and before every
// call inside a pass:
// - a pod is promoted only if it holds every write that another pod (or a claim's volume) that may
//   come back holds, except the one loss a failover accepts (README, Failover behaviour): the
//   unreplicated tail of the lost primary (silent, cut off, gone or going), i.e. what it holds past
//   the end of the promoted pod's copy of its stream. Those writes, and those a cut-off primary
//   acknowledges after another pod took over, are the only ones given up (`abandoned`, each with
//   its reason);
// - no claim is deleted, and no replica's dataset is replaced by a full sync, while it holds the
//   only copy of an acknowledged write that was not given up;
// - at most one pod that the primary Service selects accepts writes;
// - once the faults heal, the resource becomes Ready with a writable primary (no lock-out) and quiet
//   (no pass for 35 s while clients write: nothing left to do asks for none), and every
//   acknowledged write that was not given up is in that primary's dataset;
// - the same once the primary then freezes for good (sometimes): nothing in the API changes, only
//   the prober sees it.
import type { V1Pod } from '@kubernetes/client-node';
import type { RedisReplication } from '../../src/api/schema.js';
import { measure } from '../../src/controller/measure.js';
import { PassRedis, Prober } from '../../src/controller/prober.js';
import { ANNOTATION, LABEL } from '../../src/plan/names.js';
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
  /** Writes acknowledged to clients, and how many of them were given up, by kind (see the header). */
  writes: number;
  givenUp: Record<GivenUp, number>;
}

/** Why an acknowledged write may be missing at the end: the unreplicated tail of a primary lost to a
 * failover, data a fault destroyed (a pod or container without a volume gone while it held the only
 * copy), or a write a cut-off primary acknowledged after another pod took over. */
export type GivenUp = 'tail' | 'destroyed' | 'cutOff';

/** `traceCalls`: the trace also lists each API write and Redis command the operator sent (INFO and reads
 * left out), to follow a failing seed step by step. */
export async function simulate(seed: number, steps = 40, traceCalls = false): Promise<SimResult> {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  const world = new World();
  const trace: string[] = [];
  const log = (line: string) => trace.push(`${(world.nowMs - Date.UTC(2026, 11, 1)) / 1000}s ${line}`);

  const persistent = chance(0.4);
  const cascade = chance(0.2);
  const replicaChoices = persistent && !cascade ? [0, 1, 2] : [1, 2, 3];
  const specOf = (replicas: number) => ({
    replicas,
    ...(cascade ? { cascade: [{ replicasPerParent: 1 }] } : {}),
    persistence: { enabled: persistent },
    failover: { primaryDownSeconds },
  });
  const primaryDownSeconds = pick([1, 2, 3]);
  let spec = specOf(pick(replicaChoices));
  log(`spec ${JSON.stringify(spec)}`);
  const resource = (annotations?: Record<string, string>): RedisReplication =>
    world.kube.apply({
      apiVersion: 'redis.replication.dev/v1alpha1',
      kind: 'RedisReplication',
      metadata: { name: 'sim', namespace: 'ns', ...(annotations ? { annotations } : {}) },
      spec: spec as unknown as RedisReplication['spec'],
    });
  const rr = resource();

  // The operator process: its passes reach Redis through PassRedis, so that its prober speaks to
  // each pod as the last pass did. When the resource is due for a pass, as its work queue would have
  // it: enqueued by the prober or by the informers' first listing, or at the time a pass asked for.
  let dueAtMs: number | undefined;
  const due = (atMs: number) => (dueAtMs = Math.min(dueAtMs ?? atMs, atMs));
  function operatorStarts(): Prober {
    const targets = new PassRedis(world.redis, world.deps.metrics);
    world.deps = { ...world.deps, redis: targets };
    due(world.nowMs);
    return new Prober({
      redis: world.redis,
      targets,
      resources: () => [world.kube.cache.resource('ns', 'sim')].flatMap((r) => r ?? []),
      pods: world.kube.cache.pods,
      enqueue: (_key, urgent) => {
        if (traceCalls) log(`  probe: a pass is due${urgent ? ', urgently' : ''}`);
        due(world.nowMs);
      },
      measure: (measured) => measure({ ...world.deps, redis: world.redis }, measured),
      quiet: () => undefined,
      intervalMs: 1000,
      now: () => world.nowMs,
      metrics: world.deps.metrics,
      log: world.deps.log,
    });
  }
  let prober = operatorStarts();
  function restartOperator(): void {
    void prober.stop();
    world.restartOperator();
    prober = operatorStarts();
  }
  // What the informers show of the resource and its pods and claims: a change is a watch event.
  const watched = () =>
    [world.kube.cache.resource('ns', 'sim'), ...world.kube.cache.pods('ns', 'sim'), ...world.kube.cache.claims('ns', 'sim')].map((o) => `${o?.metadata?.name}@${o?.metadata?.resourceVersion}`).join(',');
  let seen = '';

  // Faults that strike inside a pass: at the n-th API call or Redis command from now.
  let crashAt: number | undefined;
  let crashed: Crash | undefined;
  // The first violation, kept: a catch in the operator (one that treats a failed command as no
  // answer) must not hide it.
  let violation: Violation | undefined;
  const violated = (message: string) => (violation ??= new Violation(message));
  let apiErrorAt: number | undefined;
  let calls = 0;
  let inPass = false;
  // Faults strike between bring-up and the heal only.
  let faulty = false;
  // Every server seen as a master: one that appears is a promotion, checked once.
  const masters = new Set<string>();
  const onCall = (what: string) => {
    calls++;
    if (!inPass) return;
    checkInvariants(`during a pass, before ${what}`);
    const claim = /^delete persistentvolumeclaim\/(.*)$/.exec(what)?.[1];
    if (claim) checkNotOnlyCopy(`deleting claim ${claim}`, dataOfClaim(claim), (o) => o.claim === claim);
    // A crashed operator makes no further call, whatever catches the first throw.
    if (crashed) throw crashed;
    if (crashAt !== undefined && calls >= crashAt) {
      crashAt = undefined;
      throw (crashed = new Crash(`operator crashed before ${what}`));
    }
    if (apiErrorAt !== undefined && calls >= apiErrorAt && !what.startsWith('redis')) {
      apiErrorAt = undefined;
      throw new ApiError(500, `injected API error on ${what}`);
    }
    // The informers may fall behind at any point, the operator's own writes included: the next
    // pass may not read what this one wrote.
    if (faulty && chance(0.03)) world.kube.lagCache();
    // Clients keep writing and replicas keep syncing while the operator works.
    if (chance(0.2)) clientWrites(1 + Math.floor(random() * 3));
    if (chance(0.2)) world.redis.replicate(Math.floor(random() * 3));
    world.advance(1);
  };
  world.kube.beforeCall = (verb, what) => {
    if (traceCalls && verb !== 'get' && verb !== 'list') log(`  ${verb} ${what}`);
    onCall(`${verb} ${what}`);
  };
  world.redis.beforeCommand = (ip, args) => {
    if (traceCalls && !/^(INFO|PING)$/i.test(args[0] ?? '')) log(`  redis ${ip} ${args.join(' ')}`);
    onCall(`redis ${ip} ${args.join(' ')}`);
  };
  // Inside a pass, the operator removes a pod at once only to fence a primary it lost (one that did
  // not answer): nothing else it removes may take the only copy of a write with it.
  world.kube.beforeRemove = (server) => {
    if (inPass && !(server.role === 'master' && downSince.has(server))) checkNotOnlyCopy(`the operator removing ${serverName(server)}`, server.options.persistent ? [] : server.log, (c) => c.server === server);
    destroyed(server, 'its pod went away');
  };
  // Data that a fault destroys (a pod without a volume that goes, a container without one that
  // restarts): the writes only it held are lost with it. On a primary, that is its unreplicated
  // tail; on a replica, a second fault (the primary lost them already).
  function destroyed(server: RedisServer, cause: string): void {
    if (server.options.persistent || !server.running) return;
    const others = copies().filter((c) => c.server !== server);
    for (const id of owed(server.log)) if (!others.some((c) => c.log.includes(id))) giveUp(id, 'destroyed', `only on ${serverName(server)} (${server.role}) when ${cause}`);
  }
  // A pod being deleted without a volume is going with its data: a full sync there takes nothing
  // that could have been kept.
  world.redis.beforeSync = (replica, parent, full) => {
    // From now on it follows another pod's stream: it holds nothing that pod will not have.
    heads.delete(replica.options.pod);
    if (!full) return;
    const what = `full sync of ${serverName(replica)} from ${serverName(parent)}`;
    if (goingAway(replica)) destroyed(replica, `${what} while its pod was being deleted`);
    else checkNotOnlyCopy(what, replica.log.filter((id) => !parent.log.includes(id)), (o) => o.server === replica);
  };

  const serverName = (s: RedisServer) =>
    [...world.kube.pods.values()].find((p) => p.status?.podIP === s.ip)?.metadata?.name ?? `gone(${s.ip})`;
  const podOf = (server: RedisServer) => [...world.kube.pods.values()].find((p) => p.status?.podIP === server.ip);
  const claimOf = (pod: V1Pod | undefined) => pod?.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;

  // A pod being deleted without a volume (none, or its claim deleted): its data goes with it, nothing
  // can keep it.
  const goingAway = (server: RedisServer) => {
    const pod = podOf(server);
    return Boolean(pod?.metadata?.deletionTimestamp) && !world.kube.claims.has(`ns/${claimOf(pod)}`);
  };

  /** Every copy of data that may come back: running servers (a stopped container restarts with its
   * volume) and the volumes of claims whose pod is gone. */
  type Copy = { name: string; log: number[]; server?: RedisServer; claim?: string };
  function copies(): Copy[] {
    const servers = [...world.redis.servers.values()].filter((o) => (o.running || o.options.persistent) && !goingAway(o));
    const volumes = [...world.kube.disks].map(([key, d]) => ({ name: `claim ${key}`, log: d.log, claim: key.split('/')[1]! }));
    return [...servers.map((o) => ({ name: serverName(o), log: o.log, server: o, claim: claimOf(podOf(o)) })), ...volumes];
  }

  /** Acknowledged writes that were not given up. */
  const owed = (ids: number[]) => ids.filter((id) => acked.has(id) && !abandoned.has(id));

  function dataOfClaim(claim: string): number[] {
    return world.kube.disks.get(`ns/${claim}`)?.log ?? [...world.redis.servers.values()].find((o) => claimOf(podOf(o)) === claim)?.log ?? [];
  }

  /** `ids` are about to go from one copy (`self`): no other copy may be left without them. */
  function checkNotOnlyCopy(what: string, ids: number[], self: (c: Copy) => boolean): void {
    const others = copies().filter((c) => !self(c));
    const only = owed(ids).filter((id) => !others.some((c) => c.log.includes(id)));
    if (only.length > 0) throw violated(`${what} loses the only copy of ${only.length} acknowledged writes (${only.slice(0, 5).join(', ')}…)`);
  }

  /** Gives up what `lost` holds past the end of `promoted`'s copy of its stream: its unreplicated tail. */
  function abandonTail(lost: { name: string; log: number[] }, promoted: RedisServer): void {
    let k = 0;
    while (k < lost.log.length && k < promoted.log.length && lost.log[k] === promoted.log[k]) k++;
    const holds = new Set(promoted.log);
    for (const id of lost.log.slice(k)) if (!holds.has(id) && !abandoned.has(id)) giveUp(id, 'tail', `tail of ${lost.name}, lost to ${serverName(promoted)}`);
  }

  // Since when each server has not answered, as the operator may have seen it: from the first step
  // it was down after the last pass that could see it up.
  const downSince = new Map<RedisServer, number>();
  // Pods whose data ends with a stream they served as primary (they have not synced from another
  // pod since): a lost one's data past a promoted pod's copy is its unreplicated tail, even when it
  // restarted or its pod went since.
  const heads = new Set<string>();
  function checkInvariants(when: string): void {
    const servers = [...world.redis.servers.values()];
    for (const o of servers) if (!o.running || o.unreachable) downSince.set(o, downSince.get(o) ?? world.nowMs);
    for (const s of servers) {
      if (s.role !== 'master' || !s.running) {
        masters.delete(s.ip);
        continue;
      }
      if (masters.has(s.ip)) continue;
      masters.add(s.ip);
      heads.add(s.options.pod);
      newest = s;
      // A new promotion: it must hold what every other pod or volume that may come back holds, but
      // the tail of the primary whose stream it continues (it synced from it last, or holds a prefix
      // of a primary's data: demoted in a hand-over before it synced), when that one is lost
      // (silent, cut off, its container down, going or gone): the price of the failover, given up
      // once and for all.
      const prefixOf = (log: number[]) => s.log.length <= log.length && s.log.every((id, i) => log[i] === id);
      const lostTail = (pod: string, log: number[]) => s.origin === pod || (heads.has(pod) && prefixOf(log));
      // Nor before its time: a primary that still runs in its pod (silent or cut off, or with a
      // volume and its container down) is given primaryDownSeconds to come back before a write only
      // it holds is given up.
      const holds = new Set(s.log);
      for (const o of servers) {
        const pod = podOf(o);
        const waits = pod && !pod.metadata?.deletionTimestamp && (o.running || o.options.persistent);
        const downMs = world.nowMs - (downSince.get(o) ?? world.nowMs);
        const givesUp = owed(o.log).some((id) => !holds.has(id));
        if (o !== s && waits && givesUp && lostTail(o.options.pod, o.log) && downSince.has(o) && downMs < primaryDownSeconds * 1000) {
          throw violated(`${when}: promoted ${serverName(s)} ${downMs} ms after ${serverName(o)} stopped answering (primaryDownSeconds: ${primaryDownSeconds})`);
        }
      }
      for (const o of servers) if (o !== s && (o.unreachable || !o.running || goingAway(o)) && lostTail(o.options.pod, o.log)) abandonTail({ name: serverName(o), log: o.log }, s);
      for (const [claim, d] of world.kube.disks) if (lostTail(d.pod, d.log)) abandonTail({ name: `claim ${claim}`, log: d.log }, s);
      for (const o of copies()) {
        if (o.server === s) continue;
        const lacks = owed(o.log).filter((id) => !holds.has(id));
        if (lacks.length > 0) throw violated(`${when}: promoted ${serverName(s)} (${s.log.length} writes) while ${o.name} holds ${lacks.length} acknowledged writes it lacks`);
      }
      log(`promoted ${serverName(s)} with ${s.log.length} writes`);
    }
    const writable = [...world.kube.pods.values()].filter((p) => {
      if (p.metadata?.labels?.[LABEL.role] !== 'primary' || p.metadata.deletionTimestamp) return false;
      const s = world.redis.servers.get(p.status?.podIP ?? '');
      return s && s.running && !s.unreachable && s.role === 'master' && s.pausedUntilMs <= world.nowMs;
    });
    if (writable.length > 1) throw violated(`${when}: two writable primaries behind the Service: ${writable.map((p) => p.metadata!.name).join(', ')}`);
  }

  // The ledger: every acknowledged write and the pod that acknowledged it; the writes given up, and why.
  const acked = new Map<number, string>();
  const abandoned = new Map<number, { kind: GivenUp; why: string }>();
  const giveUp = (id: number, kind: GivenUp, why: string) => abandoned.set(id, { kind, why });
  const givenUp = () => {
    const counts: Record<GivenUp, number> = { tail: 0, destroyed: 0, cutOff: 0 };
    for (const { kind } of abandoned.values()) counts[kind]++;
    return counts;
  };
  let newest: RedisServer | undefined;
  let nextId = 1;
  // Where each client last wrote: a client keeps its connection while the server takes its writes
  // (a primary cut off from the operator and its replicas, or an old primary that was not demoted),
  // and goes through the Service again once refused. A pod being deleted got SIGTERM: Redis shuts
  // down, unless the node is cut off and never heard of the deletion.
  const connections: string[] = [];
  function clientWrites(n: number): void {
    // Clients reach the primary through `<name>-primary`: every pod labelled primary and not deleting.
    const targets = [...world.kube.pods.values()].filter((p) => p.metadata?.labels?.[LABEL.role] === 'primary' && !p.metadata.deletionTimestamp).map((p) => p.status!.podIP!);
    for (let i = 0; i < n; i++) {
      const client = Math.floor(random() * 4);
      const id = nextId++;
      const kept = world.redis.servers.get(connections[client] ?? '');
      const reached = kept && (kept.clientsReach || !podOf(kept)?.metadata?.deletionTimestamp) && world.redis.write(kept.ip, id) ? kept : undefined;
      const ip = reached?.ip ?? (targets.length > 0 ? pick(targets) : undefined);
      if (!ip || (!reached && !world.redis.write(ip, id))) continue;
      connections[client] = ip;
      const server = world.redis.servers.get(ip)!;
      acked.set(id, serverName(server));
      // A cut-off primary that another pod took over from: what it acknowledges now is lost with it.
      if (server.unreachable && newest !== server) giveUp(id, 'cutOff', `acknowledged by ${serverName(server)}, cut off, after ${newest ? serverName(newest) : 'another pod'} took over`);
    }
  }

  async function pass(): Promise<void> {
    for (const o of world.redis.servers.values()) if (o.running && !o.unreachable) downSince.delete(o);
    inPass = true;
    dueAtMs = undefined;
    try {
      const result = await world.reconcile(rr);
      if (result?.requeueAfterMs !== undefined) due(world.nowMs + result.requeueAfterMs);
    } catch (err) {
      if (!violation && !crashed) log(`pass failed: ${(err as Error).message}`);
      // Retried with back-off, at most a health interval later (controller.ts).
      due(world.nowMs + 1000);
    }
    inPass = false;
    seen = watched();
    if (violation) throw violation;
    if (crashed) {
      log(crashed.message);
      restartOperator();
    }
    crashed = crashAt = apiErrorAt = undefined;
  }

  function heal(): void {
    for (const s of world.redis.servers.values()) {
      s.unreachable = false;
      s.clientsReach = false;
    }
    for (const p of [...world.kube.pods.values()]) {
      const s = world.redis.servers.get(p.status?.podIP ?? '');
      if (s && !s.running) world.kube.startContainer('ns', p.metadata!.name!);
    }
    world.kube.catchUpCache();
    world.kube.finishDeletions();
  }

  /** The controller alone, while clients write: each second a prober round, a replication step and
   * the end of pending deletions; a pass when one is due, at once. Until Ready and quiet (no pass
   * for QUIET_MS), for at most 150 s. */
  async function controllerAlone(since: string): Promise<void> {
    const startMs = world.nowMs;
    let lastPassMs = world.nowMs;
    let nextRoundMs = world.nowMs;
    let quiet = false;
    while (world.nowMs < startMs + 150_000 && !quiet) {
      if (world.nowMs >= nextRoundMs) {
        clientWrites(2);
        await prober.round();
        world.redis.replicate();
        world.kube.finishDeletions();
        nextRoundMs += 1000;
      }
      if (watched() !== seen || (dueAtMs !== undefined && dueAtMs <= world.nowMs)) {
        await pass();
        lastPassMs = world.nowMs;
      }
      checkInvariants(`after ${since}`);
      quiet = world.status(rr)?.phase === 'Ready' && world.nowMs - lastPassMs >= QUIET_MS;
      world.advance(Math.max(1, Math.min(nextRoundMs, dueAtMs ?? nextRoundMs) - world.nowMs));
    }
    const conditions = () => world.status(rr)?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`).join('; ');
    if (world.status(rr)?.phase !== 'Ready') throw violated(`not Ready 150 s after ${since}: ${conditions()}`);
    if (!quiet) throw violated(`Ready, but passes still come 150 s after ${since} (the last at ${(lastPassMs - Date.UTC(2026, 11, 1)) / 1000}s): ${conditions()}`);
    log(`Ready and quiet after ${since}`);
  }

  try {
    for (let n = 0; n < 40 && world.status(rr)?.phase !== 'Ready'; n++) {
      await pass();
      world.redis.replicate();
      world.advance(500);
      checkInvariants('bring-up');
    }
    if (world.status(rr)?.phase !== 'Ready') throw violated('never became Ready');
    log('Ready');
    faulty = true;

    for (let step = 0; step < steps; step++) {
      const pods = [...world.kube.pods.values()].map((p) => p.metadata!.name!);
      // A lagging cache catches up after a few steps, as a watch that fell behind does.
      if (world.kube.cacheLags && chance(0.3)) world.kube.catchUpCache();
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
        await prober.round();
      } else if (pods.length > 0) {
        const pod = pick(pods);
        const server = world.kube.serverOf('ns', pod);
        const fault = pick(['freeze', 'cut', 'thaw', 'restart', 'kill', 'delete', 'force-delete', 'finish-deletions', 'operator-restart', 'lag-cache', 'scale', 'switchover'] as const);
        log(`${fault} ${pod}`);
        switch (fault) {
          case 'freeze':
            if (server) server.unreachable = true;
            break;
          case 'cut':
            if (server) Object.assign(server, { unreachable: true, clientsReach: true });
            break;
          case 'thaw':
            for (const s of world.redis.servers.values()) Object.assign(s, { unreachable: false, clientsReach: false });
            break;
          case 'restart':
            if (server) destroyed(server, 'its container restarted');
            if (server) world.kube.restartContainer('ns', pod);
            break;
          case 'kill':
            if (server) destroyed(server, 'its container was killed');
            if (server?.running) world.kube.killContainer('ns', pod);
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
            restartOperator();
            break;
          case 'lag-cache':
            world.kube.lagCache();
            break;
          case 'scale':
            spec = specOf(pick(replicaChoices));
            log(`scale to ${spec.replicas} replicas`);
            resource();
            break;
          case 'switchover':
            // To `pod` (refused when it cannot take over), or to the best replica.
            resource({ [ANNOTATION.switchover]: chance(0.5) ? 'auto' : pod });
            break;
        }
      }
      checkInvariants(`after step ${step}`);
    }

    // Heal every fault, then the operator must bring the resource back to Ready.
    log('heal');
    faulty = false;
    heal();
    await controllerAlone('every fault healed');
    // Then, sometimes, the primary freezes for good while all is quiet. Nothing in the API changes:
    // only the prober can tell the operator, which must fail over to a replica (synced: Ready).
    const frozen = spec.replicas > 0 && chance(0.3) ? world.kube.serverOf('ns', world.status(rr)!.primary!) : undefined;
    if (frozen) {
      frozen.unreachable = true;
      log(`${serverName(frozen)}, the primary, freezes for good`);
      await controllerAlone('the primary froze');
    }
    // The primary takes writes, and holds every acknowledged write that was not given up.
    const primary = world.kube.serverOf('ns', world.status(rr)!.primary!)!;
    if (!primary.running || primary.unreachable || primary.role !== 'master') throw violated(`Ready, but the primary ${serverName(primary)} takes no writes (${primary.running ? '' : 'down, '}${primary.unreachable ? 'frozen, ' : ''}${primary.role})`);
    const holds = new Set(primary.log);
    const missing = [...acked.keys()].filter((id) => !holds.has(id) && !abandoned.has(id));
    if (missing.length > 0) throw violated(`the final primary ${serverName(primary)} lacks ${missing.length} acknowledged writes: ${missing.slice(0, 5).map((id) => `${id} (by ${acked.get(id)})`).join(', ')}`);
    const reasons = [...abandoned.values()].map((a) => a.why);
    if (reasons.length > 0) log(`given up: ${[...new Set(reasons)].map((why) => `${reasons.filter((w) => w === why).length} ${why}`).join('; ')}`);
    return { seed, trace, writes: acked.size, givenUp: givenUp() };
  } catch (err) {
    if (!(err instanceof Violation)) throw err;
    // The state the violation left, to read with the trace.
    const status = world.status(rr);
    log(`status: primary ${status?.primary}, target ${status?.targetPrimary} (${status?.targetReason})`);
    for (const p of world.kube.pods.values()) {
      const s = world.redis.servers.get(p.status?.podIP ?? '');
      const server = s ? `${s.running ? '' : 'down '}${s.role}${s.role === 'replica' ? ` of ${s.masterHost}` : ''} link=${s.linkUp} offset=${s.offset} replid=${s.replId} writes=${s.log.length}${s.unreachable ? ' unreachable' : ''}` : 'no server';
      log(`pod ${p.metadata!.name} ${p.status?.podIP} ${JSON.stringify(p.metadata!.labels?.[LABEL.role])}${p.metadata!.deletionTimestamp ? ' deleting' : ''}: ${server}`);
    }
    for (const [claim, disk] of world.kube.disks) log(`volume ${claim} (no pod): writes=${disk.log.length}`);
    return { seed, violation: err.message, trace, writes: acked.size, givenUp: givenUp() };
  } finally {
    // Its timer for a silent primary runs on the real clock: none may outlive the schedule.
    await prober.stop();
  }
}

/** No pass for this long: quiet, longer than the follow-up a pass that wrote asks for (30 s). */
const QUIET_MS = 35_000;

export interface RangeResult {
  schedules: number;
  failures: SimResult[];
  writes: number;
  givenUp: Record<GivenUp, number>;
}

/** Seeds `from`..`from + count - 1`, stopping after `maxFailures` failures; `onResult` sees each. */
export async function simulateRange(from: number, count: number, opts: { steps?: number; calls?: boolean; maxFailures?: number; onResult?: (r: SimResult) => void } = {}): Promise<RangeResult> {
  const range: RangeResult = { schedules: 0, failures: [], writes: 0, givenUp: { tail: 0, destroyed: 0, cutOff: 0 } };
  for (let seed = from; seed < from + count && range.failures.length < (opts.maxFailures ?? Number.POSITIVE_INFINITY); seed++) {
    const result = await simulate(seed, opts.steps, opts.calls);
    range.schedules++;
    range.writes += result.writes;
    for (const kind of Object.keys(range.givenUp) as GivenUp[]) range.givenUp[kind] += result.givenUp[kind];
    if (result.violation) range.failures.push(result);
    opts.onResult?.(result);
  }
  return range;
}

/** How a failure reads, with the command that replays it. */
export const describeFailure = (r: SimResult) => `seed ${r.seed}: ${r.violation}\n${r.trace.map((l) => `  ${l}`).join('\n')}\n  replay: npm run sim -- --seed ${r.seed}`;

/** The summary line: schedules, failures, writes acknowledged and given up. */
export const summarize = (r: RangeResult, seconds: number) =>
  `${r.schedules} schedules, ${r.failures.length} failed, ${r.writes} writes acknowledged, given up: ${r.givenUp.tail} as a lost primary's tail, ${r.givenUp.destroyed} destroyed by faults, ${r.givenUp.cutOff} by cut-off primaries; ${seconds.toFixed(1)} s`;
