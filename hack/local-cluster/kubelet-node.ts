// A node of the local cluster as a real one: a kubelet with its own containerd (own root, state and
// socket) and runc, pods in network namespaces made by the CNI bridge plugin on the cluster bridge,
// cgroups under a root of the node's own. Everything lives under .cluster/nodes/<node>/ and goes away
// with cluster:down.
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { run, waitFor } from '../lib.js';
import {
  BRIDGE, BRIDGE_IP, POD_CIDR, SERVICE_CIDR, cacheRoot, daemonPid, ensureDir, log, pidAlive, startDaemon, stopPids,
  type ClusterPaths, type Daemon, type NodeSpec,
} from './common.js';
import { ensureNodeCert, kubeconfigYaml } from './certs.js';

export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';
export const containerdName = (node: string): string => `containerd-${node}`;
export const kubeletName = (node: string): string => `kubelet-${node}`;
/** Pod cgroups of a node live under this root in every cgroup v1 controller (kubelet --cgroup-root). */
const cgroupRoot = (node: string): string => `/rro-${node}`;
const CGROUP_V1 = '/sys/fs/cgroup';
/** The kubelet writes symlinks to every container's log here, whatever its root dir. */
const CONTAINER_LOG_LINKS = '/var/log/containers';
/** containerd keeps its shims' sockets under /run/containerd/s whatever its state dir; a marker in the
 * cache says the folder was made by this cluster (and so is removed with it). */
const RUN_CONTAINERD = '/run/containerd';
const RUN_CONTAINERD_OURS = (): string => join(cacheRoot(), 'run-containerd-made-by-cluster');
/** The CNI network namespaces (/run/netns/cni-*) that existed before the first node started: any
 * other is a pod's of ours, and one left when its sandbox's teardown failed is removed with the nodes. */
const CNI_NETNS_BEFORE = (paths: ClusterPaths): string => join(paths.root, 'cni-netns-before.json');
const cniNetns = (): string[] => {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith('cni-'));
  } catch {
    return [];
  }
};

export const nodeDir = (paths: ClusterPaths, node: string): string => join(paths.root, 'nodes', node);
export const criSocket = (paths: ClusterPaths, node: string): string => join(nodeDir(paths, node), 'containerd.sock');

/** Runs crictl against the node's containerd; throws with its stderr when it fails. */
export function crictl(paths: ClusterPaths, node: string, args: string[]): string {
  const r = spawnSync(join(paths.bin, 'crictl'), ['--runtime-endpoint', `unix://${criSocket(paths, node)}`, '--timeout', '10s', ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')} on ${node} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/** Runs ctr (containerd's own client) in the node's k8s.io namespace. */
export async function ctr(paths: ClusterPaths, node: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run('ctr', ['--address', criSocket(paths, node), '--namespace', 'k8s.io', ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} on ${node} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function containerdConfig(paths: ClusterPaths, node: NodeSpec): string {
  const dir = nodeDir(paths, node.name);
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${criSocket(paths, node.name)}"

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # This machine lacks CAP_SYS_RESOURCE: a sandbox's negative oom_score_adj would be refused.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "${dir}/containerd/state/runc"
        SystemdCgroup = false
  # No registry is reachable from here: every pull goes to a closed port on loopback and fails at once
  # (ErrImagePull), as a missing image does on a real cluster; images come from cluster:up and image:build.
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:9"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."*"]
    endpoint = ["http://127.0.0.1:9"]
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
`;
}

/** The bridge plugin attaches each pod to the cluster bridge with an address of the node's range;
 * the only route out is to the Service range through the host (no default route, as before). */
function cniConfig(paths: ClusterPaths, node: NodeSpec): string {
  const [net] = POD_CIDR.split('/');
  const prefix = net!.split('.').slice(0, 2).join('.');
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'rro',
    plugins: [{
      type: 'bridge', bridge: BRIDGE, isGateway: false, ipMasq: false, hairpinMode: true,
      ipam: {
        type: 'host-local',
        dataDir: join(nodeDir(paths, node.name), 'cni-ipam'),
        ranges: [[{ subnet: POD_CIDR, rangeStart: `${prefix}.${node.podRange.first}.1`, rangeEnd: `${prefix}.${node.podRange.last}.254`, gateway: BRIDGE_IP }]],
        routes: [{ dst: SERVICE_CIDR, gw: BRIDGE_IP }],
      },
    }],
  }, null, 2);
}

function kubeletConfig(paths: ClusterPaths, node: NodeSpec): string {
  const dir = nodeDir(paths, node.name);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${node.ip}
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${join(paths.pki, 'ca.crt')}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://${criSocket(paths, node.name)}
# The machine's cgroups are v1 (with a v2 hierarchy beside them): cgroupfs, each node under its own root.
cgroupDriver: cgroupfs
cgroupRoot: ${cgroupRoot(node.name)}
failSwapOn: false
podLogsDir: ${dir}/pod-logs
# Secret and ConfigMap volumes of running pods are refreshed within seconds (TLS renewal, password copy).
syncFrequency: 5s
nodeStatusUpdateFrequency: 2s
nodeStatusReportFrequency: 10s
# The Lease is renewed every 2 s: the controller manager's grace period is 15 s.
nodeLeaseDurationSeconds: 8
# Images come only from cluster:up and image:build (no registry): never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
maxPods: 250
serializeImagePulls: false
volumePluginDir: ${dir}/volume-plugins
resolvConf: /etc/resolv.conf
`;
}

/** Where each cgroup v1 controller is mounted (a comma-joined name such as cpu,cpuacct included);
 * with `unified`, the v2 hierarchy beside them too (runc mirrors each container's cgroup there). */
function cgroupV1Mounts(opts: { unified?: boolean } = {}): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n')
    .map((l) => l.split(' '))
    .filter((f) => (f[2] === 'cgroup' || (opts.unified && f[2] === 'cgroup2')) && f[1]?.startsWith(`${CGROUP_V1}/`))
    .map((f) => f[1]!);
}

/** Starts the node's containerd (if not running), loads the images, then its kubelet. */
export async function startKubeletNode(paths: ClusterPaths, bin: string, node: NodeSpec, images: { name: string; file: string }[]): Promise<void> {
  const dir = ensureDir(nodeDir(paths, node.name));
  for (const sub of ['cni', 'cni-ipam', 'pod-logs', 'kubelet', 'volume-plugins', 'containerd']) ensureDir(join(dir, sub));
  writeFileSync(join(dir, 'containerd.toml'), containerdConfig(paths, node));
  writeFileSync(join(dir, 'cni', '10-rro.conflist'), cniConfig(paths, node));
  writeFileSync(join(dir, 'kubelet.yaml'), kubeletConfig(paths, node));
  const cert = await ensureNodeCert(paths, node.name);
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigYaml(paths, cert), { mode: 0o600 });
  // The kubelet refuses a cgroup root that does not exist.
  for (const m of cgroupV1Mounts()) ensureDir(join(m, cgroupRoot(node.name)));
  if (!existsSync(RUN_CONTAINERD)) writeFileSync(RUN_CONTAINERD_OURS(), '');
  if (!existsSync(CNI_NETNS_BEFORE(paths))) writeFileSync(CNI_NETNS_BEFORE(paths), JSON.stringify(cniNetns()));
  if (!daemonPid(paths, containerdName(node.name))) {
    startDaemon(paths, { name: containerdName(node.name), cmd: 'containerd', args: ['--config', join(dir, 'containerd.toml')] });
  }
  await waitFor(() => existsSync(criSocket(paths, node.name)) && run('ctr', ['--address', criSocket(paths, node.name), 'version'], { timeoutMs: 5000 }).then((r) => r.code === 0), {
    timeoutMs: 60_000, intervalMs: 200, what: `containerd of ${node.name}`,
    check: () => {
      if (!daemonPid(paths, containerdName(node.name))) throw new Error(`containerd of ${node.name} exited; see ${join(paths.logs, `${containerdName(node.name)}.log`)}`);
    },
  });
  await importImages(paths, node.name, images);
  if (!daemonPid(paths, kubeletName(node.name))) startDaemon(paths, kubeletSpec(paths, bin, node));
}

export function kubeletSpec(paths: ClusterPaths, bin: string, node: NodeSpec): Daemon {
  const dir = nodeDir(paths, node.name);
  return {
    name: kubeletName(node.name), cmd: join(bin, 'kubelet'), args: [
      `--config=${join(dir, 'kubelet.yaml')}`, `--kubeconfig=${join(dir, 'kubeconfig')}`, `--root-dir=${join(dir, 'kubelet')}`,
      `--hostname-override=${node.name}`, `--node-ip=${node.ip}`,
      `--node-labels=topology.kubernetes.io/zone=${node.zone},topology.kubernetes.io/region=rro,rro.local/node=true`,
      '--v=1',
    ],
  };
}

/** Imports every image archive the node does not have yet: a name it has from another archive (a
 * rebuilt image) is imported again, and `force` imports in any case (the operator image, rebuilt under
 * the same file). The node's loaded.json remembers which archive each name came from. */
export async function importImages(paths: ClusterPaths, node: string, images: { name: string; file: string }[], opts: { force?: boolean } = {}): Promise<void> {
  const record = join(nodeDir(paths, node), 'loaded.json');
  let loaded: Record<string, string> = {};
  try {
    loaded = JSON.parse(readFileSync(record, 'utf8')) as Record<string, string>;
  } catch { /* none yet */ }
  const have = new Set((await ctr(paths, node, ['images', 'ls', '-q'])).split('\n').map((l) => l.trim()));
  for (const img of images) {
    if (!opts.force && have.has(img.name) && loaded[img.name] === img.file) continue;
    await ctr(paths, node, ['images', 'import', img.file], 300_000);
    loaded[img.name] = img.file;
    writeFileSync(record, JSON.stringify(loaded, null, 2));
  }
}

/** Stops every kubelet node: kubelets first (nothing restarts), then every pod (CNI releases its
 * address and network namespace), then containerd, and whatever a container left: shims, cgroups,
 * mounts and log links. */
export async function stopKubeletNodes(paths: ClusterPaths, nodes: NodeSpec[]): Promise<void> {
  const kubelets = nodes.map((n) => daemonPid(paths, kubeletName(n.name))).filter((p): p is number => p !== undefined);
  await stopPids(kubelets, 5000);
  await Promise.all(nodes.map(async (n) => {
    const pid = daemonPid(paths, containerdName(n.name));
    if (!pid) return;
    process.kill(pid, 'SIGCONT');
    try {
      crictl(paths, n.name, ['rmp', '--all', '--force']);
    } catch (err) {
      log(`warning: ${err instanceof Error ? err.message : String(err)}`);
    }
  }));
  // Container processes are found by their cgroup: shims and their children by their socket address.
  const ours = (pid: number): boolean => {
    try {
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (nodes.some((n) => cg.includes(`${cgroupRoot(n.name)}/`))) return true;
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${paths.root}/nodes/`);
    } catch {
      return false;
    }
  };
  const leftover = (): number[] => readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => p !== process.pid && ours(p) && pidAlive(p));
  await stopPids(nodes.map((n) => daemonPid(paths, containerdName(n.name))).filter((p): p is number => p !== undefined), 5000);
  for (let round = 0; round < 3; round++) {
    const pids = leftover();
    if (pids.length === 0) break;
    for (const p of pids) process.kill(p, 'SIGCONT');
    await stopPids(pids, 2000);
  }
  for (const n of nodes) removeCgroups(n.name);
  await removeLeftNetns(paths);
  removeLogLinks(paths);
  if (existsSync(RUN_CONTAINERD_OURS())) {
    rmSync(RUN_CONTAINERD, { recursive: true, force: true });
    rmSync(RUN_CONTAINERD_OURS(), { force: true });
  }
}

/** Deletes the CNI network namespaces our pods left (their sandbox's teardown failed, or crictl rmp
 * timed out): those made since the first node started in which no process runs, ours now that every
 * container of ours is stopped. */
async function removeLeftNetns(paths: ClusterPaths): Promise<void> {
  let before: string[] = [];
  try {
    before = JSON.parse(readFileSync(CNI_NETNS_BEFORE(paths), 'utf8')) as string[];
  } catch {
    return; // no kubelet node was started: nothing of ours
  }
  const left: string[] = [];
  for (const name of cniNetns().filter((n) => !before.includes(n))) {
    if ((await run('ip', ['netns', 'pids', name])).stdout.trim() !== '') continue;
    const del = await run('ip', ['netns', 'del', name]);
    if (del.code === 0) left.push(name);
    else log(`warning: network namespace ${name} not removed: ${del.stderr.trim()}`);
  }
  if (left.length > 0) log(`removed ${left.length} network namespace(s) pods had left: ${left.join(', ')}`);
  rmSync(CNI_NETNS_BEFORE(paths), { force: true });
}

/** Removes the node's cgroup tree in every hierarchy, deepest first (each is empty by now). */
function removeCgroups(node: string): void {
  for (const m of cgroupV1Mounts({ unified: true })) {
    const top = join(m, cgroupRoot(node));
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      dirs.push(d);
    };
    walk(top);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch (err) {
        log(`warning: cgroup ${d} not removed: ${(err as Error).message}`);
      }
    }
  }
}

function removeLogLinks(paths: ClusterPaths): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(CONTAINER_LOG_LINKS);
  } catch {
    return;
  }
  for (const e of entries) {
    const link = join(CONTAINER_LOG_LINKS, e);
    try {
      if (readlinkSync(link).startsWith(`${paths.root}/`)) unlinkSync(link);
    } catch { /* not a link, or gone */ }
  }
}
