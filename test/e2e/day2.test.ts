// Day-2 operations under a continuous write load: a rolling image update of a cascade and a restart
// request, each counting every acknowledged write; runtime config that survives a container kill.
import { describe, expect, it } from 'vitest';
import { ANNOTATION } from '../../src/plan/names.js';
import { killContainer, kubectl, waitFor } from './support/cluster.js';
import { settle } from './support/invariants.js';
import { api, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { podImages, rollUnderLoad } from './support/roll.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('day2');

describe.skipIf(!localCluster)('rolling updates', () => {
  it('an image change on a 1+2+2 cascade: every pod on the new image, the primary changes once, no acknowledged write lost', async () => {
    const { ns } = fixture;
    await createRR(ns, 'roll', { image: 'redis:7.0', replicas: 2, cascade: [{ replicasPerParent: 1 }], readService: { maxLagSeconds: 2 } });
    await waitReady(ns, 'roll');
    const outcome = await rollUnderLoad(
      ns,
      'roll',
      'image',
      () => kubectl(['-n', ns, 'patch', 'rr/roll', '--type=merge', '-p', '{"spec":{"image":"redis:8.0"}}']).then(() => undefined),
      async () => {
        const rr = await getRR(ns, 'roll');
        const images = await podImages(ns, 'roll');
        return rr.status?.phase === 'Ready' && images.length === 5 && images.every((i) => i === 'redis:8.0');
      },
    );
    expect(outcome.to).not.toBe(outcome.from);
    const rr = await getRR(ns, 'roll');
    expect(rr.status!.lastFailover).toMatchObject({ from: outcome.from, to: outcome.to, reason: 'Switchover' });
    expect(rr.status!.updatedPods).toBe(5);
    const events = await api().core.listNamespacedEvent({ namespace: ns });
    expect(events.items.filter((e) => e.reason === 'Switchover' && e.involvedObject.name === 'roll')).toHaveLength(1);
  });

  it('the restartedAt annotation rolls every pod; a restart-only directive does too', async () => {
    const { ns } = fixture;
    await createRR(ns, 'restart', { replicas: 1 });
    await waitReady(ns, 'restart');
    const names = async () => (await getRR(ns, 'restart')).status!.nodes!.map((n) => n.name).sort();
    const before = await names();
    await rollUnderLoad(
      ns,
      'restart',
      'restartedAt',
      () => kubectl(['-n', ns, 'annotate', 'rr/restart', `${ANNOTATION.restartedAt}=${new Date().toISOString()}`]).then(() => undefined),
      async () => {
        const rr = await getRR(ns, 'restart');
        return rr.status?.phase === 'Ready' && rr.status.updatedPods === 2 && (await names()).every((n) => !before.includes(n) || n === rr.status!.primary);
      },
    );
    // databases cannot change at run time: it rolls the pods.
    await rollUnderLoad(
      ns,
      'restart',
      'restart-only config',
      () => kubectl(['-n', ns, 'patch', 'rr/restart', '--type=merge', '-p', '{"spec":{"config":{"databases":"32"}}}']).then(() => undefined),
      async () => {
        const rr = await getRR(ns, 'restart');
        if (rr.status?.phase !== 'Ready' || rr.status.updatedPods !== 2) return false;
        const all = await Promise.all(rr.status.nodes!.map((n) => redisCommand(n.podIP!, ['CONFIG', 'GET', 'databases'])));
        return all.every((r) => (r as string[])[1] === '32');
      },
    );
  });
});

describe.skipIf(!localCluster)('a roll that stalls', () => {
  it('stops at the pod that never starts, says why, keeps the rest serving, and resumes once the spec is fixed', async () => {
    const { ns } = fixture;
    await createRR(ns, 'stall', { image: 'redis:7.0', replicas: 2, updateStrategy: { progressDeadlineSeconds: 15 } });
    await waitReady(ns, 'stall');
    await settle(ns, 'stall');
    const primary = (await getRR(ns, 'stall')).status!.primary!;
    // An image the node cannot run: the re-created replica never starts.
    await kubectl(['-n', ns, 'patch', 'rr/stall', '--type=merge', '-p', '{"spec":{"image":"example.org/not-redis:1"}}']);
    await waitFor(async () => (await getRR(ns, 'stall')).status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'RollingUpdateStalled'), {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: 'Progressing=False RollingUpdateStalled',
    });
    const rr = await getRR(ns, 'stall');
    expect(rr.status!.primary).toBe(primary);
    const events = (await api().core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === 'stall');
    expect(events.some((e) => e.reason === 'RollingUpdateStalled' && e.type === 'Warning')).toBe(true);
    // One pod was re-created, no more; the primary and the other replica still serve.
    expect(events.filter((e) => e.reason === 'RollingUpdate')).toHaveLength(1);
    const primaryIP = rr.status!.nodes!.find((n) => n.name === primary)!.podIP!;
    expect(await redisCommand(primaryIP, ['SET', 'still', 'serving'])).toBe('OK');
    await kubectl(['-n', ns, 'patch', 'rr/stall', '--type=merge', '-p', '{"spec":{"image":"redis:8.0"}}']);
    await waitFor(async () => {
      const now = await getRR(ns, 'stall');
      const images = await podImages(ns, 'stall');
      return now.status?.phase === 'Ready' && images.length === 3 && images.every((i) => i === 'redis:8.0');
    }, { timeoutMs: 180_000, intervalMs: 500, what: 'the roll finished on the fixed image' });
  });
});

describe.skipIf(!localCluster)('runtime config', () => {
  it('a directive Redis can change at run time reaches every pod with no restart, and survives a container kill', async () => {
    const { ns } = fixture;
    await createRR(ns, 'live', { replicas: 1 });
    await waitReady(ns, 'live');
    const before = (await getRR(ns, 'live')).status!.nodes!.map((n) => n.name).sort();
    await kubectl(['-n', ns, 'patch', 'rr/live', '--type=merge', '-p', '{"spec":{"config":{"maxmemory-policy":"allkeys-lru"}}}']);
    const policyOf = async (ip: string) => ((await redisCommand(ip, ['CONFIG', 'GET', 'maxmemory-policy'])) as string[])[1];
    await waitFor(async () => (await Promise.all((await getRR(ns, 'live')).status!.nodes!.map((n) => policyOf(n.podIP!)))).every((p) => p === 'allkeys-lru'), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'maxmemory-policy on every pod',
    });
    expect((await getRR(ns, 'live')).status!.nodes!.map((n) => n.name).sort()).toEqual(before);
    const replica = (await getRR(ns, 'live')).status!.nodes!.find((n) => n.role === 'replica')!;
    await killContainer(ns, replica.name);
    await waitFor(async () => (await policyOf(replica.podIP!).catch(() => undefined)) === 'allkeys-lru' && (await getRR(ns, 'live')).status?.phase === 'Ready', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'maxmemory-policy back after the container restarted',
    });
  });
});

describe.skipIf(!localCluster)('drains', () => {
  it("kubectl drain of the primary's node completes once the role has moved, and loses no acknowledged write", async () => {
    const { ns } = fixture;
    await createRR(ns, 'drain', { replicas: 2, readService: { maxLagSeconds: 2 } });
    await waitReady(ns, 'drain');
    await settle(ns, 'drain');
    const primary = (await getRR(ns, 'drain')).status!.primary!;
    const node = (await api().core.readNamespacedPod({ name: primary, namespace: ns })).spec!.nodeName!;
    const onNode = async () =>
      (await api().core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=drain' })).items.filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp);
    try {
      const outcome = await rollUnderLoad(
        ns,
        'drain',
        'drain',
        // Blocks until every pod of the node is evicted; evictions the budgets refuse are retried.
        () => kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=180s'], { timeoutMs: 200_000 }).then(() => undefined),
        async () => (await getRR(ns, 'drain')).status?.phase === 'Ready' && (await onNode()).length === 0,
      );
      expect(outcome.to).not.toBe(outcome.from);
      const events = await api().core.listNamespacedEvent({ namespace: ns });
      expect(events.items.filter((e) => e.reason === 'Switchover' && e.involvedObject.name === 'drain')).toHaveLength(1);
    } finally {
      await kubectl(['uncordon', node]);
    }
  });
});

