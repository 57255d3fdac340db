// Real server versions: a Valkey 8.1 resource end to end, the upgrades Redis 6.2 → 7.0 → Valkey 8.1
// by changing spec.image under a write load, and a downgrade refused before any pod is touched. The
// local cluster's images run the server their name says (hack/local-cluster/build-images.sh); each
// pod's own INFO is asked here, not the operator's status.
import { describe, expect, it } from 'vitest';
import { ANNOTATION } from '../../src/plan/names.js';
import { kubectl, waitFor } from './support/cluster.js';
import { livePods, primaryServiceIP, settle, writableMasters } from './support/invariants.js';
import { api, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { podImages, rollUnderLoad } from './support/roll.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('versions');

/** `<server> <version>` of each pod, from its own INFO server (Valkey reports valkey_version). */
const running = async (ns: string, name: string) => Promise.all((await livePods(ns, name)).map(async (p) => {
  const info = String(await redisCommand(p.status!.podIP!, ['INFO', 'server']));
  const valkey = /^valkey_version:(\S+)/m.exec(info);
  return valkey ? `valkey ${valkey[1]}` : `redis ${/^redis_version:(\S+)/m.exec(info)?.[1]}`;
}));

const serverVersions = async (ns: string, name: string) => (await getRR(ns, name)).status!.nodes!.map((n) => `${n.server} ${n.version}`);

const setImage = (ns: string, name: string, image: string) => kubectl(['-n', ns, 'patch', `rr/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { image } })]);

/** Every pod on `image`, the resource Ready, and status reporting `version` for each. */
const rolledTo = (ns: string, name: string, image: string, version: RegExp, pods: number) => async () => {
  const rr = await getRR(ns, name);
  const images = await podImages(ns, name);
  return (
    rr.status?.phase === 'Ready' &&
    images.length === pods &&
    images.every((i) => i === image) &&
    rr.status.nodes?.length === pods &&
    rr.status.nodes.every((n) => version.test(`${n.server} ${n.version}`))
  );
};

describe.skipIf(!localCluster)('Valkey as a first-class image', () => {
  it('a valkey/valkey:8.1 cascade reaches Ready on Valkey 8.1 processes, replicates, and switches over', async () => {
    const { ns } = fixture;
    await createRR(ns, 'vk', { image: 'valkey/valkey:8.1', replicas: 1, cascade: [{ replicasPerParent: 1 }] });
    await waitReady(ns, 'vk');
    const vk = await running(ns, 'vk');
    expect(vk).toHaveLength(3);
    for (const v of vk) expect(v).toMatch(/^valkey 8\.1\.\d+$/);
    expect(await serverVersions(ns, 'vk')).toEqual(vk);
    await redisCommand(await primaryServiceIP(ns, 'vk'), ['SET', 'migrated', 'yes']);
    const leaf = (await getRR(ns, 'vk')).status!.nodes!.find((n) => n.tier === 2)!;
    await waitFor(async () => (await redisCommand(leaf.podIP!, ['GET', 'migrated'])) === 'yes', { timeoutMs: 10_000, intervalMs: 100, what: 'the write on the tier-2 replica' });

    const before = (await getRR(ns, 'vk')).status!.primary;
    await kubectl(['-n', ns, 'annotate', 'rr/vk', `${ANNOTATION.switchover}=auto`]);
    await waitFor(async () => {
      const rr = await getRR(ns, 'vk');
      return rr.status?.phase === 'Ready' && rr.status.primary !== before && !rr.metadata.annotations?.[ANNOTATION.switchover];
    }, { timeoutMs: 60_000, intervalMs: 200, what: 'a switchover on Valkey' });
    expect(await writableMasters(ns, 'vk')).toHaveLength(1);
    expect(await redisCommand(await primaryServiceIP(ns, 'vk'), ['GET', 'migrated'])).toBe('yes');
  });
});

describe.skipIf(!localCluster)('upgrades by changing spec.image', () => {
  it('Redis 6.2 → 7.0 → Valkey 8.1 under load, no acknowledged write lost; back to Redis 6.2 is refused before any pod is touched', async () => {
    const { ns } = fixture;
    await createRR(ns, 'up', { image: 'redis:6.2', replicas: 2, readService: { maxLagSeconds: 2 } });
    await waitReady(ns, 'up');
    expect(await running(ns, 'up')).toEqual(Array(3).fill('redis 6.2.14'));
    expect(await serverVersions(ns, 'up')).toEqual(Array(3).fill('redis 6.2.14'));

    for (const [image, version] of [
      ['redis:7.0', /^redis 7\.0\.\d+$/],
      ['valkey/valkey:8.1', /^valkey 8\.1\.\d+$/],
    ] as const) {
      const outcome = await rollUnderLoad(ns, 'up', image, () => setImage(ns, 'up', image).then(() => undefined), rolledTo(ns, 'up', image, version, 3));
      expect(outcome.lost).toBe(0);
      expect(outcome.to).not.toBe(outcome.from);
      const now = await running(ns, 'up');
      expect(now).toHaveLength(3);
      for (const v of now) expect(v).toMatch(version);
    }

    // Valkey 8.1 writes RDB format 11; Redis 6.2 reads up to 9: refused, nothing touched, still serving.
    const uids = async () => (await livePods(ns, 'up')).map((p) => p.metadata!.uid).sort();
    const before = await uids();
    await setImage(ns, 'up', 'redis:6.2');
    await waitFor(async () => (await getRR(ns, 'up')).status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'UpdateRefused') ?? false, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'the downgrade refused',
    });
    const progressing = (await getRR(ns, 'up')).status!.conditions!.find((c) => c.type === 'Progressing')!;
    expect(progressing.message).toMatch(/Redis 6.2, which cannot load the data of up-\d+ \(Valkey 8.1, 8\.1\.\d+\)/);
    const events = await api().core.listNamespacedEvent({ namespace: ns });
    expect(events.items.filter((e) => e.reason === 'UpdateRefused' && e.involvedObject.name === 'up')).toHaveLength(1);
    expect(await uids()).toEqual(before);
    await redisCommand(await primaryServiceIP(ns, 'up'), ['SET', 'after-refusal', '1']);
    await setImage(ns, 'up', 'valkey/valkey:8.1');
    await settle(ns, 'up');
    await waitFor(async () => (await getRR(ns, 'up')).status?.phase === 'Ready', { timeoutMs: 30_000, intervalMs: 200, what: 'Ready once the image is set back' });
    expect(await uids()).toEqual(before);
  });
});
