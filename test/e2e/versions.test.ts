// Real server versions: a Valkey 8.1 resource end to end, the upgrades Redis 6.2 → 7.0 → Valkey 8.1
// by changing spec.image under a write load, and a downgrade refused before any pod is touched. The
// local cluster runs each image with the server it names (hack/local-cluster/node-agent/servers.ts).
import { readlinkSync, realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serverFor } from '../../hack/local-cluster/node-agent/servers.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { containerPid, kubectl, waitFor } from './support/cluster.js';
import { livePods, primaryServiceIP, settle, writableMasters } from './support/invariants.js';
import { api, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { podImages, rollUnderLoad } from './support/roll.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('versions');

/** The binary each pod's container process runs. */
const binaries = async (ns: string, name: string) => (await livePods(ns, name)).map((p) => readlinkSync(`/proc/${containerPid(ns, p.metadata!.name!)}/exe`));

/** The binary the local cluster runs for an image (Debian's redis-server is a link to redis-check-rdb). */
function binaryOf(image: string): string {
  const server = serverFor(image);
  if (!('binary' in server)) throw new Error(`${image}: ${server.message}`);
  return realpathSync(server.binary);
}

const serverVersions = async (ns: string, name: string) => (await getRR(ns, name)).status!.nodes!.map((n) => `${n.server} ${n.version}`);

const setImage = (ns: string, name: string, image: string) => kubectl(['-n', ns, 'patch', `rr/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { image } })]);

/** Every pod on `image`, the resource Ready, and status reporting `version` for each. */
const rolledTo = (ns: string, name: string, image: string, version: string, pods: number) => async () => {
  const rr = await getRR(ns, name);
  const images = await podImages(ns, name);
  return (
    rr.status?.phase === 'Ready' &&
    images.length === pods &&
    images.every((i) => i === image) &&
    rr.status.nodes?.length === pods &&
    rr.status.nodes.every((n) => `${n.server} ${n.version}` === version)
  );
};

describe.skipIf(!localCluster)('Valkey as a first-class image', () => {
  it('a valkey/valkey:8.1 cascade reaches Ready on Valkey 8.1 processes, replicates, and switches over', async () => {
    const { ns } = fixture;
    await createRR(ns, 'vk', { image: 'valkey/valkey:8.1', replicas: 1, cascade: [{ replicasPerParent: 1 }] });
    await waitReady(ns, 'vk');
    expect(await binaries(ns, 'vk')).toEqual(Array(3).fill(binaryOf('valkey/valkey:8.1')));
    expect(await serverVersions(ns, 'vk')).toEqual(['valkey 8.1.8', 'valkey 8.1.8', 'valkey 8.1.8']);
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
    expect(await binaries(ns, 'up')).toEqual(Array(3).fill(binaryOf('redis:6.2')));
    expect(await serverVersions(ns, 'up')).toEqual(Array(3).fill('redis 6.2.14'));

    for (const [image, version] of [
      ['redis:7.0', 'redis 7.0.15'],
      ['valkey/valkey:8.1', 'valkey 8.1.8'],
    ] as const) {
      const outcome = await rollUnderLoad(ns, 'up', image, () => setImage(ns, 'up', image).then(() => undefined), rolledTo(ns, 'up', image, version, 3));
      expect(outcome.lost).toBe(0);
      expect(outcome.to).not.toBe(outcome.from);
      expect(await binaries(ns, 'up')).toEqual(Array(3).fill(binaryOf(image)));
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
    expect(progressing.message).toMatch(/Redis 6.2, which cannot load the data of up-\d+ \(Valkey 8.1, 8.1.8\)/);
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
