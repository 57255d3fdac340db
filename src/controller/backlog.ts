// Backlog phase: the primary's write rate and how long a disconnect its backlog covers, the syncs of
// the resource's replicas and their full-resync loops, and with spec.replicationBacklog.auto the
// repl-backlog-size of every pod (CONFIG SET), raised so that the backlog covers the target. The
// decisions are in plan/backlog.ts.
import type { ReplicationBacklogStatus } from '../api/schema.js';
import {
  addSample,
  backlogManaged,
  coverageSeconds,
  decideBacklogSize,
  recordFullSyncs,
  sizingInput,
  resyncLoops,
  targetCoverage,
  watchSyncs,
  writeRate,
  type ResyncLoop,
} from '../plan/backlog.js';
import { isWritableMaster, type ObservedPod } from '../plan/observation.js';
import { redisTarget, type Pass } from './pass.js';

export interface BacklogOutcome {
  /** undefined: nothing new is known (no primary answers); status keeps what it had. */
  status: ReplicationBacklogStatus | undefined;
  loops: ResyncLoop[];
}

/** `settled`: the topology is settled under a writable primary, the only time pods are configured. */
export async function tendBacklog(pass: Pass, observed: ObservedPod[], primary: string | undefined, settled: boolean): Promise<BacklogOutcome> {
  const { deps, memory, namespace, name } = pass;
  const primaryPod = observed.find((p) => p.name === primary && !p.deleting && isWritableMaster(p));
  const info = primaryPod?.info;
  if (info) memory.offsetSamples = addSample(memory.offsetSamples ?? [], { atMs: deps.now(), offset: info.replOffset, replId: info.replId });
  const rate = info ? writeRate(memory.offsetSamples ?? []) : undefined;
  const loops = await watchLoops(pass, observed, primary);
  const primarySize = info?.backlogSize;
  const size = backlogManaged(pass.spec) ? await sizeBacklog(pass, observed, { primarySize, rate, loops, settled }) : primarySize;
  if (primarySize !== undefined) deps.metrics.setBacklog(namespace, name, primarySize, rate === undefined ? undefined : coverageSeconds(primarySize, rate));
  if (size === undefined) return { status: undefined, loops };
  const coverage = primarySize !== undefined && rate !== undefined && rate > 0 ? Math.floor(coverageSeconds(primarySize, rate)) : undefined;
  return {
    status: { size, ...(coverage !== undefined ? { coverageSeconds: coverage } : {}), ...(rate !== undefined ? { writeBytesPerSecond: Math.round(rate) } : {}) },
    loops,
  };
}

/** Counts the syncs that ended since the last pass, and reports each full sync of a looping replica. */
async function watchLoops(pass: Pass, observed: ObservedPod[], primary: string | undefined): Promise<ResyncLoop[]> {
  const { deps, memory, namespace, name, rr } = pass;
  const now = deps.now();
  const { watch, syncs } = watchSyncs(memory.syncWatch, observed, now);
  memory.syncWatch = watch;
  const live = new Set(observed.filter((p) => !p.deleting).map((p) => p.name));
  memory.fullSyncs = recordFullSyncs(memory.fullSyncs ?? {}, syncs, live, now);
  const loops = resyncLoops(memory.fullSyncs);
  for (const pod of observed) {
    if (pod.role === 'replica' && live.has(pod.name)) for (const type of ['full', 'partial'] as const) deps.metrics.countSync(namespace, name, pod.name, type, 0);
  }
  for (const sync of syncs) {
    deps.metrics.countSync(namespace, name, sync.pod, sync.full ? 'full' : 'partial');
    pass.log.info({ pod: sync.pod, full: sync.full, awaySeconds: sync.awayMs / 1000 }, 'replica synced after a disconnect');
    const loop = loops.find((l) => l.pod === sync.pod);
    if (sync.full && loop) {
      const message = `pod ${sync.pod} needed a full sync again after ${Math.round(sync.awayMs / 1000)}s away (${loop.fullSyncs} full syncs in 10m): the replication backlog covers less than its disconnects`;
      await deps.events.record(rr, 'Warning', 'FullResyncLoop', message);
    }
  }
  for (const pod of live) if (pod !== primary) deps.metrics.setFullResyncLoop(namespace, name, pod, loops.some((l) => l.pod === pod));
  return loops;
}

interface SizingFacts {
  primarySize: number | undefined;
  rate: number | undefined;
  loops: ResyncLoop[];
  settled: boolean;
}

/** The size to keep (raised when the backlog covers less than the target), set on every pod that has
 * less: pods restarted since lost it (CONFIG SET is not in their startup arguments), and new pods
 * start with spec.config's. Status keeps the size, so a restarted operator does not lower it. */
async function sizeBacklog(pass: Pass, observed: ObservedPod[], facts: SizingFacts): Promise<number> {
  const { deps, rr, spec } = pass;
  const options = spec.replicationBacklog!;
  const sizing = sizingInput(spec, { statusSize: rr.status?.replicationBacklog?.size, primarySize: facts.primarySize, bytesPerSecond: facts.rate ?? 0, loops: facts.loops });
  const { current } = sizing;
  const size = facts.rate === undefined ? current : decideBacklogSize(sizing);
  if (size > current) {
    const why = facts.loops.length > 0 ? `a full-resync loop (${facts.loops.map((l) => l.pod).join(', ')})` : `minCoverageSeconds ${options.minCoverageSeconds}`;
    const message =
      `raised repl-backlog-size from ${current} to ${size} bytes: at ${Math.round(sizing.bytesPerSecond)} B/s of writes it covered ` +
      `${Math.floor(coverageSeconds(current, sizing.bytesPerSecond))}s, ${Math.ceil(targetCoverage(sizing))}s are needed for ${why}; it now covers ${Math.floor(coverageSeconds(size, sizing.bytesPerSecond))}s`;
    pass.log.info({ from: current, to: size, bytesPerSecond: sizing.bytesPerSecond }, 'replication backlog raised');
    await deps.events.record(rr, 'Normal', 'BacklogResized', message);
  }
  if (facts.settled) await applySize(pass, observed, size);
  return size;
}

async function applySize(pass: Pass, observed: ObservedPod[], size: number): Promise<void> {
  const due = observed.filter((p) => p.podIP && p.info && !p.deleting && (p.info.backlogSize ?? 0) < size);
  await Promise.all(
    due.map(async (pod) => {
      try {
        await pass.deps.redis.configSet(redisTarget(pass, pod.podIP!), 'repl-backlog-size', String(size));
      } catch (err) {
        pass.log.warn({ pod: pod.name, err: String(err) }, 'CONFIG SET repl-backlog-size failed; retrying on the next pass');
      }
    }),
  );
}
