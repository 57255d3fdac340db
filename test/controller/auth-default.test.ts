// Auth on by default, driven through the fake API and the Redis model: a resource without
// auth.secretName gets a password the operator generates once, in `<name>-auth`, owned by it, and its
// pods refuse anonymous commands; `auth: {enabled: false}` opts out; a `<name>-auth` someone else made
// is refused; a deleted one comes back with the password the pods have.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { World } from '../support/world.js';

const secretsCondition = (world: World, rr: RedisReplication) => world.status(rr)?.conditions?.find((c) => c.type === 'SecretsAvailable');
const ips = (world: World) => [...world.kube.pods.values()].map((p) => p.status!.podIP!);
/** INFO on every pod as the default user, with this password (none: anonymous). */
const infoAs = (world: World, password: string | undefined) => Promise.allSettled(ips(world).map((host) => world.redis.command({ host, password }, ['INFO', 'server'])));

describe('a resource without auth.secretName', () => {
  it('gets a generated password in <name>-auth, owned by it; its pods refuse anonymous commands and take that password', async () => {
    const { world, rr } = World.withResource({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const secret = world.kube.secrets.get('ns/cache-auth')!;
    expect(secret.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'RedisReplication', name: 'cache', uid: rr.metadata.uid ?? 'uid-cache', controller: true })]);
    const password = world.secretData('cache-auth')['password']!;
    // 32 random bytes, base64url.
    expect(password).toMatch(/^[\w-]{43}$/);
    expect(world.secretData('cache-applied-auth')['password']).toBe(password);
    expect(world.kube.pods.size).toBe(3);
    for (const r of await infoAs(world, undefined)) expect(r).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/^WRONGPASS/) } });
    for (const r of await infoAs(world, password)) expect(r.status).toBe('fulfilled');
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'True', message: 'Secret cache-auth is read' });
    expect(JSON.stringify([world.status(rr), world.kube.events])).not.toContain(password);
  });

  it('keeps the password: later passes and a restarted operator neither regenerate nor rewrite it', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const password = world.secretData('cache-auth')['password'];
    world.restartOperator();
    world.advance(31_000);
    await world.passes(rr, 3);
    expect(world.secretData('cache-auth')['password']).toBe(password);
    expect(world.kube.writes.filter((w) => w.endsWith('secret/cache-auth'))).toHaveLength(1);
  });

  it('a deleted <name>-auth comes back with the password the pods have, never a new one, and a Warning says so', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const password = world.secretData('cache-auth')['password']!;
    world.kube.secrets.delete('ns/cache-auth');
    world.advance(31_000);
    await world.passes(rr, 2);
    expect(world.secretData('cache-auth')['password']).toBe(password);
    expect(world.kube.secrets.get('ns/cache-auth')!.metadata?.ownerReferences).toHaveLength(1);
    expect(world.kube.events.filter((e) => e.reason === 'AuthSecretRestored')).toHaveLength(1);
    for (const s of world.servers()) expect([...s.passwords]).toEqual([password]);
    expect(world.ready(rr)).toBe(true);
  });

  it('a <name>-auth the operator did not create: SecretNotOwned, neither used nor overwritten, no pod', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    world.kube.setSecret('ns', 'cache-auth', { password: 'planted' });
    await world.passes(rr, 2);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotOwned', message: expect.stringMatching(/^Secret cache-auth was not created by the operator/) });
    expect(world.kube.pods.size).toBe(0);
    expect(world.kube.secrets.has('ns/cache-applied-auth')).toBe(false);
    expect(world.kube.writes.filter((w) => w.endsWith('secret/cache-auth'))).toEqual([]);
    expect(world.secretData('cache-auth')['password']).toBe('planted');
  });

  it('a changed <name>-auth password is rotated onto the pods like a named Secret', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    world.kube.secrets.get('ns/cache-auth')!.data!['password'] = Buffer.from('chosen').toString('base64');
    world.advance(31_000);
    await world.settle(rr, () => world.kube.events.some((e) => e.reason === 'PasswordRotated'));
    for (const s of world.servers()) expect([...s.passwords]).toEqual(['chosen']);
    expect(world.kube.events.find((e) => e.reason === 'PasswordRotated')?.message).toContain('Secret cache-auth');
  });
});

describe('auth: {enabled: false}', () => {
  it('no password: no <name>-auth, no applied copy, anonymous commands are served', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { enabled: false } });
    await world.settle(rr, () => world.ready(rr));
    expect(world.kube.secrets.has('ns/cache-auth')).toBe(false);
    expect(world.kube.secrets.has('ns/cache-applied-auth')).toBe(false);
    for (const r of await infoAs(world, undefined)) expect(r.status).toBe('fulfilled');
    expect(secretsCondition(world, rr)).toBeUndefined();
  });
});
