// An image upgrade of a 1+2 topology under a write load, two ways, both with persistence (AOF on a
// node-local volume): this operator's rolling update (replicas first, then a switchover, then the
// old primary), against an in-place rolling restart of the same pods, primary included, as a
// StatefulSet rolling update does (highest ordinal first, each pod deleted and re-created on its
// volume, clients pointed at pod 0 throughout, replicas re-wired to it after each restart as an
// operator built on a StatefulSet does).
import { AppsV1Api } from '@kubernetes/client-node';
import { waitFor } from '../hack/lib.js';
import { kubeConfig, kubectl } from '../test/e2e/support/cluster.js';
import { primaryServiceIP } from '../test/e2e/support/invariants.js';
import { changeUnderLoad, missingWrites } from '../test/e2e/support/load.js';
import { api, createRR, getRR, redisCommand } from '../test/e2e/support/operator.js';
import { replicaLinkUp } from './plain.js';
import { noted, unlessGone } from './lib.js';

export interface UpgradeResult {
  /** From the image change to every pod updated, Ready and linked. */
  seconds: number;
  longestOutageMs: number;
  acked: number;
  lost: number;
  primaryMoved: boolean;
}

const FROM = 'redis:7.0';
const TO = 'redis:8.0';

/** Runs `change` under a write load through `host` until `done`; counts what `countOn` lacks afterwards. */
async function underLoad(host: string, prefix: string, change: () => Promise<unknown>, done: () => Promise<boolean>, countOn: () => Promise<string>) {
  const { ms, result } = await changeUnderLoad({ host, prefix, timeoutMs: 300_000, what: 'the upgrade finished' }, change, done);
  const lost = (await missingWrites(await countOn(), undefined, prefix, result.acked)).length;
  return { seconds: ms / 1000, longestOutageMs: result.longestGapMs, acked: result.acked.length, lost };
}

export async function upgradeOperator(ns: string): Promise<UpgradeResult> {
  const name = 'upgrade';
  await createRR(ns, name, { image: FROM, replicas: 2, persistence: { enabled: true, size: '64Mi' } });
  await waitFor(async () => (await getRR(ns, name)).status?.phase === 'Ready', { timeoutMs: 180_000, intervalMs: 250, what: `${name} Ready` });
  const service = await primaryServiceIP(ns, name);
  const before = (await getRR(ns, name)).status!.primary;
  const r = await underLoad(
    service,
    `upgrade-ours-${Date.now()}`,
    () => kubectl(['-n', ns, 'patch', `rr/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { image: TO } })]),
    async () => {
      const rr = await getRR(ns, name);
      const pods = (await api().core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
      return rr.status?.phase === 'Ready' && pods.length === 3 && pods.every((p) => p.spec!.containers[0]!.image === TO);
    },
    async () => service,
  );
  return { ...r, primaryMoved: (await getRR(ns, name)).status!.primary !== before };
}

export async function upgradeInPlace(ns: string): Promise<UpgradeResult> {
  const name = 'sts';
  const labels = { 'bench.rro/group': 'statefulset' };
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  await api().core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: `${name}-primary` }, spec: { selector: { 'statefulset.kubernetes.io/pod-name': `${name}-0` }, ports: [{ port: 6379 }] } },
  });
  await api().core.createNamespacedService({ namespace: ns, body: { metadata: { name }, spec: { clusterIP: 'None', selector: labels, ports: [{ port: 6379 }] } } });
  await apps.createNamespacedStatefulSet({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        serviceName: name,
        replicas: 3,
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 10,
            containers: [{
              name: 'redis',
              image: FROM,
              args: ['--port', '6379', '--protected-mode', 'no', '--appendonly', 'yes', '--repl-diskless-sync-delay', '1'],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
              readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
            }],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } }],
      },
    },
  });
  const ipOf = async (ordinal: number) => (await api().core.readNamespacedPod({ namespace: ns, name: `${name}-${ordinal}` }).catch(unlessGone(`reading pod ${name}-${ordinal}`)))?.status?.podIP;
  // What a StatefulSet-based operator does in its loop: point every other pod at pod 0.
  let wiring = true;
  const wire = (async () => {
    while (wiring) {
      const primary = await ipOf(0);
      for (const ordinal of [1, 2]) {
        const ip = await ipOf(ordinal);
        if (!primary || !ip) continue;
        // A pod that is restarting does not answer: nothing to wire yet (the loop comes back to it).
        const info = String(await redisCommand(ip, ['INFO', 'replication']).catch(() => ''));
        if (info && !info.includes(`master_host:${primary}`)) await redisCommand(ip, ['REPLICAOF', primary, '6379']).catch(noted(`REPLICAOF ${primary} on ${ip}`));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const linked = async () => {
    const ips = await Promise.all([1, 2].map(ipOf));
    return ips.every(Boolean) && (await Promise.all(ips.map((ip) => replicaLinkUp(ip!)))).every(Boolean);
  };
  try {
    const rolled = async () => {
      const sts = await apps.readNamespacedStatefulSet({ namespace: ns, name });
      const st = sts.status;
      return st?.readyReplicas === 3 && st.updatedReplicas === 3 && st.currentRevision === st.updateRevision && (await linked());
    };
    await waitFor(async () => (await apps.readNamespacedStatefulSet({ namespace: ns, name })).status?.readyReplicas === 3 && (await linked()), {
      timeoutMs: 180_000,
      intervalMs: 250,
      what: 'the StatefulSet Ready and linked',
    });
    const service = (await api().core.readNamespacedService({ namespace: ns, name: `${name}-primary` })).spec!.clusterIP!;
    const uid0 = (await api().core.readNamespacedPod({ namespace: ns, name: `${name}-0` })).metadata!.uid;
    const r = await underLoad(
      service,
      `upgrade-inplace-${Date.now()}`,
      () => kubectl(['-n', ns, 'set', 'image', `statefulset/${name}`, `redis=${TO}`]),
      rolled,
      async () => service,
    );
    const uidAfter = (await api().core.readNamespacedPod({ namespace: ns, name: `${name}-0` })).metadata!.uid;
    return { ...r, primaryMoved: uidAfter !== uid0 };
  } finally {
    wiring = false;
    await wire;
    await apps.deleteNamespacedStatefulSet({ namespace: ns, name }).catch(unlessGone(`deleting statefulset ${ns}/${name}`));
  }
}
