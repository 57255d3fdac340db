// Which Secrets a resource may use (src/plan/secrets.ts), driven through the fake API: a Secret the
// spec names is used only with the label naming the resource; a Secret with one of the operator's
// names that the operator did not make for the resource is neither used nor overwritten. Each is a
// condition and an Event, and no pod starts with what it would have given.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { World } from '../support/world.js';

const secretsCondition = (world: World, rr: RedisReplication) => world.status(rr)?.conditions?.find((c) => c.type === 'SecretsAvailable');
const warnings = (world: World, reason: string) => world.kube.events.filter((e) => e.type === 'Warning' && e.reason === reason);

describe('a Secret the spec names', () => {
  it('auth.secretName without the allow label: not read, SecretNotAllowed says which label to add, no pod; with the label, it is used', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { secretName: 'team-password' } });
    world.kube.setSecret('ns', 'team-password', { password: 'not-yours' });
    await world.passes(rr, 2);
    const label = 'redis.replication.dev/allow=cache';
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotAllowed', message: expect.stringContaining(`kubectl label secret team-password ${label}`) });
    expect(warnings(world, 'SecretNotAllowed')[0]?.message).toContain(label);
    expect(world.kube.pods.size).toBe(0);
    expect(world.kube.secrets.has('ns/cache-applied-auth')).toBe(false);
    expect(JSON.stringify([world.status(rr), world.kube.events])).not.toContain('not-yours');

    world.kube.secrets.get('ns/team-password')!.metadata!.labels = { 'redis.replication.dev/allow': 'cache' };
    world.advance(31_000); // the Secret cache's lifetime
    await world.settle(rr, () => world.ready(rr));
    expect(world.secretData('cache-applied-auth')['password']).toBe('not-yours');
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'True' });
  });

  it('a label naming another resource does not allow this one', async () => {
    const { world, rr } = World.withResource({ replicas: 0, auth: { secretName: 'other-password' } });
    world.kube.setSecret('ns', 'other-password', { password: 'pw' }, { 'redis.replication.dev/allow': 'other' });
    await world.passes(rr, 1);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotAllowed' });
  });

  it('an app user Secret without the label: the user is not created, the rest is applied', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { secretName: 'cache-auth', users: [{ name: 'app', secretName: 'app-user', rules: '+get' }] } });
    world.allowedSecret('cache-auth', { password: 'pw' });
    world.kube.setSecret('ns', 'app-user', { password: 'app-pw' });
    await world.settle(rr, () => world.ready(rr));
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotAllowed', message: expect.stringMatching(/^user app: Secret app-user does not allow RedisReplication cache/) });
    for (const s of world.servers()) expect(s.users.has('app')).toBe(false);
  });

  it('tls.secretName without the label: SecretNotAllowed, no certificate copied, no pod', async () => {
    const { world, rr } = World.withResource({ replicas: 1, tls: { enabled: true, secretName: 'wildcard-cert' } });
    world.kube.setSecret('ns', 'wildcard-cert', { 'tls.crt': 'c', 'tls.key': 'k', 'ca.crt': 'a' });
    await world.passes(rr, 2);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotAllowed', message: expect.stringContaining('no pod is created until it is fixed') });
    expect(warnings(world, 'SecretNotAllowed')).not.toHaveLength(0);
    expect(world.kube.secrets.has('ns/cache-tls')).toBe(false);
    expect(world.kube.pods.size).toBe(0);
  });
});

describe("a Secret with one of the operator's names that it did not make for the resource", () => {
  /** Made beforehand by someone else: no ownerReference to the resource. */
  const foreign = (world: World, name: string, data: Record<string, string>) => world.kube.setSecret('ns', name, data);

  it('<name>-applied-auth: SecretNotOwned, not adopted nor overwritten, no pod mounts it', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { secretName: 'cache-auth' } });
    world.allowedSecret('cache-auth', { password: 'pw' });
    foreign(world, 'cache-applied-auth', { password: 'planted', 'auth.conf': 'requirepass "planted"\nuser backdoor on nopass +@all ~*\n' });
    await world.passes(rr, 2);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotOwned', message: expect.stringMatching(/^Secret cache-applied-auth was not created by the operator for RedisReplication cache.*no pod is created until it is gone$/) });
    expect(warnings(world, 'SecretNotOwned')).not.toHaveLength(0);
    expect(world.kube.pods.size).toBe(0);
    expect(world.kube.writes.filter((w) => w.endsWith('secret/cache-applied-auth'))).toEqual([]);
    expect(world.secretData('cache-applied-auth')['password']).toBe('planted');
    // Once it is gone, the operator makes its own.
    world.kube.secrets.delete('ns/cache-applied-auth');
    world.advance(31_000);
    await world.settle(rr, () => world.ready(rr));
    expect(world.secretData('cache-applied-auth')['password']).toBe('pw');
  });

  it('<name>-tls-ca-key: SecretNotOwned, no CA of someone else signs the certificate, no pod', async () => {
    const { world, rr } = World.withResource({ replicas: 1, tls: { enabled: true } });
    foreign(world, 'cache-tls-ca-key', { 'ca.crt': 'planted-ca', 'ca.key': 'planted-key' });
    await world.passes(rr, 2);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotOwned', message: expect.stringMatching(/^Secret cache-tls-ca-key was not created/) });
    expect(world.kube.secrets.has('ns/cache-tls')).toBe(false);
    expect(world.kube.pods.size).toBe(0);
    expect(world.secretData('cache-tls-ca-key')['ca.key']).toBe('planted-key');
  });

  it('<name>-tls: SecretNotOwned, neither mounted nor overwritten, no pod', async () => {
    const { world, rr } = World.withResource({ replicas: 1, tls: { enabled: true } });
    foreign(world, 'cache-tls', { 'tls.crt': 'planted', 'tls.key': 'planted', 'ca.crt': 'planted' });
    await world.passes(rr, 2);
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotOwned', message: expect.stringMatching(/^Secret cache-tls was not created/) });
    expect(world.kube.writes.filter((w) => w.endsWith('secret/cache-tls'))).toEqual([]);
    expect(world.kube.pods.size).toBe(0);
  });

  it('<name>-tls-ca: SecretNotOwned and not overwritten; the pods run with the certificate', async () => {
    const { world, rr } = World.withResource({ replicas: 1, tls: { enabled: true } });
    foreign(world, 'cache-tls-ca', { 'ca.crt': 'planted' });
    await world.settle(rr, () => world.ready(rr));
    expect(secretsCondition(world, rr)).toMatchObject({ status: 'False', reason: 'SecretNotOwned', message: expect.stringContaining('the pods keep the certificate they have') });
    expect(world.secretData('cache-tls-ca')['ca.crt']).toBe('planted');
  });
});

describe('the Secret poll (Secrets are not watched)', () => {
  const live = () => true;

  it('wakes the resources that read a Secret that changed, appeared or went, and none while nothing changed', async () => {
    const { world, rr } = World.withResource({ replicas: 1, auth: { secretName: 'team-password', users: [{ name: 'app', secretName: 'app-user', rules: '+get' }] } });
    world.allowedSecret('team-password', { password: 'pw-1' });
    await world.settle(rr, () => world.ready(rr));
    const { passwords } = world.deps;
    expect(await passwords.changed(live)).toEqual([]);
    // The password changed: the next pass reads the new one at once, not a cached copy.
    world.kube.setSecret('ns', 'team-password', { password: 'pw-2' });
    expect(await passwords.changed(live)).toEqual(['ns/cache']);
    expect(await passwords.changed(live)).toEqual([]);
    await world.settle(rr, () => world.secretData('cache-applied-auth')['password'] === 'pw-2', 5);
    // The app user's Secret, missing until now, appears; then it goes.
    expect(await passwords.changed(live)).toEqual([]);
    world.allowedSecret('app-user', { password: 'app-pw' });
    expect(await passwords.changed(live)).toEqual(['ns/cache']);
    await world.passes(rr, 1);
    world.kube.secrets.delete('ns/app-user');
    expect(await passwords.changed(live)).toEqual(['ns/cache']);
    // A resource that is gone is not woken, and its Secrets are no longer read.
    world.kube.setSecret('ns', 'team-password', { password: 'pw-3' });
    let reads = 0;
    world.kube.beforeCall = (verb) => void (verb === 'get' && reads++);
    expect(await passwords.changed(() => false)).toEqual([]);
    expect(await passwords.changed(live)).toEqual([]);
    expect(reads).toBe(0);
  });
});
