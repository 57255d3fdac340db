// Secure by construction: redis pods admitted under the restricted Pod Security Standard, redis-server
// running as a non-root user on a read-only root with its data volume given to its group (fsGroup, by
// the kubelet), and the password in no process's arguments and no log; a resource created with no
// auth at all refuses anonymous commands (the password the operator generated is in <name>-auth).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GROUP, PLURAL, VERSION } from '../../src/api/schema.js';
import { clusterNodeKind } from '../../hack/local-cluster/common.js';
import { containerPid, kubectl, kubectlRaw } from './support/cluster.js';
import { clusterPaths } from './support/faults.js';
import { settle } from './support/invariants.js';
import { api, createAllowedSecret, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const PASSWORD = 'restricted-e2e-password-6b1f';
const fixture = operatorNamespace('restricted', (ns) =>
  kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']).then(() => undefined),
);

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

describe.skipIf(!localCluster)('in a namespace that enforces the restricted Pod Security Standard', () => {
  it('a resource with auth reaches Ready; redis-server runs as non-root; the password is in no argv and no log', async () => {
    const { ns, operator } = fixture;
    // The namespace really enforces it: a root pod is refused.
    const refused = await api()
      .core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'root-probe' }, spec: { containers: [{ name: 'c', image: 'redis:7.0' }] } } })
      .then(() => 'admitted', (e: unknown) => String(e));
    expect(refused).toMatch(/PodSecurity|forbidden/i);

    await createAllowedSecret(ns, 'sec-auth', 'sec', { password: PASSWORD });
    await createRR(ns, 'sec', { replicas: 2, auth: { secretName: 'sec-auth' }, persistence: { enabled: true, size: '64Mi' } });
    await waitReady(ns, 'sec');
    await settle(ns, 'sec', PASSWORD);
    const rr = await getRR(ns, 'sec');
    expect(rr.status!.conditions!.find((c) => c.type === 'PodsAdmitted')?.status).toBe('True');

    for (const node of rr.status!.nodes!) {
      const pid = containerPid(ns, node.name, 'redis');
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      expect(uid, node.name).toBe('999');
      const caps = /^CapEff:\s+(\w+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      expect(caps, node.name).toBe('0000000000000000');
      // Clients need the password; the data directory is writable by the redis user.
      expect(String(await redisCommand(node.podIP!, ['PING']).catch((e: unknown) => String(e)))).toMatch(/NOAUTH/);
      expect(await redisCommand(node.podIP!, ['PING'], PASSWORD)).toBe('PONG');
      if (clusterNodeKind() === 'kubelet') {
        // The root filesystem is read-only; the claim's volume belongs to the pod's fsGroup (999), writable by it.
        const touch = await kubectlRaw(['-n', ns, 'exec', node.name, '-c', 'redis', '--', 'touch', '/probe']);
        expect(touch.code, node.name).not.toBe(0);
        expect(touch.stderr, node.name).toMatch(/Read-only file system/);
        const data = await kubectl(['-n', ns, 'exec', node.name, '-c', 'redis', '--', 'stat', '-c', '%g %A', '/data']);
        expect(data.trim(), node.name).toMatch(/^999 drwxrws/);
      }
    }
    const primaryIP = rr.status!.nodes!.find((n) => n.role === 'primary')!.podIP!;
    expect(await redisCommand(primaryIP, ['SET', 'k', 'v'], PASSWORD)).toBe('OK');
    expect(await redisCommand(primaryIP, ['BGREWRITEAOF'], PASSWORD)).toMatch(/rewriting/);

    // No process on this machine has the password in its arguments.
    const inArgv = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(PASSWORD);
        } catch {
          return false;
        }
      });
    expect(inArgv).toEqual([]);
    // No log of the cluster (control plane, nodes, every container) or of the operator has it.
    const nodeDirs = join(clusterPaths().root, 'nodes');
    const podLogs = clusterNodeKind() === 'kubelet' ? readdirSync(nodeDirs).flatMap((n) => filesUnder(join(nodeDirs, n, 'pod-logs'))) : [];
    if (clusterNodeKind() === 'kubelet') expect(podLogs.length).toBeGreaterThan(2);
    const logs = [...filesUnder(clusterPaths().logs), ...podLogs].filter((f) => statSync(f).size < 50_000_000);
    expect(logs.length).toBeGreaterThan(3);
    expect(logs.filter((f) => readFileSync(f, 'utf8').includes(PASSWORD))).toEqual([]);
    expect(operator!.output()).not.toContain(PASSWORD);
  });

  it('a resource created with no auth at all: a generated password in <name>-auth, owned by it; PING without it gets NOAUTH', async () => {
    const { ns } = fixture;
    // Not createRR, which turns auth off when the spec leaves it out: this is the API server's default.
    await api().custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: ns,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RedisReplication', metadata: { name: 'gen' }, spec: { replicas: 1 } },
    });
    const rr = await waitReady(ns, 'gen');
    expect(rr.spec).toMatchObject({ auth: { enabled: true } });
    const secret = await api().core.readNamespacedSecret({ namespace: ns, name: 'gen-auth' });
    expect(secret.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'RedisReplication', name: 'gen', uid: rr.metadata.uid, controller: true })]);
    const password = Buffer.from(secret.data?.['password'] ?? '', 'base64').toString('utf8');
    // 32 random bytes, base64url.
    expect(password).toMatch(/^[\w-]{43}$/);
    expect(rr.status!.nodes).toHaveLength(2);
    for (const node of rr.status!.nodes!) {
      expect(String(await redisCommand(node.podIP!, ['PING']).catch((e: unknown) => String(e))), node.name).toMatch(/NOAUTH/);
      expect(await redisCommand(node.podIP!, ['PING'], password), node.name).toBe('PONG');
    }
    // Its NetworkPolicy exists and is owned by it (the local cluster's bridge CNI does not enforce it).
    const policy = await api().networking.readNamespacedNetworkPolicy({ namespace: ns, name: 'gen-redis' });
    expect(policy.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'RedisReplication', name: 'gen', uid: rr.metadata.uid })]);
    expect(policy.spec?.ingress?.[0]?.ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
  });
});
