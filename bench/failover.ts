// The failover matrix: each fault (SIGKILL, freeze, partition, node-down) of the master, for this
// operator and for Redis Sentinel, at equal detection thresholds, without and with an append-only
// file on both sides. Both run the same image with the same arguments where they can (persistence,
// diskless-sync delay), on the same kubelets (a killed container restarts with the kubelet's real
// back-off for both), under the same write load through the same client library (ioredis, the same
// timeouts and retries) until the system has settled again plus the same window: ours writes through
// the `<name>-primary` Service, Sentinel's asks the sentinels as a Sentinel client does.
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { Redis, type RedisOptions } from 'ioredis';
import { waitFor } from '../hack/lib.js';
import { BRIDGE_IP } from '../hack/local-cluster/common.js';
import { GROUP, PLURAL, VERSION } from '../src/api/schema.js';
import { kubeConfig } from '../test/e2e/support/cluster.js';
import { freezePod, healPod, killContainer, nodeDown, nodeUp, partitionPod, thawPod } from '../test/e2e/support/faults.js';
import { primaryServiceIP } from '../test/e2e/support/invariants.js';
import { missingWrites, startWriteLoad, type Writer } from '../test/e2e/support/load.js';
import { api, createRR, getRR, redisCommand } from '../test/e2e/support/operator.js';
import { unlessGone } from './lib.js';
import { PLAIN_IMAGE, createPlainPods, deletePods, replicaLinkUp, waitPlainRunning, type Persistence } from './plain.js';
import { SENTINEL_PORTS, sentinelEvents, startSentinels, type Sentinels } from './sentinel.js';

export const FAULTS = ['kill', 'freeze', 'partition', 'node-down'] as const;
export type Fault = (typeof FAULTS)[number];

/** Equal detection thresholds in every row: the operator's primaryDownSeconds, and Sentinel's
 * down-after-milliseconds set to the same time. `default` is the operator's default (3 s). */
const threshold = <K extends string>(key: K, seconds: number) => ({ key, primaryDownSeconds: seconds, downAfterMs: seconds * 1000 });
export const THRESHOLDS = [threshold('fast', 1), threshold('default', 3)] as const;
export type Threshold = (typeof THRESHOLDS)[number];

/** Without persistence, and with an append-only file on a volume that survives the container. */
export const PERSISTENCE: readonly Persistence[] = ['none', 'aof'];

/** Writes go on this long after the system has settled, for both systems alike. */
const WINDOW_AFTER_SETTLE_MS = 1000;
/** A trial whose writes are not back within this long never recovered: a failure of the system. */
const RECOVERY_LIMIT_MS = 60_000;

export interface TrialResult {
  fault: Fault;
  persistence: Persistence;
  /** Writes came back within RECOVERY_LIMIT_MS. */
  recovered: boolean;
  /** From the fault to the first write acknowledged after the last failure (null: never recovered). */
  seconds: number | null;
  /** The master writes came back to had lost the first acknowledged write of the trial: it was
   * wiped (an empty master), so `seconds` is not a recovery but the time to lose the data. */
  wiped: boolean;
  lost: number;
  acked: number;
  longestGapMs: number;
  masterMoved: boolean;
  /** Sentinel's log events of the trial (Sentinel only). */
  events?: Record<string, number>;
  /** From the fault to the operator's "failing over" log line (operator only, when its log is read):
   * detection and decision; the rest of `seconds` is the promotion, the routes and the client. */
  decidedSeconds?: number | null;
  /** From the fault to the moment the master's Service first had ready endpoints without the old
   * master (operator only): the rest of `seconds` is kube-proxy's rules and the client reconnecting. */
  routedSeconds?: number | null;
}

interface Master {
  pod: string;
  uid: string;
  node: string;
  ip: string | undefined;
}

/** One system under test: its pods, how to find its master, its client, and when it has settled. */
export interface System {
  master(): Promise<Master>;
  writer(): Writer | string;
  /** Every pod runs and is linked to one master that takes writes: returns where to count writes. */
  settled(timeoutMs: number): Promise<string>;
  events?(): Record<string, number>;
  /** When the operator decided to fail over, after `sinceMs` (epoch ms), from its log. */
  decidedAt?(sinceMs: number): number | undefined;
  /** When the master's Service first routed to ready endpoints other than `old`'s IP, after `sinceMs`. */
  routedAt?(sinceMs: number, old: Master): number | undefined;
}

async function podOf(ns: string, name: string): Promise<Master> {
  const pod = await api().core.readNamespacedPod({ namespace: ns, name });
  return { pod: name, uid: pod.metadata!.uid!, node: pod.spec!.nodeName!, ip: pod.status?.podIP };
}

/** The same pod (not a replacement under its name) still exists: healing it is still meaningful. */
async function stillThere(ns: string, m: Master): Promise<boolean> {
  const pod = await api().core.readNamespacedPod({ namespace: ns, name: m.pod }).catch((err: unknown) => {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  });
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

/** One trial: fault the master under load, heal once writes are back (or after RECOVERY_LIMIT_MS),
 * settle, count. */
export async function trial(ns: string, system: System, fault: Fault, persistence: Persistence, prefix: string): Promise<TrialResult> {
  await system.settled(180_000);
  const before = await system.master();
  const load = startWriteLoad({ host: system.writer(), prefix, maxDurationMs: 300_000, maxWrites: 2_000_000 });
  await waitFor(() => load.ackedCount() >= 200, { timeoutMs: 30_000, intervalMs: 20, what: 'write load running' });
  const t0 = Date.now();
  await INJECT[fault](ns, before);
  // Polled until the limit: a trial that does not get there is recorded as never recovered.
  let recoveredAt: number | undefined;
  for (const deadline = t0 + RECOVERY_LIMIT_MS; recoveredAt === undefined && Date.now() < deadline; await sleep(20)) recoveredAt = load.recoveredAt(t0);
  await heal(fault, ns, before);
  const countOn = await system.settled(240_000);
  await sleep(WINDOW_AFTER_SETTLE_MS);
  const result = await load.stop();
  // Routes to a new master can lag behind the settle by a moment (kube-proxy, conntrack): a few tries
  // (the last failure is in the error if none succeeds).
  const missing = await waitFor(() => missingWrites(countOn, undefined, prefix, result.acked), { timeoutMs: 30_000, intervalMs: 1000, what: `counting writes on ${countOn}` });
  const after = await system.master();
  const decidedAt = system.decidedAt?.(t0);
  const routedAt = system.routedAt?.(t0, before);
  return {
    fault,
    persistence,
    recovered: recoveredAt !== undefined,
    seconds: recoveredAt === undefined ? null : (recoveredAt - t0) / 1000,
    wiped: result.acked.length > 0 && missing.includes(result.acked[0]!),
    lost: missing.length,
    acked: result.acked.length,
    longestGapMs: result.longestGapMs,
    masterMoved: after.pod !== before.pod || after.uid !== before.uid,
    ...(system.events ? { events: system.events() } : {}),
    ...(system.decidedAt ? { decidedSeconds: decidedAt === undefined ? null : (decidedAt - t0) / 1000 } : {}),
    ...(system.routedAt ? { routedSeconds: routedAt === undefined ? null : (routedAt - t0) / 1000 } : {}),
  };
}

export type TrialsPerFault = Record<Fault, number>;

/** One system at one threshold and persistence: the trials of each fault, what to report them to. */
export interface MatrixRun {
  ns: string;
  threshold: Threshold;
  persistence: Persistence;
  trials: TrialsPerFault;
  /** Called after each trial. */
  report: (r: TrialResult) => void;
  /** Called for a trial that could not be carried out (the matrix goes on with the next). */
  failed: (what: string) => void;
}

/** Every fault, `trials[fault]` times, against one system. */
async function runFaults(run: MatrixRun, system: System, label: string): Promise<void> {
  const { ns, persistence, trials, report, failed } = run;
  for (const fault of FAULTS) {
    for (let t = 0; t < trials[fault]; t++) {
      try {
        report(await trial(ns, system, fault, persistence, `${label}-${fault}-${t}`));
      } catch (err) {
        failed(`${label} ${fault} trial ${t + 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

// ------------------------------------------------------------------ the client

/** The one client library both systems are measured with (ioredis, the same timeouts and retries).
 * A write that fails on an open connection drops it, and the client connects anew, to the Service's
 * address or to the master the sentinels name then. Connection errors are not logged: the load counts each
 * failed write. */
function ioredisWriter(options: RedisOptions): Writer {
  const client = new Redis({ enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 500, commandTimeout: 1000, retryStrategy: () => 50, ...options });
  client.on('error', () => undefined);
  return {
    async set(key, value) {
      try {
        return await client.set(key, value);
      } catch (err) {
        // Failed on an open connection: drop it and connect anew. One still being made is left to
        // finish (the write failed because it is not ready yet).
        if (client.status === 'ready') client.disconnect(true);
        throw err;
      }
    },
    host: () => client.stream?.remoteAddress,
    close: () => client.disconnect(),
  };
}

// ------------------------------------------------------------------ this operator

/** A RedisReplication `replicas: 2` of PLAIN_IMAGE made for failover trials, once its primary
 * Service exists, and the System that measures it. `log` is the operator's output (pino JSON lines),
 * for the moment it decided (its "failing over" line). */
export async function operatorResource(ns: string, name: string, threshold: Threshold, persistence: Persistence, log?: () => string): Promise<{ system: System; remove: () => Promise<void> }> {
  await createRR(ns, name, {
    image: PLAIN_IMAGE,
    replicas: 2,
    persistence: persistence === 'aof' ? { enabled: true, size: '64Mi' } : { enabled: false },
    failover: { enabled: true, primaryDownSeconds: threshold.primaryDownSeconds },
  });
  const service = await waitFor(() => primaryServiceIP(ns, name), { timeoutMs: 60_000, what: `${name}-primary` });
  const endpoints = await watchEndpoints(ns, `${name}-primary`);
  const system: System = {
    master: async () => podOf(ns, (await getRR(ns, name)).status!.primary!),
    writer: () => ioredisWriter({ host: service, port: 6379 }),
    settled: async (timeoutMs) => {
      await waitFor(async () => {
        const rr = await getRR(ns, name);
        const ready = rr.status?.phase === 'Ready' && rr.status.observedGeneration === rr.metadata.generation && !(rr.status as { targetPrimary?: unknown }).targetPrimary;
        return ready && rr.status!.nodes!.length === 3 && ((await redisCommand(service, ['ROLE'])) as string[])[0] === 'master';
      }, { timeoutMs, intervalMs: 100, what: `${name} Ready` });
      return service;
    },
    ...(log ? { decidedAt: (sinceMs: number) => failingOverAt(log(), `${ns}/${name}`, sinceMs) } : {}),
    routedAt: (sinceMs, old) => endpoints.history.find((h) => h.atMs >= sinceMs && h.ips.length > 0 && !h.ips.includes(old.ip ?? ''))?.atMs,
  };
  const remove = () => {
    endpoints.stop();
    return api().custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name }).then(() => undefined, unlessGone(`deleting ${ns}/${name}`));
  };
  return { system, remove };
}

/** The ready addresses of a Service's EndpointSlices each time they changed, from a watch (watched
 * again when the API server ends it) until stop() is called. */
async function watchEndpoints(ns: string, service: string): Promise<{ history: { atMs: number; ips: string[] }[]; stop: () => void }> {
  const slices = new Map<string, string[]>();
  const history: { atMs: number; ips: string[] }[] = [];
  let stopped = false;
  let current: AbortController | undefined;
  const start = async (): Promise<void> => {
    slices.clear();
    current = await new k8s.Watch(kubeConfig()).watch(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      { labelSelector: `kubernetes.io/service-name=${service}` },
      (type: string, slice: k8s.V1EndpointSlice) => {
        if (type === 'DELETED') slices.delete(slice.metadata!.name!);
        else slices.set(slice.metadata!.name!, slice.endpoints.filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses));
        history.push({ atMs: Date.now(), ips: [...slices.values()].flat() });
      },
      () => void (stopped || start()),
    );
  };
  await start();
  return {
    history,
    stop: () => {
      stopped = true;
      current?.abort();
    },
  };
}

/** The time of the operator's first "failing over" line for `resource` at or after `sinceMs`. */
function failingOverAt(log: string, resource: string, sinceMs: number): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"failing over"') || !line.includes(`"${resource}"`)) continue;
    const time = (JSON.parse(line) as { time?: number }).time;
    if (time !== undefined && time >= sinceMs) return time;
  }
  return undefined;
}

export async function operatorMatrix(run: MatrixRun, log?: () => string): Promise<void> {
  const { ns, threshold, persistence } = run;
  const { system, remove } = await operatorResource(ns, `fo-${threshold.key}-${persistence}`, threshold, persistence, log);
  try {
    await runFaults(run, system, `fo-${threshold.key}-${persistence}`);
  } finally {
    await remove();
  }
}

// ------------------------------------------------------------------ Redis Sentinel

/** A client as Sentinel users run it: it asks the sentinels for the master, checks the role on
 * connect, and follows +switch-master (ioredis' failover detector). */
const sentinelWriter = () => ioredisWriter({ sentinels: SENTINEL_PORTS.map((port) => ({ host: '127.0.0.1', port })), name: 'm', sentinelRetryStrategy: () => 50, failoverDetector: true });

/** What the sentinels say the master is (undefined: they disagree). */
async function agreedMaster(): Promise<string | undefined> {
  const views = await Promise.all(SENTINEL_PORTS.map(async (port) => ((await redisCommand('127.0.0.1', ['SENTINEL', 'get-master-addr-by-name', 'm'], undefined, port)) as string[] | null)?.[0]));
  return views[0] && views.every((v) => v === views[0]) ? views[0] : undefined;
}

/** The pods as a Sentinel deployment runs them: the same image, persistence and diskless-sync delay
 * as the operator's pods (src/plan/specs.ts), spread one per node; the master first, then the
 * replicas, which boot as replicas of it; a pod that restarts boots as a replica of the master the
 * sentinels name (plain.ts). */
export async function sentinelMatrix(run: MatrixRun): Promise<void> {
  const { ns, threshold, persistence } = run;
  const group = `sentinel-${threshold.key}-${persistence}`;
  const names = [0, 1, 2].map((i) => `sen-${i}-${threshold.key}-${persistence}`);
  const args = ['--repl-diskless-sync-delay', '1'];
  // Restarted pods ask the sentinels for the master, as a Sentinel deployment's start script does.
  const opts = { spread: true, persistence, askSentinels: { host: BRIDGE_IP, ports: SENTINEL_PORTS } };
  let sentinels: Sentinels | undefined;
  try {
    await createPlainPods(ns, names.slice(0, 1), group, args, opts);
    const masterIP = (await waitPlainRunning(ns, names.slice(0, 1))).get(names[0]!)!;
    await createPlainPods(ns, names.slice(1), group, [...args, '--replicaof', masterIP, '6379'], opts);
    const ips = await waitPlainRunning(ns, names);
    const ipOf = (name: string) => ips.get(name)!;
    await waitFor(async () => (await Promise.all(names.slice(1).map((n) => replicaLinkUp(ipOf(n))))).every(Boolean), { timeoutMs: 60_000, what: 'plain replicas linked' });
    sentinels = await startSentinels(masterIP, threshold.downAfterMs, 10_000);
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
          if (!master || !/role:master/.test(String(await redisCommand(master, ['INFO', 'replication'])))) return undefined;
          const others = names.map(ipOf).filter((ip) => ip !== master);
          return (await Promise.all(others.map((ip) => replicaLinkUp(ip)))).every(Boolean) ? master : undefined;
        }, { timeoutMs, intervalMs: 100, what: 'the sentinels agree and every replica is linked' }),
      events: () => sentinelEvents(s.logSince(mark)),
    };
    await system.settled(60_000);
    await runFaults(run, system, group);
  } finally {
    await sentinels?.stop();
    await deletePods(ns, names);
  }
}
