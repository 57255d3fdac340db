// Read scaling with a real load tool: redis-benchmark GETs through `<name>-read` for 1, 2 and 4
// replicas, and how many of them each replica served (INFO commandstats, cmdstat_get calls).
import { run, waitFor } from '../hack/lib.js';
import { api, createRR, getRR, redisCommand } from '../test/e2e/support/operator.js';
import { unlessGone } from './lib.js';
import { GROUP, PLURAL, VERSION } from '../src/api/schema.js';

export interface ReadResult {
  replicas: number;
  requestsPerSecond: number;
  /** GETs each replica served during the run, by pod. */
  perReplica: Record<string, number>;
}

const getCalls = async (ip: string): Promise<number> => Number(/cmdstat_get:calls=(\d+)/.exec(String(await redisCommand(ip, ['INFO', 'commandstats'])))?.[1] ?? 0);

export async function readScaling(ns: string, replicas: number, requests: number): Promise<ReadResult> {
  const name = `reads-${replicas}`;
  // preferClose off: on the local cluster one kube-proxy routes every client as if in zone-a, and
  // PreferClose would send every connection to the zone-a replicas.
  await createRR(ns, name, { replicas, readService: { preferClose: false } });
  await waitFor(async () => (await getRR(ns, name)).status?.phase === 'Ready', { timeoutMs: 180_000, intervalMs: 250, what: `${name} Ready` });
  const service = (await api().core.readNamespacedService({ namespace: ns, name: `${name}-read` })).spec!.clusterIP!;
  const nodes = (await getRR(ns, name)).status!.nodes!.filter((n) => n.role === 'replica');
  // Every replica behind the Service before the run, so that connections spread over all of them.
  await waitFor(async () => {
    const slices = await api().discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${name}-read` });
    return slices.items.flatMap((s) => s.endpoints).filter((e) => e.conditions?.ready).length === replicas;
  }, { timeoutMs: 60_000, intervalMs: 250, what: `${replicas} endpoints behind ${name}-read` });
  const before = await Promise.all(nodes.map((n) => getCalls(n.podIP!)));
  // 50 connections (kube-proxy spreads connections, not requests), GET only, bounded in count.
  const r = await run('redis-benchmark', ['-h', service, '-p', '6379', '-t', 'get', '-n', String(requests), '-c', '50', '--csv'], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  const rps = Number(/"GET","([\d.]+)"/.exec(r.stdout)?.[1] ?? NaN);
  const after = await Promise.all(nodes.map((n) => getCalls(n.podIP!)));
  const perReplica = Object.fromEntries(nodes.map((n, i) => [n.name, after[i]! - before[i]!]));
  await api().custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name }).catch(unlessGone(`deleting ${ns}/${name}`));
  return { replicas, requestsPerSecond: rps, perReplica };
}
