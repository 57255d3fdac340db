// One reconcile pass (controller/reconcile.ts), the wiring between its phases: what the topology may
// touch while the primary is lost or in doubt, the inputs the primary decision is given, the role
// label and the wiring that follow a settled decision, and what the pass asks of the work queue.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ANNOTATION, LABEL } from '../../src/plan/names.js';
import { ApiError } from '../support/fake-kube.js';
import { World } from '../support/world.js';

const setup = World.withResource;

/** The pod and claim writes since the `from`-th API write. */
const podWrites = (world: World, from: number) => world.kube.writes.slice(from).filter((w) => / pod\/| persistentvolumeclaim\//.test(w));
const pods = (world: World) => [...world.kube.pods.keys()].map((k) => k.split('/')[1]!).sort();
/** The resource `cache` with these fields of its spec changed. */
function respec(world: World, fields: Record<string, unknown>): void {
  const rr = world.kube.resource('ns', 'cache');
  world.kube.apply({ ...rr, spec: { ...(rr.spec as Record<string, unknown>), ...fields } as RedisReplication['spec'] });
}
/** A switchover asked for by annotation (a pod name or `auto`). */
function askSwitchover(world: World, to: string): void {
  world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { name: 'cache', namespace: 'ns', annotations: { [ANNOTATION.switchover]: to } } });
}
const replicasOf = (world: World, rr: RedisReplication) => world.status(rr)!.nodes!.filter((n) => n.role === 'replica').map((n) => n.name);
/** One replica, failover disabled, Ready, with 10 writes replicated. */
async function readyWithoutFailover() {
  const { world, rr } = setup({ replicas: 1, failover: { enabled: false } });
  await world.settle(rr, () => world.ready(rr));
  const primary = world.status(rr)!.primary!;
  const [replica] = replicasOf(world, rr) as [string];
  for (let id = 1; id <= 10; id++) world.redis.write(world.kube.serverOf('ns', primary)!.ip, id);
  world.redis.replicate();
  return { world, rr, primary, replica };
}

describe('the topology is left alone while the primary is lost or going (keepsTopology)', () => {
  it('failover disabled, the primary pod gone: no pod is created in its place, nothing is relabelled or removed; the replica keeps every write', async () => {
    const { world, rr, primary, replica } = await readyWithoutFailover();
    await world.kube.deletePod('ns', primary, 0);
    const before = world.kube.writes.length;
    await world.passes(rr, 5);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/failover is disabled/);
    expect(podWrites(world, before)).toEqual([]);
    expect(pods(world)).toEqual([replica]);
    expect(world.kube.serverOf('ns', replica)!.log).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a primary being deleted, without a volume, with no replica to hand over to: no new (empty) primary is created beside it while the decision waits', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const [replica] = replicasOf(world, rr) as [string];
    world.kube.serverOf('ns', replica)!.unreachable = true;
    await world.kube.deletePod('ns', primary);
    const before = world.kube.writes.length;
    await world.passes(rr, 3);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/being deleted/);
    expect(podWrites(world, before)).toEqual([]);
    expect(pods(world)).toEqual([primary, replica].sort());
  });

  it('a primary silent for less than primaryDownSeconds (the decision waits) does not stop the rest: a replica lost meanwhile is replaced', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const [a] = replicasOf(world, rr) as [string];
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.kube.deletePod('ns', a, 0);
    await world.passes(rr, 3);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/not answering/);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(pods(world)).toHaveLength(3);
  });

  it('a primary being deleted with a volume, silent (waited for primaryDownSeconds): a replica lost meanwhile comes back on its claim', async () => {
    const { world, rr } = setup({ replicas: 2, persistence: { enabled: true }, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const [a] = replicasOf(world, rr) as [string];
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.kube.deletePod('ns', primary);
    await world.kube.deletePod('ns', a, 0);
    await world.passes(rr, 3);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/being deleted and does not answer/);
    expect(world.kube.pods.has(`ns/${a}`)).toBe(true);
    expect(world.kube.pods.get(`ns/${primary}`)!.metadata!.deletionTimestamp).toBeDefined();
  });

  it("the pod looked at is the primary's: another pod being deleted (a replica) does not hold the topology while the silent primary is waited for", async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const first = pods(world)[0]!;
    expect(world.status(rr)!.primary).toBe(first);
    askSwitchover(world, 'auto');
    await world.settle(rr, () => world.status(rr)!.primary !== first && world.ready(rr));
    // The first pod the pass observes is now a replica: it is deleted (gracefully), the primary goes silent.
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.kube.deletePod('ns', first);
    await world.passes(rr, 3);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/not answering/);
    // Its replacement is created meanwhile.
    expect(pods(world)).toHaveLength(4);
  });
});

describe('what the primary decision is given (decide)', () => {
  it('a status without a primary (the resource restored without it): the pod labelled primary is the one recorded; silent, it is failed over from', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    // The primary is not the first pod the pass observes.
    const first = pods(world)[0]!;
    askSwitchover(world, 'auto');
    await world.settle(rr, () => world.status(rr)!.primary !== first && world.ready(rr));
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    world.restartOperator();
    world.kube.resource('ns', 'cache').status = undefined;
    await world.settle(rr, () => world.status(rr)?.lastFailover !== undefined && world.ready(rr));
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: primary, reason: 'PrimaryUnreachable' });
  });

  it('a status without a primary: the silence of the pod labelled primary counts from the first pass, not from the one after it recorded that pod', async () => {
    const { world, rr } = setup({ replicas: 1, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    world.restartOperator();
    world.kube.resource('ns', 'cache').status = undefined;
    // Passes at 0, 1 and 2 s: the third sees 2 s of silence.
    await world.passes(rr, 3);
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: primary, reason: 'PrimaryUnreachable' });
  });

  it('a status lost altogether, the primary answering: the next pass keeps the pod labelled primary and records it', async () => {
    const { world, rr } = setup({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    world.restartOperator();
    world.kube.resource('ns', 'cache').status = undefined;
    await world.reconcile(rr);
    expect(world.status(rr)!.primary).toBe(primary);
  });

  it('a status without a primary, failover disabled: the pod labelled primary, restarted empty, is the lost primary; no replica is promoted in its place', async () => {
    const { world, rr, primary, replica } = await readyWithoutFailover();
    world.restartOperator();
    world.kube.resource('ns', 'cache').status = undefined;
    world.kube.restartContainer('ns', primary);
    await world.passes(rr, 5);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(/failover is disabled/);
    expect(world.kube.serverOf('ns', replica)!.role).toBe('replica');
    expect(world.kube.serverOf('ns', replica)!.log).toHaveLength(10);
  });

  it("a claim whose pod never started (not marked as holding data) is no doubt: a silent primary is failed over from all the same", async () => {
    const { world, rr } = setup({ replicas: 2, persistence: { enabled: true }, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    // Scaled up: the new pod's claim is created, the pod itself refused.
    world.kube.beforeCall = (verb, what) => {
      if (verb === 'create' && what.startsWith('pod/')) throw new ApiError(422, 'refused');
    };
    respec(world, { replicas: 3 });
    await world.passes(rr, 2);
    expect(world.kube.claims.size).toBe(4);
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.settle(rr, () => world.status(rr)!.primary !== primary);
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: primary, reason: 'PrimaryUnreachable' });
  });

  it('acceptDataLossAfterSeconds counts from the start of this doubt, not of an earlier one the primary came back from', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 2, acceptDataLossAfterSeconds: 10 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const [a, b] = replicasOf(world, rr) as [string, string];
    // A first, short doubt: the primary silent for a pass, then back; a minute of a healthy primary.
    world.kube.serverOf('ns', old)!.unreachable = true;
    await world.passes(rr, 1);
    world.kube.serverOf('ns', old)!.unreachable = false;
    await world.passes(rr, 60);
    // Now the primary and one replica silent, the other replica restarted empty: nothing is promoted
    // before 10 s of this doubt.
    world.kube.serverOf('ns', old)!.unreachable = true;
    world.kube.serverOf('ns', a)!.unreachable = true;
    world.kube.restartContainer('ns', b);
    await world.passes(rr, 6);
    expect(world.status(rr)!.primary).toBe(old);
    await world.settle(rr, () => world.status(rr)!.primary === b);
  });
});

describe('a settled pass, and only a settled one, removes pods and wires replicas', () => {
  it('a scale-down asked for while the primary is silent (the decision waits) removes no pod until the primary answers again', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    respec(world, { replicas: 1 });
    const before = world.kube.writes.length;
    await world.passes(rr, 5);
    expect(podWrites(world, before).filter((w) => w.startsWith('delete'))).toEqual([]);
    world.kube.serverOf('ns', primary)!.unreachable = false;
    await world.settle(rr, () => podWrites(world, before).some((w) => w.startsWith('delete pod')));
  });

  it('while the decision waits, a replica restarted from its volume is not pointed at a parent, even one that answers', async () => {
    const { world, rr } = setup({ replicas: 2, persistence: { enabled: true }, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    const [a, b] = replicasOf(world, rr) as [string, string];
    // The primary restarted from its volume waits for the silent replica before it is promoted again.
    world.kube.serverOf('ns', a)!.unreachable = true;
    world.kube.restartContainer('ns', primary);
    world.kube.restartContainer('ns', b);
    const boot = world.kube.serverOf('ns', b)!.masterHost;
    await world.passes(rr, 5);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'PrimaryAvailable')!.message).toMatch(new RegExp(`waiting for ${a}`));
    expect(world.kube.serverOf('ns', b)!.masterHost).toBe(boot);
    world.kube.serverOf('ns', a)!.unreachable = false;
    await world.settle(rr, () => world.ready(rr) && world.kube.serverOf('ns', b)!.masterHost === world.kube.serverOf('ns', primary)!.ip);
  });

  it('the pass that fails over wires the other replicas to the new primary, on what it observes after the change', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    world.kube.serverOf('ns', old)!.unreachable = true;
    let before = 0;
    for (let n = 0; n < 10 && world.status(rr)!.primary === old; n++) {
      before = world.kube.writes.length;
      await world.reconcile(rr);
      world.advance(1000);
    }
    const primary = world.status(rr)!.primary!;
    expect(primary).not.toBe(old);
    const [other] = replicasOf(world, rr).filter((r) => r !== old) as [string];
    expect(world.kube.serverOf('ns', other)!.masterHost).toBe(world.kube.serverOf('ns', primary)!.ip);
    // Observed again after the change: the fenced old primary is gone from the status it writes, and
    // its replacement is created in the same pass.
    expect(world.status(rr)!.nodes!.map((n) => n.name)).not.toContain(old);
    expect(podWrites(world, before).filter((w) => w.startsWith('create pod'))).toHaveLength(1);
  });
});

describe('pod labels', () => {
  it('the read label follows what status shows readable: a replica that stops answering loses it, the others keep it', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const [a, b] = replicasOf(world, rr) as [string, string];
    const readLabel = (pod: string) => world.kube.pods.get(`ns/${pod}`)!.metadata!.labels![LABEL.read];
    expect([readLabel(a), readLabel(b)]).toEqual(['true', 'true']);
    world.kube.serverOf('ns', a)!.unreachable = true;
    await world.passes(rr, 2);
    expect(world.status(rr)!.nodes!.find((n) => n.name === a)!.read).toBe(false);
    expect([readLabel(a), readLabel(b)]).toEqual(['false', 'true']);
  });
});

describe('acting on the decision (actOnPrimary)', () => {
  it('a refused switchover: a Warning Event, the annotation cleared, and nothing moved (the pods are not observed again)', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    askSwitchover(world, 'cache-99');
    const infos: string[] = [];
    world.redis.beforeCommand = (ip, args) => {
      if (String(args[0]).toUpperCase() === 'INFO') infos.push(ip);
    };
    await world.reconcile(rr);
    expect(world.kube.events.at(-1)).toEqual({ type: 'Warning', reason: 'SwitchoverRefused', message: 'switchover to cache-99: no such pod' });
    expect(world.kube.resource('ns', 'cache').metadata.annotations?.[ANNOTATION.switchover]).toBeUndefined();
    expect(world.status(rr)!.primary).toBe(primary);
    expect(infos.sort()).toEqual(world.servers().map((s) => s.ip).sort());
  });

  it('a switchover resumed from its intent, with no annotation asked for, writes no annotation', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const target = replicasOf(world, rr)[0]!;
    await world.kube.patchStatus('ns', 'cache', { targetPrimary: target, targetReason: 'Switchover' });
    world.restartOperator();
    const before = world.kube.writes.length;
    await world.settle(rr, () => world.status(rr)!.primary === target && world.ready(rr));
    expect(world.kube.events.map((e) => e.reason)).toContain('Switchover');
    expect(world.kube.writes.slice(before)).not.toContain('patch redisreplication/cache');
  });
});

describe('what one pass costs and asks for', () => {
  it('an idle pass asks each pod for its INFO once (the pods are observed again only after a role change)', async () => {
    const { world, rr } = setup({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    await world.passes(rr, 2);
    const infos: string[] = [];
    world.redis.beforeCommand = (ip, args) => {
      if (String(args[0]).toUpperCase() === 'INFO') infos.push(ip);
    };
    await world.reconcile(rr);
    expect(infos.sort()).toEqual(world.servers().map((s) => s.ip).sort());
  });

  it('the requeue: none when all is settled and the pass wrote nothing, the resync after one that wrote, a second while something moves (a replica not linked, a pod missing, a roll), 200 ms while the primary is in doubt', async () => {
    const { world, rr } = setup({ replicas: 2, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    await world.passes(rr, 2);
    world.deps.healthIntervalMs = 600_000;
    expect(await world.reconcile(rr)).toBeUndefined();
    // A new operator applies each pod's configuration once (CONFIG SET): what it wrote is looked at again.
    world.restartOperator();
    world.deps.healthIntervalMs = 600_000;
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 600_000 });
    expect(await world.reconcile(rr)).toBeUndefined();
    // A replica's link down.
    const [a] = replicasOf(world, rr) as [string];
    world.kube.serverOf('ns', a)!.linkUp = false;
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 1000 });
    await world.settle(rr, () => world.ready(rr) && world.kube.serverOf('ns', a)!.linkUp);
    await world.passes(rr, 2);
    expect(await world.reconcile(rr)).toBeUndefined();
    // A pod missing: the pass that scales up creates it.
    respec(world, { replicas: 3 });
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 1000 });
    await world.settle(rr, () => world.ready(rr) && world.status(rr)!.nodes!.length === 4 && world.status(rr)!.nodes!.every((n) => n.role === 'primary' || n.link === 'up'));
    await world.passes(rr, 2);
    expect(await world.reconcile(rr)).toBeUndefined();
    // A roll: every pod outdated, none moved yet.
    respec(world, { image: 'redis:7.4.1' });
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 1000 });
    // The primary in doubt.
    world.kube.serverOf('ns', world.status(rr)!.primary!)!.unreachable = true;
    expect(await world.reconcile(rr)).toEqual({ requeueAfterMs: 200 });
  });

  it('a settled pass that wrote nothing still comes back for what goes on with time: TLS within a day (its renewal, the CA\'s overlaps), backups at the resync', async () => {
    const tls = setup({ replicas: 1, tls: { enabled: true } });
    await tls.world.settle(tls.rr, () => tls.world.ready(tls.rr));
    await tls.world.passes(tls.rr, 2);
    tls.world.deps.healthIntervalMs = 600_000;
    expect(await tls.world.reconcile(tls.rr)).toEqual({ requeueAfterMs: 86_400_000 });
    const backup = setup({ replicas: 1, auth: { enabled: false }, backup: { objectStore: { endpoint: 'http://s3.test:8333', bucket: 'rro-backups', credentialsSecret: 's3' } } });
    await backup.world.settle(backup.rr, () => backup.world.ready(backup.rr));
    await backup.world.passes(backup.rr, 2);
    backup.world.deps.healthIntervalMs = 600_000;
    expect(await backup.world.reconcile(backup.rr)).toEqual({ requeueAfterMs: 600_000 });
  });

  it("the pass logs under the resource's key, and logs the decision with each pod's view whenever the primary is not settled", async () => {
    const { world, rr } = setup({ replicas: 1, failover: { primaryDownSeconds: 30 } });
    await world.settle(rr, () => world.ready(rr));
    const lines: Array<Record<string, unknown>> = [];
    world.deps = { ...world.deps, log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
    const primary = world.status(rr)!.primary!;
    const [replica] = replicasOf(world, rr) as [string];
    await world.passes(rr, 2);
    expect(lines.filter((l) => l['msg'] === 'primary decision')).toEqual([]);
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.reconcile(rr);
    const decisions = lines.filter((l) => l['msg'] === 'primary decision');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      resource: 'ns/cache',
      decision: { kind: 'wait', primary },
      pods: [
        { name: primary, ip: world.kube.serverOf('ns', primary)!.ip, booting: false, offset: -1 },
        { name: replica, ip: world.kube.serverOf('ns', replica)!.ip, booting: false, offset: expect.any(Number) },
      ],
    });
  });
});
