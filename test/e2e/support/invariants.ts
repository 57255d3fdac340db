// What must hold of a RedisReplication at rest, checked against Redis itself and the API server.
import { expect } from 'vitest';
import { LABEL } from '../../../src/plan/names.js';
import { parseReplication, type ReplicationInfo } from '../../../src/redis/info.js';
import { waitFor } from './cluster.js';
import { api, getRR, redisCommand } from './operator.js';

export async function livePods(namespace: string, name: string) {
  const list = await api().core.listNamespacedPod({ namespace, labelSelector: `${LABEL.instance}=${name}` });
  return list.items.filter((p) => !p.metadata!.deletionTimestamp && p.status?.podIP && p.status.phase === 'Running');
}

async function infoOrUndefined(ip: string, password?: string): Promise<ReplicationInfo | undefined> {
  try {
    return parseReplication(String(await redisCommand(ip, ['INFO', 'replication'], password)));
  } catch {
    return undefined;
  }
}

/** Pods that answer as a writable master right now. */
export async function writableMasters(namespace: string, name: string, password?: string): Promise<string[]> {
  const pods = await livePods(namespace, name);
  const infos = await Promise.all(pods.map(async (p) => [p.metadata!.name!, await infoOrUndefined(p.status!.podIP!, password)] as const));
  return infos.filter(([, info]) => info?.role === 'master').map(([n]) => n);
}

export async function primaryServiceIP(namespace: string, name: string): Promise<string> {
  const service = await api().core.readNamespacedService({ name: `${name}-primary`, namespace });
  return service.spec!.clusterIP!;
}

/** Exactly one writable primary, reachable through <name>-primary; every replica's parent exists and
 * is what INFO on the replica says; status agrees with Redis. */
export async function checkInvariants(namespace: string, name: string, password?: string): Promise<void> {
  const rr = await getRR(namespace, name);
  const status = rr.status!;
  const pods = await livePods(namespace, name);
  const ipOf = new Map(pods.map((p) => [p.metadata!.name!, p.status!.podIP!]));

  expect(await writableMasters(namespace, name, password)).toEqual([status.primary]);
  const viaService = await infoOrUndefined(await primaryServiceIP(namespace, name), password);
  expect(viaService?.role).toBe('master');

  for (const node of status.nodes!) {
    expect(ipOf.get(node.name), `${node.name} in status is a live pod`).toBe(node.podIP);
    if (node.role !== 'replica') continue;
    expect(ipOf.has(node.parent!), `${node.name}'s parent ${node.parent} exists`).toBe(true);
    const info = await infoOrUndefined(node.podIP!, password);
    expect(info?.role).toBe('replica');
    if (info?.role === 'replica') expect(info.masterHost, `${node.name} replicates from ${node.parent}`).toBe(ipOf.get(node.parent!));
  }
}

/** What must hold at every moment, at rest or not: `<name>-primary` never selects two pods (the
 * operator moves the role label off the old primary before it puts it on the new one). Undefined
 * when it holds, else what is wrong. */
export async function alwaysViolated(namespace: string, name: string): Promise<string | undefined> {
  const labelled = (await livePods(namespace, name)).filter((p) => p.metadata!.labels?.[LABEL.role] === 'primary').map((p) => p.metadata!.name!);
  return labelled.length > 1 ? `${namespace}/${name}: ${labelled.length} pods labelled primary at once: ${labelled.join(', ')}` : undefined;
}

/** Waits until the resource is Ready again for its current generation and the invariants hold.
 * "Not yet" (status catches up with a fault within a pass or two) is retried, and its last failure
 * reported on timeout; a violation of what must always hold (alwaysViolated) fails at once. */
export async function settle(namespace: string, name: string, password?: string, timeoutMs = 90_000): Promise<void> {
  let violation: string | undefined;
  await waitFor(
    async () => {
      violation ??= await alwaysViolated(namespace, name);
      if (violation) return false;
      const rr = await getRR(namespace, name);
      if (rr.status?.phase !== 'Ready' || rr.status.observedGeneration !== rr.metadata.generation || rr.status.targetPrimary) return false;
      await checkInvariants(namespace, name, password);
      return true;
    },
    {
      timeoutMs,
      intervalMs: 200,
      what: `${namespace}/${name} Ready again, with its invariants`,
      check: () => {
        if (violation) throw new Error(`invariant violated: ${violation}`);
      },
    },
  );
}

/** The bound the e2e tests put on a failover, from the fault to a new primary in status:
 * primaryDownSeconds, and 10 s more for the passes, the promotion and the status write (generous:
 * 0.2 to 5.6 s were measured). */
export const failoverBoundMs = (primaryDownSeconds: number) => (primaryDownSeconds + 10) * 1000;

/** Watches status from `sinceMs` (the fault) until it names a primary other than `from`; resolves
 * with it and how long that took. Start it before the fault: a fault helper may itself wait. */
export async function newPrimary(namespace: string, name: string, from: string, sinceMs: number, timeoutMs = 60_000): Promise<{ to: string; ms: number }> {
  const to = await waitFor(
    async () => {
      const primary = (await getRR(namespace, name)).status?.primary;
      return primary !== undefined && primary !== from ? primary : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `a new primary in place of ${from}` },
  );
  return { to, ms: Date.now() - sinceMs };
}
