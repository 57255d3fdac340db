// Measurements between passes: what the prober's INFO says that only moves figures, kept current in
// the metrics without a pass (a settled resource has none until something changes: plan/next-pass.ts):
// each replica's lag, the primary's offset (its rate is the write rate; sampled into the memory the
// backlog phase reads) and how long a disconnect its backlog covers, each pod's memory now and then. With
// spec.replicationBacklog.auto, a write rate the backlog no longer covers is a reason for a pass.
import type { NodeStatus, RedisReplicationSpec } from '../api/schema.js';
import { addSample, backlogManaged, coverageSeconds, decideBacklogSize, resyncLoops, sizingInput, writeRate } from '../plan/backlog.js';
import { parseUsedMemory, type ReplicationInfo } from '../redis/info.js';
import type { RedisCommands, RedisTarget } from '../redis/client.js';
import type { Deps, ResourceMemory } from './pass.js';

/** Memory moves slowly: one `INFO memory` per pod this often, not at every probe. */
export const MEMORY_POLL_MS = 15_000;

export interface Measured {
  namespace: string;
  name: string;
  spec: RedisReplicationSpec;
  /** status.replicationBacklog.size: the size the operator keeps. */
  statusBacklogSize: number | undefined;
  nodes: NodeStatus[];
  /** The recorded primary's INFO replication, if it answered as a master. */
  primary: ReplicationInfo | undefined;
  /** The pods that answered, and how to reach them. */
  answered: { pod: string; target: RedisTarget }[];
}

type MeasureDeps = Pick<Deps, 'metrics' | 'memory' | 'now' | 'log'> & { redis: RedisCommands };

/** Records what one probe measured; true when a pass is due for it (the backlog to raise). Nothing
 * is kept for a resource no pass has looked at yet. */
export async function measure(deps: MeasureDeps, m: Measured): Promise<boolean> {
  const { namespace, name } = m;
  const memory = deps.memory.get(`${namespace}/${name}`);
  if (!memory) return false;
  for (const node of m.nodes) {
    if (node.role === 'replica') deps.metrics.setReplicationLag({ namespace, resource: name, pod: node.name }, node.lagBytes ?? 0, node.lagSeconds ?? 0);
  }
  await pollMemory(deps, memory, namespace, name, m.answered);
  if (!m.primary) return false;
  deps.metrics.setPrimaryOffset(namespace, name, m.primary.replOffset);
  memory.offsetSamples = addSample(memory.offsetSamples ?? [], { atMs: deps.now(), offset: m.primary.replOffset, replId: m.primary.replId });
  const rate = writeRate(memory.offsetSamples);
  const size = m.primary.backlogSize;
  if (size !== undefined) deps.metrics.setBacklog(namespace, name, size, rate === undefined ? undefined : coverageSeconds(size, rate));
  if (rate === undefined || !backlogManaged(m.spec)) return false;
  const sizing = sizingInput(m.spec, { statusSize: m.statusBacklogSize, primarySize: size, bytesPerSecond: rate, loops: resyncLoops(memory.fullSyncs ?? {}) });
  return decideBacklogSize(sizing) > sizing.current;
}

/** used_memory of each pod, at most every MEMORY_POLL_MS; a pod that does not answer INFO memory
 * loses its series (the metric says nothing rather than something old). */
export async function pollMemory(deps: MeasureDeps, memory: ResourceMemory, namespace: string, name: string, pods: { pod: string; target: RedisTarget }[]): Promise<void> {
  if (memory.memoryPolledAtMs !== undefined && deps.now() - memory.memoryPolledAtMs < MEMORY_POLL_MS) return;
  memory.memoryPolledAtMs = deps.now();
  await Promise.all(
    pods.map(async ({ pod, target }) => {
      const labels = { namespace, resource: name, pod };
      try {
        deps.metrics.setMemoryUsed(labels, parseUsedMemory(await deps.redis.info(target, 'memory')));
      } catch (err) {
        deps.log.warn({ resource: `${namespace}/${name}`, pod, err: String(err) }, 'INFO memory failed: no memory series for the pod until it answers');
        deps.metrics.setMemoryUsed(labels, undefined);
      }
    }),
  );
}
