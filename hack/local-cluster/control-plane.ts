// The processes of the local cluster: how each is started, checked and stopped.
import https from 'node:https';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, waitFor } from '../lib.js';
import {
  APISERVER_PORT, BRIDGE_IP, ETCD_CLIENT_PORT, ETCD_PEER_PORT, PROXY_NODE_NAME, POD_CIDR, SERVICE_CIDR,
  agentName, daemonPid, readDaemon, startDaemon, untilGone, type ClusterPaths, type Daemon, type NodeSpec,
} from './common.js';

/** The control plane; each node's agent is a daemon of its own (nodeAgentSpec). */
export const DAEMONS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const;
export type DaemonName = (typeof DAEMONS)[number];

export function daemonSpec(paths: ClusterPaths, bin: string, name: DaemonName): Daemon {
  const pki = paths.pki;
  const kc = join(pki, 'admin.kubeconfig');
  switch (name) {
    case 'etcd':
      return {
        name, cmd: 'etcd', args: [
          '--name=rro', `--data-dir=${paths.etcd}`,
          `--listen-client-urls=http://127.0.0.1:${ETCD_CLIENT_PORT}`, `--advertise-client-urls=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
          `--listen-peer-urls=http://127.0.0.1:${ETCD_PEER_PORT}`, `--initial-advertise-peer-urls=http://127.0.0.1:${ETCD_PEER_PORT}`,
          `--initial-cluster=rro=http://127.0.0.1:${ETCD_PEER_PORT}`, '--quota-backend-bytes=4294967296',
          '--snapshot-count=20000', '--log-level=warn',
        ],
        env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
      };
    case 'kube-apiserver':
      return {
        name, cmd: join(bin, 'kube-apiserver'), args: [
          `--etcd-servers=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
          `--bind-address=${BRIDGE_IP}`, `--advertise-address=${BRIDGE_IP}`, `--secure-port=${APISERVER_PORT}`,
          `--tls-cert-file=${join(pki, 'apiserver.crt')}`, `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
          `--client-ca-file=${join(pki, 'ca.crt')}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--authorization-mode=Node,RBAC', '--allow-privileged=true',
          '--enable-admission-plugins=NodeRestriction',
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${join(pki, 'sa.pub')}`, `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
          // kubectl logs: the API server reaches the node agent's small kubelet endpoint on the node IP.
          `--kubelet-client-certificate=${join(pki, 'admin.crt')}`, `--kubelet-client-key=${join(pki, 'admin.key')}`,
          '--kubelet-preferred-address-types=InternalIP',
          '--profiling=false', '--v=1',
        ],
      };
    case 'kube-controller-manager':
      return {
        name, cmd: join(bin, 'kube-controller-manager'), args: [
          `--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`,
          '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=10257', '--controllers=*',
          `--service-account-private-key-file=${join(pki, 'sa.key')}`, `--root-ca-file=${join(pki, 'ca.crt')}`,
          `--cluster-signing-cert-file=${join(pki, 'ca.crt')}`, `--cluster-signing-key-file=${join(pki, 'ca.key')}`,
          `--service-cluster-ip-range=${SERVICE_CIDR}`, `--cluster-cidr=${POD_CIDR}`, '--allocate-node-cidrs=false',
          // A node whose agent stops reporting is NotReady after 15 s (default 50 s); agents renew their Lease every 2 s.
          '--node-monitor-grace-period=15s', '--node-monitor-period=2s',
          '--profiling=false', '--v=1',
        ],
      };
    case 'kube-scheduler':
      return {
        name, cmd: join(bin, 'kube-scheduler'), args: [
          `--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`,
          '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=10259', '--profiling=false', '--v=1',
        ],
      };
    case 'kube-proxy':
      return {
        name, cmd: join(bin, 'kube-proxy'), args: [
          `--kubeconfig=${kc}`, '--proxy-mode=iptables', `--hostname-override=${PROXY_NODE_NAME}`, `--cluster-cidr=${POD_CIDR}`,
          `--bind-address=${BRIDGE_IP}`, '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=127.0.0.1:10249',
          '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
          '--iptables-localhost-nodeports=false', `--nodeport-addresses=${BRIDGE_IP}/32`, '--iptables-min-sync-period=0s', '--v=1',
        ],
      };
  }
}

/** The agent of one node (its NodeSpec in RRO_NODE). */
export function nodeAgentSpec(bin: string, node: NodeSpec): Daemon {
  return {
    name: agentName(node.name), cmd: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'hack/local-cluster/node-agent/main.ts')],
    env: { RRO_KUBE_BIN: bin, RRO_NODE: JSON.stringify(node) },
  };
}

/** Starts one daemon again with the arguments it was last started with (or its spec). */
export function startNamed(paths: ClusterPaths, bin: string, name: DaemonName, reuseArgs = false): number {
  const spec = (reuseArgs && readDaemon(paths, name)) || daemonSpec(paths, bin, name);
  return startDaemon(paths, spec);
}

export function alive(paths: ClusterPaths, name: DaemonName): boolean {
  return daemonPid(paths, name) !== undefined;
}

function get(url: string, paths?: ClusterPaths, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const opts: https.RequestOptions = { method: 'GET', timeout: timeoutMs };
    if (paths && u.protocol === 'https:') {
      opts.ca = readFileSync(join(paths.pki, 'ca.crt'));
      opts.cert = readFileSync(join(paths.pki, 'admin.crt'));
      opts.key = readFileSync(join(paths.pki, 'admin.key'));
    }
    const req = mod.request(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

export async function etcdHealthy(): Promise<boolean> {
  const r = await get(`http://127.0.0.1:${ETCD_CLIENT_PORT}/health`);
  return r.status === 200 && r.body.includes('true');
}

export async function apiReady(paths: ClusterPaths): Promise<boolean> {
  try {
    const r = await get(`${paths.apiServer}/readyz`, paths);
    return r.status === 200;
  } catch {
    return false;
  }
}

export async function apiGet(paths: ClusterPaths, path: string): Promise<{ status: number; body: string }> {
  return get(`${paths.apiServer}${path}`, paths);
}

/** Kills the API server and starts it again with the same arguments; resolves when /readyz is ok (controller manager, scheduler and kube-proxy are restarted too). */
export async function restartApiServerProcess(paths: ClusterPaths, bin: string): Promise<void> {
  await killDaemon(paths, 'kube-apiserver');
  // A new API server that exits at once (its port still held by the old one, on a loaded machine) is started again.
  for (let attempt = 1; ; attempt++) {
    startNamed(paths, bin, 'kube-apiserver', true);
    try {
      await waitFor(() => apiReady(paths), {
        timeoutMs: 120_000, intervalMs: 200, what: 'kube-apiserver /readyz',
        check: () => {
          if (!alive(paths, 'kube-apiserver')) throw new Error(`kube-apiserver exited while starting; see ${join(paths.logs, 'kube-apiserver.log')}`);
        },
      });
      break;
    } catch (err) {
      if (attempt === 3 || alive(paths, 'kube-apiserver')) throw err;
      await sleep(500);
    }
  }
  // client-go informers of the other components back off for up to a minute or more after losing the
  // API server; restart them so the control plane reacts promptly again (the fault is the API server's).
  for (const name of ['kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const) {
    await killDaemon(paths, name);
    startNamed(paths, bin, name, true);
  }
}

/** SIGKILL, then wait (up to 10 s) until the process and all its threads are gone. */
async function killDaemon(paths: ClusterPaths, name: DaemonName): Promise<void> {
  const pid = daemonPid(paths, name);
  if (!pid) return;
  process.kill(pid, 'SIGKILL');
  await untilGone([pid], 10_000);
}
