// Reconcile driven end to end at unit speed: the real controller code against the fake API and the
// Redis model (test/support), one test per path the operator takes today.
import { beforeEach, describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { ApiError } from '../support/fake-kube.js';
import { World } from '../support/world.js';

let world: World;
let rr: RedisReplication;

function apply(spec: Record<string, unknown>, annotations?: Record<string, string>): RedisReplication {
  return world.kube.apply({
    apiVersion: 'redis.replication.dev/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name: 'cache', namespace: 'ns', ...(annotations ? { annotations } : {}) },
    spec: spec as RedisReplication['spec'],
  });
}

const status = () => world.status(rr)!;
const primaryServer = () => world.kube.serverOf('ns', status().primary!)!;
/** Writes through the primary, then one replication step: returns the ids acknowledged. */
function writeSome(from: number, n: number): number[] {
  const acked: number[] = [];
  for (let id = from; id < from + n; id++) if (world.redis.write(primaryServer().ip, id)) acked.push(id);
  world.redis.replicate();
  return acked;
}

beforeEach(async () => {
  world = new World();
  rr = apply({ replicas: 2 });
  await world.settle(rr, () => world.ready(rr));
});

describe('reconcile', () => {
  it('first promotion: creates the pods, promotes one, wires the others to it, reports Ready', () => {
    const s = status();
    expect(s.phase).toBe('Ready');
    expect(s.nodes).toHaveLength(3);
    expect(primaryServer().role).toBe('master');
    for (const node of s.nodes!.filter((n) => n.role === 'replica')) {
      const server = world.kube.serverOf('ns', node.name)!;
      expect(server.masterHost).toBe(primaryServer().ip);
      expect(server.linkUp).toBe(true);
    }
    expect(world.kube.events.map((e) => e.reason)).toContain('Promoted');
    // What each pod runs, from INFO server.
    for (const n of s.nodes!) expect(n).toMatchObject({ server: 'redis', version: '7.0.15' });
  });

  it('status is written only when it changed: an idle, healthy resource makes no API write', async () => {
    const before = world.kube.writes.length;
    for (let i = 0; i < 5; i++) {
      await world.reconcile(rr);
      world.redis.replicate();
      world.advance(1000);
    }
    expect(world.kube.writes.slice(before)).toEqual([]);
  });

  it('failover: an unreachable primary is fenced and the most up-to-date replica promoted, losing no replicated write', async () => {
    const acked = writeSome(1, 50);
    const old = status().primary!;
    primaryServer().unreachable = true;
    await world.settle(rr, () => status().primary !== old && world.ready(rr));
    const s = status();
    expect(s.lastFailover).toMatchObject({ from: old, to: s.primary, reason: 'PrimaryUnreachable' });
    expect(world.kube.writes).toContain(`delete pod/${old}`);
    expect(world.kube.pods.has(`ns/${old}`)).toBe(false);
    expect(primaryServer().log).toEqual(expect.arrayContaining(acked));
    expect(s.nodes).toHaveLength(3);
  });

  it('failover needs no Service or NetworkPolicy write: with the API server failing them (500), a lost primary is still replaced', async () => {
    const old = status().primary!;
    // Services to re-create, and a policy to restore, so that every pass has writes to make.
    world.kube.services.clear();
    world.kube.beforeCall = (verb, what) => {
      if (/^(service|networkpolicy|poddisruptionbudget)\//.test(what) && verb !== 'get') throw new ApiError(500, `${verb} ${what}: etcdserver: request timed out`);
    };
    world.kube.networkPolicies.clear();
    primaryServer().unreachable = true;
    for (let i = 0; i < 15 && status().primary === old; i++) {
      await world.reconcile(rr).catch(() => undefined);
      world.redis.replicate();
      world.advance(1000);
    }
    expect(status().primary).not.toBe(old);
    expect(status().lastFailover).toMatchObject({ from: old, reason: 'PrimaryUnreachable' });
    world.kube.beforeCall = () => {};
    await world.settle(rr, () => world.ready(rr) && world.kube.services.size === 2);
  });

  it('primaryDownSeconds counts from the prober\'s first unanswered probe when it came before the pass\'s', async () => {
    const old = status().primary!;
    const ip = primaryServer().ip;
    primaryServer().unreachable = true;
    // The prober sent an INFO 2 s ago that got no answer (it timed out since).
    const silentAt = world.nowMs - 2000;
    world.deps.silentSince = (key, pod, at) => (key === 'ns/cache' && pod === old && at === ip ? silentAt : undefined);
    const passes = await world.settle(rr, () => status().primary !== old, 10);
    // 3 s from the probe: at the second pass (1 s after the first), not the fourth.
    expect(passes).toBe(2);
    expect(world.nowMs - 1000 - silentAt).toBeGreaterThanOrEqual(3000);
  });

  it('a primary the prober found silent for primaryDownSeconds is confirmed in well under the command timeout: the failover does not wait it out', async () => {
    const old = status().primary!;
    const ip = primaryServer().ip;
    // Frozen: its INFO never comes back (the pool's command timeout would end it after a second).
    const model = world.deps.redis;
    world.deps = { ...world.deps, redis: Object.assign(Object.create(model) as typeof model, { info: (t: { host: string }, section?: string) => (t.host === ip ? new Promise<string>(() => undefined) : model.info(t as never, section)) }) };
    const silentAt = world.nowMs - 3000;
    world.deps.silentSince = (key, pod, at) => (key === 'ns/cache' && pod === old && at === ip ? silentAt : undefined);
    const started = Date.now();
    const pass = await Promise.race([world.reconcile(rr).then(() => 'done'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1000))]);
    expect(pass).toBe('done');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(status().lastFailover).toMatchObject({ from: old, reason: 'PrimaryUnreachable' });
  });

  it('a promoted pod refuses writes until its promotion is recorded: a client still connected to it cannot write first (seed 410831)', async () => {
    const old = primaryServer();
    old.unreachable = true;
    const promoted = () => world.servers().find((s) => s !== old && s.role === 'master');
    // The record of the new primary fails (the intent, written before the promotion, goes through).
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'patch' && what === 'redisreplication/status/cache' && promoted()) throw new ApiError(500, 'etcdserver: request timed out');
    };
    for (let i = 0; i < 10 && !promoted(); i++) {
      await world.reconcile(rr).catch(() => undefined);
      world.redis.replicate();
      world.advance(1000);
    }
    const target = promoted()!;
    expect(target).toBeDefined();
    expect(world.redis.write(target.ip, 10_001)).toBe(false);
    world.kube.beforeCall = () => {};
    // The next pass records it and lifts the refusal.
    const name = [...world.kube.pods.values()].find((p) => p.status?.podIP === target.ip)!.metadata!.name;
    await world.settle(rr, () => status().primary === name && world.redis.write(target.ip, 10_002));
  });

  it('failover waits primaryDownSeconds before acting', async () => {
    rr = apply({ replicas: 2, failover: { primaryDownSeconds: 5 } });
    const old = status().primary!;
    primaryServer().unreachable = true;
    for (let i = 0; i < 4; i++) {
      await world.reconcile(rr);
      world.advance(1000);
    }
    expect(status().primary).toBe(old);
    await world.settle(rr, () => status().primary !== old);
  });

  it('resume: a targetPrimary recorded before the operator stopped is the pod promoted next', async () => {
    const old = status().primary!;
    const replicas = status().nodes!.filter((n) => n.role === 'replica').map((n) => n.name);
    // The higher index would not be chosen on its own (ties go to the oldest pod).
    const target = replicas.sort()[1]!;
    await world.kube.patchStatus('ns', 'cache', { targetPrimary: target });
    primaryServer().unreachable = true;
    world.restartOperator();
    // This operator counts primaryDownSeconds itself (the old primary may have come back and taken
    // writes since the intent was written), then finishes the change onto the recorded target.
    await world.reconcile(rr);
    expect(status().primary).toBe(old);
    await world.settle(rr, () => status().primary !== old);
    expect(status().primary).toBe(target);
    expect(status().lastFailover).toMatchObject({ from: old, to: target });
  });

  it('a switchover\'s target refuses writes until its promotion is recorded (seed 606862)', async () => {
    const old = primaryServer();
    const target = status().nodes!.find((n) => n.role === 'replica')!.name;
    const targetServer = world.kube.serverOf('ns', target)!;
    // The record of the new primary fails (the intent, written before the promotion, goes through).
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'patch' && what === 'redisreplication/status/cache' && targetServer.role === 'master') throw new ApiError(500, 'etcdserver: request timed out');
    };
    rr = apply(rr.spec as Record<string, unknown>, { [ANNOTATION.switchover]: target });
    for (let i = 0; i < 10 && targetServer.role !== 'master'; i++) {
      await world.reconcile(rr).catch(() => undefined);
      world.redis.replicate();
      world.advance(1000);
    }
    expect(targetServer.role).toBe('master');
    expect(old.masterHost).toBe(targetServer.ip);
    expect(world.redis.write(targetServer.ip, 20_001)).toBe(false);
    world.kube.beforeCall = () => {};
    await world.settle(rr, () => status().primary === target && world.redis.write(targetServer.ip, 20_002));
  });

  it('switchover: the annotation moves the primary with no acknowledged write lost, then goes away', async () => {
    const acked = writeSome(1, 20);
    const old = status().primary!;
    const target = status().nodes!.find((n) => n.role === 'replica')!.name;
    rr = apply(rr.spec as Record<string, unknown>, { [ANNOTATION.switchover]: target });
    await world.settle(rr, () => status().primary === target && world.ready(rr));
    expect(world.kube.resource('ns', 'cache').metadata.annotations?.[ANNOTATION.switchover]).toBeUndefined();
    expect(world.kube.events.map((e) => e.reason)).toContain('Switchover');
    expect(primaryServer().log).toEqual(expect.arrayContaining(acked));
    expect(world.kube.serverOf('ns', old)!.masterHost).toBe(primaryServer().ip);
    expect(status().lastFailover).toMatchObject({ from: old, to: target, reason: 'Switchover' });
  });

  it('fencing: a replica that accepts writes is made a replica of its parent again, with a Warning Event', async () => {
    const rogue = status().nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.serverOf('ns', rogue)!.role = 'master';
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.serverOf('ns', rogue)!.masterHost).toBe(primaryServer().ip);
    expect(world.kube.events.filter((e) => e.reason === 'Fenced')).toEqual([
      { type: 'Warning', reason: 'Fenced', message: `pod ${rogue} accepted writes but is not the primary: made it a replica of ${status().primary}` },
    ]);
  });

  it('switchover to a pod that cannot take over is refused with an Event', async () => {
    const old = status().primary!;
    rr = apply(rr.spec as Record<string, unknown>, { [ANNOTATION.switchover]: 'cache-99' });
    await world.reconcile(rr);
    expect(status().primary).toBe(old);
    expect(world.kube.events.at(-1)).toMatchObject({ reason: 'SwitchoverRefused', message: 'switchover to cache-99: no such pod' });
    expect(world.kube.resource('ns', 'cache').metadata.annotations?.[ANNOTATION.switchover]).toBeUndefined();
  });

  it('switchover to a pod being deleted (scaled down, its claim gone) is refused: the primary and its data stay', async () => {
    world = new World();
    rr = apply({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const old = status().primary!;
    const replica = status().nodes!.find((n) => n.role === 'replica')!.name;
    const acked = writeSome(1, 20);
    rr = apply({ replicas: 0, persistence: { enabled: true } });
    await world.reconcile(rr);
    expect(world.kube.pods.get(`ns/${replica}`)!.metadata!.deletionTimestamp).toBeDefined();
    rr = apply(rr.spec as Record<string, unknown>, { [ANNOTATION.switchover]: replica });
    await world.reconcile(rr);
    expect(world.kube.events.at(-1)).toMatchObject({ reason: 'SwitchoverRefused', message: `switchover to ${replica}: it is being deleted` });
    world.kube.finishDeletions();
    await world.settle(rr, () => world.ready(rr));
    expect(status().primary).toBe(old);
    expect(primaryServer().log).toEqual(expect.arrayContaining(acked));
  });

  it('scale-down removes the newest replicas and their claims', async () => {
    world = new World();
    rr = apply({ replicas: 3, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr) && status().nodes!.length === 4);
    const replicas = status().nodes!.filter((n) => n.role === 'replica').map((n) => n.name);
    expect(world.kube.claims.size).toBe(4);
    rr = apply({ replicas: 1, persistence: { enabled: true } });
    await world.settle(rr, () => world.ready(rr) && status().nodes!.length === 2);
    world.kube.finishDeletions();
    const kept = status().nodes!.find((n) => n.role === 'replica')!.name;
    expect(replicas.sort()[0]).toBe(kept);
    expect(world.kube.claims.size).toBe(2);
    const removed = replicas.filter((r) => r !== kept).sort();
    expect(world.kube.events.filter((e) => e.reason === 'ScaledDown').sort((a, b) => a.message.localeCompare(b.message))).toEqual(removed.map((pod) => ({ type: 'Normal', reason: 'ScaledDown', message: `removed pod ${pod}` })));
  });

  it('config reaches a pod that was silent at the change, and survives a container restart', async () => {
    const [a, b] = status().nodes!.filter((n) => n.role === 'replica').map((n) => n.name) as [string, string];
    world.kube.serverOf('ns', a)!.unreachable = true;
    rr = apply({ replicas: 2, config: { 'maxmemory-policy': 'allkeys-lru' } });
    await world.reconcile(rr);
    expect(world.kube.serverOf('ns', b)!.config['maxmemory-policy']).toBe('allkeys-lru');
    expect(world.kube.serverOf('ns', a)!.config['maxmemory-policy']).toBeUndefined();
    world.kube.serverOf('ns', a)!.unreachable = false;
    await world.reconcile(rr);
    expect(world.kube.serverOf('ns', a)!.config['maxmemory-policy']).toBe('allkeys-lru');
    // The container restarts with the arguments it was created with, which predate the change.
    world.kube.restartContainer('ns', b);
    expect(world.kube.serverOf('ns', b)!.config['maxmemory-policy']).toBeUndefined();
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.serverOf('ns', b)!.config['maxmemory-policy']).toBe('allkeys-lru');
  });

  it('a pod the API server refuses is reported with its reason, in a condition and an Event', async () => {
    world = new World();
    const reason = 'pods "cache-0" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true';
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what.startsWith('pod/')) throw new ApiError(403, reason);
    };
    rr = apply({ replicas: 1 });
    await world.reconcile(rr);
    expect(status().conditions!.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'False', reason: 'PodRefused', message: expect.stringContaining('PodSecurity') });
    expect(world.kube.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'PodRefused', message: expect.stringContaining('PodSecurity') }));
    world.kube.beforeCall = () => {};
    await world.settle(rr, () => world.ready(rr));
    expect(status().conditions!.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'True' });
  });

  it("a pass whose cache has not seen the last pass's own status write waits for it, instead of failing on 409 with a pass of work thrown away", async () => {
    world.kube.lagCache();
    world.kube.restartContainer('ns', status().nodes!.find((n) => n.role === 'replica')!.name);
    await world.reconcile(rr);
    const written = world.kube.writes.length;
    const redisCalls = world.redis.sent.length;
    // The cache still shows the version that write replaced: nothing is read or written.
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 100 });
    expect(world.kube.writes.length).toBe(written);
    expect(world.redis.sent.length).toBe(redisCalls);
    // Caught up, the passes go on and bring the replica back.
    world.kube.catchUpCache();
    await world.settle(rr, () => world.ready(rr));
  });

  it('a cache that never sees that write is waited for 5 s at most: then the passes go on (and meet the conflict)', async () => {
    world.kube.lagCache();
    world.kube.restartContainer('ns', status().nodes!.find((n) => n.role === 'replica')!.name);
    await world.reconcile(rr);
    world.advance(4_999);
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 100 });
    world.advance(1);
    await expect(world.reconcile(rr)).rejects.toMatchObject({ code: 409 });
  });

  it('a Service the API server refuses (422) is reported in ServicesAdmitted and an Event; the rest of the pass goes on', async () => {
    world = new World();
    const reason = 'Service "cache-primary" is invalid: metadata.name: Invalid value: "cache-primary": must be no more than 63 characters';
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what === 'service/cache-primary') throw new ApiError(422, reason);
    };
    rr = apply({ replicas: 1 });
    await world.reconcile(rr);
    expect(status().conditions!.find((c) => c.type === 'ServicesAdmitted')).toMatchObject({ status: 'False', reason: 'ServiceRefused', message: `Service cache-primary refused: 422: ${reason}` });
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'ServiceRefused', message: `Service cache-primary refused: 422: ${reason}` });
    expect(world.kube.services.has('ns/cache-read')).toBe(true);
    expect(world.kube.pods.size).toBeGreaterThan(0);
    world.kube.beforeCall = () => {};
    await world.settle(rr, () => world.ready(rr) && status().conditions!.find((c) => c.type === 'ServicesAdmitted')?.status === 'True');
    expect(world.kube.services.has('ns/cache-primary')).toBe(true);
  });

  it('a claim the API server cannot decode (400, a quantity) is reported in PodsAdmitted and an Event; its pod waits for it', async () => {
    world = new World();
    const reason = 'PersistentVolumeClaim in version "v1" cannot be handled as a PersistentVolumeClaim: quantities must match the regular expression';
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what.startsWith('persistentvolumeclaim/')) throw new ApiError(400, reason);
    };
    rr = apply({ replicas: 0, persistence: { enabled: true } });
    await world.reconcile(rr);
    expect(status().conditions!.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'False', reason: 'ClaimRefused', message: expect.stringMatching(/^claim data-cache-0 refused: 400: .*quantities/) });
    expect(world.kube.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'ClaimRefused' }));
    expect(world.kube.pods.size).toBe(0);
    world.kube.beforeCall = () => {};
    await world.settle(rr, () => world.ready(rr));
    expect(status().conditions!.find((c) => c.type === 'PodsAdmitted')).toMatchObject({ status: 'True' });
  });

  it('a pod Kubernetes cannot run (a crash loop, an unbound claim) is reported with its reason, in a condition and one Event', async () => {
    const replica = status().nodes!.find((n) => n.role === 'replica')!.name;
    const pod = world.kube.pods.get(`ns/${replica}`)!;
    pod.status = {
      ...pod.status,
      containerStatuses: [{ name: 'redis', image: 'redis:8.0', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container' } } }],
    };
    await world.reconcile(rr);
    await world.reconcile(rr);
    expect(status().conditions!.find((c) => c.type === 'PodsRunning')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff', message: expect.stringContaining(`pod ${replica}: CrashLoopBackOff`) });
    expect(world.kube.events.filter((e) => e.reason === 'PodNotRunning')).toEqual([expect.objectContaining({ type: 'Warning', message: expect.stringContaining('back-off 10s') })]);
    pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims' }] };
    await world.reconcile(rr);
    expect(status().conditions!.find((c) => c.type === 'PodsRunning')?.message).toMatch(/Unschedulable: 0\/3 nodes are available: pod has unbound/);
  });

  it('InvalidSpec: a spec the schema refuses is reported, and nothing is touched', async () => {
    world = new World();
    rr = apply({ replicas: -1 });
    await world.reconcile(rr);
    expect(status().phase).toBe('Failed');
    expect(status().conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(world.kube.pods.size).toBe(0);
    expect(world.kube.services.size).toBe(0);
    expect(world.kube.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidSpec' })]);
    await world.reconcile(rr);
    expect(world.kube.events).toHaveLength(1);
  });

  it('InvalidSpec: a name the CRD refuses (a resource stored before the rule) is reported, and no Service is attempted', async () => {
    world = new World();
    rr = world.kube.apply({ apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', metadata: { name: 'my.cache', namespace: 'ns' }, spec: {} });
    await world.reconcile(rr);
    expect(status().conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringMatching(/^metadata\.name: must be a DNS-1035 label/) });
    expect(world.kube.writes.filter((w) => !w.startsWith('patch redisreplication/status'))).toEqual([]);
  });
});
