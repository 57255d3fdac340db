// A pod's network: a namespace with one end of a veth pair, the other end on the bridge.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, run } from '../../lib.js';
import { BRIDGE, BRIDGE_IP, POD_PREFIX_LEN, SERVICE_CIDR, type NodeSpec } from '../common.js';
import { allStates } from './state.js';

export function netnsName(uid: string): string {
  return `rro-${uid.replace(/-/g, '').slice(0, 10)}`;
}

export function vethName(uid: string): string {
  return `rv${uid.replace(/-/g, '').slice(0, 8)}`;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Next free address of the node's range after the last one handed out (addresses are not reused right away). */
export function allocateIP(runDir: string, podsRoot: string, node: NodeSpec): string {
  const used = new Set(allStates(podsRoot).map((s) => s.ip));
  const cursorFile = join(runDir, `ipam-last-${node.name}`);
  const base = ipToInt(`198.18.${node.podRange.first}.0`);
  const size = (node.podRange.last - node.podRange.first + 1) * 256;
  let last = existsSync(cursorFile) ? ipToInt(readFileSync(cursorFile, 'utf8').trim()) - base : 0;
  if (!(last >= 0 && last < size)) last = 0;
  for (let i = 0; i < size; i++) {
    last = (last + 1) % size;
    if ((last & 255) === 0 || (last & 255) === 255) continue;
    const ip = intToIp(base + last);
    if (!used.has(ip)) {
      writeFileSync(cursorFile, ip);
      return ip;
    }
  }
  throw new Error('no free pod IP left');
}

export async function setupPodNetwork(netns: string, veth: string, ip: string): Promise<void> {
  await teardownPodNetwork(netns, veth, undefined);
  await must('ip', ['netns', 'add', netns]);
  await must('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await must('ip', ['link', 'set', veth, 'master', BRIDGE, 'up']);
  // Hairpin: a pod reaching itself through a Service IP (as kubelet's hairpin-veth mode).
  await must('ip', ['link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'on']);
  await must('ip', ['-n', netns, 'addr', 'add', `${ip}/${POD_PREFIX_LEN}`, 'dev', 'eth0']);
  await must('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  // No default route: a pod reaches other pods, the bridge (API server) and Service IPs, and nothing off the machine.
  await must('ip', ['-n', netns, 'route', 'add', SERVICE_CIDR, 'via', BRIDGE_IP, 'dev', 'eth0']);
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.conf.all.accept_redirects=0']);
}

export async function teardownPodNetwork(netns: string, veth: string, ip: string | undefined): Promise<void> {
  await run('ip', ['netns', 'del', netns]);
  if ((await run('ip', ['link', 'show', 'dev', veth])).code === 0) await run('ip', ['link', 'del', veth]);
  if (ip) {
    await run('conntrack', ['-D', '-s', ip], { timeoutMs: 5000 });
    await run('conntrack', ['-D', '-d', ip], { timeoutMs: 5000 });
  }
}
