// The local cluster itself: pods on its nodes (kubelet and containerd, or the node agent), Services,
// restarts, deletion, volumes and faults.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { must } from '../../hack/lib.js';
import { clusterNodeKind } from '../../hack/local-cluster/common.js';
import {
  createNamespace, freezePod, healPod, killContainer, kubeConfig, kubectl, partitionPod, podIPOf, podState, thawPod, waitFor,
} from './support/cluster.js';
import { localCluster } from './support/where.js';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns = '';
let cleanup: () => Promise<void> = async () => undefined;

async function redisCli(args: string[], timeoutMs = 3000): Promise<string> {
  return (await must('redis-cli', args, { timeoutMs })).trim();
}

function ping(host: string): Promise<string> {
  return redisCli(['-h', host, '-p', '6379', 'PING']);
}

async function pingFails(host: string): Promise<boolean> {
  try {
    const r = await redisCli(['-h', host, '-p', '6379', 'PING'], 1500);
    return r !== 'PONG';
  } catch {
    return true;
  }
}

function redisPod(name: string, extra: Partial<k8s.V1PodSpec> = {}, container: Partial<k8s.V1Container> = {}): k8s.V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [{
        name: 'redis', image: 'redis:7.0', ports: [{ containerPort: 6379, name: 'redis' }],
        readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 2 },
        ...container,
      }],
      ...extra,
    },
  };
}

async function readyPod(name: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  return waitFor(async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  }, { timeoutMs, what: `pod ${ns}/${name} Running and Ready` });
}

async function deletePodAndWait(name: string): Promise<void> {
  await core.deleteNamespacedPod({ name, namespace: ns });
  await waitFor(async () => {
    try {
      await core.readNamespacedPod({ name, namespace: ns });
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  }, { timeoutMs: 60_000, what: `pod ${ns}/${name} gone` });
}

beforeAll(async () => {
  ({ name: ns, cleanup } = await createNamespace('cluster'));
});

afterAll(async () => {
  await cleanup();
});

describe.skipIf(!localCluster)('local cluster', () => {
  it('serves a v1.34 API and has Ready nodes', async () => {
    const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.34\./);
    const nodes = (await core.listNode()).items;
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('runs a redis:7.0 pod that answers PING at its pod IP and through a Service', async () => {
    await core.createNamespacedPod({ namespace: ns, body: redisPod('web') });
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 6379, targetPort: 6379 }] } },
    });
    const pod = await readyPod('web');
    const ip = pod.status!.podIP!;
    expect(ip).toMatch(/^198\.18\./);
    expect(podIPOf(ns, 'web')).toBe(ip);
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
    expect(await ping(ip)).toBe('PONG');
    const svc = await core.readNamespacedService({ name: 'web', namespace: ns });
    const clusterIP = svc.spec!.clusterIP!;
    expect(clusterIP).toMatch(/^198\.19\./);
    // From the host, through kube-proxy's rules, once the EndpointSlice is there.
    await waitFor(async () => (await ping(clusterIP)) === 'PONG', { timeoutMs: 30_000, what: 'PONG through the ClusterIP' });
    // From inside another pod's network namespace.
    await core.createNamespacedPod({ namespace: ns, body: redisPod('client') });
    await readyPod('client');
    const { netns } = podState(ns, 'client');
    const viaPod = await must('ip', ['netns', 'exec', netns, 'redis-cli', '-h', clusterIP, 'PING'], { timeoutMs: 5000 });
    expect(viaPod.trim()).toBe('PONG');
    // The API server through the kubernetes Service, from inside a pod, with the mounted service account.
    const api = await must('nsenter', ['-t', String(podState(ns, 'client').containers.redis!.pid), '-n', '-m', '--', 'sh', '-c',
      'cat /var/run/secrets/kubernetes.io/serviceaccount/namespace && test -s /var/run/secrets/kubernetes.io/serviceaccount/token && '
      + 'test -s /var/run/secrets/kubernetes.io/serviceaccount/ca.crt && bash -c "exec 3<>/dev/tcp/$KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT" && echo api-ok'],
    { timeoutMs: 5000, env: { ...process.env, KUBERNETES_SERVICE_HOST: '198.19.0.1', KUBERNETES_SERVICE_PORT: '443' } });
    expect(api).toContain(ns);
    expect(api).toContain('api-ok');
  });

  it('serves container logs to kubectl logs and records pod events', async () => {
    const logs = await waitFor(async () => {
      const out = await kubectl(['-n', ns, 'logs', 'web']);
      return out.includes('Ready to accept connections') ? out : undefined;
    }, { timeoutMs: 10_000, what: 'kubectl logs output' });
    expect(logs).toContain('Ready to accept connections');
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=web' });
    expect(events.items.map((e) => e.reason)).toContain('Started');
  });

  it('restarts a SIGKILLed container and counts the restart', async () => {
    const before = podState(ns, 'web').containers.redis!.pid!;
    await killContainer(ns, 'web');
    const pod = await waitFor(async () => {
      const p = await core.readNamespacedPod({ name: 'web', namespace: ns });
      const cs = p.status?.containerStatuses?.[0];
      return (cs?.restartCount ?? 0) >= 1 && cs?.ready ? p : undefined;
    }, { timeoutMs: 60_000, what: 'restartCount >= 1 and ready again' });
    const cs = pod.status!.containerStatuses![0]!;
    expect(cs.lastState?.terminated?.exitCode).toBe(137);
    expect(podState(ns, 'web').containers.redis!.pid).not.toBe(before);
    expect(await ping(pod.status!.podIP!)).toBe('PONG');
  });

  it('cuts a partitioned pod off and reconnects it after healing', async () => {
    const ip = podIPOf(ns, 'web');
    await partitionPod(ns, 'web');
    try {
      expect(await pingFails(ip)).toBe(true);
    } finally {
      await healPod(ns, 'web');
    }
    await waitFor(async () => (await ping(ip)) === 'PONG', { timeoutMs: 10_000, what: 'PONG after healing' });
  });

  it('freezes and thaws a pod', async () => {
    const ip = podIPOf(ns, 'web');
    await freezePod(ns, 'web');
    try {
      expect(await pingFails(ip)).toBe(true);
    } finally {
      await thawPod(ns, 'web');
    }
    await waitFor(async () => (await ping(ip)) === 'PONG', { timeoutMs: 10_000, what: 'PONG after thawing' });
  });

  it('reports a failed container of a restartPolicy Never pod as Failed', async () => {
    await core.createNamespacedPod({ namespace: ns, body: redisPod('once', { restartPolicy: 'Never' }, { args: ['--port', 'not-a-port'], readinessProbe: undefined }) });
    const pod = await waitFor(async () => {
      const p = await core.readNamespacedPod({ name: 'once', namespace: ns });
      return p.status?.phase === 'Failed' ? p : undefined;
    }, { timeoutMs: 30_000, what: 'pod once Failed' });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('ends the process and removes the network namespace when the pod is deleted', async () => {
    const st = podState(ns, 'client');
    const pid = st.containers.redis!.pid!;
    await deletePodAndWait('client');
    expect(existsSync(`/proc/${pid}`) && !(await import('node:fs')).readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(false);
    expect(existsSync(`/run/netns/${st.netns}`)).toBe(false);
    expect(await pingFails(st.ip)).toBe(true);
  });

  it('keeps data on a PersistentVolumeClaim across pod re-creation', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    await waitFor(async () => (await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns })).status?.phase === 'Bound', {
      timeoutMs: 30_000, what: 'PVC data Bound',
    });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns });
    expect(pvc.spec?.storageClassName).toBe('rro-hostpath');
    const spec = (): k8s.V1Pod => redisPod('store', { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] }, {
      args: ['--appendonly', 'no', '--save', ''], volumeMounts: [{ name: 'data', mountPath: '/data' }],
    });
    await core.createNamespacedPod({ namespace: ns, body: spec() });
    let ip = (await readyPod('store')).status!.podIP!;
    expect(await redisCli(['-h', ip, 'SET', 'survivor', 'yes'])).toBe('OK');
    expect(await redisCli(['-h', ip, 'SAVE'])).toBe('OK');
    await deletePodAndWait('store');
    await core.createNamespacedPod({ namespace: ns, body: spec() });
    ip = (await readyPod('store')).status!.podIP!;
    expect(await redisCli(['-h', ip, 'GET', 'survivor'])).toBe('yes');
  });

  it('mounts secrets and configMaps and expands env into args', async () => {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'auth' }, stringData: { password: 's3cret' } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'conf' }, data: { 'redis.conf': 'maxmemory-policy allkeys-lru\n' } } });
    await core.createNamespacedPod({
      namespace: ns,
      body: redisPod('auth', { volumes: [{ name: 'conf', configMap: { name: 'conf' } }] }, {
        env: [{ name: 'PASS', valueFrom: { secretKeyRef: { name: 'auth', key: 'password' } } }],
        args: ['/etc/rro-test/redis.conf', '--requirepass', '$(PASS)'],
        volumeMounts: [{ name: 'conf', mountPath: '/etc/rro-test' }],
        readinessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 2 },
      }),
    });
    const ip = (await readyPod('auth')).status!.podIP!;
    expect(await redisCli(['-h', ip, '--no-auth-warning', '-a', 's3cret', 'CONFIG', 'GET', 'maxmemory-policy'])).toContain('allkeys-lru');
  });

  it('runs init containers to completion first', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: redisPod('init', {
        volumes: [{ name: 'conf', emptyDir: {} }],
        initContainers: [{
          name: 'write-conf', image: 'redis:7.0', command: ['sh', '-c', 'echo "maxmemory-policy volatile-lfu" > /conf/redis.conf'],
          volumeMounts: [{ name: 'conf', mountPath: '/conf' }],
        }],
      }, { args: ['/conf/redis.conf'], volumeMounts: [{ name: 'conf', mountPath: '/conf' }] }),
    });
    const pod = await readyPod('init');
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(pod.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');
    expect(await redisCli(['-h', pod.status!.podIP!, 'CONFIG', 'GET', 'maxmemory-policy'])).toContain('volatile-lfu');
  });

  it('reports pods it cannot run with a clear waiting reason', async () => {
    await core.createNamespacedPod({ namespace: ns, body: redisPod('nginx', {}, { image: 'nginx:1.27' }) });
    await core.createNamespacedPod({
      namespace: ns,
      body: redisPod('nosecret', {}, { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'missing', key: 'k' } } }] }),
    });
    // The first reason a kubelet gives is ContainerCreating, while it prepares the container.
    const reason = (name: string) => waitFor(async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns });
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return waiting === 'ContainerCreating' ? undefined : waiting;
    }, { timeoutMs: 30_000, what: `waiting reason of ${name}` });
    // No node has nginx, and no registry is reachable: the kubelet's pull fails (the agent runs only Redis and Valkey).
    expect(await reason('nginx')).toMatch(clusterNodeKind() === 'kubelet' ? /^(ErrImagePull|ImagePullBackOff)$/ : /^UnsupportedImage$/);
    expect(await reason('nosecret')).toBe('CreateContainerConfigError');
  });
});
