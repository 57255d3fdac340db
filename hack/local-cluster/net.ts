// Host side networking of the local cluster: the bridge, its forwarding rules, and cleanup.
import { readFileSync, writeFileSync, existsSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { must, run } from '../lib.js';
import { APISERVER_PORT, BRIDGE, S3_PORT, BRIDGE_IP, FW_CHAIN, POD_PREFIX_LEN, SERVICE_CIDR, cacheRoot, ensureDir, log, type ClusterPaths } from './common.js';

// `ip netns add` turns /run/netns into a mount point the first time; remember whether it was one before us.
const NETNS_FLAG = (): string => join(cacheRoot(), 'netns-mount-preexisting');
const netnsMounted = (): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === '/run/netns');

const BR_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';
const LOOP_CHAIN = 'RRO-OUTPUT';

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0;
}

/** Creates the bridge rro0 with the gateway address, a route for the Service range, and the forwarding rules. Idempotent. */
export async function ensureBridge(paths: ClusterPaths, nodeIPs: string[] = []): Promise<void> {
  ensureDir(cacheRoot());
  if (!existsSync(NETNS_FLAG())) writeFileSync(NETNS_FLAG(), netnsMounted() ? 'yes' : 'no');
  if (!(await linkExists(BRIDGE))) {
    await must('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  const addrs = await must('ip', ['-o', '-4', 'addr', 'show', 'dev', BRIDGE]);
  if (!addrs.includes(`${BRIDGE_IP}/${POD_PREFIX_LEN}`)) await must('ip', ['addr', 'add', `${BRIDGE_IP}/${POD_PREFIX_LEN}`, 'dev', BRIDGE]);
  // Each node's address (its kubelet API listens there); gone with the bridge.
  for (const ip of nodeIPs) if (!addrs.includes(`${ip}/32`)) await must('ip', ['addr', 'add', `${ip}/32`, 'dev', BRIDGE]);
  await must('ip', ['link', 'set', BRIDGE, 'up']);
  // Service IPs stay on the bridge: never routed off the machine, even without endpoints.
  await must('ip', ['route', 'replace', SERVICE_CIDR, 'dev', BRIDGE, 'src', BRIDGE_IP]);
  // Forwarding only for packets that arrive on the bridge (pod -> Service -> pod); the host's global setting is untouched.
  writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/forwarding`, '1');
  // Bridged pod-to-pod replies must pass conntrack so Service NAT is undone (br_netfilter).
  if (existsSync(BR_NF)) {
    setSysctl(paths, BR_NF, 1, 'exactly');
  } else {
    log('warning: br_netfilter not available; Service traffic between pods may not work');
  }
  // The kernel's ARP table is shared by every network namespace: a few hundred pods, each with a few
  // neighbours, overflow the default limit of 1024 entries and new pods become unreachable.
  for (const [file, value] of NEIGH_LIMITS) setSysctl(paths, file, value, 'at least');
  // Our own chain: forwarding allowed only from the bridge back to the bridge.
  if ((await run('iptables', ['-w', '-S', FW_CHAIN])).code !== 0) await must('iptables', ['-w', '-N', FW_CHAIN]);
  await must('iptables', ['-w', '-F', FW_CHAIN]);
  await must('iptables', ['-w', '-A', FW_CHAIN, '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT']);
  await must('iptables', ['-w', '-A', FW_CHAIN, '-i', BRIDGE, '-j', 'DROP']);
  await must('iptables', ['-w', '-A', FW_CHAIN, '-o', BRIDGE, '-j', 'DROP']);
  if ((await run('iptables', ['-w', '-C', 'FORWARD', '-j', FW_CHAIN])).code !== 0) await must('iptables', ['-w', '-I', 'FORWARD', '1', '-j', FW_CHAIN]);
  // The API server listens on the bridge address; 127.0.0.1:6443 (and localhost) from this host lead to it too.
  if ((await run('iptables', ['-w', '-t', 'nat', '-S', LOOP_CHAIN])).code !== 0) await must('iptables', ['-w', '-t', 'nat', '-N', LOOP_CHAIN]);
  await must('iptables', ['-w', '-t', 'nat', '-F', LOOP_CHAIN]);
  // The object store's S3 port likewise.
  for (const port of [APISERVER_PORT, S3_PORT]) {
    await must('iptables', ['-w', '-t', 'nat', '-A', LOOP_CHAIN, '-d', '127.0.0.1/32', '-p', 'tcp', '--dport', String(port), '-j', 'DNAT', '--to-destination', `${BRIDGE_IP}:${port}`]);
  }
  if ((await run('iptables', ['-w', '-t', 'nat', '-C', 'OUTPUT', '-j', LOOP_CHAIN])).code !== 0) await must('iptables', ['-w', '-t', 'nat', '-I', 'OUTPUT', '1', '-j', LOOP_CHAIN]);
}

/** Removes every network namespace, link, iptables rule and chain the cluster made. */
export async function teardownNetwork(paths: ClusterPaths, kubeProxy?: string): Promise<void> {
  const ns = await run('ip', ['netns', 'list']);
  for (const line of ns.stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name && name.startsWith('rro-')) await run('ip', ['netns', 'del', name]);
  }
  const pre = existsSync(NETNS_FLAG()) ? readFileSync(NETNS_FLAG(), 'utf8').trim() : 'no';
  if (pre !== 'yes') {
    let empty = true;
    try { empty = readdirSync('/run/netns').length === 0; } catch { /* absent */ }
    if (empty && netnsMounted()) await run('umount', ['/run/netns']);
    try { unlinkSync(NETNS_FLAG()); } catch { /* absent */ }
  }
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (!m) continue;
    const name = m[1] ?? '';
    if (name === BRIDGE || /^rv[0-9a-f]{8}$/.test(name)) await run('ip', ['link', 'del', name]);
  }
  await run('ip', ['route', 'del', SERVICE_CIDR, 'dev', BRIDGE]);
  if (kubeProxy && existsSync(kubeProxy)) await run(kubeProxy, ['--cleanup', '--proxy-mode=iptables'], { timeoutMs: 60_000 });
  // Whatever kube-proxy --cleanup left: our own chains and the KUBE-* chains in each table.
  for (let i = 0; i < 20 && (await run('iptables', ['-w', '-D', 'FORWARD', '-j', FW_CHAIN])).code === 0; i++) { /* all copies */ }
  await run('iptables', ['-w', '-F', FW_CHAIN]);
  await run('iptables', ['-w', '-X', FW_CHAIN]);
  for (let i = 0; i < 20 && (await run('iptables', ['-w', '-t', 'nat', '-D', 'OUTPUT', '-j', LOOP_CHAIN])).code === 0; i++) { /* all copies */ }
  await run('iptables', ['-w', '-t', 'nat', '-F', LOOP_CHAIN]);
  await run('iptables', ['-w', '-t', 'nat', '-X', LOOP_CHAIN]);
  for (const table of ['filter', 'nat', 'mangle']) {
    const rules = (await run('iptables', ['-w', '-t', table, '-S'])).stdout.split('\n');
    for (const r of rules) {
      if (r.startsWith('-A ') && / -j KUBE-/.test(r) && !r.startsWith('-A KUBE-')) {
        await run('iptables', ['-w', '-t', table, ...r.replace(/^-A /, '-D ').split(' ')]);
      }
    }
    const chains = rules.filter((r) => r.startsWith('-N KUBE-')).map((r) => r.slice(3).trim());
    for (const c of chains) await run('iptables', ['-w', '-t', table, '-F', c]);
    for (const c of chains) await run('iptables', ['-w', '-t', table, '-X', c]);
  }
  for (const file of [BR_NF, ...NEIGH_LIMITS.map(([f]) => f)]) restoreSysctl(paths, file);
}

const NEIGH_LIMITS = ([['gc_thresh1', 1024], ['gc_thresh2', 8192], ['gc_thresh3', 16384]] as const).map(
  ([name, value]) => [`/proc/sys/net/ipv4/neigh/default/${name}`, value] as const,
);

const savedSysctl = (paths: ClusterPaths, file: string): string => join(paths.run, `sysctl-${file.split('/').slice(-2).join('-')}.orig`);

/** Sets a host sysctl (a number) and keeps its first value under the cluster's run directory for restoreSysctl. */
function setSysctl(paths: ClusterPaths, file: string, value: number, how: 'exactly' | 'at least'): void {
  const before = Number(readFileSync(file, 'utf8').trim());
  const saved = savedSysctl(paths, file);
  if (!existsSync(saved)) writeFileSync(saved, String(before));
  if (how === 'exactly' ? before !== value : before < value) writeFileSync(file, String(value));
}

function restoreSysctl(paths: ClusterPaths, file: string): void {
  const saved = savedSysctl(paths, file);
  if (!existsSync(saved) || !existsSync(file)) return;
  const value = readFileSync(saved, 'utf8').trim();
  if (/^\d+$/.test(value)) writeFileSync(file, value);
}
