// Bringing the whole local cluster up and down.
import { existsSync, readFileSync, symlinkSync, writeFileSync, unlinkSync, lstatSync, openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, run, waitFor } from '../lib.js';
import {
  agentName, clusterNodes, nodeSpecs, startDaemon, cacheBinDir, cacheRoot, clusterPaths, pidAlive, runningClusterRoots, daemonPid, ensureDir, log, ownedPids, rmrf, stopPids,
  type ClusterPaths, type NodeSpec,
} from './common.js';
import { ensureCerts, writeKubeconfigs } from './certs.js';
import { ensureBridge, teardownNetwork } from './net.js';
import { isNodeDown, nodeUp } from './faults.js';
import { DAEMONS, alive, apiGet, apiReady, etcdHealthy, nodeAgentSpec, startNamed, type DaemonName } from './control-plane.js';

const NEEDED = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubectl'];

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

async function nodeReady(paths: ClusterPaths, name: string): Promise<boolean> {
  const r = await apiGet(paths, `/api/v1/nodes/${name}`);
  if (r.status !== 200) return false;
  const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function healthy(paths: ClusterPaths): Promise<boolean> {
  if (!existsSync(paths.kubeconfig)) return false;
  if (!DAEMONS.every((d) => alive(paths, d))) return false;
  const nodes = clusterNodes(paths);
  if (nodes.length !== nodeSpecs().length || !nodes.every((n) => daemonPid(paths, agentName(n.name)) && !isNodeDown(n.name, paths))) return false;
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
  const step = stepTimer();
  if (await healthy(paths)) {
    step('cluster already running and healthy');
    return;
  }
  const bin = ensureBinaries();
  ensureServers();
  // Partly alive: etcd (the state) is fine, some other daemons died. Restart only what is missing.
  const sameNodes = clusterNodes(paths).length === nodeSpecs().length;
  if (!sameNodes) log(`the running cluster has ${clusterNodes(paths).length} node(s), ${nodeSpecs().length} wanted (RRO_NODES): starting afresh`);
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
  await startAgents(paths, bin, nodes);
  await waitFor(async () => (await apiGet(paths, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    { timeoutMs: 120_000, intervalMs: 200, what: 'the default ServiceAccount' });
  await waitFor(async () => (await apiGet(paths, '/apis/storage.k8s.io/v1/storageclasses/rro-hostpath')).status === 200,
    { timeoutMs: 60_000, intervalMs: 200, what: 'the default StorageClass' });
  step(`cluster ready: kubeconfig ${paths.kubeconfig}, kubectl ${join(paths.bin, 'kubectl')}`);
}

/** Starts the agent of every node that has none running (and brings back a node-down one); resolves when every node is Ready. */
async function startAgents(paths: ClusterPaths, bin: string, nodes: NodeSpec[]): Promise<void> {
  writeFileSync(join(paths.run, 'nodes.json'), JSON.stringify(nodes, null, 2));
  for (const n of nodes) {
    if (isNodeDown(n.name, paths) && daemonPid(paths, agentName(n.name))) {
      log(`${n.name} was taken down (cluster:fault node-down): bringing it back`);
      await nodeUp(n.name, paths);
    }
    if (daemonPid(paths, agentName(n.name))) continue;
    startDaemon(paths, nodeAgentSpec(bin, n));
    log(`started ${agentName(n.name)} (${n.zone}, ${n.ip}; log: ${join(paths.logs, `${agentName(n.name)}.log`)})`);
  }
  const t0 = Date.now();
  await Promise.all(nodes.map((n) => waitFor(() => nodeReady(paths, n.name), {
    timeoutMs: 120_000, intervalMs: 200, what: `node ${n.name} to be Ready`,
    check: () => {
      const logFile = join(paths.logs, `${agentName(n.name)}.log`);
      if (!daemonPid(paths, agentName(n.name))) throw new Error(`${agentName(n.name)} exited; see ${logFile}:\n${tail(logFile)}`);
    },
  })));
  log(`${nodes.length} node(s) Ready: ${nodes.map((n) => `${n.name} (${n.zone})`).join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
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
  // The agent first, so that it restarts nothing; then every other process of ours.
  const agents = clusterNodes(paths).map((n) => daemonPid(paths, agentName(n.name))).filter((p): p is number => p !== undefined);
  if (agents.length > 0) await stopPids(agents, 3000);
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
