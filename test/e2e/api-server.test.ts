// The API server restarted under running pods and a running operator. A restart breaks every client's
// connections, whichever namespace it works in, so this file runs with the other cluster-wide faults,
// never beside another file (vitest.config.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, killContainer, kubectl, podState, restartApiServer, waitFor } from './support/cluster.js';
import { settle } from './support/invariants.js';
import { api, createRR, getRR, installCrd, startOperator, waitReady, type OperatorProcess } from './support/operator.js';
import { localCluster } from './support/where.js';

const name = 'apis';
let ns: string;
let cleanup: () => Promise<void>;
let operator: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  ({ name: ns, cleanup } = await createNamespace('apiserver'));
  operator = startOperator({ WATCH_NAMESPACES: ns });
  await createRR(ns, name, { replicas: 1 });
  await waitReady(ns, name);
});

afterAll(async () => {
  await operator?.stop();
  await cleanup?.();
});

describe.skipIf(!localCluster)('an API server restart', () => {
  it('leaves pods running, and their status keeps flowing', async () => {
    // A replica: killing the primary would start a failover, which is not what this test is about.
    const pod = (await getRR(ns, name)).status!.nodes!.find((n) => n.role === 'replica')!.name;
    const pid = podState(ns, pod).containers.redis!.pid!;
    await restartApiServer();
    expect(podState(ns, pod).containers.redis!.pid).toBe(pid);
    await killContainer(ns, pod);
    // After a restart the kubelet's and the controllers' watches may back off for a while (client-go).
    await waitFor(async () => {
      const p = await api().core.readNamespacedPod({ name: pod, namespace: ns });
      const cs = p.status?.containerStatuses?.find((c) => c.name === 'redis');
      return (cs?.restartCount ?? 0) >= 1 && cs?.ready;
    }, { timeoutMs: 90_000, what: 'the restart reported after the API server restart' });
  });

  it('during a reconcile: the operator finishes it', async () => {
    await settle(ns, name);
    await kubectl(['-n', ns, 'scale', `rr/${name}`, '--replicas=2']);
    await restartApiServer();
    await settle(ns, name, undefined, 120_000);
    expect((await getRR(ns, name)).status!.nodes!.filter((n) => n.tier === 1)).toHaveLength(2);
  });
});
