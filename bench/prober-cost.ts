// The prober's own cost at rest, without a cluster: N resources of one primary and one replica that
// never change, probed round after round. It measures CPU per round (the INFO text, its parsing and
// the comparison of plan/probe.ts) and the heap it keeps, and counts what it enqueued (0 expected).
//
//   node --expose-gc --import tsx bench/prober-cost.ts [--resources=100,500,1000] [--rounds=20] [--redis=127.0.0.1:6399]
//
// Without --redis the answers are canned (the prober's logic alone). With --redis every pod's INFO
// goes to that redis-server through the operator's pool (one pooled connection for all, pipelined: the
// per-command cost of node-redis; a cluster opens one connection per pod).
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { RedisReplication } from '../src/api/schema.js';
import { PassRedis, Prober, SLICES } from '../src/controller/prober.js';
import { measure as measureProbe } from '../src/controller/measure.js';
import type { ResourceMemory } from '../src/controller/pass.js';
import { OperatorMetrics } from '../src/metrics/metrics.js';
import { ANNOTATION, LABEL } from '../src/plan/names.js';
import { RedisCommands, RedisPool, type RedisTarget, type RedisTls } from '../src/redis/client.js';

const { values } = parseArgs({ options: { resources: { type: 'string', default: '100,500,1000' }, rounds: { type: 'string', default: '20' }, redis: { type: 'string' } } });
const sizes = values.resources.split(',').map(Number);
const rounds = Number(values.rounds);

const ipOf = (i: number, pod: number) => `10.${(i >> 8) & 255}.${i & 255}.${pod + 1}`;

/** INFO replication as Redis 7.0 writes it for the primary and the replica of resource i. */
function infoText(host: string): string {
  const [, a, b, pod] = host.split('.').map(Number) as [number, number, number, number];
  const primary = `10.${a}.${b}.1`;
  const replica = `10.${a}.${b}.2`;
  return pod === 1
    ? `# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=${replica},port=6379,state=online,offset=123456,lag=0\r\nmaster_failover_state:no-failover\r\nmaster_replid:8f1c8e4b3a2d1c0b9a8f7e6d5c4b3a2d1c0b9a8f\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:123456\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:123456\r\n`
    : `# Replication\r\nrole:slave\r\nmaster_host:${primary}\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:123456\r\nslave_repl_offset:123456\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:8f1c8e4b3a2d1c0b9a8f7e6d5c4b3a2d1c0b9a8f\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:123456\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:123456\r\n`;
}

/** Canned answers, or one real redis-server standing in for every pod (its text is then the server's own). */
class Answers extends RedisCommands {
  constructor(private readonly pool: RedisPool | undefined, private readonly server: RedisTarget | undefined) {
    super();
  }
  protected override async send(target: RedisTarget, args: string[]): Promise<string> {
    if (!this.pool || !this.server) return infoText(target.host);
    await this.pool.command(this.server, args);
    // The server's own reply was paid for; the pod's answer is the canned one, so the topology holds.
    return infoText(target.host);
  }
  override servedCertificate(_target: RedisTarget & { tls: RedisTls }): Promise<string> {
    throw new Error('no TLS here');
  }
}

function pod(resource: string, i: number, n: number): V1Pod {
  return {
    metadata: {
      name: `${resource}-${n}`,
      namespace: 'bench',
      labels: { [LABEL.instance]: resource, [LABEL.role]: n === 0 ? 'primary' : 'replica', [LABEL.tier]: String(n) },
      annotations: n === 0 ? {} : { [ANNOTATION.parent]: `${resource}-0` },
    },
    status: { phase: 'Running', podIP: ipOf(i, n), containerStatuses: [{ name: 'redis', image: 'redis:7.0', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
  };
}

async function measure(n: number): Promise<Record<string, number>> {
  const [host, port] = (values.redis ?? '').split(':');
  const pool = values.redis ? new RedisPool({ connectMs: 1000, commandMs: 1000 }) : undefined;
  const redis = new Answers(pool, values.redis ? { host: host!, port: Number(port) } : undefined);
  const metrics = new OperatorMetrics({ defaultMetrics: false });
  const targets = new PassRedis(redis, metrics);
  const resources: RedisReplication[] = Array.from({ length: n }, (_, i) => ({
    apiVersion: 'redis.replication.dev/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name: `r${i}`, namespace: 'bench', uid: `uid-${i}`, generation: 1 },
    spec: { replicas: 1 } as RedisReplication['spec'],
    status: { primary: `r${i}-0` } as RedisReplication['status'],
  }));
  const pods = new Map(resources.map((rr, i) => [rr.metadata.name, [pod(rr.metadata.name, i, 0), pod(rr.metadata.name, i, 1)]]));
  // A pass reached every pod once: the prober speaks to them as it did.
  for (const list of pods.values()) for (const p of list) await targets.info({ host: p.status!.podIP! });
  let enqueued = 0;
  const memory = new Map(resources.map((rr): [string, ResourceMemory] => [`bench/${rr.metadata.name}`, {}]));
  const silent = pino({ level: 'silent' });
  const prober = new Prober({
    redis,
    targets,
    resources: () => resources,
    pods: (_ns, name) => pods.get(name) ?? [],
    enqueue: () => void enqueued++,
    // As in the operator, where every resource has had a pass: its measurements are kept.
    measure: (measured) => measureProbe({ metrics, memory, now: Date.now, log: silent, redis }, measured),
    quiet: () => undefined,
    intervalMs: 1000,
    now: Date.now,
    metrics,
    log: silent,
  });
  const gc = () => (globalThis as { gc?: () => void }).gc?.();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  // A round as the running prober makes it, slice after slice (here with no pause between them).
  const round = async () => {
    for (let slice = 0; slice < SLICES; slice++) await prober.round(slice);
  };
  for (let i = 0; i < 3; i++) await round();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await round();
  const wallMs = (performance.now() - started) / rounds;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / rounds;
  await pool?.close();
  gc();
  const keptMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  return {
    resources: n,
    pods: 2 * n,
    cpuMsPerRound: Math.round(cpuMs * 10) / 10,
    wallMsPerRound: Math.round(wallMs * 10) / 10,
    // At the default health interval of 1 s: the share of one core.
    cpuPercentOfCoreAt1s: Math.round(cpuMs / 10 * 10) / 10,
    cpuMicrosPerInfo: Math.round((cpuMs * 1000) / (2 * n)),
    // What the prober keeps between rounds (its memory of each pod), with node --expose-gc only.
    ...('gc' in globalThis ? { keptHeapMiB: Math.round(keptMiB * 10) / 10 } : {}),
    enqueued,
  };
}

for (const n of sizes) console.log(JSON.stringify(await measure(n)));
