// The failover matrix: each fault (SIGKILL, freeze, partition, node-down) of the master, for this
// operator and for Redis Sentinel, at equal detection thresholds. Both run the same pods through the
// same node agent (so a killed container restarts the same way for both), under the same write load
// until the system has settled again plus the same window, with the client each would really have:
// ours writes through the `<name>-primary` Service, Sentinel's asks the sentinels as a Sentinel client
// does (ioredis with its failover detector).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { waitFor } from '../hack/lib.js';
import { freezePod, healPod, killContainer, nodeDown, nodeUp, partitionPod, thawPod } from '../test/e2e/support/faults.js';
import { primaryServiceIP } from '../test/e2e/support/invariants.js';
import { missingWrites, startWriteLoad, type Writer } from '../test/e2e/support/load.js';
import { api, createRR, getRR, redisCommand } from '../test/e2e/support/operator.js';
import { PLAIN_IMAGE, createPlainPods, deletePods, replicaLinkUp, waitPlainRunning } from './plain.js';
import { SENTINEL_PORTS, sentinelEvents, startSentinels, type Sentinels } from './sentinel.js';

export const FAULTS = ['kill', 'freeze', 'partition', 'node-down'] as const;
export type Fault = (typeof FAULTS)[number];

/** Equal detection thresholds: the operator's primaryDownSeconds against Sentinel's down-after-milliseconds. */
export const THRESHOLDS = [
  { key: 'fast', primaryDownSeconds: 1, downAfterMs: 1000 },
  { key: 'default', primaryDownSeconds: 3, downAfterMs: 5000 },
] as const;
export type Threshold = (typeof THRESHOLDS)[number];

/** Writes go on this long after the system has settled, for both systems alike. */
const WINDOW_AFTER_SETTLE_MS = 1000;

export interface TrialResult {
  fault: Fault;
  /** From the fault to the first write acknowledged after the last failure (NaN: never within 60 s). */
  seconds: number;
  lost: number;
  acked: number;
  longestGapMs: number;
  masterMoved: boolean;
  /** Sentinel's log events of the trial (Sentinel only). */
  events?: Record<string, number>;
}

interface Master {
  pod: string;
  uid: string;
  node: string;
}

/** One system under test: its pods, how to find its master, its client, and when it has settled. */
interface System {
  master(): Promise<Master>;
  writer(): Writer | string;
  /** Every pod runs and is linked to one master that takes writes: returns where to count writes. */
  settled(timeoutMs: number): Promise<string>;
  events?(): Record<string, number>;
}

async function podOf(ns: string, name: string): Promise<Master> {
  const pod = await api().core.readNamespacedPod({ namespace: ns, name });
  return { pod: name, uid: pod.metadata!.uid!, node: pod.spec!.nodeName! };
}

/** The same pod (not a replacement under its name) still exists: healing it is still meaningful. */
async function stillThere(ns: string, m: Master): Promise<boolean> {
  const pod = await api().core.readNamespacedPod({ namespace: ns, name: m.pod }).catch(() => undefined);
  return pod?.metadata?.uid === m.uid && !pod.metadata?.deletionTimestamp;
}

const INJECT: Record<Fault, (ns: string, m: Master) => Promise<void>> = {
  kill: (ns, m) => killContainer(ns, m.pod),
  freeze: (ns, m) => freezePod(ns, m.pod),
  partition: (ns, m) => partitionPod(ns, m.pod),
  'node-down': (_ns, m) => nodeDown(m.node),
};

/** Undoes the fault. A pod the system deleted meanwhile (ours fences a lost primary) needs no healing. */
async function heal(fault: Fault, ns: string, m: Master): Promise<void> {
  if (fault === 'node-down') return nodeUp(m.node);
  if (fault === 'kill' || !(await stillThere(ns, m))) return;
  if (fault === 'freeze') return thawPod(ns, m.pod);
  return healPod(ns, m.pod);
}

/** One trial: fault the master under load, heal once writes are back (or after 60 s), settle, count. */
async function trial(ns: string, system: System, fault: Fault, prefix: string): Promise<TrialResult> {
  await system.settled(180_000);
  const before = await system.master();
  const load = startWriteLoad({ host: system.writer(), prefix, maxDurationMs: 300_000, maxWrites: 2_000_000 });
  await waitFor(() => load.ackedCount() >= 200, { timeoutMs: 30_000, intervalMs: 20, what: 'write load running' });
  const t0 = Date.now();
  await INJECT[fault](ns, before);
  const recovered = await waitFor(() => load.recoveredAt(t0), { timeoutMs: 60_000, intervalMs: 20, what: 'writes accepted again' }).catch(() => undefined);
  await heal(fault, ns, before);
  const countOn = await system.settled(240_000);
  await sleep(WINDOW_AFTER_SETTLE_MS);
  const result = await load.stop();
  // Routes to a new master can lag behind the settle by a moment (kube-proxy, conntrack): a few tries.
  const lost = (await waitFor(() => missingWrites(countOn, undefined, prefix, result.acked).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 1000, what: `counting writes on ${countOn}` })).length;
  const after = await system.master();
  return {
    fault,
    seconds: recovered === undefined ? NaN : (recovered - t0) / 1000,
    lost,
    acked: result.acked.length,
    longestGapMs: result.longestGapMs,
    masterMoved: after.pod !== before.pod || after.uid !== before.uid,
    ...(system.events ? { events: system.events() } : {}),
  };
}

export type TrialsPerFault = Record<Fault, number>;

/** Every fault, `trials[fault]` times, against one system; `report` is called after each trial, and
 * `failed` for a trial that could not be carried out (the matrix goes on with the next). */
async function runFaults(ns: string, system: System, label: string, trials: TrialsPerFault, report: (r: TrialResult) => void, failed: (what: string) => void): Promise<void> {
  for (const fault of FAULTS) {
    for (let t = 0; t < trials[fault]; t++) {
      try {
        report(await trial(ns, system, fault, `${label}-${fault}-${t}`));
      } catch (err) {
        failed(`${label} ${fault} trial ${t + 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

// ------------------------------------------------------------------ this operator

export async function operatorMatrix(ns: string, threshold: Threshold, trials: TrialsPerFault, report: (r: TrialResult) => void, failed: (what: string) => void): Promise<void> {
  const name = `fo-${threshold.key}`;
  await createRR(ns, name, { image: PLAIN_IMAGE, replicas: 2, failover: { enabled: true, primaryDownSeconds: threshold.primaryDownSeconds } });
  const service = await waitFor(() => primaryServiceIP(ns, name).catch(() => undefined), { timeoutMs: 60_000, what: `${name}-primary` });
  const system: System = {
    master: async () => podOf(ns, (await getRR(ns, name)).status!.primary!),
    writer: () => service,
    settled: async (timeoutMs) => {
      await waitFor(async () => {
        const rr = await getRR(ns, name);
        const ready = rr.status?.phase === 'Ready' && rr.status.observedGeneration === rr.metadata.generation && !(rr.status as { targetPrimary?: unknown }).targetPrimary;
        return ready && rr.status!.nodes!.length === 3 && (await redisCommand(service, ['ROLE']).then((r) => (r as string[])[0] === 'master', () => false));
      }, { timeoutMs, intervalMs: 100, what: `${name} Ready` });
      return service;
    },
  };
  try {
    await runFaults(ns, system, name, trials, report, failed);
  } finally {
    await api().custom.deleteNamespacedCustomObject({ group: 'redis.replication.dev', version: 'v1alpha1', plural: 'redisreplications', namespace: ns, name }).catch(() => undefined);
  }
}

// ------------------------------------------------------------------ Redis Sentinel

/** A client as Sentinel users run it: it asks the sentinels for the master, checks the role on
 * connect, and follows +switch-master (ioredis' failover detector). */
function sentinelWriter(): Writer {
  const client = new Redis({
    sentinels: SENTINEL_PORTS.map((port) => ({ host: '127.0.0.1', port })),
    name: 'm',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    commandTimeout: 1000,
    retryStrategy: () => 50,
    sentinelRetryStrategy: () => 50,
    failoverDetector: true,
  });
  client.on('error', () => undefined);
  return {
    set: (key, value) => client.set(key, value),
    host: () => client.stream?.remoteAddress,
    close: () => client.disconnect(),
  };
}

/** What the sentinels say the master is (undefined: they disagree or do not answer). */
async function agreedMaster(): Promise<string | undefined> {
  const views = await Promise.all(
    SENTINEL_PORTS.map((port) => redisCommand('127.0.0.1', ['SENTINEL', 'get-master-addr-by-name', 'm'], undefined, port).then((r) => (r as string[] | null)?.[0], () => undefined)),
  );
  return views[0] && views.every((v) => v === views[0]) ? views[0] : undefined;
}

export async function sentinelMatrix(ns: string, threshold: Threshold, trials: TrialsPerFault, report: (r: TrialResult) => void, failed: (what: string) => void): Promise<void> {
  const names = ['sen-0', 'sen-1', 'sen-2'].map((n) => `${n}-${threshold.key}`);
  // Spread over the nodes as the operator's pods are, restarted by the same node agent.
  await createPlainPods(ns, names, `sentinel-${threshold.key}`, [], { spread: true });
  let sentinels: Sentinels | undefined;
  try {
    const ips = await waitPlainRunning(ns, names);
    const ipOf = (name: string) => ips.get(name)!;
    for (const n of names.slice(1)) await redisCommand(ipOf(n), ['REPLICAOF', ipOf(names[0]!), '6379']);
    await waitFor(async () => (await Promise.all(names.slice(1).map((n) => replicaLinkUp(ipOf(n)).catch(() => false)))).every(Boolean), { timeoutMs: 60_000, what: 'plain replicas linked' });
    sentinels = await startSentinels(ipOf(names[0]!), threshold.downAfterMs, 10_000);
    let mark = sentinels.logMark();
    const s = sentinels;
    const system: System = {
      master: async () => {
        const ip = await waitFor(agreedMaster, { timeoutMs: 60_000, intervalMs: 100, what: 'the sentinels agree on a master' });
        const name = names.find((n) => ipOf(n) === ip);
        if (!name) throw new Error(`the sentinels' master ${ip} is none of ${names.join(', ')}`);
        return podOf(ns, name);
      },
      writer: () => {
        mark = s.logMark();
        return sentinelWriter();
      },
      settled: (timeoutMs) =>
        waitFor(async () => {
          const master = await agreedMaster();
          if (!master || !/role:master/.test(String(await redisCommand(master, ['INFO', 'replication']).catch(() => '')))) return undefined;
          const others = names.map(ipOf).filter((ip) => ip !== master);
          return (await Promise.all(others.map((ip) => replicaLinkUp(ip).catch(() => false)))).every(Boolean) ? master : undefined;
        }, { timeoutMs, intervalMs: 100, what: 'the sentinels agree and every replica is linked' }),
      events: () => sentinelEvents(s.logSince(mark)),
    };
    await system.settled(60_000);
    await runFaults(ns, system, `sentinel-${threshold.key}`, trials, report, failed);
  } finally {
    await sentinels?.stop();
    await deletePods(ns, names);
  }
}
