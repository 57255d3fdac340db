// Bringing the whole local cluster up and down.
import { existsSync, readFileSync, symlinkSync, writeFileSync, unlinkSync, lstatSync, openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, run, waitFor } from '../lib.js';
import {
  agentName, clusterNodeKind, clusterNodes, nodeKindWanted, nodeSpecs, startDaemon, cacheBinDir, cacheRoot, clusterPaths, pidAlive, runningClusterRoots, daemonPid, ensureDir, log, ownedPids, rmrf, stopPids,
  type ClusterPaths, type NodeKind, type NodeSpec,
} from './common.js';
import { containerdName, kubeletName, startKubeletNode, stopKubeletNodes } from './kubelet-node.js';
import { ensureCerts, writeKubeconfigs } from './certs.js';
import { ensureBridge, teardownNetwork } from './net.js';
import { isNodeDown, nodeUp } from './faults.js';
import { OBJECT_STORE, ensureWeed, objectStoreEnv, objectStoreReady, objectStoreRunning, objectStoreSpec, s3EnvFile } from './object-store.js';
import { DAEMONS, alive, apiGet, apiReady, etcdHealthy, nodeAgentSpec, startNamed, type DaemonName } from './control-plane.js';
import { prometheusWanted, startPrometheus } from './prometheus.js';

const NEEDED = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubectl', 'kubelet', 'crictl', 'prometheus', 'promtool'];
const PROVISIONER = 'provisioner';

/** The folder with the Kubernetes binaries; builds them (cached) when any is missing. */
export function ensureBinaries(): string {
  const bin = process.env.RRO_KUBE_BIN ?? cacheBinDir();
  if (NEEDED.every((b) => existsSync(join(bin, b)))) return bin;
  log('Kubernetes binaries missing: building them (cached afterwards; a cold build takes about 10 minutes)');
  const r = spawnSync('bash', [join(repoRoot, 'hack/local-cluster/build-binaries.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error('build-binaries.sh failed');
  const lines = r.stdout.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}

/** The Redis 6.2 and Valkey 8.1 servers the node agent runs for those images (fetched once, cached). */
function ensureServers(): void {
  const r = spawnSync('bash', [join(repoRoot, 'hack/local-cluster/fetch-servers.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('fetch-servers.sh failed');
}

export interface ImageArchive { name: string; file: string }

/** The images of the kubelet nodes (built once, cached: build-images.sh), and the operator's image
 * when `npm run image:build` has made one. */
export function ensureImages(): ImageArchive[] {
  const r = spawnSync('bash', [join(repoRoot, 'hack/local-cluster/build-images.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error('build-images.sh failed');
  const dir = r.stdout.trim().split('\n').pop()!.trim();
  const images = readFileSync(join(dir, 'images.txt'), 'utf8').trim().split('\n').map((l) => {
    const [name, file] = l.split(' ');
    return { name: name!, file: join(dir, file!) };
  });
  return [...images, ...operatorImage()];
}

/** Where `npm run image:build` leaves the operator image (docker-archive), by the name the chart gives it. */
export const OPERATOR_IMAGE = 'docker.io/library/redis-replication-operator:dev';
export const operatorImageArchive = (): string => join(cacheRoot(), 'operator-image', 'redis-replication-operator-dev.tar');

function operatorImage(): ImageArchive[] {
  return existsSync(operatorImageArchive()) ? [{ name: OPERATOR_IMAGE, file: operatorImageArchive() }] : [];
}

/** Whether every process of the node runs (and it was not taken down by the node-down fault). */
function nodeRunning(paths: ClusterPaths, kind: NodeKind, node: string): boolean {
  if (isNodeDown(node, paths)) return false;
  if (kind === 'agent') return daemonPid(paths, agentName(node)) !== undefined;
  return [containerdName(node), kubeletName(node), PROVISIONER].every((d) => daemonPid(paths, d) !== undefined);
}

async function nodeReady(paths: ClusterPaths, name: string): Promise<boolean> {
  const r = await apiGet(paths, `/api/v1/nodes/${name}`);
  if (r.status !== 200) return false;
  const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function healthy(paths: ClusterPaths): Promise<boolean> {
  if (!existsSync(paths.kubeconfig)) return false;
  if (!DAEMONS.every((d) => alive(paths, d))) return false;
  if (!objectStoreRunning(paths)) return false;
  const nodes = clusterNodes(paths);
  if (clusterNodeKind(paths) !== nodeKindWanted()) return false;
  if (nodes.length !== nodeSpecs().length || !nodes.every((n) => nodeRunning(paths, clusterNodeKind(paths), n.name))) return false;
  if (!(await apiReady(paths))) return false;
  for (const n of nodes) if (!(await nodeReady(paths, n.name))) return false;
  return true;
}

function stepTimer(): (msg: string) => void {
  const t0 = Date.now();
  return (msg) => log(`${msg} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function linkBin(paths: ClusterPaths, bin: string): void {
  try {
    if (lstatSync(paths.bin)) unlinkSync(paths.bin);
  } catch { /* absent */ }
  symlinkSync(bin, paths.bin);
}

/** One cluster:up/down at a time on this machine (concurrent test runs call up together). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(cacheRoot(), { recursive: true });
  const lock = join(cacheRoot(), 'cluster.lock');
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number((() => { try { return readFileSync(lock, 'utf8'); } catch { return '0'; } })());
      if (holder && pidAlive(holder) && holder !== process.pid) {
        if (!announced) log(`waiting for another cluster:up/down (pid ${holder})`);
        announced = true;
        await sleep(300);
      } else {
        try { unlinkSync(lock); } catch { /* raced */ }
      }
    }
  }
  try {
    return await fn();
  } finally {
    try { unlinkSync(lock); } catch { /* gone */ }
  }
}

/** Brings the cluster up, or returns quickly when it already runs and is healthy. */
export async function up(paths = clusterPaths()): Promise<void> {
  return withLock(() => upLocked(paths));
}

async function upLocked(paths: ClusterPaths): Promise<void> {
  await clusterUp(paths);
  // RRO_PROMETHEUS=1: also the test bed's Prometheus, with the chart's rules as they are now.
  if (prometheusWanted()) await startPrometheus(paths, ensureBinaries());
}

async function clusterUp(paths: ClusterPaths): Promise<void> {
  const step = stepTimer();
  if (await healthy(paths)) {
    step('cluster already running and healthy');
    return;
  }
  const bin = ensureBinaries();
  const weed = ensureWeed();
  const kind = nodeKindWanted();
  const images = kind === 'kubelet' ? ensureImages() : [];
  if (kind === 'agent') ensureServers();
  step(kind === 'kubelet' ? `${images.length} images ready` : 'servers ready');
  // Partly alive: etcd (the state) is fine, some other daemons died. Restart only what is missing.
  const sameNodes = clusterNodes(paths).length === nodeSpecs().length && (!existsSync(paths.run) || clusterNodeKind(paths) === kind);
  if (!sameNodes) log(`the running cluster has ${clusterNodes(paths).length} ${clusterNodeKind(paths)} node(s), ${nodeSpecs().length} ${kind} wanted (RRO_NODES, RRO_NODE_KIND): starting afresh`);
  const partial = sameNodes && existsSync(paths.kubeconfig) && existsSync(join(paths.pki, 'admin.kubeconfig')) && alive(paths, 'etcd') && (await etcdHealthy());
  if (partial) log('cluster partly running: restarting the processes that are missing');
  if (!partial) {
    for (const other of runningClusterRoots().filter((r) => r !== paths.root)) {
      log(`stopping the local cluster of ${other} first (one cluster per machine: same bridge, ports and addresses)`);
      await downLocked(clusterPaths(other), { quiet: true });
    }
    if (existsSync(paths.root) || ownedPids(paths.root).length > 0) {
      log('found state of an earlier cluster that is not healthy: cleaning it up first');
      await downLocked(paths, { quiet: true });
    }
    ensureDir(paths.root);
    ensureDir(paths.run);
    ensureDir(paths.logs);
    linkBin(paths, bin);
    await ensureCerts(paths);
    writeKubeconfigs(paths);
    step('certificates ready');
  }
  const nodes = partial ? clusterNodes(paths) : nodeSpecs();
  await ensureBridge(paths, nodes.map((n) => n.ip));
  step(`bridge ready`);
  const start = async (name: DaemonName, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
    if (!alive(paths, name)) {
      startNamed(paths, bin, name);
      log(`started ${name} (log: ${join(paths.logs, `${name}.log`)})`);
    }
    await waitFor(ready, {
      timeoutMs, intervalMs: 200, what: `${name} to be ready`,
      check: () => {
        if (!alive(paths, name)) throw new Error(`${name} exited; see ${join(paths.logs, `${name}.log`)}:\n${tail(join(paths.logs, `${name}.log`))}`);
      },
    });
    step(`${name} ready`);
  };
  await start('etcd', etcdHealthy, 60_000);
  await start('kube-apiserver', () => apiReady(paths), 180_000);
  writeFileSync(paths.kubeconfig, readFileSync(join(paths.pki, 'admin.kubeconfig')), { mode: 0o600 });
  await start('kube-controller-manager', async () => alive(paths, 'kube-controller-manager'), 60_000);
  await start('kube-scheduler', async () => alive(paths, 'kube-scheduler'), 60_000);
  await start('kube-proxy', async () => alive(paths, 'kube-proxy'), 60_000);
  await startNodes(paths, bin, kind, nodes, images);
  await startObjectStore(paths, weed);
  step(`object store ready: ${s3EnvFile(paths)}`);
  await waitFor(async () => (await apiGet(paths, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    { timeoutMs: 120_000, intervalMs: 200, what: 'the default ServiceAccount' });
  await waitFor(async () => (await apiGet(paths, '/apis/storage.k8s.io/v1/storageclasses/rro-hostpath')).status === 200,
    { timeoutMs: 60_000, intervalMs: 200, what: 'the default StorageClass' });
  step(`cluster ready: kubeconfig ${paths.kubeconfig}, kubectl ${join(paths.bin, 'kubectl')}`);
}

/** Starts the object store (unless it runs) and waits until its bucket answers. */
async function startObjectStore(paths: ClusterPaths, weed: string): Promise<void> {
  if (!daemonPid(paths, OBJECT_STORE)) {
    startDaemon(paths, objectStoreSpec(paths, weed));
    log(`started ${OBJECT_STORE} (SeaweedFS; log: ${join(paths.logs, `${OBJECT_STORE}.log`)})`);
  }
  const env = objectStoreEnv(paths);
  await waitFor(() => objectStoreReady(env), {
    timeoutMs: 60_000, intervalMs: 200, what: `the object store's bucket ${env.S3_BUCKET}`,
    check: () => {
      const logFile = join(paths.logs, `${OBJECT_STORE}.log`);
      if (!daemonPid(paths, OBJECT_STORE)) throw new Error(`${OBJECT_STORE} exited; see ${logFile}:\n${tail(logFile)}`);
    },
  });
}

/** Starts what is missing of every node (and brings back a node-down one); resolves when every node is Ready. */
async function startNodes(paths: ClusterPaths, bin: string, kind: NodeKind, nodes: NodeSpec[], images: ImageArchive[]): Promise<void> {
  writeFileSync(join(paths.run, 'nodes.json'), JSON.stringify(nodes, null, 2));
  writeFileSync(join(paths.run, 'node-kind'), kind);
  const t0 = Date.now();
  for (const n of nodes) {
    if (isNodeDown(n.name, paths)) {
      log(`${n.name} was taken down (cluster:fault node-down): bringing it back`);
      await nodeUp(n.name, paths);
    }
  }
  const main = (n: NodeSpec): string => (kind === 'agent' ? agentName(n.name) : kubeletName(n.name));
  if (kind === 'agent') {
    for (const n of nodes.filter((x) => !daemonPid(paths, agentName(x.name)))) {
      startDaemon(paths, nodeAgentSpec(bin, n));
      log(`started ${agentName(n.name)} (${n.zone}, ${n.ip}; log: ${join(paths.logs, `${agentName(n.name)}.log`)})`);
    }
  } else {
    if (!daemonPid(paths, PROVISIONER)) {
      startDaemon(paths, { name: PROVISIONER, cmd: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'hack/local-cluster/provisioner-daemon.ts')] });
    }
    await Promise.all(nodes.map(async (n) => {
      await startKubeletNode(paths, bin, n, images);
      log(`${n.name} (${n.zone}, ${n.ip}): containerd and kubelet running (logs: ${join(paths.logs, `${kubeletName(n.name)}.log`)})`);
    }));
  }
  await Promise.all(nodes.map((n) => waitFor(() => nodeReady(paths, n.name), {
    timeoutMs: 120_000, intervalMs: 200, what: `node ${n.name} to be Ready`,
    check: () => {
      const logFile = join(paths.logs, `${main(n)}.log`);
      if (!daemonPid(paths, main(n))) throw new Error(`${main(n)} exited; see ${logFile}:\n${tail(logFile)}`);
    },
  })));
  log(`${nodes.length} ${kind} node(s) Ready: ${nodes.map((n) => `${n.name} (${n.zone})`).join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Stops every process of the cluster and removes its namespaces, links, rules, mounts and files. */
export async function down(paths = clusterPaths(), opts: { quiet?: boolean } = {}): Promise<void> {
  return withLock(() => downLocked(paths, opts));
}

async function downLocked(paths: ClusterPaths, opts: { quiet?: boolean }): Promise<void> {
  const step = stepTimer();
  // The nodes first, so that they restart nothing; then every other process of ours.
  const agents = clusterNodes(paths).map((n) => daemonPid(paths, agentName(n.name))).filter((p): p is number => p !== undefined);
  if (agents.length > 0) await stopPids(agents, 3000);
  await stopKubeletNodes(paths, clusterNodes(paths));
  for (let round = 0; round < 3; round++) {
    const pids = ownedPids(paths.root);
    if (pids.length === 0) break;
    await stopPids(pids, 3000);
  }
  if (!opts.quiet) step('processes stopped');
  // Mounts under the cluster dir (none are expected to outlive their processes).
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(paths.root));
  for (const m of mounts.reverse()) await run('umount', ['-l', m]);
  let kubeProxy: string | undefined = join(paths.bin, 'kube-proxy');
  if (!existsSync(kubeProxy)) kubeProxy = existsSync(join(cacheBinDir(), 'kube-proxy')) ? join(cacheBinDir(), 'kube-proxy') : undefined;
  await teardownNetwork(paths, kubeProxy);
  if (!opts.quiet) step('network namespaces, links and iptables rules removed');
  rmrf(paths.root);
  await sleep(0);
  if (!opts.quiet) step(`removed ${paths.root}`);
}
