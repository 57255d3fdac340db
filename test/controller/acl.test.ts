// ACL users driven through the fake API and the Redis model, which refuses a command the user may not
// run: the operator's own user (every path it takes works with only its rules), the replication
// user, app users from Secrets applied with no restart, a missing Secret, refused rules, and a
// resource created before ACL users existed.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { World } from '../support/world.js';

const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');
const ips = (world: World) => [...world.kube.pods.values()].map((p) => p.status!.podIP!);
const primaryOf = (world: World, rr: RedisReplication) => world.kube.serverOf('ns', world.status(rr)!.primary!)!;
const replicasLinked = (world: World, rr: RedisReplication) =>
  world.ready(rr) && world.servers().every((s) => s.role === 'master' || s.linkUp);

async function withAuth(extra: Record<string, unknown> = {}, users?: unknown[]) {
  const { world, rr } = World.withResource({ replicas: 2, auth: { secretName: 'cache-auth', ...(users ? { users } : {}) }, ...extra });
  world.allowedSecret('cache-auth', { password: 'default-pw' });
  world.allowedSecret('app-user', { password: 'app-pw' });
  await world.settle(rr, () => replicasLinked(world, rr));
  return { world, rr };
}

const APP = { name: 'app', secretName: 'app-user', rules: '~app:* +@read +@write -@dangerous' };

describe('the operator, replication and backup users', () => {
  it('every pod has them from auth.conf; the operator authenticates as its user, replicas as the replication user', async () => {
    const { world } = await withAuth();
    const applied = world.secretData('cache-applied-auth');
    expect(applied['operator-password']).toMatch(/^[\w-]{43}$/);
    expect(applied['replication-password']).not.toBe(applied['operator-password']);
    expect(new Set([applied['operator-password'], applied['replication-password'], applied['backup-password']]).size).toBe(3);
    for (const s of world.servers()) {
      expect([...s.users.keys()].sort()).toEqual(['rro-backup', 'rro-operator', 'rro-replication']);
      expect(s.masteruser).toBe('rro-replication');
      expect(s.masterauth).toBe(applied['replication-password']);
      expect([...s.passwords]).toEqual(['default-pw']);
    }
    expect(new Set(world.redis.logins.map((l) => l.split(' ')[1]))).toEqual(new Set(['rro-operator']));
    // The user's Secret holds only what the user put there.
    expect(Object.keys(world.secretData('cache-auth'))).toEqual(['password']);
  });

  it("the operator's rules cover every path it takes: config, write quorum, TLS reload, switchover, failover", async () => {
    const { world, rr } = await withAuth({ config: { 'maxmemory-policy': 'allkeys-lru' }, writeQuorum: { minReplicas: 1 }, tls: { enabled: true } });
    const refusals = () => world.kube.events.filter((e) => /NOPERM|refused|ConfigNotApplied/i.test(`${e.reason} ${e.message}`));
    expect(primaryOf(world, rr).config['maxmemory-policy']).toBe('allkeys-lru');
    expect(primaryOf(world, rr).config['min-replicas-to-write']).toBe('1');
    // A pod serving another certificate is told to re-read its files (CONFIG GET, CONFIG SET): an
    // operator that starts checks what each pod serves.
    const stale = world.servers()[1]!;
    stale.served = 'stale';
    world.restartOperator();
    await world.passes(rr, 1);
    expect(stale.served).not.toBe('stale');
    const target = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), metadata: { ...world.kube.resource('ns', 'cache').metadata, annotations: { [ANNOTATION.switchover]: target } } });
    await world.settle(rr, () => world.status(rr)!.primary === target && replicasLinked(world, rr));
    expect(world.kube.events.map((e) => e.reason)).toContain('Switchover');
    primaryOf(world, rr).unreachable = true;
    await world.settle(rr, () => world.status(rr)!.primary !== target && replicasLinked(world, rr));
    expect(world.status(rr)!.lastFailover).toMatchObject({ from: target });
    expect(refusals()).toEqual([]);
  });

  it('a replication user without +psync cannot replicate (the model checks what a replica needs)', async () => {
    const { world, rr } = await withAuth();
    const replica = world.servers().find((s) => s.role === 'replica')!;
    primaryOf(world, rr).users.get('rro-replication')!.commands.delete('psync');
    replica.linkUp = false;
    world.redis.replicate();
    expect(replica.linkUp).toBe(false);
  });

  it('a resource with auth off has no users and sends no ACL command', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { enabled: false, users: [APP] } });
    await world.settle(rr, () => world.ready(rr));
    expect(world.redis.sent.filter((c) => c.includes(' ACL '))).toEqual([]);
    for (const s of world.servers()) expect(s.users.size).toBe(0);
  });
});

describe('app users from Secrets', () => {
  it('are on every pod with the hash of their Secret and their rules, and in auth.conf once Redis took them', async () => {
    const { world } = await withAuth({}, [APP]);
    for (const s of world.servers()) expect(s.users.get('app')).toMatchObject({ on: true, hashes: new Set([sha256('app-pw')]), all: false });
    const conf = world.secretData('cache-applied-auth')['auth.conf']!;
    expect(conf).toContain(`user app reset on #${sha256('app-pw')} ~app:* +@read +@write -@dangerous\n`);
    expect(conf).not.toContain('app-pw');
    expect(world.status(world.kube.resource('ns', 'cache'))!.conditions!.find((c) => c.type === 'UsersApplied')).toMatchObject({ status: 'True' });
  });

  it('a change of rules, of password, a new user and a removed one reach running pods with no restart', async () => {
    const { world, rr } = await withAuth({}, [APP]);
    const before = ips(world);
    world.allowedSecret('app-user', { password: 'app-pw-2' });
    world.allowedSecret('other-user', { password: 'other-pw' });
    const cache = world.kube.resource('ns', 'cache');
    world.kube.apply({ ...cache, spec: { ...(cache.spec as object), auth: { secretName: 'cache-auth', users: [{ name: 'other', secretName: 'other-user', rules: '~o:* +get' }] } } });
    world.advance(31_000); // the Secret cache's lifetime
    await world.settle(rr, () => world.servers().every((s) => s.users.has('other') && !s.users.has('app')));
    expect(ips(world)).toEqual(before);
    expect(world.redis.sent.some((c) => c.endsWith('ACL DELUSER app'))).toBe(true);
    await world.passes(rr, 1);
    const conf = world.secretData('cache-applied-auth')['auth.conf']!;
    expect(conf).toContain('user other reset on');
    expect(conf).not.toContain('user app ');
    // Back: the new password.
    world.kube.apply({ ...world.kube.resource('ns', 'cache'), spec: { ...(cache.spec as object), auth: { secretName: 'cache-auth', users: [{ ...APP, rules: '~app:* +get' }] } } });
    await world.settle(rr, () => world.servers().every((s) => s.users.get('app')?.hashes.has(sha256('app-pw-2'))));
    expect([...world.servers()[0]!.users.get('app')!.commands]).toEqual(['get']);
    expect(ips(world)).toEqual(before);
  });

  it('a container that restarts with an auth.conf from before the user existed gets it back', async () => {
    const { world, rr } = await withAuth();
    const cache = world.kube.resource('ns', 'cache');
    world.kube.apply({ ...cache, spec: { ...(cache.spec as object), auth: { secretName: 'cache-auth', users: [APP] } } });
    await world.settle(rr, () => world.servers().every((s) => s.users.has('app')));
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.restartContainer('ns', replica);
    expect(world.kube.serverOf('ns', replica)!.users.has('app')).toBe(false);
    await world.settle(rr, () => replicasLinked(world, rr) && world.kube.serverOf('ns', replica)!.users.has('app'));
  });

  it('a missing Secret is a condition and an Event; the other users are applied and the resource stays Ready', async () => {
    const { world, rr } = await withAuth({}, [{ name: 'ghost', secretName: 'no-such-secret', rules: '+get' }, APP]);
    await world.passes(rr, 2);
    const status = world.status(rr)!;
    expect(status.phase).toBe('Ready');
    expect(status.conditions!.find((c) => c.type === 'SecretsAvailable')).toMatchObject({
      status: 'False',
      reason: 'SecretMissing',
      message: expect.stringContaining('user ghost: Secret no-such-secret does not exist'),
    });
    expect(world.kube.events.some((e) => e.type === 'Warning' && e.reason === 'SecretMissing' && e.message.includes('no-such-secret'))).toBe(true);
    for (const s of world.servers()) {
      expect(s.users.has('app')).toBe(true);
      expect(s.users.has('ghost')).toBe(false);
    }
  });

  it('rules Redis refuses are an Event and a condition, stay out of auth.conf (a restart would fail on them), and block nothing', async () => {
    const { world, rr } = await withAuth({}, [{ name: 'bad', secretName: 'app-user', rules: '+nosuchcommand' }, APP]);
    await world.passes(rr, 2);
    expect(world.kube.events.find((e) => e.reason === 'UserRefused')?.message).toMatch(/^user bad: ERR .*'\+nosuchcommand'/);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'UsersApplied')).toMatchObject({ status: 'False', reason: 'UserRefused' });
    expect(world.status(rr)!.phase).toBe('Ready');
    const conf = world.secretData('cache-applied-auth')['auth.conf']!;
    expect(conf).not.toContain('user bad');
    expect(conf).toContain('user app ');
  });

  it('a user made by hand is removed: the pods have the declared users only, as a restart would', async () => {
    const { world, rr } = await withAuth({}, [APP]);
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.serverOf('ns', replica)!.users.set('by-hand', { on: true, hashes: new Set(), all: true, commands: new Set() });
    world.kube.restartContainer('ns', world.status(rr)!.primary!);
    world.restartOperator();
    await world.settle(rr, () => !world.kube.serverOf('ns', replica)!.users.has('by-hand'));
  });
});

describe('a resource created before ACL users', () => {
  it('gets the users on its running pods, with no restart; replication moves to the replication user; the operator then uses its own', async () => {
    const { world, rr } = await withAuth();
    // As the previous operator left it: requirepass and masterauth, no users, no generated passwords.
    world.kube.setSecret('ns', 'cache-applied-auth', { password: 'default-pw', 'auth.conf': 'requirepass "default-pw"\nmasterauth "default-pw"\n' });
    for (const s of world.servers()) {
      s.users.clear();
      s.masteruser = undefined;
      s.masterauth = 'default-pw';
    }
    const before = ips(world);
    world.restartOperator();
    world.redis.logins.length = 0;
    await world.settle(rr, () => replicasLinked(world, rr) && world.servers().every((s) => s.users.has('rro-operator')));
    await world.passes(rr, 2);
    const applied = world.secretData('cache-applied-auth');
    expect(applied['auth.conf']).toContain('user rro-operator reset on');
    for (const s of world.servers()) {
      expect(s.masteruser).toBe('rro-replication');
      expect(s.masterauth).toBe(applied['replication-password']);
    }
    expect(ips(world)).toEqual(before);
    expect(world.redis.logins.slice(-6).every((l) => l.endsWith(' rro-operator'))).toBe(true);
    // A rotation afterwards drops the old password; replication does not use it any more.
    world.allowedSecret('cache-auth', { password: 'new-pw' });
    world.advance(31_000);
    await world.settle(rr, () => world.kube.events.some((e) => e.reason === 'PasswordRotated') && replicasLinked(world, rr));
    for (const s of world.servers()) s.linkUp = false;
    world.redis.replicate();
    expect(world.servers().every((s) => s.role === 'master' || s.linkUp)).toBe(true);
  });
});

describe('a resource created before backups', () => {
  it('gets the backup user on its running pods, with no restart, and keeps the other passwords', async () => {
    const { world, rr } = await withAuth();
    const before = world.secretData('cache-applied-auth');
    const { 'backup-password': _gone, ...older } = before;
    world.kube.setSecret('ns', 'cache-applied-auth', older);
    for (const s of world.servers()) s.users.delete('rro-backup');
    const ipsBefore = ips(world);
    world.restartOperator();
    await world.settle(rr, () => world.servers().every((s) => s.users.has('rro-backup')));
    await world.passes(rr, 3);
    const applied = world.secretData('cache-applied-auth');
    expect(applied['backup-password']).toMatch(/^[\w-]{43}$/);
    expect(applied['operator-password']).toBe(before['operator-password']);
    expect(applied['replication-password']).toBe(before['replication-password']);
    const hash = createHash('sha256').update(applied['backup-password']!).digest('hex');
    for (const s of world.servers()) expect([...s.users.get('rro-backup')!.hashes]).toEqual([hash]);
    expect(ips(world)).toEqual(ipsBefore);
  });
});
