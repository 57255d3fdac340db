// TLS driven through the fake API and the Redis model: the operator's own CA and its renewal with no
// restart and no failover, a user's Secret, and a Secret that is missing or unusable.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { TLS_CHECK_INTERVAL_MS } from '../../src/controller/tls.js';
import { buildOwnedSecret } from '../../src/plan/specs.js';
import { CA_LIFETIME_DAYS, CA_OVERLAP_MS, pemBlocks, serverNames } from '../../src/plan/tls.js';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate, permittedNames } from '../../src/tls/certificates.js';
import { World } from '../support/world.js';

const DAY = 86_400_000;

const setup = World.withResource;

const secretData = (world: World, name: string) => world.secretData(name);
const servers = (world: World) => world.servers();

const passes = (world: World, rr: RedisReplication, n: number, ms?: number) => world.passes(rr, n, ms);

describe('TLS with the operator\'s own CA', () => {
  it('publishes the CA in <name>-tls-ca (no key), issues a certificate for the Services, and every pod speaks TLS only', async () => {
    const { world, rr } = setup({ replicas: 2, tls: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const published = secretData(world, 'cache-tls-ca');
    expect(Object.keys(published)).toEqual(['ca.crt']);
    expect(new X509Certificate(published['ca.crt']!).ca).toBe(true);
    // The CA's key is kept apart, in a Secret no pod mounts.
    expect(secretData(world, 'cache-tls-ca-key')['ca.key']).toMatch(/PRIVATE KEY/);
    const mounted = secretData(world, 'cache-tls');
    const cert = new X509Certificate(mounted['tls.crt']!);
    expect(cert.checkIssued(new X509Certificate(published['ca.crt']!))).toBe(true);
    expect(cert.checkHost('cache-primary.ns.svc')).toBeDefined();
    expect(cert.checkHost('cache-read')).toBeDefined();
    for (const pod of world.kube.pods.values()) {
      expect(pod.spec!.volumes!.find((v) => v.name === 'tls')?.secret?.secretName).toBe('cache-tls');
      expect(pod.spec!.volumes!.some((v) => v.secret?.secretName?.startsWith('cache-tls-ca'))).toBe(false);
    }
    for (const s of servers(world)) {
      expect(s.tls).toBe(true);
      expect(s.served).toBe(cert.fingerprint256);
    }
    // Replication runs over TLS, and the operator reached every pod over TLS (the model refuses plain TCP).
    expect(world.status(rr)!.nodes!.filter((n) => n.role === 'replica').every((n) => n.link === 'up')).toBe(true);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'SecretsAvailable')).toMatchObject({ status: 'True' });
    expect(world.kube.events.map((e) => e.reason)).toContain('CertificateIssued');
  });

  it('renews the certificate before it expires: every pod serves the new one, with no restart and no failover', async () => {
    const { world, rr } = setup({ replicas: 2, tls: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary;
    const ips = [...world.kube.pods.values()].map((p) => p.status!.podIP!);
    const before = secretData(world, 'cache-tls');
    const ca = secretData(world, 'cache-tls-ca')['ca.crt'];
    world.advance(61 * DAY);
    await passes(world, rr, 2);
    const after = secretData(world, 'cache-tls');
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(world.kube.events.map((e) => e.reason)).toContain('CertificateRenewed');
    // Same CA: clients need nothing new.
    expect(secretData(world, 'cache-tls-ca')['ca.crt']).toBe(ca);
    const renewed = describeCertificate(after['tls.crt']!)!.fingerprint;
    await world.settle(rr, () => servers(world).every((s) => s.served === renewed), 200);
    expect([...world.kube.pods.values()].map((p) => p.status!.podIP!)).toEqual(ips);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.status(rr)!.lastFailover).toBeUndefined();
    expect(world.ready(rr)).toBe(true);
  });

  it('tells a pod to re-read its files again when the kubelet had not refreshed its volume yet', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const old = servers(world)[0]!.served;
    world.kube.freezeVolumes();
    world.advance(61 * DAY);
    await passes(world, rr, 3);
    // Told to reload while the volume still had the old files: still the old certificate.
    expect(servers(world).every((s) => s.served === old)).toBe(true);
    expect(world.redis.sent.some((c) => c.includes('CONFIG SET tls-cert-file'))).toBe(true);
    world.kube.thawVolumes();
    const renewed = describeCertificate(secretData(world, 'cache-tls')['tls.crt']!)!.fingerprint;
    await world.settle(rr, () => servers(world).every((s) => s.served === renewed), 2 * (TLS_CHECK_INTERVAL_MS / 1000) + 5);
    expect(world.ready(rr)).toBe(true);
  });
});

describe('the operator\'s CA: name constraints and renewal with an overlap', () => {
  /** Every pod serves a certificate that the CAs of `bundle` (a client's copy of <name>-tls-ca) accept. */
  const trustedBy = (world: World, bundle: string) => servers(world).every((s) => s.certificate !== undefined && checkKeyPair(s.certificate, bundle) === undefined);
  const published = (world: World) => secretData(world, 'cache-tls-ca')['ca.crt']!;

  it('the CA may sign the resource\'s Service names only', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    expect(permittedNames(published(world))).toEqual(serverNames('cache', 'ns'));
  });

  it('is renewed in its last third: trusted first, issuing an overlap later, the old one dropped once every pod serves the new; no restart, no failover, every client copy keeps working', async () => {
    const { world, rr } = setup({ replicas: 2, tls: { enabled: true } });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary;
    const ips = [...world.kube.pods.values()].map((p) => p.status!.podIP!).sort();
    const oldCa = published(world);
    const checks = (world: World) => world.advance(TLS_CHECK_INTERVAL_MS);

    // Begin: the new CA is published beside the old one; the pods still serve a certificate of the old.
    world.advance(Math.ceil((CA_LIFETIME_DAYS * 2) / 3 + 1) * DAY);
    await world.settle(rr, () => pemBlocks(published(world)).length === 2 && trustedBy(world, oldCa), 200);
    const both = published(world);
    expect(pemBlocks(both)[0]).toBe(oldCa);
    const newCa = pemBlocks(both)[1]!;
    expect(permittedNames(newCa)).toEqual(serverNames('cache', 'ns'));
    expect(world.kube.events.map((e) => e.reason)).toContain('CARenewal');
    // The pods are told to re-read their files (the CAs they trust) though their certificate did not change.
    const reloads = () => world.redis.sent.filter((c) => c.includes('CONFIG SET tls-cert-file')).length;
    const before = reloads();
    checks(world);
    await passes(world, rr, 2);
    expect(reloads()).toBeGreaterThan(before);

    // Switch, an overlap later: every pod serves a certificate of the new CA, which a client that
    // fetched the bundle during the overlap trusts, while the old CA stays trusted.
    world.advance(CA_OVERLAP_MS);
    await world.settle(rr, () => trustedBy(world, newCa), 200);
    expect(trustedBy(world, oldCa)).toBe(false);
    expect(trustedBy(world, both)).toBe(true);
    expect(pemBlocks(published(world))).toEqual([newCa, oldCa]);

    // Drop, an overlap after every pod serves the new certificate.
    world.advance(CA_OVERLAP_MS);
    await world.settle(rr, () => published(world) === newCa, 200);
    expect(pemBlocks(secretData(world, 'cache-tls')['ca.crt']!)).toEqual([newCa]);
    expect(secretData(world, 'cache-tls-ca-key')['ca.crt']).toBe(newCa);

    expect([...world.kube.pods.values()].map((p) => p.status!.podIP!).sort()).toEqual(ips);
    expect(world.status(rr)!.primary).toBe(primary);
    expect(world.status(rr)!.lastFailover).toBeUndefined();
    expect(world.ready(rr)).toBe(true);
  });

  it('a CA made before name constraints (an upgraded operator) is replaced the same way', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true } });
    // What an earlier operator left: its CA, without name constraints (one for other names stands in for it).
    const unconstrained = await createCertificateAuthority('old', world.nowMs, CA_LIFETIME_DAYS, ['placeholder']);
    await world.kube.createSecret(buildOwnedSecret(rr, 'cache-tls-ca-key', { 'ca.crt': unconstrained.cert, 'ca.key': unconstrained.key }));
    await world.settle(rr, () => pemBlocks(published(world)).length === 2, 200);
    expect(pemBlocks(published(world))[0]).toBe(unconstrained.cert);
    world.advance(CA_OVERLAP_MS);
    await world.settle(rr, () => pemBlocks(published(world)).length === 2 && pemBlocks(published(world))[1] === unconstrained.cert, 200);
    world.advance(CA_OVERLAP_MS);
    await world.settle(rr, () => pemBlocks(published(world)).length === 1, 200);
    expect(permittedNames(published(world))).toEqual(serverNames('cache', 'ns'));
    await world.settle(rr, () => world.ready(rr), 10);
  });
});

describe('TLS from a user\'s Secret (cert-manager\'s shape)', () => {
  async function userSecret(world: World) {
    const ca = await createCertificateAuthority('user CA', world.nowMs, 365, ['cache-primary.ns.svc', 'cache-read.ns.svc']);
    const cert = await issueServerCertificate(ca, ['cache-primary.ns.svc', 'cache-read.ns.svc'], world.nowMs, 90);
    return { 'tls.crt': cert.cert, 'tls.key': cert.key, 'ca.crt': ca.cert };
  }

  it('a missing Secret is a condition and an Event quoting the reason, and no pod is created', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true, secretName: 'cache-cert' } });
    await passes(world, rr, 3);
    expect(world.kube.pods.size).toBe(0);
    const condition = world.status(rr)!.conditions!.find((c) => c.type === 'SecretsAvailable');
    expect(condition).toMatchObject({ status: 'False', reason: 'SecretMissing', message: expect.stringMatching(/^Secret cache-cert does not exist; no pod is created/) });
    expect(world.kube.events).toContainEqual({ type: 'Warning', reason: 'SecretMissing', message: condition!.message });
    // Once it is there, the pods mount a copy of it.
    world.allowedSecret('cache-cert', await userSecret(world));
    await world.settle(rr, () => world.ready(rr));
    expect(secretData(world, 'cache-tls')).toEqual(secretData(world, 'cache-cert'));
    expect(world.kube.secrets.has('ns/cache-tls-ca-key')).toBe(false);
  });

  it('a Secret without a key, or whose certificate does not fit, is reported the same way', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true, secretName: 'cache-cert' } });
    const data = await userSecret(world);
    world.allowedSecret('cache-cert', { 'tls.crt': data['tls.crt'], 'tls.key': data['tls.key'] });
    await passes(world, rr, 2);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'SecretsAvailable')?.message).toMatch(/^Secret cache-cert has no key "ca.crt"/);
    const other = await createCertificateAuthority('other', world.nowMs, 1, ['other']);
    world.allowedSecret('cache-cert', { ...data, 'ca.crt': other.cert });
    world.advance(31_000);
    await passes(world, rr, 2);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'SecretsAvailable')).toMatchObject({
      reason: 'SecretInvalid',
      message: expect.stringMatching(/^Secret cache-cert: tls.crt is not signed by a CA of ca.crt/),
    });
    expect(world.kube.pods.size).toBe(0);
  });

  it('a Secret that goes missing later leaves the pods as they are, serving the certificate they have', async () => {
    const { world, rr } = setup({ replicas: 1, tls: { enabled: true, secretName: 'cache-cert' } });
    world.allowedSecret('cache-cert', await userSecret(world));
    await world.settle(rr, () => world.ready(rr));
    const ips = [...world.kube.pods.values()].map((p) => p.status!.podIP!);
    world.kube.secrets.delete('ns/cache-cert');
    world.advance(31_000);
    await passes(world, rr, 3);
    expect(world.status(rr)!.conditions!.find((c) => c.type === 'SecretsAvailable')?.message).toMatch(/the pods keep the certificate they have$/);
    expect([...world.kube.pods.values()].map((p) => p.status!.podIP!)).toEqual(ips);
    expect(world.ready(rr)).toBe(true);
  });

  it('a new CA (cert-manager re-issued everything): the pods trust the old one too until all serve the new certificate', async () => {
    const { world, rr } = setup({ replicas: 2, tls: { enabled: true, secretName: 'cache-cert' } });
    const first = await userSecret(world);
    world.allowedSecret('cache-cert', first);
    await world.settle(rr, () => world.ready(rr));
    const second = await userSecret(world);
    world.allowedSecret('cache-cert', second);
    world.advance(31_000);
    await passes(world, rr, 1);
    expect(secretData(world, 'cache-tls')['ca.crt']).toBe(second['ca.crt'] + first['ca.crt']);
    const fingerprint = describeCertificate(second['tls.crt'])!.fingerprint;
    await world.settle(rr, () => servers(world).every((s) => s.served === fingerprint), 200);
    expect(world.ready(rr)).toBe(true);
    expect(world.status(rr)!.lastFailover).toBeUndefined();
  });
});
