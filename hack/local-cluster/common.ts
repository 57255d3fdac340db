// Shared constants, paths and process helpers of the local cluster.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, readdirSync, writeFileSync, rmSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, waitFor } from '../lib.js';

export const K8S_VERSION = 'v1.34.4';
/** Node that kube-proxy (one process for the whole machine) names as its own. */
export const PROXY_NODE_NAME = 'rro-node-1';
export const BRIDGE = 'rro0';
export const BRIDGE_IP = '198.18.0.1';
export const POD_CIDR = '198.18.0.0/16';
export const POD_PREFIX_LEN = 16;
export const SERVICE_CIDR = '198.19.0.0/16';
export const KUBERNETES_SERVICE_IP = '198.19.0.1';
export const APISERVER_PORT = 6443;
export const ETCD_CLIENT_PORT = 32379;
export const ETCD_PEER_PORT = 32380;
/** The object store's S3 port, on the bridge address (and forwarded from 127.0.0.1). */
export const S3_PORT = 8333;
export const FW_CHAIN = 'RRO-FORWARD';
/** Environment variable set on every process the cluster starts; its value is the cluster dir. */
export const OWNER_ENV = 'RRO_CLUSTER_DIR';

/** One node of the local cluster: a node agent process with its own Node, Lease, address and pod IP range. */
export interface NodeSpec {
  name: string;
  zone: string;
  /** 1-based */
  index: number;
  /** InternalIP: a /32 on the bridge, where this node's kubelet API listens */
  ip: string;
  /** pod addresses of this node: 198.18.<first>.0 ... 198.18.<last>.255 (same /16 and bridge as the others) */
  podRange: { first: number; last: number };
}

export const ZONES = ['zone-a', 'zone-b', 'zone-c'];

/** How many nodes cluster:up starts: RRO_NODES (default 3). */
export function nodeCount(): number {
  const n = Number(process.env.RRO_NODES ?? '3');
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`RRO_NODES must be an integer from 1 to 200 (got ${process.env.RRO_NODES})`);
  return n;
}

/** rro-node-1 ... rro-node-N, zones zone-a, zone-b, zone-c (round robin), disjoint pod ranges (198.18.0.x is the host's). */
export function nodeSpecs(n = nodeCount()): NodeSpec[] {
  const block = 2 ** Math.floor(Math.log2(256 / (n + 1)));
  return Array.from({ length: n }, (_, k) => ({
    name: `rro-node-${k + 1}`,
    zone: ZONES[k % ZONES.length]!,
    index: k + 1,
    ip: `198.18.0.${10 + k + 1}`,
    podRange: { first: (k + 1) * block, last: (k + 2) * block - 1 },
  }));
}

/** The nodes of the running cluster (recorded by cluster:up in run/nodes.json), else the default ones. */
export function clusterNodes(paths: ClusterPaths = clusterPaths()): NodeSpec[] {
  try {
    return JSON.parse(readFileSync(join(paths.run, 'nodes.json'), 'utf8')) as NodeSpec[];
  } catch {
    return nodeSpecs();
  }
}

export function findNode(name: string, paths: ClusterPaths = clusterPaths()): NodeSpec {
  const node = clusterNodes(paths).find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name} in this cluster (nodes: ${clusterNodes(paths).map((n) => n.name).join(', ')})`);
  return node;
}

/**
 * What runs a node: `kubelet` (the default: a real kubelet with its own containerd and runc) or
 * `agent` (the project's own node agent, node-agent/, which runs each pod's server as a host process).
 * RRO_NODE_KIND chooses for cluster:up; a running cluster records its kind in run/node-kind.
 */
export type NodeKind = 'kubelet' | 'agent';

export function nodeKindWanted(): NodeKind {
  const kind = process.env.RRO_NODE_KIND ?? 'kubelet';
  if (kind !== 'kubelet' && kind !== 'agent') throw new Error(`RRO_NODE_KIND must be kubelet or agent (got ${kind})`);
  return kind;
}

export function clusterNodeKind(paths: ClusterPaths = clusterPaths()): NodeKind {
  try {
    return readFileSync(join(paths.run, 'node-kind'), 'utf8').trim() as NodeKind;
  } catch {
    return nodeKindWanted();
  }
}

/** Daemon name (pid file, log) of a node's agent. */
export const agentName = (node: string): string => `node-agent-${node}`;

export interface ClusterPaths {
  root: string;
  kubeconfig: string;
  pki: string;
  logs: string;
  run: string;
  pods: string;
  volumes: string;
  etcd: string;
  bin: string;
  apiServer: string;
}

export function cacheRoot(): string {
  return process.env.RRO_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'redis-replication-operator');
}

export function clusterPaths(root = process.env.RRO_CLUSTER_DIR_OVERRIDE ?? join(repoRoot, '.cluster')): ClusterPaths {
  return {
    root,
    kubeconfig: join(root, 'kubeconfig'),
    // Certificates are kept outside .cluster (like the binaries), so a kubeconfig stays valid across down/up.
    pki: join(cacheRoot(), 'pki'),
    logs: join(root, 'logs'),
    run: join(root, 'run'),
    pods: join(root, 'pods'),
    volumes: join(root, 'volumes'),
    etcd: join(root, 'etcd'),
    bin: join(root, 'bin'),
    apiServer: `https://${BRIDGE_IP}:${APISERVER_PORT}`,
  };
}

export function cacheBinDir(): string {
  return join(cacheRoot(), `k8s-${K8S_VERSION}`, 'bin');
}

export function log(msg: string): void {
  process.stderr.write(`[cluster] ${msg}\n`);
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

/** Whether the process still runs. A zombie leader counts only while other threads of it are still
 * exiting: they hold its file descriptors (a Go daemon's listening socket) until the last one is gone. */
export function pidAlive(pid: number): boolean {
  if (!pid || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state === 'X') return false;
    return state !== 'Z' || readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** Start time (clock ticks since boot) of a process, to tell a reused pid apart. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Pids of every live process that belongs to this cluster dir: its environment says so, or its
 * output goes to a log under the dir. redis-server overwrites its environment with its process
 * title, so a container process is found by its log file. */
export function ownedPids(root: string): number[] {
  const needle = `${OWNER_ENV}=${root}\0`;
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (((env + '\0').includes(needle) || logsUnder(pid, root)) && pidAlive(pid)) out.push(pid);
    } catch {
      /* gone or not readable */
    }
  }
  return out;
}

function logsUnder(pid: number, root: string): boolean {
  return [1, 2].some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${root}/`);
    } catch {
      return false;
    }
  });
}

/** Cluster dirs of every live process started by any checkout's cluster (only one cluster fits on a machine). */
export function runningClusterRoots(): string[] {
  const roots = new Set<string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${e}/environ`, 'latin1').split('\0');
      const hit = env.find((v) => v.startsWith(`${OWNER_ENV}=`));
      if (hit && pidAlive(Number(e))) roots.add(hit.slice(OWNER_ENV.length + 1));
    } catch {
      /* gone */
    }
  }
  return [...roots];
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Signals the process group led by pid, else (no such group) the process alone. */
export function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  return signal(-pid, sig) || signal(pid, sig);
}

/** Waits (at most timeoutMs) until none of the pids runs; whether they are all gone. */
export async function untilGone(pids: number[], timeoutMs: number, intervalMs = 50): Promise<boolean> {
  return waitFor(() => !pids.some(pidAlive), { timeoutMs, intervalMs }).catch(() => false);
}

/** SIGTERM (and SIGCONT, for a stopped one), wait, SIGKILL. Resolves once every pid is gone (or 5 s after the SIGKILL).
 * With `group`, each pid's process group is signalled. */
export async function stopPids(pids: number[], graceMs = 5000, opts: { group?: boolean } = {}): Promise<void> {
  const send = opts.group ? signalGroup : signal;
  for (const p of pids) {
    send(p, 'SIGTERM');
    send(p, 'SIGCONT');
  }
  await untilGone(pids, graceMs, 100);
  for (const p of pids) if (pidAlive(p)) send(p, 'SIGKILL');
  await untilGone(pids, 5000);
}

export interface Daemon { name: string; cmd: string; args: string[]; env?: Record<string, string>; cwd?: string }

/** Starts a detached daemon with output to logs/<name>.log and its pid in run/<name>.pid; records its argv in run/<name>.json. */
export function startDaemon(paths: ClusterPaths, d: Daemon): number {
  ensureDir(paths.logs);
  ensureDir(paths.run);
  const fd = openSync(join(paths.logs, `${d.name}.log`), 'a');
  const child = spawn(d.cmd, d.args, {
    cwd: d.cwd ?? repoRoot,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...d.env, [OWNER_ENV]: paths.root },
  });
  child.unref();
  const pid = child.pid!;
  writeFileSync(join(paths.run, `${d.name}.pid`), String(pid));
  writeFileSync(join(paths.run, `${d.name}.json`), JSON.stringify(d));
  return pid;
}

export function daemonPid(paths: ClusterPaths, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(paths.run, `${name}.pid`), 'utf8').trim());
    if (!pidAlive(pid)) return undefined;
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    return (env + '\0').includes(`${OWNER_ENV}=${paths.root}\0`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function readDaemon(paths: ClusterPaths, name: string): Daemon | undefined {
  try {
    return JSON.parse(readFileSync(join(paths.run, `${name}.json`), 'utf8')) as Daemon;
  } catch {
    return undefined;
  }
}

export function rmrf(p: string): void {
  rmSync(p, { recursive: true, force: true });
}
