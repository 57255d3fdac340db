// The three ordinary situations that lost a whole dataset or locked the operator out, end to end on
// the local cluster, each with every acknowledged key counted.
import { beforeAll, describe, expect, it } from 'vitest';
import { mergePatchOptions } from '../../src/kube/client.js';
import { clusterNodeKind } from '../../hack/local-cluster/common.js';
import { AUTH_CONF_KEY } from '../../src/plan/acl.js';
import { appliedAuthSecretName } from '../../src/plan/names.js';
import { freezePod, killContainer, kubectl, thawPod, waitFor } from './support/cluster.js';
import { failoverBoundMs, newPrimary, settle, writableMasters } from './support/invariants.js';
import { api, createAllowedSecret, createRR, getRR, operatorNamespace, redisCommand, secretValue, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('safety');
let ns: string;
beforeAll(() => {
  ns = fixture.ns;
});

const KEYS = 500;

/** Writes KEYS keys through the primary (each acknowledged) and returns the primary's name. */
async function writeKeys(name: string, prefix: string, password?: string): Promise<string> {
  const rr = await getRR(ns, name);
  const primary = rr.status!.primary!;
  const ip = rr.status!.nodes!.find((n) => n.name === primary)!.podIP!;
  for (let i = 0; i < KEYS; i += 100) {
    const args = ['MSET', ...Array.from({ length: 100 }, (_, j) => [`${prefix}:${i + j}`, String(i + j)]).flat()];
    expect(await redisCommand(ip, args, password)).toBe('OK');
  }
  return primary;
}

/** Keys of the prefix that the current primary no longer holds. */
async function missingKeys(name: string, prefix: string, password?: string): Promise<number> {
  const rr = await getRR(ns, name);
  const ip = rr.status!.nodes!.find((n) => n.name === rr.status!.primary)!.podIP!;
  const values = (await redisCommand(ip, ['MGET', ...Array.from({ length: KEYS }, (_, i) => `${prefix}:${i}`)], password)) as (string | null)[];
  return values.filter((v) => v === null).length;
}

const podNames = async () => (await api().core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata!.name!);
const claimNames = async () => (await api().core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((c) => c.metadata!.name!);

describe.skipIf(!localCluster)('a persistent primary comes back with its data', () => {
  it('replicas: 0: the deleted primary pod comes back under its name, on its claim, with every key', async () => {
    const name = 'solo';
    await createRR(ns, name, { replicas: 0, persistence: { enabled: true, size: '64Mi' } });
    await waitReady(ns, name);
    const primary = await writeKeys(name, 'solo');
    const uid = (await api().core.readNamespacedPod({ name: primary, namespace: ns })).metadata!.uid;
    await api().core.deleteNamespacedPod({ name: primary, namespace: ns });
    const recreated = async () => (await api().core.listNamespacedPod({ namespace: ns })).items.some((p) => p.metadata!.name === primary && p.metadata!.uid !== uid);
    await waitFor(async () => (await recreated()) && (await getRR(ns, name)).status?.nodes?.some((n) => n.name === primary && n.role === 'primary'), {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: `${primary} re-created as the primary`,
    });
    await waitReady(ns, name);
    expect((await getRR(ns, name)).status!.primary).toBe(primary);
    expect(await missingKeys(name, 'solo')).toBe(0);
    expect(await claimNames()).toContain(`data-${primary}`);
  });

  it('replicas: 1, every pod deleted at once (a node restart): every key, every claim', async () => {
    const name = 'pair';
    await createRR(ns, name, { replicas: 1, persistence: { enabled: true, size: '64Mi' } });
    await waitReady(ns, name);
    await settle(ns, name);
    const primary = await writeKeys(name, 'pair');
    const claimsBefore = (await claimNames()).filter((c) => c.startsWith(`data-${name}-`)).sort();
    const pods = (await podNames()).filter((p) => p.startsWith(`${name}-`));
    await Promise.all(pods.map((pod) => api().core.deleteNamespacedPod({ name: pod, namespace: ns, gracePeriodSeconds: 0 })));
    await waitReady(ns, name, 120_000);
    await settle(ns, name);
    // The recorded primary comes back on its volume and is promoted again; if the operator saw it go a
    // moment before its replica, the replica (which followed its stream) may have taken over instead.
    expect([primary, ...pods]).toContain((await getRR(ns, name)).status!.primary);
    expect(await missingKeys(name, 'pair')).toBe(0);
    expect((await claimNames()).filter((c) => c.startsWith(`data-${name}-`)).sort()).toEqual(claimsBefore);
  });
});

describe.skipIf(!localCluster)('an empty replica is never promoted over one that holds the data', () => {
  it('primary and one replica frozen, the other restarted empty: no promotion; the thawed replica takes over with every key', async () => {
    const name = 'trio';
    await createRR(ns, name, { replicas: 2, failover: { primaryDownSeconds: 2 } });
    await waitReady(ns, name);
    await settle(ns, name);
    const primary = await writeKeys(name, 'trio');
    await settle(ns, name);
    const rr = await getRR(ns, name);
    const [a, b] = rr.status!.nodes!.filter((n) => n.role === 'replica');
    if (!a || !b) throw new Error('expected two replicas');
    await freezePod(ns, primary);
    await freezePod(ns, a.name);
    await killContainer(ns, b.name);
    // Well past primaryDownSeconds: b restarted empty and answers; it must stay a replica.
    const start = Date.now();
    let promoted = false;
    await waitFor(
      async () => {
        const info = String(await redisCommand(b.podIP!, ['INFO', 'replication']).catch(() => ''));
        promoted ||= info.includes('role:master');
        return Date.now() - start > 10_000;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: '10 s without promoting the empty replica',
        check: () => {
          if (promoted) throw new Error(`${b.name} (restarted empty) was promoted`);
        },
      },
    );
    expect(promoted).toBe(false);
    expect((await getRR(ns, name)).status!.primary).toBe(primary);
    // The primary has been silent for longer than primaryDownSeconds: once the replica that holds the
    // data answers, the failover is bounded as any other.
    const thawedAt = Date.now();
    await thawPod(ns, a.name);
    const moved = await newPrimary(ns, name, primary, thawedAt, 30_000);
    expect(moved.to).toBe(a.name);
    expect(moved.ms).toBeLessThanOrEqual(failoverBoundMs(2));
    // The frozen old primary was fenced: its pod is gone, so there is nothing to thaw.
    await waitFor(async () => !(await podNames()).includes(primary), { timeoutMs: 15_000, intervalMs: 250, what: `${primary} fenced` });
    await settle(ns, name);
    expect(await missingKeys(name, 'trio')).toBe(0);
    expect(await writableMasters(ns, name)).toHaveLength(1);
  });
});

describe.skipIf(!localCluster)('rotating the auth Secret', () => {
  it('a new password reaches every pod with no failover and no restart; the operator never loses them', async () => {
    const name = 'locked';
    await createAllowedSecret(ns, 'locked-pw', name, { password: 'first-password' });
    await createRR(ns, name, { replicas: 2, auth: { secretName: 'locked-pw' } });
    await waitReady(ns, name);
    await settle(ns, name, 'first-password');
    const primary = await writeKeys(name, 'locked', 'first-password');
    const before = await getRR(ns, name);
    const restarts = async () =>
      (await api().core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items.map(
        (p) => `${p.metadata!.name}:${p.status?.containerStatuses?.[0]?.restartCount ?? 0}`,
      );
    const restartsBefore = (await restarts()).sort();
    await api().core.patchNamespacedSecret(
      { name: 'locked-pw', namespace: ns, body: { stringData: { password: 'second-password' } } },
      mergePatchOptions(),
    );
    const ips = before.status!.nodes!.map((n) => n.podIP!);
    const accepts = async (ip: string, pw: string) => (await redisCommand(ip, ['PING'], pw).then(String, () => 'refused')) === 'PONG';
    // The Secret cache lives 30 s: the rotation is done within a minute.
    await waitFor(async () => (await Promise.all(ips.map(async (ip) => (await accepts(ip, 'second-password')) && !(await accepts(ip, 'first-password'))))).every(Boolean), {
      timeoutMs: 90_000,
      intervalMs: 1000,
      what: 'every pod on the new password only',
    });
    await settle(ns, name, 'second-password');
    const after = await getRR(ns, name);
    expect(after.status!.primary).toBe(primary);
    expect(after.status!.lastFailover).toEqual(before.status!.lastFailover);
    expect((await restarts()).sort()).toEqual(restartsBefore);
    expect(await missingKeys(name, 'locked', 'second-password')).toBe(0);
    const events = await api().core.listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'PasswordRotated' && e.involvedObject.name === name)).toBe(true);

    if (clusterNodeKind() !== 'kubelet') return;
    // The kubelet refreshes the running pods' copy of the applied auth.conf; a container restarted
    // after that starts with the new password alone, from the file.
    const applied = await secretValue(ns, appliedAuthSecretName(name), AUTH_CONF_KEY);
    const replica = after.status!.nodes!.find((n) => n.role === 'replica')!;
    await waitFor(async () => (await kubectl(['-n', ns, 'exec', replica.name, '-c', 'redis', '--', 'cat', `/etc/redis-auth/${AUTH_CONF_KEY}`])) === applied, {
      timeoutMs: 60_000, intervalMs: 1000, what: `the new auth.conf in ${replica.name}'s Secret volume`,
    });
    await killContainer(ns, replica.name);
    await waitFor(async () => (await accepts(replica.podIP!, 'second-password')) && !(await accepts(replica.podIP!, 'first-password')), {
      timeoutMs: 60_000, intervalMs: 500, what: `${replica.name} restarted on the new password only`,
    });
  });
});
