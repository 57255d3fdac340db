// The node agent of one node (SELF): registers its Node, renews its Lease, runs the pods bound to it, provisions its volumes.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { K8S_VERSION, OWNER_ENV, clusterPaths, ensureDir, pidAlive, procStartTime, rmrf, signalGroup } from '../common.js';
import { PodRuntime } from './pods.js';
import { SELF } from './self.js';
import { allStates, podDir } from './state.js';
import { teardownPodNetwork } from './netns.js';
import { ensureStorageClass, provisionOnce } from './provisioner.js';
import { startKubeletApi } from './kubelet-api.js';
import { startInformer } from '../../../src/kube/informer.js';

const NODE_NAME = SELF.name;
const paths = clusterPaths(process.env[OWNER_ENV] || undefined);
ensureDir(paths.pods);
ensureDir(paths.volumes);

const log = (msg: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
};

const kc = new k8s.KubeConfig();
kc.loadFromFile(join(paths.pki, 'admin.kubeconfig'));
const core = kc.makeApiClient(k8s.CoreV1Api);
const coord = kc.makeApiClient(k8s.CoordinationV1Api);
const storage = kc.makeApiClient(k8s.StorageV1Api);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

const code = (err: unknown): number | undefined => (err as { code?: number }).code;
const msg = (err: unknown): string => (err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : String(err));

function nodeStatus(): k8s.V1NodeStatus {
  const t = new Date();
  const cond = (type: string, status: string, reason: string, message: string): k8s.V1NodeCondition => ({
    type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: startedAt,
  });
  const mem = `${Math.floor(os.totalmem() / 1024)}Ki`;
  const cap = { cpu: String(os.cpus().length), memory: mem, pods: '1000', 'ephemeral-storage': '100Gi' };
  let machineID = 'rro';
  try { machineID = readFileSync('/etc/machine-id', 'utf8').trim(); } catch { /* none */ }
  return {
    capacity: cap, allocatable: cap,
    conditions: [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'node agent has sufficient memory available'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'node agent has no disk pressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'node agent has sufficient PID available'),
      cond('Ready', 'True', 'KubeletReady', 'rro node agent is posting ready status'),
    ],
    addresses: [{ type: 'InternalIP', address: SELF.ip }, { type: 'Hostname', address: NODE_NAME }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID, systemUUID: machineID, bootID: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      kernelVersion: os.release(), osImage: 'rro local node', containerRuntimeVersion: 'rro://0.1.0',
      kubeletVersion: K8S_VERSION, kubeProxyVersion: K8S_VERSION, operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    },
  };
}
const startedAt = new Date();

async function registerNode(): Promise<void> {
  const labels = { 'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch, 'rro.local/node': 'true',
    'topology.kubernetes.io/zone': SELF.zone, 'topology.kubernetes.io/region': 'rro' };
  try {
    await core.readNode({ name: NODE_NAME });
  } catch (err) {
    if (code(err) !== 404) throw err;
    await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME, labels }, spec: {}, status: nodeStatus() } });
    log(`registered node ${NODE_NAME}`);
  }
  await core.patchNodeStatus({ name: NODE_NAME, body: { status: nodeStatus() } }, mergePatch);
}

async function renewLease(): Promise<void> {
  const ns = 'kube-node-lease';
  const renewTime = new k8s.V1MicroTime();
  try {
    const lease = await coord.readNamespacedLease({ name: NODE_NAME, namespace: ns });
    lease.spec = { ...lease.spec, holderIdentity: NODE_NAME, leaseDurationSeconds: 15, renewTime };
    await coord.replaceNamespacedLease({ name: NODE_NAME, namespace: ns, body: lease });
  } catch (err) {
    if (code(err) !== 404) throw err;
    const node = await core.readNode({ name: NODE_NAME });
    await coord.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: NODE_NAME, namespace: ns, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: NODE_NAME, uid: node.metadata!.uid! }] },
        spec: { holderIdentity: NODE_NAME, leaseDurationSeconds: 15, renewTime },
      },
    });
  }
}

const runtimes = new Map<string, PodRuntime>();
let firstList = true;

/** Kills and tears down pods on disk that the API no longer has (e.g. after the agent was down). */
async function reapOrphans(live: Set<string>): Promise<void> {
  for (const st of allStates(paths.pods)) {
    if (live.has(st.uid) || runtimes.has(st.uid) || (st.node ?? NODE_NAME) !== NODE_NAME) continue;
    for (const c of Object.values(st.containers)) {
      if (c.pid && pidAlive(c.pid) && procStartTime(c.pid) === c.pidStart) signalGroup(c.pid, 'SIGKILL');
    }
    await teardownPodNetwork(st.netns, st.veth, st.ip || undefined);
    rmrf(podDir(paths.pods, st.uid));
    log(`reaped orphan pod ${st.namespace}/${st.name} (${st.uid})`);
  }
}

// This node's pods, from a watch-fed cache: with hundreds of pods, listing them on every event kept
// the agent busy parsing lists instead of starting containers.
const podSelector = `spec.nodeName=${NODE_NAME}`;
const pods = startInformer<k8s.V1Pod>(kc, {
  path: '/api/v1/pods',
  fieldSelector: podSelector,
  list: () => core.listPodForAllNamespaces({ fieldSelector: podSelector }),
  onEvent: (type, pod) => {
    if (type !== 'delete') runtimeOf(pod).kick(pod);
  },
  onError: (err) => log(`pod watch: ${msg(err)}; restarting`),
});

function runtimeOf(pod: k8s.V1Pod): PodRuntime {
  const uid = pod.metadata!.uid!;
  let rt = runtimes.get(uid);
  if (!rt) {
    rt = new PodRuntime({ core }, paths, pod, log);
    runtimes.set(uid, rt);
  }
  return rt;
}

/** Every second: kicks each pod (probes, restarts) and stops the runtimes of pods gone from the API. */
async function syncPods(): Promise<void> {
  if (!pods.hasSynced()) return;
  const live = new Set<string>();
  for (const pod of pods.list()) {
    live.add(pod.metadata!.uid!);
    runtimeOf(pod).kick(pod);
  }
  for (const [uid, rt] of runtimes) {
    if (rt.gone) {
      runtimes.delete(uid);
    } else if (!live.has(uid)) {
      runtimes.delete(uid);
      log(`${rt.key()}: gone from the API, stopping`);
      void rt.destroy();
    }
  }
  if (firstList) {
    firstList = false;
    await reapOrphans(live);
  }
}

async function loop(name: string, everyMs: number, fn: () => Promise<void>): Promise<never> {
  let failing = false;
  for (;;) {
    try {
      await fn();
      if (failing) log(`${name}: recovered`);
      failing = false;
    } catch (err) {
      if (!failing) log(`${name}: ${code(err) ?? ''} ${msg(err)}`);
      failing = true;
    }
    await sleep(everyMs);
  }
}

async function main(): Promise<void> {
  log(`node agent of ${NODE_NAME} (${SELF.zone}, ${SELF.ip}) starting (pid ${process.pid}, cluster ${paths.root})`);
  for (;;) {
    try {
      await registerNode();
      await renewLease();
      await ensureStorageClass(storage);
      break;
    } catch (err) {
      log(`registration failed, retrying: ${code(err) ?? ''} ${msg(err)}`);
      await sleep(1000);
    }
  }
  log('node registered and ready');
  startKubeletApi(paths, log);
  // Every 2 s: the controller manager's node-monitor-grace-period is 15 s.
  void loop('lease', 2000, renewLease);
  // Status every 30 s, and at once when the node is not Ready in the API: after the agent was stopped
  // (node-down) the node lifecycle controller set it Unknown, and only the node sets it back.
  let statusAt = Date.now();
  void loop('node status', 2000, async () => {
    const ready = (await core.readNode({ name: NODE_NAME })).status?.conditions?.find((c) => c.type === 'Ready')?.status;
    if (ready === 'True' && Date.now() - statusAt < 30_000) return;
    await core.patchNodeStatus({ name: NODE_NAME, body: { status: { conditions: nodeStatus().conditions } } }, mergePatch);
    statusAt = Date.now();
  });
  void loop('storage class', 30_000, () => ensureStorageClass(storage));
  void loop('provisioner', 1000, () => provisionOnce(core, paths, SELF, log));
  void loop('pods', 1000, syncPods);
}

const stop = (): void => {
  // Containers keep running: a restarted agent adopts them; cluster:down stops them.
  log('node agent stopping');
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
void main();
