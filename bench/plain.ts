// Plain redis pods with no operator: the lower bound of time-to-Ready, and the Sentinel baseline.
import { createClient } from 'redis';
import { waitFor } from '../test/e2e/support/cluster.js';
import { api, redisCommand } from '../test/e2e/support/operator.js';
import { sleep } from './lib.js';

export const PLAIN_ARGS = ['--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'];

export async function createPlainPods(ns: string, names: string[], group: string, extraArgs: string[] = []): Promise<void> {
  const core = api().core;
  await Promise.all(names.map((name) => core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, labels: { 'bench.rro/group': group } },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'redis', image: 'redis:7.2', args: [...PLAIN_ARGS, ...extraArgs] }] },
    },
  })));
}

/** Pod name -> IP once every pod runs and answers PING. */
export async function waitPlainRunning(ns: string, names: string[], timeoutMs = 120_000): Promise<Map<string, string>> {
  const core = api().core;
  const ips = new Map<string, string>();
  await waitFor(async () => {
    const list = await core.listNamespacedPod({ namespace: ns });
    for (const p of list.items) if (p.status?.phase === 'Running' && p.status.podIP) ips.set(p.metadata!.name!, p.status.podIP);
    return names.every((n) => ips.has(n));
  }, { timeoutMs, intervalMs: 100, what: `plain pods running in ${ns}` });
  await Promise.all(names.map((n) => waitFor(async () => (await redisCommand(ips.get(n)!, ['PING'])) === 'PONG', { timeoutMs, intervalMs: 50, what: `PING ${n}` })));
  return ips;
}

export async function replicaLinkUp(ip: string): Promise<boolean> {
  return /master_link_status:up/.test(String(await redisCommand(ip, ['INFO', 'replication'])));
}

export async function deletePods(ns: string, names: string[]): Promise<void> {
  const core = api().core;
  await Promise.all(names.map((name) => core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined)));
  await waitFor(async () => {
    const list = await core.listNamespacedPod({ namespace: ns });
    return !list.items.some((p) => names.includes(p.metadata!.name!));
  }, { timeoutMs: 90_000, intervalMs: 500, what: 'plain pods gone' }).catch(() => undefined);
}

/** A write load that asks Sentinel for the master on every (re)connect. */
export function startSentinelLoad(sentinelPorts: number[], prefix: string, maxDurationMs = 120_000) {
  const acked: number[] = [];
  const ackTimes: number[] = [];
  const failureTimes: number[] = [];
  const masters: string[] = [];
  let stopped = false;
  const deadline = Date.now() + maxDurationMs;
  const askMaster = async (): Promise<string> => {
    for (const port of sentinelPorts) {
      try {
        const c = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: 300, reconnectStrategy: false }, RESP: 2 });
        c.on('error', () => undefined);
        await c.connect();
        try {
          const r = (await c.sendCommand(['SENTINEL', 'get-master-addr-by-name', 'm'])) as string[] | null;
          if (r && r[0]) return r[0];
        } finally {
          c.destroy();
        }
      } catch { /* next sentinel */ }
    }
    throw new Error('no sentinel answered');
  };
  const run = (async () => {
    type C = ReturnType<typeof createClient>;
    let client: C | undefined;
    for (let i = 0; !stopped && i < 500_000 && Date.now() < deadline; i++) {
      try {
        if (!client) {
          const host = await askMaster();
          if (masters[masters.length - 1] !== host) masters.push(host);
          const c = createClient({ socket: { host, port: 6379, connectTimeout: 500, socketTimeout: 1000, reconnectStrategy: false }, disableOfflineQueue: true, RESP: 2 });
          c.on('error', () => undefined);
          await c.connect();
          client = c as C;
        }
        await client.sendCommand(['SET', `${prefix}:${i}`, String(i)]);
        acked.push(i);
        ackTimes.push(Date.now());
      } catch {
        failureTimes.push(Date.now());
        client?.destroy();
        client = undefined;
        await sleep(10);
      }
    }
    client?.destroy();
  })();
  return {
    async stop() { stopped = true; await run; return { acked, failures: failureTimes.length, masters }; },
    recoveredAt(sinceMs: number) {
      const failed = failureTimes.find((t) => t >= sinceMs);
      return failed === undefined ? undefined : ackTimes.find((t) => t >= failed);
    },
  };
}
