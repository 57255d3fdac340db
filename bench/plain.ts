// Plain redis pods with no operator: the lower bound of time-to-Ready, and the Sentinel baseline.
import { waitFor } from '../hack/lib.js';
import { GROUP, parseSpec, PLURAL, VERSION, type RedisReplication } from '../src/api/schema.js';
import { buildNetworkPolicy } from '../src/plan/network.js';
import { buildDisruptionBudgets, buildServices } from '../src/plan/specs.js';
import { api, createRR, redisCommand } from '../test/e2e/support/operator.js';
import { noted, unlessGone } from './lib.js';

export const PLAIN_ARGS = ['--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'];
/** As the operator's pods with `persistence.enabled` (src/plan/specs.ts): an append-only file (and
 * Redis's default snapshots) in /data, a volume that outlives the container. */
const AOF_ARGS = ['--port', '6379', '--protected-mode', 'no', '--dir', '/data', '--appendonly', 'yes'];
/** The image of the plain pods, and of the operator's resources they are compared with. */
export const PLAIN_IMAGE = 'redis:7.0';

export type Persistence = 'none' | 'aof';

/** Plain redis pods; `spread`: one per node (as the operator spreads its pods), required; `aof`: with
 * an append-only file on a volume of the pod (it survives a container restart, as the operator's
 * claim does). */
/**
 * `askSentinels`: the pod boots as a Sentinel deployment's pods do (the start scripts of the common
 * charts): it asks the sentinels which pod is the master and, if another, starts as its replica;
 * if none answers, it starts with `extraArgs` as given. A restarted pod thus follows the failovers
 * Sentinel made, instead of the master of the first boot.
 */
export async function createPlainPods(
  ns: string, names: string[], group: string, extraArgs: string[] = [],
  opts: { spread?: boolean; persistence?: Persistence; askSentinels?: { host: string; ports: number[] } } = {},
): Promise<void> {
  const core = api().core;
  const labels = { 'bench.rro/group': group };
  const spread = opts.spread ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: labels } }] } : {};
  const aof = opts.persistence === 'aof';
  const volume = aof ? { volumes: [{ name: 'data', emptyDir: {} }] } : {};
  const mount = aof ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {};
  await Promise.all(names.map((name) => core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, labels },
      spec: { terminationGracePeriodSeconds: 1, ...spread, ...volume, containers: [{ name: 'redis', image: PLAIN_IMAGE, ...start([...(aof ? AOF_ARGS : PLAIN_ARGS)], extraArgs, opts.askSentinels), ...mount }] },
    },
  })));
}

/** The container's command: redis-server with `base` and `extra`, or the Sentinel boot script. */
function start(base: string[], extra: string[], sentinels: { host: string; ports: number[] } | undefined) {
  if (!sentinels) return { args: [...base, ...extra] };
  const ask = sentinels.ports.map((p) => `redis-cli -h ${sentinels.host} -p ${p} --raw SENTINEL get-master-addr-by-name m 2>/dev/null | head -n1`);
  const script = [
    'M=""',
    ...ask.map((q) => `[ -n "$M" ] || M=$(${q})`),
    // A master that names itself restarts as a master (what Sentinel's users get with no persistence:
    // an empty master until the sentinels notice), as the charts' scripts do.
    'if [ -n "$M" ] && [ "$M" != "$POD_IP" ]; then exec redis-server "$@" --replicaof "$M" 6379; fi',
    `[ -n "$M" ] && exec redis-server "$@"`,
    // No sentinel answers (the first boot): the parent the caller gave, if any.
    `exec redis-server "$@" ${extra.filter((_, i) => isReplicaOf(extra, i)).join(' ')}`.trimEnd(),
  ].join('\n');
  return {
    command: ['sh', '-c', script, 'redis-server', ...base, ...extra.filter((_, i) => !isReplicaOf(extra, i))],
    env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
  };
}

/** Whether extra[i] is part of a `--replicaof HOST PORT` (the script decides where a pod replicates). */
function isReplicaOf(extra: string[], i: number): boolean {
  return extra[i] === '--replicaof' || extra[i - 1] === '--replicaof' || extra[i - 2] === '--replicaof';
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
  await Promise.all(names.map((name) => core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch(unlessGone(`deleting pod ${ns}/${name}`))));
  await waitFor(async () => {
    const list = await core.listNamespacedPod({ namespace: ns });
    return !list.items.some((p) => names.includes(p.metadata!.name!));
  }, { timeoutMs: 90_000, intervalMs: 500, what: 'plain pods gone' }).catch(noted(`deleting plain pods ${names.join(', ')}`));
}

/**
 * The plain-script bound of a ramp of `names.length` resources of `replicas: 1`: what the operator
 * creates for each (its RedisReplication, created as the scale section creates it; the two Services,
 * two PodDisruptionBudgets and NetworkPolicy, built by the operator's own builders; a primary and a
 * replica pod, plain), in batches of `batch` resources at a time as the scale section creates them,
 * then each REPLICAOF as soon as both pods of a resource answer, until every replica's link is up.
 * No operator watches `ns`. Returns seconds from the first create to the last link up.
 */
export async function plainRamp(ns: string, names: string[], batch: number, timeoutMs: number): Promise<number> {
  const { core, custom, policy, networking } = api();
  const started = Date.now();
  const createOne = async (name: string) => {
    await createRR(ns, name, { replicas: 1 });
    const rr = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name })) as RedisReplication;
    const parsed = parseSpec(rr.spec, name);
    if (!parsed.ok) throw new Error(`plain ramp: ${parsed.message}`);
    const netpol = buildNetworkPolicy(rr, parsed.spec, undefined);
    await Promise.all([
      ...buildServices(rr, parsed.spec).map((body) => core.createNamespacedService({ namespace: ns, body })),
      ...buildDisruptionBudgets(rr).map((body) => policy.createNamespacedPodDisruptionBudget({ namespace: ns, body })),
      ...(netpol ? [networking.createNamespacedNetworkPolicy({ namespace: ns, body: netpol })] : []),
      createPlainPods(ns, [`${name}-0`, `${name}-1`], 'ramp', ['--repl-diskless-sync-delay', '1']),
    ]);
  };
  for (let i = 0; i < names.length; i += batch) await Promise.all(names.slice(i, i + batch).map(createOne));
  // One listing of the namespace per round, as informers would see it: a replica is pointed at its
  // primary once both answer, and counted once its link is up.
  const pointed = new Set<string>();
  const linked = new Set<string>();
  await waitFor(async () => {
    const ips = new Map((await core.listNamespacedPod({ namespace: ns })).items.flatMap((p) => (p.status?.phase === 'Running' && p.status.podIP ? [[p.metadata!.name!, p.status.podIP] as const] : [])));
    await Promise.all(
      names.map(async (name) => {
        const [primary, replica] = [ips.get(`${name}-0`), ips.get(`${name}-1`)];
        if (!primary || !replica || linked.has(name)) return;
        if (!pointed.has(name)) {
          const up = await Promise.all([primary, replica].map((ip) => redisCommand(ip, ['PING']).then((r) => r === 'PONG', () => false)));
          if (!up.every(Boolean)) return;
          await redisCommand(replica, ['REPLICAOF', primary, '6379']);
          pointed.add(name);
        }
        if (await replicaLinkUp(replica).catch(() => false)) linked.add(name);
      }),
    );
    return linked.size === names.length;
  }, { timeoutMs, intervalMs: 200, what: `${names.length} plain resources linked` });
  return (Date.now() - started) / 1000;
}
