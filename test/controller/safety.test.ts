// The data-safety paths of reconcile, each driven through the fake API and the Redis model: the
// three ordinary situations that lost a whole dataset or locked the operator out, and the stale,
// resumed and interrupted changes around them.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ANNOTATION, LABEL } from '../../src/plan/names.js';
import { ApiError } from '../support/fake-kube.js';
import { RedisUnavailable } from '../support/redis-model.js';
import { World } from '../support/world.js';

const setup = World.withResource;

const primaryOf = (world: World, rr: RedisReplication) => world.kube.serverOf('ns', world.status(rr)!.primary!)!;

/** Acknowledged writes through the primary, replicated: their ids. */
function write(world: World, rr: RedisReplication, from: number, n: number): number[] {
  const ip = primaryOf(world, rr).ip;
  const acked = Array.from({ length: n }, (_, i) => from + i).filter((id) => world.redis.write(ip, id));
  world.redis.replicate();
  return acked;
}

const passes = (world: World, rr: RedisReplication, n: number, ms?: number) => world.passes(rr, n, ms);

/** The server at `ip` refuses writes as a hand-over's old primary does (roles.ts REFUSE_WRITES). */
const refusesWrites = (world: World, ip: string) => world.redis.servers.get(ip)!.config['min-replicas-to-write'] === '2147483647';

/** The operator killed before the first Redis command `at` matches: from then on every Redis
 * command and API call it makes fails, as a dead process makes none. */
function killOperatorAt(world: World, at: (ip: string, args: string[]) => boolean): void {
  let killed = false;
  world.redis.beforeCommand = (ip, args) => {
    killed ||= at(ip, args);
    if (killed) throw new Error('operator killed');
  };
  world.kube.beforeCall = () => {
    if (killed) throw new Error('operator killed');
  };
}

describe('a persistent primary comes back with its data', () => {
  it('replicas: 0: the deleted primary pod is re-created under its name, on its claim, and keeps every key', async () => {
    const { world, rr } = setup({ replicas: 0, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const acked = write(world, rr, 1, 100);
    await world.kube.deletePod('ns', primary);
    world.kube.finishDeletions();
    await world.settle(rr, () => world.ready(rr) && world.kube.pods.has(`ns/${primary}`));
    expect(world.status(rr)!.primary).toBe(primary);
    expect(primaryOf(world, rr).log).toEqual(acked);
    expect(world.kube.claims.has(`ns/data-${primary}`)).toBe(true);
    expect(world.kube.writes.filter((w) => w.startsWith('delete persistentvolumeclaim'))).toEqual([]);
  });

  it('replicas: 1, every pod gone at once (a node restart): the same primary, every key, no claim deleted', async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const acked = write(world, rr, 1, 100);
    for (const pod of [...world.kube.pods.keys()]) await world.kube.deletePod('ns', pod.split('/')[1]!, 0);
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(primary);
    expect(primaryOf(world, rr).log).toEqual(acked);
    expect(world.kube.claims.size).toBe(2);
    expect(world.kube.writes.filter((w) => w.startsWith('delete persistentvolumeclaim'))).toEqual([]);
  });
});

describe('an empty replica is never promoted over one that holds the data', () => {
  it('primary and one replica frozen, the other restarted empty: waits; the thawed replica takes over with every key', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const acked = write(world, rr, 1, 100);
    const old = world.status(rr)!.primary!;
    const [a, b] = world.status(rr)!.nodes!.filter((n) => n.role === 'replica').map((n) => n.name) as [string, string];
    primaryOf(world, rr).unreachable = true;
    world.kube.serverOf('ns', a)!.unreachable = true;
    world.kube.restartContainer('ns', b);
    await passes(world, rr, 20);
    expect(world.status(rr)!.primary).toBe(old);
    expect(world.kube.serverOf('ns', b)!.role).toBe('replica');
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/waiting for|did not follow/);
    world.kube.serverOf('ns', a)!.unreachable = false;
    await world.settle(rr, () => world.status(rr)!.primary === a && world.ready(rr));
    expect(primaryOf(world, rr).log).toEqual(acked);
    expect(world.kube.serverOf('ns', b)!.log).toEqual(acked);
  });

  it('with failover.acceptDataLossAfterSeconds, promotes what answers after that long', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 2, acceptDataLossAfterSeconds: 10 } });
    await world.settle(rr, () => world.ready(rr));
    write(world, rr, 1, 10);
    const old = world.status(rr)!.primary!;
    const [a, b] = world.status(rr)!.nodes!.filter((n) => n.role === 'replica').map((n) => n.name) as [string, string];
    primaryOf(world, rr).unreachable = true;
    world.kube.serverOf('ns', a)!.unreachable = true;
    world.kube.restartContainer('ns', b);
    await passes(world, rr, 5);
    expect(world.status(rr)!.primary).toBe(old);
    await world.settle(rr, () => world.status(rr)!.primary === b);
  });
});

describe('rotating the auth Secret', () => {
  it('takes effect on every pod with no failover and no restart; the operator never loses its pods', async () => {
    const { world, rr } = setup({ replicas: 2, auth: { secretName: 'cache-auth' } });
    world.allowedSecret('cache-auth', { password: 'old-password' });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const ips = [...world.kube.pods.values()].map((p) => p.status!.podIP!);
    const acked = write(world, rr, 1, 20);
    world.allowedSecret('cache-auth', { password: 'new-password' });
    world.advance(31_000); // the Secret cache's lifetime
    await world.settle(rr, () => world.kube.events.some((e) => e.reason === 'PasswordRotated') && world.ready(rr));
    for (const ip of ips) expect([...world.redis.servers.get(ip)!.passwords]).toEqual(['new-password']);
    expect([...world.kube.pods.values()].map((p) => p.status!.podIP!)).toEqual(ips);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.status(rr)!.lastFailover).toBeUndefined();
    expect(world.kube.events.map((e) => e.reason)).not.toContain('FailedOver');
    // Replication kept working through it: replicas authenticate with the new password.
    const more = write(world, rr, 100, 20);
    for (const n of world.status(rr)!.nodes!) expect(world.kube.serverOf('ns', n.name)!.log).toEqual([...acked, ...more]);
  });

  it('a container that restarts with the old password (its volume not refreshed yet) is brought onto the new one', async () => {
    const { world, rr } = setup({ replicas: 1, auth: { secretName: 'cache-auth' } });
    world.allowedSecret('cache-auth', { password: 'old-password' });
    await world.settle(rr, () => world.ready(rr));
    world.allowedSecret('cache-auth', { password: 'new-password' });
    world.advance(31_000);
    await world.settle(rr, () => world.kube.events.some((e) => e.reason === 'PasswordRotated') && world.ready(rr));
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    // The model restarts a container with the password it was created with: the old one.
    world.kube.restartContainer('ns', replica);
    expect([...world.kube.serverOf('ns', replica)!.passwords]).toEqual(['old-password']);
    await world.settle(rr, () => world.ready(rr) && world.kube.serverOf('ns', replica)!.linkUp);
    expect([...world.kube.serverOf('ns', replica)!.passwords]).toEqual(['new-password']);
  });

  it('dropping the old password stops part-way (a pod times out): later passes finish it, write status, and never show the old password', async () => {
    const { world, rr } = setup({ replicas: 2, auth: { secretName: 'cache-auth' } });
    const OLD = 'Old-Default-Password-123';
    world.allowedSecret('cache-auth', { password: OLD });
    await world.settle(rr, () => world.ready(rr));
    const lines: string[] = [];
    world.deps = { ...world.deps, log: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }) };
    // The second pod to lose the old password does not answer in time, once.
    let drops = 0;
    world.redis.beforeCommand = (ip, args) => {
      if (args[0] === 'ACL' && args[2] === 'default' && !args.includes(`>${OLD}`) && args.some((a) => a === `<${OLD}` || a === 'resetpass') && ++drops === 2) {
        throw new RedisUnavailable(`ACL to ${ip}: no answer within 1000 ms`);
      }
    };
    world.allowedSecret('cache-auth', { password: 'new-password' });
    world.advance(31_000);
    const failures: string[] = [];
    for (let i = 0; i < 10 && !world.kube.events.some((e) => e.reason === 'PasswordRotated'); i++) {
      await world.reconcile(rr).catch((err: unknown) => failures.push(String(err)));
      world.redis.replicate();
      world.advance(1000);
    }
    expect(drops).toBeGreaterThanOrEqual(2);
    // Every pass went through to its status write: a step that fails on one pod is retried, not thrown.
    expect(failures).toEqual([]);
    expect(world.kube.events.map((e) => e.reason)).toContain('PasswordRotated');
    for (const s of world.servers()) expect([...s.passwords]).toEqual(['new-password']);
    const shown = [...lines, ...failures, JSON.stringify(world.kube.events), JSON.stringify(world.status(rr))].join('\n');
    expect(shown).not.toContain(OLD);
    // Redis (and the model) quote the password a pod no longer has; the operator's commands never do.
    const ip = world.servers()[0]!.ip;
    await expect(world.redis.command({ host: ip, password: 'new-password' }, ['ACL', 'SETUSER', 'default', `<${OLD}`])).rejects.toThrow("modifier '<<redacted>'");
  });

  it('a missing Secret is a condition and an Event; the pods keep their password and stay reachable', async () => {
    const { world, rr } = setup({ replicas: 1, auth: { secretName: 'cache-auth' } });
    world.allowedSecret('cache-auth', { password: 'pw' });
    await world.settle(rr, () => world.ready(rr));
    world.kube.secrets.delete('ns/cache-auth');
    world.advance(31_000);
    await passes(world, rr, 3);
    const status = world.status(rr)!;
    expect(status.conditions!.find((c) => c.type === 'SecretsAvailable')).toMatchObject({ status: 'False', reason: 'SecretMissing' });
    expect(status.phase).toBe('Ready');
    expect(world.kube.events.some((e) => e.type === 'Warning' && e.reason === 'SecretMissing')).toBe(true);
  });
});

describe('intent, staleness and interrupted changes', () => {
  it('a pass working from a stale view of the resource gets 409 on its intent and promotes nothing', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.reconcile(rr); // creates the pods
    const stale = world.kube.cache.resource('ns', 'cache')!;
    await world.kube.patchStatus('ns', 'cache', { phase: 'Pending' }); // another writer moved it on
    world.deps = { ...world.deps, cache: { ...world.deps.cache, resource: () => stale } };
    await expect(world.reconcile(rr)).rejects.toThrow(/409/);
    expect(world.redis.sent.filter((c) => c.includes('REPLICAOF NO ONE'))).toEqual([]);
  });

  it('a switchover interrupted after its intent resumes as a switchover: the healthy primary is not fenced', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const acked = write(world, rr, 1, 30);
    const old = world.status(rr)!.primary!;
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    await world.kube.patchStatus('ns', 'cache', { targetPrimary: target, targetReason: 'Switchover' });
    world.restartOperator();
    await world.settle(rr, () => world.status(rr)!.primary === target && world.ready(rr));
    expect(world.kube.writes).not.toContain(`delete pod/${old}`);
    expect(world.kube.serverOf('ns', old)!.masterHost).toBe(primaryOf(world, rr).ip);
    expect(primaryOf(world, rr).log).toEqual(acked);
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: old, to: target, reason: 'Switchover' });
  });

  it('an operator that died after the promotion, before recording it: the next one adopts that pod and records the change', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const acked = write(world, rr, 1, 30);
    const old = world.status(rr)!.primary!;
    world.kube.beforeCall = (_verb, what) => {
      // Dies at the first status write after the intent: the promotion is made, not recorded.
      if (what === 'redisreplication/status/cache' && world.kube.resource('ns', 'cache').status?.targetPrimary) throw new Error('operator killed');
    };
    await world.kube.deletePod('ns', old);
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    const target = world.status(rr)!.targetPrimary!;
    expect(world.status(rr)!.primary).toBe(old);
    expect(world.kube.serverOf('ns', target)!.role).toBe('master');
    world.kube.beforeCall = () => {};
    world.restartOperator();
    world.kube.finishDeletions();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: old, to: target, reason: 'PrimaryDeleted' });
    expect([...world.redis.servers.values()].filter((s) => s.role === 'master')).toHaveLength(1);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a deleted primary hands over only once the target caught up; until then nothing is promoted', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const acked = write(world, rr, 1, 30);
    const old = world.status(rr)!.primary!;
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.serverOf('ns', replica)!.unreachable = true;
    await world.kube.deletePod('ns', old);
    await passes(world, rr, 3);
    expect(world.kube.serverOf('ns', replica)!.role).toBe('replica');
    world.kube.serverOf('ns', replica)!.unreachable = false;
    await world.settle(rr, () => world.status(rr)!.primary === replica);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a hand-over to a target that does not replicate from the old primary (its parent went away) points it there first', async () => {
    const { world, rr } = setup({ replicas: 1, cascade: [{ replicasPerParent: 1 }] });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const parent = world.status(rr)!.nodes!.find((n) => n.tier === 1)!.name;
    const child = world.status(rr)!.nodes!.find((n) => n.tier === 2)!.name;
    const acked = write(world, rr, 1, 30);
    await world.kube.deletePod('ns', parent, 0);
    // The child holds the most of what is left (its parent is gone); these writes reach no replica.
    acked.push(...write(world, rr, 31, 30));
    await world.kube.deletePod('ns', old);
    await world.settle(rr, () => world.status(rr)!.primary !== old, 5);
    expect(world.status(rr)!.primary).toBe(child);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('an operator killed during a hand-over, before the target caught up, leaves no intent: the old primary keeps its role', async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const acked = write(world, rr, 1, 30);
    // Acknowledged, not replicated yet.
    for (let id = 31; id <= 40; id++) if (world.redis.write(primaryOf(world, rr).ip, id)) acked.push(id);
    await world.kube.deletePod('ns', old);
    world.redis.beforeCommand = (_ip, args) => {
      if (args[0] === 'CLIENT' && args[1] === 'PAUSE') throw new Error('operator killed');
    };
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    world.redis.beforeCommand = () => {};
    expect(world.status(rr)!.targetPrimary).toBeUndefined();
    // Both pods go and come back on their volumes (offset 0 each): only the record says which is newer.
    world.kube.finishDeletions();
    await world.kube.deletePod('ns', replica);
    world.kube.finishDeletions();
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(old);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  /** Persistence, one replica, 30 writes: a switchover to the replica is asked for and one pass
   * runs it with `fault` in place. */
  async function switchoverWith(fault: (ips: { oldIP: string; targetIP: string; target: string }, world: World) => void, spec: object = {}) {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true }, ...spec });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const [oldIP, targetIP] = [world.kube.serverOf('ns', old)!.ip, world.kube.serverOf('ns', target)!.ip];
    const acked = write(world, rr, 1, 30);
    const replicaOf = world.redis.replicaOf.bind(world.redis);
    fault({ oldIP, targetIP, target }, world);
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    await world.reconcile(rr).catch(() => undefined);
    world.kube.beforeCall = () => {};
    world.redis.beforeCommand = () => {};
    world.redis.replicaOf = replicaOf;
    return { world, rr, old, target, oldIP, targetIP, acked };
  }

  // Seed 324225 of the simulation: the hand-over was made in Redis, the status write that records
  // it failed, and the failed switchover cleared its intent. Status named the old primary, now a
  // replica of the target; the target restarted from its volume (offset 0) before a pass adopted
  // it, and nothing told the two volumes apart: the decision waited for ever.
  it.each([
    [
      'the record of the new primary fails',
      ({ target }: { target: string }, world: World) => {
        let failed = false;
        world.kube.beforeCall = (verb, what) => {
          // The first status write once the target is writable (the record of the new primary) fails.
          if (failed || verb !== 'patch' || what !== 'redisreplication/status/cache' || world.kube.serverOf('ns', target)!.role !== 'master') return;
          failed = true;
          throw new ApiError(500, 'injected');
        };
      },
    ],
    [
      "the old primary's demotion is made but its reply is lost",
      ({ oldIP, targetIP }: { oldIP: string; targetIP: string }, world: World) => {
        const replicaOf = world.redis.replicaOf.bind(world.redis);
        world.redis.replicaOf = async (pod, host, port) => {
          const reply = await replicaOf(pod, host, port);
          if (pod.host === oldIP && host === targetIP) throw new RedisUnavailable('timed out');
          return reply;
        };
      },
    ],
  ])('a switchover that moved the role before it failed (%s) keeps its intent: the target, restarted from its volume, takes the role back (no lock-out)', async (_, fault) => {
    const { world, rr, old, target, targetIP, acked } = await switchoverWith(fault);
    expect(world.kube.serverOf('ns', old)!.masterHost).toBe(targetIP);
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    world.kube.restartContainer('ns', target);
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  // Seed 702630 of the simulation: the hand-over made in Redis, the operator killed before its record;
  // the target restarted from its volume and the next pass, resuming the change, promoted it and was
  // killed before REPLICAOF NO ONE. That promotion rewrote the intent as a plain 'Promotion', losing
  // what the hand-over's said (the target holds everything): status named the old primary, a replica
  // of the target with the higher offset, and each pod waited for the other for ever.
  it("a hand-over's target restarted from its volume keeps the hand-over's intent while its promotion is resumed: no lock-out when that is interrupted too", async () => {
    const { world, rr, target, targetIP, acked } = await switchoverWith(({ oldIP, targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === targetIP && args[0]!.toUpperCase() === 'INFO' && world.redis.servers.get(targetIP)!.role === 'master' && world.redis.servers.get(oldIP)!.masterHost === targetIP);
    });
    expect(world.status(rr)).toMatchObject({ targetPrimary: target, targetReason: 'Switchover' });
    world.kube.restartContainer('ns', target);
    world.restartOperator();
    world.redis.beforeCommand = (ip, args) => {
      if (ip === targetIP && args.join(' ') === 'REPLICAOF NO ONE') throw new Error('operator killed');
    };
    await world.reconcile(rr).catch(() => undefined);
    world.redis.beforeCommand = () => {};
    expect(world.status(rr)).toMatchObject({ targetPrimary: target, targetReason: 'Switchover' });
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  // Seed 783783 of the simulation: a hand-over wrote its intent (the target caught up) and the
  // operator died before the promotion. The next operator resumed it; its own intent write got 409
  // (its cache lagged), which keeps the status as it is, and the old primary, unpaused, took writes
  // the target never got. The first intent still said the target held everything: once the old
  // primary restarted from its volume, the target was promoted over it and those writes were lost.
  it("a resumed hand-over that fails unpauses an old primary no earlier intent may still vouch for: the target is not promoted over its volume's newer writes", async () => {
    const { world, rr, old, target, oldIP, targetIP, acked } = await switchoverWith(({ targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === targetIP && args.join(' ') === 'REPLICAOF NO ONE');
    });
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    world.restartOperator();
    // The resumed hand-over's intent write, after its pause and the target's catch-up, is refused (409).
    let paused = false;
    let refused = false;
    world.redis.beforeCommand = (ip, args) => {
      paused ||= ip === oldIP && args[0]!.toUpperCase() === 'CLIENT' && args[1]!.toUpperCase() === 'PAUSE';
    };
    world.kube.beforeCall = (verb, what) => {
      if (!paused || refused || verb !== 'patch' || what !== 'redisreplication/status/cache') return;
      refused = true;
      throw new ApiError(409, 'the object has been modified');
    };
    await world.reconcile(rr).catch(() => undefined);
    world.kube.beforeCall = () => {};
    world.redis.beforeCommand = () => {};
    expect(refused).toBe(true);
    // Unpaused, the old primary takes writes; the target is cut off before it gets them.
    world.redis.servers.get(targetIP)!.unreachable = true;
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    expect(acked).toHaveLength(40);
    world.kube.restartContainer('ns', old);
    world.redis.servers.get(targetIP)!.unreachable = false;
    await world.settle(rr, () => world.ready(rr));
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a switchover whose demotion of the old primary is not made, after the target was promoted, leaves no intent: the old primary keeps the role and the writes it takes once unpaused', async () => {
    const { world, rr, old, target, oldIP, acked } = await switchoverWith(({ oldIP, targetIP }, world) => {
      world.redis.beforeCommand = (ip, args) => {
        if (ip === oldIP && args.join(' ') === `REPLICAOF ${targetIP} 6379`) throw new RedisUnavailable('refused');
      };
    });
    expect(world.kube.serverOf('ns', target)!.role).toBe('master');
    expect(world.status(rr)).toMatchObject({ primary: old });
    expect(world.status(rr)!.targetPrimary).toBeUndefined();
    // Its clients write again once the pause is lifted.
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    expect(acked).toHaveLength(40);
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(old);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  // Seed 440073 of the simulation: the operator died between the target's promotion and the old
  // primary's demotion, and the target went silent. The old primary was taken as the primary at once
  // (another switchover from it even unpaused it), the target, a master, was never fenced (clients that
  // reach it write to it for ever), and once the intent outlived that, the target was taken as the
  // primary although the old one had written since. Now the target is waited for primaryDownSeconds,
  // then fenced, and the old primary recorded again.
  it("a hand-over's target silent after its promotion, before the old primary's demotion: fenced after primaryDownSeconds, the role back to the old primary, no write lost", async () => {
    const { world, rr, old, target, oldIP, targetIP, acked } = await switchoverWith(({ oldIP, targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === oldIP && args.join(' ') === `REPLICAOF ${targetIP} 6379`);
    });
    expect(world.kube.serverOf('ns', target)!.role).toBe('master');
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    world.redis.servers.get(targetIP)!.unreachable = true;
    world.restartOperator();
    // Past the old primary's pause (10 s): its clients write again, to the primary status names.
    await passes(world, rr, 12);
    expect(world.status(rr)!.primary).toBe(old);
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    expect(acked).toHaveLength(40);
    const silent = world.redis.servers.get(targetIP);
    if (silent) silent.unreachable = false;
    await world.settle(rr, () => world.ready(rr) && world.servers().every((s) => s.log.length === 40));
    expect(world.status(rr)!.primary).toBe(old);
    expect(primaryOf(world, rr).log).toEqual(acked);
    // The target was fenced: its pod deleted at once, re-created on its volume (a new IP).
    expect(silent).toBeUndefined();
  });

  // The gap the 10 s pause left: the old primary took writes once it ended, the intent still vouching
  // for the target; its pod then lost at once (no grace period), the target answering again, the
  // target was adopted and those writes lost.
  it("an interrupted hand-over's old primary takes no write while the intent stands, past its pause too: lost at once, the target adopted, no acknowledged write lost", async () => {
    const { world, rr, old, target, oldIP, targetIP, acked } = await switchoverWith(({ oldIP, targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === oldIP && args.join(' ') === `REPLICAOF ${targetIP} 6379`);
    }, { failover: { primaryDownSeconds: 60 } });
    world.redis.servers.get(targetIP)!.unreachable = true;
    world.restartOperator();
    await passes(world, rr, 12);
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    world.redis.servers.get(targetIP)!.unreachable = false;
    await world.kube.deletePod('ns', old, 0);
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it("a pass that keeps the old primary of an interrupted hand-over drops the intent before it lifts the old primary's write refusal: killed in between, no write is taken that the intent would give up", async () => {
    const { world, rr, old, target, oldIP, acked } = await switchoverWith(({ targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === targetIP && args.join(' ') === 'REPLICAOF NO ONE');
    });
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    // The target restarts from its volume (it follows no one yet): the decision keeps the old primary.
    world.kube.restartContainer('ns', target);
    world.restartOperator();
    killOperatorAt(world, (ip, args) => ip === oldIP && args.join(' ') === 'CONFIG SET min-replicas-max-lag 10');
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    world.kube.beforeCall = () => {};
    world.redis.beforeCommand = () => {};
    // Past the pause: the old primary takes writes again (once its refusal is lifted).
    world.advance(10_000);
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    expect(acked).toHaveLength(40);
    await world.kube.deletePod('ns', old, 0);
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it("a failed switchover whose old primary did not answer when its write refusal was lifted: the next settled pass lifts it", async () => {
    const { world, rr, old, oldIP, acked } = await switchoverWith(({ oldIP }, world) => {
      let intentFailed = false;
      let liftFailed = false;
      world.kube.beforeCall = (verb, what) => {
        if (intentFailed || verb !== 'patch' || what !== 'redisreplication/status/cache' || !refusesWrites(world, oldIP)) return;
        intentFailed = true;
        throw new ApiError(500, 'injected');
      };
      world.redis.beforeCommand = (ip, args) => {
        if (liftFailed || ip !== oldIP || args.join(' ') !== 'CONFIG SET min-replicas-to-write 0') return;
        liftFailed = true;
        throw new RedisUnavailable('timeout');
      };
    });
    expect(world.status(rr)).toMatchObject({ primary: old });
    expect(world.status(rr)!.targetPrimary).toBeUndefined();
    world.advance(10_000);
    await passes(world, rr, 2);
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    expect(acked).toHaveLength(40);
  });

  // The refusal is lifted only once no intent stands: a hand-over that fails with its intent in status
  // (its promotion failed, or the intent's write was made and its reply lost) and cannot clear it
  // leaves the old primary refusing writes, which the intent would give up.
  it.each([
    ['the promotion fails', (world: World, { targetIP }: { oldIP: string; targetIP: string; target: string }) => {
      world.redis.beforeCommand = (ip, args) => {
        if (ip === targetIP && args.join(' ') === 'REPLICAOF NO ONE') throw new RedisUnavailable('timeout');
      };
    }],
    ['the intent is written, its reply lost', (world: World, { oldIP, target }: { oldIP: string; targetIP: string; target: string }) => {
      let written = false;
      world.kube.beforeCall = (verb, what) => {
        if (written || verb !== 'patch' || what !== 'redisreplication/status/cache' || !refusesWrites(world, oldIP)) return;
        written = true;
        Object.assign(world.kube.resource('ns', 'cache').status!, { targetPrimary: target, targetReason: 'Switchover' });
        throw new ApiError(500, 'injected');
      };
    }],
  ])('a failed hand-over whose intent cannot be cleared (%s) keeps the old primary refusing writes: lost at once, the target adopted, no acknowledged write lost', async (_name, fault) => {
    const { world, rr, old, target, oldIP, acked } = await switchoverWith((ips, world) => {
      fault(world, ips);
      const { target } = ips;
      // Every status write once the intent stands fails: the switchover cannot clear it.
      const beforeCall = world.kube.beforeCall;
      world.kube.beforeCall = (verb, what) => {
        beforeCall(verb, what);
        if (verb === 'patch' && what === 'redisreplication/status/cache' && world.kube.resource('ns', 'cache').status?.targetPrimary === target) throw new ApiError(500, 'injected');
      };
    });
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    world.advance(10_000);
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldIP, id)) acked.push(id);
    await world.kube.deletePod('ns', old, 0);
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it("the pass that adopts an interrupted hand-over's promoted target keeps its intent until the record: killed right after it, the change is still finished onto the target", async () => {
    const { world, rr, target, oldIP } = await switchoverWith(({ oldIP, targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === oldIP && args.join(' ') === `REPLICAOF ${targetIP} 6379`);
    });
    world.restartOperator();
    // Killed at the pass's second status write: its first must have been the record of the target.
    let statusWrites = 0;
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'patch' && what === 'redisreplication/status/cache' && ++statusWrites === 2) throw new Error('operator killed');
    };
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    world.kube.beforeCall = () => {};
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(target);
    expect(world.redis.servers.get(oldIP)!.role).toBe('replica');
  });

  it("a hand-over's target promoted before the old primary's demotion, both still writable: the next pass records the target with the target's replication IDs and lifts its write refusal", async () => {
    const { world, rr, old, target, oldIP, targetIP } = await switchoverWith(({ oldIP, targetIP }, world) => {
      killOperatorAt(world, (ip, args) => ip === oldIP && args.join(' ') === `REPLICAOF ${targetIP} 6379`);
    });
    expect([world.redis.servers.get(oldIP)!.role, world.redis.servers.get(targetIP)!.role]).toEqual(['master', 'master']);
    expect(world.status(rr)).toMatchObject({ primary: old, targetPrimary: target, targetReason: 'Switchover' });
    await world.reconcile(rr);
    const promoted = world.redis.servers.get(targetIP)!;
    expect(world.status(rr)!.primary).toBe(target);
    expect(world.status(rr)!.primaryReplIds).toEqual([promoted.replId, promoted.replId2]);
    // Promoted refusing writes until recorded (roles.ts): recorded now, it takes them.
    expect(world.redis.write(targetIP, 31)).toBe(true);
    await world.settle(rr, () => world.ready(rr));
    expect(world.redis.servers.get(oldIP)!.masterHost).toBe(targetIP);
  });

  /** Persistence, one replica: the primary's pod goes with a tail no replica has, the failover to
   * the replica writes its intent and the operator dies before the promotion. */
  async function failoverInterruptedBeforePromotion() {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const acked = write(world, rr, 1, 30);
    // Acknowledged, not replicated: the old primary's tail, on its volume only.
    if (world.redis.write(primaryOf(world, rr).ip, 31)) acked.push(31);
    await world.kube.deletePod('ns', old, 0);
    world.redis.beforeCommand = (_ip, args) => {
      if (args[0] === 'REPLICAOF' && args[1] === 'NO') throw new Error('operator killed');
    };
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    world.redis.beforeCommand = () => {};
    expect(world.status(rr)!.targetPrimary).toBe(replica);
    world.restartOperator();
    return { world, rr, old, replica, acked };
  }

  it('a failover target that restarted from its volume before its promotion is not promoted over the old primary, back on its volume with more', async () => {
    const { world, rr, old, replica, acked } = await failoverInterruptedBeforePromotion();
    // The target restarts from its volume (its offset says nothing now) and the old primary is
    // re-created on its own: it holds the tail the target lacks.
    world.kube.restartContainer('ns', replica);
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(old);
    expect(primaryOf(world, rr).log).toEqual(acked);
    expect(world.kube.serverOf('ns', replica)!.log).toEqual(acked);
  });

  it('a failover target that never took the role is not promoted over the old primary once it is back on its volume with more', async () => {
    const { world, rr, old, replica, acked } = await failoverInterruptedBeforePromotion();
    // The target is silent for a pass: the old primary is re-created on its volume meanwhile.
    world.kube.serverOf('ns', replica)!.unreachable = true;
    await passes(world, rr, 1);
    expect(world.kube.pods.has(`ns/${old}`)).toBe(true);
    world.kube.serverOf('ns', replica)!.unreachable = false;
    await world.settle(rr, () => world.ready(rr));
    expect(world.status(rr)!.primary).toBe(old);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a promoted pod is recorded before its role label lets clients in, even when its first record fails: pods restarted from their volumes keep its writes', async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const acked = write(world, rr, 1, 30);
    // Every status write after the intent fails for a while: the promotion is made, not recorded.
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'patch' && what === 'redisreplication/status/cache' && world.kube.resource('ns', 'cache').status?.targetPrimary) throw new ApiError(500, 'injected');
    };
    await world.kube.deletePod('ns', old, 0);
    for (let i = 0; i < 3; i++) await world.reconcile(rr).catch(() => undefined);
    expect(world.kube.serverOf('ns', replica)!.role).toBe('master');
    // Clients write to whatever pod the primary Service selects.
    for (const pod of world.kube.pods.values()) {
      if (pod.metadata!.labels![LABEL.role] !== 'primary') continue;
      for (let id = 100; id < 110; id++) if (world.redis.write(pod.status!.podIP!, id)) acked.push(id);
    }
    world.kube.beforeCall = () => {};
    world.kube.restartContainer('ns', replica);
    if (world.kube.serverOf('ns', old)) world.kube.restartContainer('ns', old);
    world.restartOperator();
    await world.settle(rr, () => world.ready(rr));
    for (const id of acked) expect(primaryOf(world, rr).log).toContain(id);
  });

  it('a promoted pod restarted empty before the pass recorded its stream: its own replica, ahead of every other, takes over (no lock-out, no loss)', async () => {
    // Seed 27797 of the simulation: the new primary was recorded, the operator died before the
    // status write that records its replication IDs, and the new primary restarted empty. Its own
    // replica carries its new ID, not the old primary's: read by the stale IDs, it is no follower.
    const { world, rr } = setup({ replicas: 2, cascade: [{ replicasPerParent: 1 }], failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const acked = write(world, rr, 1, 30);
    const old = world.status(rr)!.primary!;
    world.kube.beforeCall = (verb, what) => {
      const status = world.kube.resource('ns', 'cache').status;
      // Dies at the first status write after the new primary's record.
      if (verb === 'patch' && what === 'redisreplication/status/cache' && status?.primary !== old) throw new Error('operator killed');
    };
    await world.kube.deletePod('ns', old, 0);
    await expect(world.reconcile(rr)).rejects.toThrow('operator killed');
    const promoted = world.status(rr)!.primary!;
    expect(promoted).not.toBe(old);
    world.kube.beforeCall = () => {};
    // Clients write to whatever pod the primary Service selects; its replica gets them.
    for (const pod of world.kube.pods.values()) {
      if (pod.metadata!.labels![LABEL.role] !== 'primary') continue;
      for (let id = 100; id < 140; id++) if (world.redis.write(pod.status!.podIP!, id)) acked.push(id);
    }
    world.redis.replicate();
    expect(acked.length).toBeGreaterThan(30);
    world.kube.restartContainer('ns', promoted);
    world.restartOperator();
    world.kube.finishDeletions();
    await world.settle(rr, () => world.ready(rr) && world.status(rr)!.primary !== promoted);
    for (const id of acked) expect(primaryOf(world, rr).log).toContain(id);
  });

  // Found by mutation testing (test/mutation/survivors.md): both held only as far as e2e.
  it('a switchover never labels two pods primary: the old primary loses the label before the new one gets it', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const labelledPrimary = () => [...world.kube.pods.values()].filter((p) => p.metadata?.labels?.[LABEL.role] === 'primary').map((p) => p.metadata!.name);
    const both: (string | undefined)[][] = [];
    world.kube.beforeCall = () => {
      if (labelledPrimary().length > 1) both.push(labelledPrimary());
    };
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    await world.settle(rr, () => world.status(rr)!.primary === target && world.ready(rr));
    expect(both).toEqual([]);
    expect(labelledPrimary()).toEqual([target]);
  });

  it('a hand-over makes the old primary a replica of the new one before it lifts the write pause: its clients never write beside the new primary', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const old = world.kube.serverOf('ns', world.status(rr)!.primary!)!;
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const next = world.kube.serverOf('ns', target)!;
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    world.redis.sent.length = 0;
    await world.reconcile(rr);
    const toOld = world.redis.sent.filter((c) => c.startsWith(`${old.ip} `)).map((c) => c.slice(old.ip.length + 1));
    const unpause = toOld.indexOf('CLIENT UNPAUSE');
    expect(unpause).toBeGreaterThan(0);
    expect(toOld.slice(0, unpause)).toContain(`REPLICAOF ${next.ip} 6379`);
  });

  it('an ordinary switchover by annotation still works, annotation removed', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: 'auto' } } });
    await world.settle(rr, () => world.status(rr)!.primary === target && world.ready(rr));
    expect(world.kube.resource('ns', 'cache').metadata.annotations?.[ANNOTATION.switchover]).toBeUndefined();
  });
});

// Mutation testing of src/controller/roles.ts (test/mutation/survivors.md): each test below kills
// mutants that the tests above let through.
describe('role changes, step by step (roles.ts)', () => {
  /** One replica (two with `replicas: 2`), 30 writes replicated; the switchover to a replica asked for. */
  async function beforeSwitchover(replicas = 1) {
    const { world, rr } = setup({ replicas });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const [target, other] = world.status(rr)!.nodes!.filter((n) => n.role === 'replica').map((n) => n.name) as [string, string | undefined];
    const [oldServer, targetServer] = [world.kube.serverOf('ns', old)!, world.kube.serverOf('ns', target)!];
    const acked = write(world, rr, 1, 30);
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    return { world, rr, old, target, other, oldServer, targetServer, acked };
  }

  /** Calls `then` once, when the old primary's writes are paused (the hand-over's catch-up begins). */
  function onPause(world: World, oldIP: string, then: () => void): void {
    world.redis.beforeCommand = (ip, args) => {
      if (ip === oldIP && args[0] === 'CLIENT' && args[1] === 'PAUSE') then();
    };
  }

  /** The hand-over failed and said why; the old primary keeps the role, writable again, no write lost. */
  function failedAndKept(world: World, rr: RedisReplication, old: string, target: string, why: string, acked: number[]): void {
    expect(world.kube.events.filter((e) => e.reason === 'SwitchoverFailed')).toEqual([
      { type: 'Warning', reason: 'SwitchoverFailed', message: `switchover from ${old} to ${target} failed, ${old} stays the primary: switchover: ${why}` },
    ]);
    expect(world.status(rr)).toMatchObject({ primary: old });
    expect(world.status(rr)!.targetPrimary).toBeUndefined();
    expect(world.redis.sent.filter((c) => c.endsWith('REPLICAOF NO ONE'))).toEqual([]);
    const oldServer = world.kube.serverOf('ns', old)!;
    expect(oldServer.role).toBe('master');
    expect(world.redis.write(oldServer.ip, 31)).toBe(true);
    expect(oldServer.log).toEqual([...acked, 31]);
  }

  it('a target whose link to the old primary is down is not promoted on the offset it last had (caught up, but stale): the switchover fails after 5 s', async () => {
    const { world, rr, old, target, oldServer, targetServer, acked } = await beforeSwitchover();
    world.redis.sent.length = 0;
    onPause(world, oldServer.ip, () => {
      // The link drops as the pause begins and stays down (the model keeps it down while the port it
      // follows is wrong); the offset it reports still equals the old primary's.
      targetServer.masterPort = 1;
      targetServer.linkUp = false;
    });
    const start = world.nowMs;
    await world.reconcile(rr);
    expect(targetServer.offset).toBe(oldServer.offset);
    expect(world.nowMs - start).toBeGreaterThan(5000);
    failedAndKept(world, rr, old, target, `${targetServer.ip} did not catch up within 5000 ms`, acked);
  });

  it('a target that follows another pod during the hand-over is not promoted on that link: its offset proves nothing of this primary', async () => {
    const { world, rr, old, target, other, oldServer, targetServer, acked } = await beforeSwitchover(2);
    world.redis.sent.length = 0;
    onPause(world, oldServer.ip, () => {
      targetServer.masterHost = world.kube.serverOf('ns', other!)!.ip;
    });
    await world.reconcile(rr);
    expect(targetServer).toMatchObject({ linkUp: true, offset: oldServer.offset });
    failedAndKept(world, rr, old, target, `${targetServer.ip} did not catch up within 5000 ms`, acked);
  });

  it('an old primary that goes away while its linked target catches up ends the hand-over at once, not after 5 s', async () => {
    const { world, rr, old, target, oldServer, targetServer, acked } = await beforeSwitchover();
    // Acknowledged, not replicated yet: the target is linked and behind.
    for (let id = 31; id <= 35; id++) if (world.redis.write(oldServer.ip, id)) acked.push(id);
    let paused = false;
    onPause(world, oldServer.ip, () => (paused = true));
    const sleep = world.deps.sleep;
    world.deps = {
      ...world.deps,
      sleep: async (ms) => {
        // Its Redis exits (a deleted pod's, on SIGTERM) before the target got the rest.
        if (paused) oldServer.running = false;
        await sleep(ms);
      },
    };
    const start = world.nowMs;
    await world.reconcile(rr);
    expect(world.nowMs - start).toBeLessThan(1000);
    expect(world.kube.events.filter((e) => e.reason === 'SwitchoverFailed').map((e) => e.message)).toEqual([
      `switchover from ${old} to ${target} failed, ${old} stays the primary: switchover: ${oldServer.ip} went away during the hand-over`,
    ]);
    expect(targetServer.role).toBe('replica');
    expect(targetServer.log).not.toEqual(acked);
    expect(world.status(rr)).toMatchObject({ primary: old });
  });

  it('a switchover to a caught-up replica: promoted at once; the change itself records it with its replication IDs, moves the labels and announces it', async () => {
    const { world, rr, old, target, targetServer } = await beforeSwitchover();
    // What the change wrote by its announcement, before the rest of the pass (a pass that stops there
    // leaves this).
    const meta = (name: string) => structuredClone(world.kube.pods.get(`ns/${name}`)!.metadata!);
    let after: { status: ReturnType<World['status']>; old: ReturnType<typeof meta>; target: ReturnType<typeof meta> } | undefined;
    const events = world.deps.events;
    world.deps = {
      ...world.deps,
      events: {
        record: async (...args) => {
          if (args[2] === 'Switchover') after = { status: structuredClone(world.status(rr)), old: meta(old), target: meta(target) };
          await events.record(...args);
        },
      },
    };
    world.redis.sent.length = 0;
    const start = world.nowMs;
    await world.reconcile(rr);
    // Equal offsets are caught up: no poll, no wait for the old primary's next ping.
    expect(world.nowMs).toBe(start);
    expect(after!.status).toMatchObject({ primary: target, lastFailover: { from: old, to: target, reason: 'Switchover' }, primaryReplIds: [targetServer.replId, targetServer.replId2] });
    expect(after!.old.labels).toMatchObject({ [LABEL.role]: 'replica', [LABEL.read]: 'false', [LABEL.tier]: '1' });
    expect(after!.target.labels).toMatchObject({ [LABEL.role]: 'primary', [LABEL.tier]: '0' });
    expect(after!.target.annotations?.[ANNOTATION.parent]).toBeUndefined();
    expect(world.kube.events.filter((e) => e.reason === 'Switchover')).toEqual([{ type: 'Normal', reason: 'Switchover', message: `switched over from ${old} to ${target}` }]);
    // Already the old primary's replica: not pointed at it again.
    const toTarget = world.redis.sent.filter((c) => c.startsWith(`${targetServer.ip} `)).map((c) => c.slice(targetServer.ip.length + 1));
    expect(toTarget.slice(0, toTarget.indexOf('REPLICAOF NO ONE')).filter((c) => c.startsWith('REPLICAOF'))).toEqual([]);
  });

  it("a first promotion writes its own intent ('Promotion'), not the reason of an intent that names another pod", async () => {
    const { world, rr } = setup({ replicas: 1 });
    // An intent naming a pod that no longer exists, left with a hand-over's reason: that reason says
    // its target holds everything (plan/primary.ts latestPrimary), which the promoted pod does not.
    await world.kube.patchStatus('ns', 'cache', { targetPrimary: 'cache-7', targetReason: 'Switchover' });
    const intents: unknown[] = [];
    world.redis.beforeCommand = (_ip, args) => {
      if (args.join(' ') === 'REPLICAOF NO ONE') intents.push({ targetPrimary: world.status(rr)!.targetPrimary, targetReason: world.status(rr)!.targetReason });
    };
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    expect(primary).not.toBe('cache-7');
    expect(intents).toEqual([{ targetPrimary: primary, targetReason: 'Promotion' }]);
    expect(world.kube.events.filter((e) => e.reason === 'Promoted')).toEqual([{ type: 'Normal', reason: 'Promoted', message: `pod ${primary} is the primary` }]);
  });

  it('a primary whose container restarted is failed over from, not fenced (its pod stays); the event names the new primary and its offset', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const acked = write(world, rr, 1, 30);
    world.kube.restartContainer('ns', old);
    let offset = -1;
    for (let i = 0; i < 10 && world.status(rr)!.primary === old; i++) {
      offset = world.kube.serverOf('ns', replica)!.offset;
      await passes(world, rr, 1);
    }
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: old, to: replica, reason: 'PrimaryRestarted' });
    expect(world.kube.writes).not.toContain(`delete pod/${old}`);
    expect(world.kube.events.filter((e) => e.reason === 'FailedOver')).toEqual([
      { type: 'Warning', reason: 'FailedOver', message: `primary ${old} lost (PrimaryRestarted); promoted ${replica} (offset ${offset})` },
    ]);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a deleted primary that is not the first pod hands over to its replica (the retirement is decided on the primary itself): its tail is kept', async () => {
    const { world, rr, old, target, acked } = await beforeSwitchover();
    await world.settle(rr, () => world.status(rr)!.primary === target && world.ready(rr));
    // The pods are listed (and observed) in their order of creation: the old primary first.
    expect([...world.kube.pods.keys()][0]).toBe(`ns/${old}`);
    // Acknowledged by the primary, not replicated yet.
    for (let id = 31; id <= 35; id++) if (world.redis.write(primaryOf(world, rr).ip, id)) acked.push(id);
    await world.kube.deletePod('ns', target);
    await world.settle(rr, () => world.status(rr)!.primary === old, 5);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('a new primary that does not answer right after its promotion is recorded all the same (its replication IDs unknown)', async () => {
    const { world, rr, target, targetServer } = await beforeSwitchover();
    world.redis.beforeCommand = (ip, args) => {
      if (ip === targetServer.ip && args[0] === 'INFO' && targetServer.role === 'master' && world.status(rr)!.primary !== target) throw new RedisUnavailable('no answer');
    };
    await world.reconcile(rr);
    expect(world.status(rr)).toMatchObject({ primary: target, lastFailover: { to: target, reason: 'Switchover' } });
  });

  it("an old primary that stops answering when it is demoted: the switchover fails with the demotion's error, the role stays with it", async () => {
    const { world, rr, old, target, oldServer, targetServer } = await beforeSwitchover();
    world.redis.beforeCommand = (ip, args) => {
      if (ip === oldServer.ip && args.join(' ') === `REPLICAOF ${targetServer.ip} 6379`) oldServer.unreachable = true;
    };
    await world.reconcile(rr);
    expect(world.kube.events.filter((e) => e.reason === 'SwitchoverFailed').map((e) => e.message)).toEqual([
      `switchover from ${old} to ${target} failed, ${old} stays the primary: REPLICAOF to ${oldServer.ip}: no answer`,
    ]);
    expect(world.status(rr)).toMatchObject({ primary: old });
  });

  it("a new primary that restarts right after its promotion: the replica it answers as gives no replication IDs to record (those of the old primary stay)", async () => {
    const { world, rr, target, targetServer } = await beforeSwitchover();
    const before = world.status(rr)!.primaryReplIds;
    let restarted = false;
    world.redis.beforeCommand = (ip, args) => {
      if (restarted || ip !== targetServer.ip || args[0] !== 'INFO' || targetServer.role !== 'master') return;
      restarted = true;
      world.kube.restartContainer('ns', target);
    };
    // Every status the pass leaves, each step of the way (a later status write may put them back).
    const recorded = new Set<string>();
    world.kube.beforeCall = () => void recorded.add(JSON.stringify(world.status(rr)!.primaryReplIds));
    await world.reconcile(rr).catch(() => undefined);
    recorded.add(JSON.stringify(world.status(rr)!.primaryReplIds));
    expect(restarted).toBe(true);
    expect(world.status(rr)!.primary).toBe(target);
    expect([...recorded]).toEqual([JSON.stringify(before)]);
  });

  it('a first promotion on a resource that has no status yet (the first pass created the pods, its status write failed)', async () => {
    const { world, rr } = setup({ replicas: 0 });
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'patch' && what === 'redisreplication/status/cache') throw new ApiError(500, 'injected');
    };
    await expect(world.reconcile(rr)).rejects.toThrow('injected');
    world.kube.beforeCall = () => {};
    expect(world.status(rr)).toBeUndefined();
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.events.filter((e) => e.reason === 'Promoted')).toHaveLength(1);
  });

  // Found by mutation testing (roles.ts 110:9, `info?.role === 'replica'` => true): the target of a
  // hand-over can be a master, one an interrupted hand-over promoted and left behind
  // (plan/primary.ts staleMaster). Not pointed at the old primary, it could never catch up: every
  // pass paused the old primary's writes for 5 s and failed, until its pod went away; then the
  // target, no longer stale beside a pod re-created on its volume (offset 0), was adopted and that
  // volume's writes since were wiped.
  it('a hand-over to a master an interrupted hand-over left behind points it at the old primary first: no pass-long pauses, no write lost', async () => {
    const { world, rr } = setup({ replicas: 1, persistence: { enabled: true }, failover: { primaryDownSeconds: 60 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const [oldServer, targetServer] = [world.kube.serverOf('ns', old)!, world.kube.serverOf('ns', target)!];
    const acked = write(world, rr, 1, 30);
    // A switchover dies between the target's promotion and the old primary's demotion.
    killOperatorAt(world, (ip, args) => ip === oldServer.ip && args.join(' ') === `REPLICAOF ${targetServer.ip} 6379`);
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    await world.reconcile(rr).catch(() => undefined);
    world.kube.beforeCall = () => {};
    world.redis.beforeCommand = () => {};
    // The target is silent past the old primary's pause: the old primary refuses writes while the
    // intent stands (none is acknowledged that the target lacks).
    targetServer.unreachable = true;
    world.restartOperator();
    await passes(world, rr, 12);
    for (let id = 31; id <= 40; id++) if (world.redis.write(oldServer.ip, id)) acked.push(id);
    expect(acked).toHaveLength(30);
    targetServer.unreachable = false;
    expect(targetServer.role).toBe('master');
    // The old primary's pod is deleted: it hands over to the target, the intent's.
    await world.kube.deletePod('ns', old);
    const failures: string[] = [];
    for (let i = 0; i < 5; i++) {
      await world.reconcile(rr).catch((err: unknown) => failures.push(String(err)));
      world.redis.replicate();
      world.advance(1000);
    }
    expect(failures).toEqual([]);
    expect(world.status(rr)!.primary).toBe(target);
    world.kube.finishDeletions();
    await world.settle(rr, () => world.ready(rr));
    expect(primaryOf(world, rr).log).toEqual(acked);
  });
});
