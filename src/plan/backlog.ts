// The replication backlog: how long a disconnect it covers at the current write rate, how big the
// operator makes it (spec.replicationBacklog.auto), and which syncs of the resource's own replicas
// were full ones, to find a replica that keeps needing one (a full-resync loop).
//
// A replica that loses its link resumes with a partial sync only if its parent's backlog still holds
// every byte of the stream it missed: the backlog covers repl-backlog-size ÷ (bytes of replication
// stream per second) seconds of disconnect. Past that, the replica needs a full sync (a snapshot of
// the whole dataset); under a steady write load a sync that takes longer than the backlog covers
// never catches up, and the replica full-syncs again and again.
import type { RedisReplicationSpec } from '../api/schema.js';
import { isBooting, type ObservedPod } from './observation.js';

/** Redis's default repl-backlog-size (1mb). */
export const DEFAULT_BACKLOG_BYTES = 1024 * 1024;
/** A replica that full-syncs this many times within the window is in a full-resync loop. */
const LOOP_FULL_SYNCS = 2;
export const LOOP_WINDOW_MS = 10 * 60_000;
/** The write rate is the primary's offset growth over this long, and none is given before it has
 * been watched for MIN_RATE_SPAN_MS (a rate from two close samples jitters with every write). */
export const RATE_WINDOW_MS = 60_000;
export const MIN_RATE_SPAN_MS = 10_000;
/** A raised backlog covers this many times the target: it is not raised again until the write rate
 * has doubled. */
export const HEADROOM = 2;
/** The backlog may take at most this fraction of the container's memory limit. */
const MEMORY_LIMIT_FRACTION = 0.25;
/** Sizes are whole multiples of Redis's smallest backlog (16kb). */
const SIZE_STEP = 16 * 1024;

// ---- sizes

/** A Redis memory value (`repl-backlog-size 64mb`) in bytes, as redis.conf reads it: b, k/kb, m/mb,
 * g/gb, any case (k is 1000, kb 1024). Undefined when it is not one. */
export function redisBytes(value: string): number | undefined {
  const m = /^\s*(\d+)\s*(b|k|kb|m|mb|g|gb)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[unit]!;
  return Number(m[1]) * factor;
}

const QUANTITY_FACTORS: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** A Kubernetes quantity (`256Mi`, `1G`, `5e6`, a number) in bytes, rounded down; undefined when it
 * is not one. */
export function quantityBytes(q: string | number): number | undefined {
  if (typeof q === 'number') return Math.floor(q);
  const m = /^\+?((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$/.exec(q.trim());
  if (!m) return undefined;
  const suffix = m[2] ?? '';
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : QUANTITY_FACTORS[suffix]!;
  return Math.floor(Number(m[1]) * factor);
}

/** The repl-backlog-size the user set in spec.config (directive names are case-insensitive). */
export function configuredBacklog(config: Record<string, string>): number | undefined {
  const entry = Object.entries(config).find(([k]) => k.toLowerCase() === 'repl-backlog-size');
  return entry ? redisBytes(entry[1]) : undefined;
}

/** With auto sizing, the operator sets repl-backlog-size itself (never below spec.config's). */
export const backlogManaged = (spec: Pick<RedisReplicationSpec, 'replicationBacklog'>): boolean => spec.replicationBacklog?.auto === true;

// ---- write rate

/** The primary's master_repl_offset at one time. */
export interface OffsetSample {
  atMs: number;
  offset: number;
  replId: string;
}

/** The samples of the last RATE_WINDOW_MS with this one added. A new replication ID (another primary,
 * or the same one restarted) or an offset that went back starts over: offsets of two histories do
 * not subtract. */
export function addSample(samples: readonly OffsetSample[], sample: OffsetSample): OffsetSample[] {
  const last = samples.at(-1);
  const kept = last && (last.replId !== sample.replId || last.offset > sample.offset || last.atMs > sample.atMs) ? [] : samples;
  // The oldest sample inside the window, and the one just before it, so the span reaches the full window.
  const from = kept.findIndex((s) => s.atMs >= sample.atMs - RATE_WINDOW_MS);
  return [...kept.slice(from < 0 ? kept.length : Math.max(0, from - 1)), sample];
}

/** Bytes of replication stream per second over the samples; undefined until they span MIN_RATE_SPAN_MS. */
export function writeRate(samples: readonly OffsetSample[]): number | undefined {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.atMs - first.atMs < MIN_RATE_SPAN_MS) return undefined;
  return ((last.offset - first.offset) * 1000) / (last.atMs - first.atMs);
}

/** The longest disconnect (seconds) a backlog of `size` bytes lets a replica resume from: Infinity
 * while nothing is written. */
export function coverageSeconds(size: number, bytesPerSecond: number): number {
  return bytesPerSecond > 0 ? size / bytesPerSecond : Number.POSITIVE_INFINITY;
}

// ---- sizing

export interface SizingInput {
  /** What the backlog is now: the largest of the size the operator keeps (status), the user's
   * (spec.config) and the primary's. The result is never below it. */
  current: number;
  bytesPerSecond: number;
  minCoverageSeconds: number;
  /** spec.replicationBacklog.maxSize, in bytes. */
  maxSize: number;
  /** The redis container's memory limit, in bytes, if it has one. */
  memoryLimit: number | undefined;
  /** The longest disconnect (seconds) that ended in a full sync of a replica in a full-resync loop:
   * the backlog must cover it too. */
  loopDisconnectSeconds?: number | undefined;
}

/** What sizing reads of a resource with spec.replicationBacklog: the backlog now is the largest of the
 * size status keeps, the user's (spec.config) and the primary's. */
export function sizingInput(
  spec: Pick<RedisReplicationSpec, 'replicationBacklog' | 'config' | 'resources'>,
  facts: { statusSize: number | undefined; primarySize: number | undefined; bytesPerSecond: number; loops: readonly ResyncLoop[] },
): SizingInput {
  const options = spec.replicationBacklog!;
  const memoryLimit = spec.resources.limits?.['memory'];
  return {
    current: Math.max(facts.statusSize ?? 0, configuredBacklog(spec.config) ?? DEFAULT_BACKLOG_BYTES, facts.primarySize ?? 0),
    bytesPerSecond: facts.bytesPerSecond,
    minCoverageSeconds: options.minCoverageSeconds,
    maxSize: quantityBytes(options.maxSize)!,
    memoryLimit: memoryLimit === undefined ? undefined : quantityBytes(memoryLimit),
    loopDisconnectSeconds: Math.max(0, ...facts.loops.map((l) => l.longestAwayMs / 1000)),
  };
}

/** The largest backlog the operator may set: maxSize, and a fraction of the memory limit. */
export function sizeCap(maxSize: number, memoryLimit: number | undefined): number {
  return Math.min(maxSize, memoryLimit === undefined ? Number.POSITIVE_INFINITY : Math.floor(memoryLimit * MEMORY_LIMIT_FRACTION));
}

/** The coverage (seconds) the backlog must give: the spec's, or a looping replica's disconnect. */
export const targetCoverage = (input: Pick<SizingInput, 'minCoverageSeconds' | 'loopDisconnectSeconds'>): number =>
  Math.max(input.minCoverageSeconds, input.loopDisconnectSeconds ?? 0);

/** The repl-backlog-size to keep: the current one while it covers the target; else HEADROOM times
 * the target at the current rate (in SIZE_STEP steps), within sizeCap. Never smaller than now. */
export function decideBacklogSize(input: SizingInput): number {
  const target = targetCoverage(input);
  if (coverageSeconds(input.current, input.bytesPerSecond) >= target) return input.current;
  const wanted = Math.ceil((HEADROOM * target * input.bytesPerSecond) / SIZE_STEP) * SIZE_STEP;
  return Math.max(input.current, Math.min(wanted, sizeCap(input.maxSize, input.memoryLimit)));
}

// ---- syncs of the resource's own replicas

/** What the operator last saw of one replica's link. */
interface LinkRecord {
  ip: string;
  /** When its link was last seen up: its parent's IP and replication ID, the parent's sync counters,
   * its own slave_repl_offset, and the time. */
  parentIp: string;
  parentReplId: string;
  parentSyncs: { full: number; partialOk: number } | undefined;
  offset: number;
  upAtMs: number;
  /** Since then, not seen up (link down, syncing, or not answering): a sync ends the episode. */
  away: boolean;
  /** Seen in a full sync (master_sync_in_progress) during the episode. */
  sawFullSync: boolean;
  /** Seen booting (its container restarted) during the episode: its sync is the restart's, not the
   * backlog's. */
  restarted: boolean;
}

/** The last link record of each replica pod, by name. */
export type SyncWatch = Record<string, LinkRecord>;

export interface SyncSeen {
  pod: string;
  full: boolean;
  /** How long its link was not seen up (ms). */
  awayMs: number;
}

/**
 * The syncs of the resource's replicas that ended since the last pass. A backup client (`REPLCONF
 * rdb-only 1`) syncs like a replica and raises its parent's sync_full, but it is no pod of the
 * resource: every sync counted here is an episode of one known replica pod, whose link was seen up,
 * then not up (down, syncing, or not answering), then up again, on the same parent with the same
 * replication ID. It was a full sync when the pod was seen in one (master_sync_in_progress), or when
 * its parent's sync_full rose during the episode and the pod's last offset seen up is no longer in
 * the parent's backlog (offset + 1 < repl_backlog_first_byte_offset). Otherwise it was partial when
 * the parent's sync_partial_ok rose (if neither rose, the operator only lost sight of the pod: no
 * sync). Episodes of a pod that restarted, or moved to another parent, IP or replication history,
 * are not counted: their full sync has another cause than the backlog.
 */
export function watchSyncs(previous: SyncWatch | undefined, observed: readonly ObservedPod[], nowMs: number): { watch: SyncWatch; syncs: SyncSeen[] } {
  const byIp = new Map(observed.filter((p) => p.podIP && p.info).map((p) => [p.podIP!, p]));
  const watch: SyncWatch = {};
  const syncs: SyncSeen[] = [];
  for (const pod of observed) {
    const before = previous?.[pod.name];
    if (pod.deleting || !pod.podIP || (before && before.ip !== pod.podIP)) continue;
    const info = pod.info;
    if (!info) {
      if (before) watch[pod.name] = { ...before, away: true };
      continue;
    }
    if (info.role !== 'replica') continue;
    const parent = byIp.get(info.masterHost)?.info;
    const up = info.linkUp && !info.syncInProgress && !isBooting(pod);
    if (!up || !parent) {
      if (before) watch[pod.name] = { ...before, away: true, sawFullSync: before.sawFullSync || info.syncInProgress, restarted: before.restarted || isBooting(pod) };
      continue;
    }
    if (before?.away && !before.restarted && before.parentIp === info.masterHost && before.parentReplId === parent.replId) {
      const was = before.parentSyncs;
      const now = parent.syncs;
      const fullRose = Boolean(was && now && now.full > was.full);
      const partialRose = Boolean(was && now && now.partialOk > was.partialOk);
      const outOfBacklog = parent.backlogFirstByte !== undefined && before.offset + 1 < parent.backlogFirstByte;
      const full = before.sawFullSync || (fullRose && outOfBacklog);
      if (full || partialRose) syncs.push({ pod: pod.name, full, awayMs: nowMs - before.upAtMs });
    }
    watch[pod.name] = {
      ip: pod.podIP,
      parentIp: info.masterHost,
      parentReplId: parent.replId,
      parentSyncs: parent.syncs && { full: parent.syncs.full, partialOk: parent.syncs.partialOk },
      offset: info.replicaOffset,
      upAtMs: nowMs,
      away: false,
      sawFullSync: false,
      restarted: false,
    };
  }
  return { watch, syncs };
}

/** A full sync of one pod, when it ended and how long the pod had been away. */
export interface FullSync {
  atMs: number;
  awayMs: number;
}

/** The full syncs of each live pod within LOOP_WINDOW_MS, with those of this pass added. */
export function recordFullSyncs(history: Readonly<Record<string, readonly FullSync[]>>, syncs: readonly SyncSeen[], live: ReadonlySet<string>, nowMs: number): Record<string, FullSync[]> {
  const next: Record<string, FullSync[]> = {};
  for (const pod of live) {
    const kept = (history[pod] ?? []).filter((s) => s.atMs > nowMs - LOOP_WINDOW_MS);
    const added = syncs.filter((s) => s.pod === pod && s.full).map((s) => ({ atMs: nowMs, awayMs: s.awayMs }));
    if (kept.length + added.length > 0) next[pod] = [...kept, ...added];
  }
  return next;
}

export interface ResyncLoop {
  pod: string;
  /** Full syncs within the window. */
  fullSyncs: number;
  /** The longest disconnect that ended in one of them (ms). */
  longestAwayMs: number;
}

/** Pods with LOOP_FULL_SYNCS or more full syncs within the window. */
export function resyncLoops(history: Readonly<Record<string, readonly FullSync[]>>): ResyncLoop[] {
  return Object.entries(history)
    .filter(([, syncs]) => syncs.length >= LOOP_FULL_SYNCS)
    .map(([pod, syncs]) => ({ pod, fullSyncs: syncs.length, longestAwayMs: Math.max(...syncs.map((s) => s.awayMs)) }))
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
}
