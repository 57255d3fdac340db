// Many nodes and zones: each node is a kubelet with its own containerd (or, RRO_NODE_KIND=agent, the
// project's node agent), pods run on the node the scheduler picked, and node-down / node-up (the
// faults behind `npm run cluster:fault`) take a node away and back.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { run } from '../../hack/lib.js';
import { clusterNodeKind, clusterNodes, pidAlive } from '../../hack/local-cluster/common.js';
import { agentPid, isNodeDown, nodeDown, nodeUp } from './support/faults.js';
import { containerPid, createNamespace, killContainer, kubeConfig, podState, waitFor } from './support/cluster.js';
import { primaryServiceIP, settle } from './support/invariants.js';
import { createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns = '';
let cleanup: () => Promise<void> = async () => undefined;
const nodes = clusterNodes();

const kind = clusterNodeKind();
const ppid = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

async function answers(ip: string): Promise<boolean> {
  const r = await run('redis-cli', ['-h', ip, '-p', '6379', 'PING'], { timeoutMs: 1500 });
  return r.code === 0 && r.stdout.trim() === 'PONG';
}

/** A pod reachable at its IP from the host: a few tries, as a Ready pod's route or a node's link just
 * back may take a moment on a loaded machine (a cut-off pod is asserted with one try of answers()). */
async function answersSoon(ip: string): Promise<boolean> {
  return waitFor(() => answers(ip), { timeoutMs: 15_000, intervalMs: 500, what: `${ip}:6379 to answer PING` });
}

async function readyStatus(node: string): Promise<string | undefined> {
  return (await core.readNode({ name: node })).status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

/** A plain pod (no controller), spread one per node. */
function spreadPod(name: string): k8s.V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: { app: 'spread' } },
    spec: {
      terminationGracePeriodSeconds: 5,
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } }],
      containers: [{ name: 'redis', image: 'redis:7.0', readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 2 } }],
    },
  };
}

async function readyPod(name: string): Promise<k8s.V1Pod> {
  return waitFor(async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  }, { timeoutMs: 60_000, what: `pod ${ns}/${name} Ready` });
}

beforeAll(async () => {
  ({ name: ns, cleanup } = await createNamespace('nodes'));
});

afterAll(async () => {
  for (const n of nodes) if (isNodeDown(n.name)) await nodeUp(n.name);
  await cleanup();
});

describe.skipIf(!localCluster)('nodes and zones', () => {
  it(`has one Ready ${kind} node per node spec, labelled with its hostname and zone`, async () => {
    const items = (await core.listNode()).items;
    expect(items.map((n) => n.metadata!.name).sort()).toEqual(nodes.map((n) => n.name).sort());
    for (const spec of nodes) {
      const node = items.find((n) => n.metadata!.name === spec.name)!;
      expect(node.metadata?.labels?.['kubernetes.io/hostname']).toBe(spec.name);
      expect(node.metadata?.labels?.['topology.kubernetes.io/zone']).toBe(spec.zone);
      expect(node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).toBe(spec.ip);
      // Ready, within a minute: once (npm test, 2026-12-04) a node reported Ready=False for a moment
      // right after the operator image was imported into every node's containerd, with the machine
      // also busy with other work; the cause was not pinned down (the cluster's logs went with it).
      await waitFor(async () => (await readyStatus(spec.name)) === 'True', { timeoutMs: 60_000, intervalMs: 500, what: `${spec.name} Ready` });
      expect(pidAlive(agentPid(spec.name))).toBe(true);
      if (kind === 'kubelet') {
        expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
        expect(node.status?.nodeInfo?.kubeletVersion).toBe('v1.34.4');
      }
    }
    if (nodes.length === 3) expect(new Set(items.map((n) => n.metadata?.labels?.['topology.kubernetes.io/zone']))).toEqual(new Set(['zone-a', 'zone-b', 'zone-c']));
  });

  it('runs each pod on the node the scheduler picked, under that node\'s runtime and in its IP range', async () => {
    const names = nodes.map((_, i) => `spread-${i}`);
    for (const name of names) await core.createNamespacedPod({ namespace: ns, body: spreadPod(name) });
    const placed = new Set<string>();
    for (const name of names) {
      const pod = await readyPod(name);
      const nodeName = pod.spec!.nodeName!;
      const node = nodes.find((n) => n.name === nodeName)!;
      placed.add(nodeName);
      expect(podState(ns, name).node).toBe(nodeName);
      expect(pod.status?.hostIP).toBe(node.ip);
      // A kubelet node's containers are children of containerd's shim, an agent's of the agent.
      if (kind === 'kubelet') expect(comm(ppid(containerPid(ns, name)))).toBe('containerd-shim');
      else expect(ppid(containerPid(ns, name))).toBe(agentPid(nodeName));
      const third = Number(pod.status!.podIP!.split('.')[2]);
      expect(third).toBeGreaterThanOrEqual(node.podRange.first);
      expect(third).toBeLessThanOrEqual(node.podRange.last);
      expect(await answersSoon(pod.status!.podIP!)).toBe(true);
    }
    expect(placed.size).toBe(nodes.length);
  });

  it('node-down: the node goes NotReady and its pods are cut off while they keep running; node-up brings it back', async () => {
    const pod = await core.readNamespacedPod({ name: 'spread-0', namespace: ns });
    const node = pod.spec!.nodeName!;
    const ip = pod.status!.podIP!;
    const pid = containerPid(ns, 'spread-0');
    // A second pod on that node, deleted while the node is down: stopped once the node is back.
    await core.createNamespacedPod({ namespace: ns, body: { ...spreadPod('doomed'), metadata: { name: 'doomed' }, spec: { ...spreadPod('doomed').spec!, topologySpreadConstraints: undefined, nodeName: node } } });
    await readyPod('doomed');
    const doomedPid = containerPid(ns, 'doomed');

    const t0 = Date.now();
    await nodeDown(node);
    expect(await answers(ip)).toBe(false);
    expect(pidAlive(pid)).toBe(true);
    await core.deleteNamespacedPod({ name: 'doomed', namespace: ns });
    await waitFor(async () => (await readyStatus(node)) !== 'True', { timeoutMs: 60_000, intervalMs: 500, what: `node ${node} NotReady` });
    process.stderr.write(`node ${node} NotReady ${((Date.now() - t0) / 1000).toFixed(1)} s after node-down\n`);
    expect(pidAlive(pid)).toBe(true);
    expect(pidAlive(doomedPid)).toBe(true);
    expect(await answers(ip)).toBe(false);
    // The other nodes stay Ready.
    for (const n of nodes.filter((x) => x.name !== node)) expect(await readyStatus(n.name)).toBe('True');

    const t1 = Date.now();
    await nodeUp(node);
    await waitFor(async () => (await readyStatus(node)) === 'True', { timeoutMs: 10_000, intervalMs: 500, what: `node ${node} Ready again` });
    process.stderr.write(`node ${node} Ready ${((Date.now() - t1) / 1000).toFixed(1)} s after node-up\n`);
    expect(await answersSoon(ip)).toBe(true);
    expect(containerPid(ns, 'spread-0')).toBe(pid);
    await readyPod('spread-0');
    await waitFor(async () => !pidAlive(doomedPid), { timeoutMs: 30_000, what: 'the pod deleted while its node was down to be stopped' });
    await waitFor(async () => {
      try {
        await core.readNamespacedPod({ name: 'doomed', namespace: ns });
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, { timeoutMs: 30_000, what: 'pod doomed gone' });
  });
});

describe.skipIf(!localCluster)('zone-aware placement', () => {
  const fixture = operatorNamespace('zones');

  /** Every cascade replica in its parent's zone; returns pods per node and tier-1 zones. */
  async function checkZones(name: string) {
    const rr = await getRR(fixture.ns, name);
    const byName = new Map(rr.status!.nodes!.map((n) => [n.name, n]));
    for (const n of rr.status!.nodes!) {
      expect(n.zone, `${n.name} has a zone`).toBeTruthy();
      if (n.tier >= 2) expect(n.zone, `${n.name} (tier ${n.tier}) in the zone of its parent ${n.parent}`).toBe(byName.get(n.parent!)!.zone);
    }
    const perNode: Record<string, number> = {};
    for (const n of rr.status!.nodes!) perNode[n.node!] = (perNode[n.node!] ?? 0) + 1;
    return { perNode, tier1Zones: rr.status!.nodes!.filter((n) => n.tier === 1).map((n) => n.zone).sort(), primary: rr.status!.primary! };
  }

  it('a 1+3+6 zone-aware cascade: one tier-1 replica per zone, every child in its parent zone, also after a failover', { timeout: 420_000 }, async () => {
    const { ns } = fixture;
    await createRR(ns, 'za', { replicas: 3, cascade: [{ replicasPerParent: 2 }], placement: { zoneAware: true }, failover: { primaryDownSeconds: 3 } });
    await waitReady(ns, 'za', 180_000);
    const before = await checkZones('za');
    expect(before.tier1Zones).toEqual(['zone-a', 'zone-b', 'zone-c']);
    console.log(`[nodes] 1+3+6 zone-aware cascade, pods per node: ${JSON.stringify(before.perNode)}`);
    // Data first: a primary that restarts empty must not be chosen again over replicas that hold it.
    await redisCommand(await primaryServiceIP(ns, 'za'), ['SET', 'zones', 'data']);
    await settle(ns, 'za');
    await killContainer(ns, before.primary);
    await waitFor(async () => {
      const rr = await getRR(ns, 'za');
      return rr.status?.phase === 'Ready' && rr.status.primary !== before.primary ? rr : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500, what: 'Ready on a new primary' });
    await settle(ns, 'za', undefined, 180_000);
    const after = await checkZones('za');
    console.log(`[nodes] after a failover, pods per node: ${JSON.stringify(after.perNode)}`);
  });
});
