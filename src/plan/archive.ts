// The archive of the replication stream, the pure part: where its files go, what each holds, and
// what a point-in-time restore replays after a base backup.
//
// Offsets are Redis's replication offsets: the number of stream bytes since the replication history
// began. A base backup's RDB is at offset O (its manifest's); the stream byte that follows it is byte
// O + 1, which is why a replica continuing from O asks PSYNC <replid> O+1 (the first byte it lacks).
// A segment <from>-<to> holds the bytes that take a replica from offset `from` to offset `to`
// (to - from bytes): the segment that continues a base at O has from = O, and the next one's `from`
// is this one's `to`.
//
//   <path>/<resource>/wal/<replid>/<from>-<to>.seg    the stream's bytes, as the primary sent them
//   <path>/<resource>/wal/<replid>/<from>-<to>.json   its index (SegmentIndex): uploaded after the
//                                                     segment; a segment without one is not archived
//   <path>/<resource>/wal/<replid>/chain.json         how the history reached this replid (ChainLink)
import type { RedisBackup } from '../api/backup.js';
import type { NodeStatus, ObjectStore } from '../api/schema.js';
import { storedPrefix } from './backup-schedule.js';

/** The folder of the archive of a resource: <path>/<resource>/wal/. */
export function walRoot(store: Pick<ObjectStore, 'path'>, resource: string): string {
  const path = store.path.split('/').filter((s) => s !== '');
  return [...path, resource, 'wal'].join('/') + '/';
}

/** 20 digits hold any offset (2^64 has 20): names sort as offsets do. Both ends are padded so that
 * every name of a folder has the same shape. */
const pad = (offset: number): string => String(offset).padStart(20, '0');

export function segmentKey(root: string, replid: string, from: number, to: number): string {
  return `${root}${replid}/${pad(from)}-${pad(to)}.seg`;
}

export function indexKey(segment: string): string {
  return segment.replace(/\.seg$/, '.json');
}

export function chainKey(root: string, replid: string): string {
  return `${root}${replid}/chain.json`;
}

/** The replid, from and to of an index's key under `root`; undefined for any other key. */
export function parseIndexKey(root: string, key: string): { replid: string; from: number; to: number } | undefined {
  if (!key.startsWith(root)) return undefined;
  const m = /^([0-9a-f]{40})\/(\d{20})-(\d{20})\.json$/.exec(key.slice(root.length));
  return m ? { replid: m[1]!, from: Number(m[2]), to: Number(m[3]) } : undefined;
}

/** The stream up to `offset` (the end of a whole command) had been received by the archiver at
 * `at` (epoch ms): a point-in-time restore may cut there for any target time from `at` on. */
export interface Mark {
  offset: number;
  at: number;
}

/** The index of one segment (its .json). Beside the segment rather than in its object metadata: a
 * minute of marks is ~2.5 KB, past what S3 allows of user metadata (2 KB), and listing a folder does
 * not return metadata, so a restore reads one small object per segment either way. */
export interface SegmentIndex {
  replid: string;
  from: number;
  to: number;
  sha256: string;
  /** Ascending in both fields; at least one a second while the segment was open, and one at its end. */
  marks: Mark[];
}

/** The history went on under `replid` from `offset` on (a failover: the new primary's replid2 is
 * `previous`, and it continued the stream at the same offsets). */
export interface ChainLink {
  previous: string;
  replid: string;
  offset: number;
  /** When the archiver followed it (epoch ms): for people reading the archive. */
  at: number;
}

/** The last mark at or before `target`: the end of the last whole command the archive had at that
 * time. Marks are ascending in offset and time; undefined when none is that early. */
export function cutMark(marks: readonly Mark[], target: number): Mark | undefined {
  let cut: Mark | undefined;
  for (const m of marks) if (m.at <= target && (!cut || m.offset >= cut.offset)) cut = m;
  return cut;
}

/** One piece of the archive to send after the base, in order: bytes [start, end) of the segment's
 * object (its key: segmentKey(root, segment.replid, segment.from, segment.to)). */
export interface ByteRange {
  segment: SegmentIndex;
  start: number;
  end: number;
}

/** The archive's history from a base on, as far as it goes without a gap: each segment's part of
 * it, in order, and where it ends. */
export interface ArchivePath {
  parts: { segment: SegmentIndex; from: number; to: number }[];
  end: { replid: string; offset: number };
}

/**
 * Follows the archive from (replid, offset): at each offset the segment of the current replid that
 * covers it and reaches furthest (two runs of the archiver may have stored overlapping segments: the
 * same replid and offsets are the same bytes), and a chain link from the current replid at that
 * offset switches to the next replid. Stops at the first offset no segment covers. A segment of a
 * replid that goes on past the offset where the history left it (the old primary took writes after
 * the failover) is used only up to that offset.
 */
export function archivePath(replid: string, offset: number, chain: readonly ChainLink[], segments: readonly SegmentIndex[]): ArchivePath {
  const parts: ArchivePath['parts'] = [];
  let at = { replid, offset };
  const seen = new Set<string>();
  for (;;) {
    const link = chain.find((l) => l.previous === at.replid && l.offset === at.offset);
    if (link && !seen.has(link.replid)) {
      seen.add(link.replid);
      at = { replid: link.replid, offset: at.offset };
      continue;
    }
    const leaves = Math.min(...chain.filter((l) => l.previous === at.replid && l.offset > at.offset).map((l) => l.offset));
    const covering = segments.filter((s) => s.replid === at.replid && s.from <= at.offset && s.to > at.offset);
    const segment = covering.sort((a, b) => b.to - a.to)[0];
    if (!segment) return { parts, end: at };
    const to = Math.min(segment.to, leaves);
    parts.push({ segment, from: at.offset, to });
    at = { replid: at.replid, offset: to };
  }
}

/** The marks of the segments of a path, in order. A mark past the part of its segment the path uses
 * belongs to another history. */
export function pathMarks(parts: ArchivePath['parts']): Mark[] {
  return parts.flatMap((p) => p.segment.marks.filter((m) => m.offset <= p.to));
}

export type ReplayPlan =
  | { cut: Mark; ranges: ByteRange[] }
  | { error: 'BeforeBase' | 'NotArchived'; message: string };

/**
 * What a point-in-time restore sends after the base RDB (at baseReplid/baseOffset) to reach
 * `target` (epoch ms): the archived bytes from the base up to the last mark at or before the target,
 * as ranges of segments in order. Refused when the target is before the base's own point, or later
 * than the archive's last mark: what came after that mark is not known to the archive (still in the
 * archiver's memory, or never archived), and cutting there would lose it without a word.
 */
export function replayPlan(baseReplid: string, baseOffset: number, chain: readonly ChainLink[], segments: readonly SegmentIndex[], target: number): ReplayPlan {
  const { parts } = archivePath(baseReplid, baseOffset, chain, segments);
  const marks = pathMarks(parts);
  const last = marks.reduce((a, m) => Math.max(a, m.at), -Infinity);
  if (marks.length === 0 || target > last) {
    return { error: 'NotArchived', message: marks.length === 0 ? `the archive holds nothing after the base (${baseReplid} at ${baseOffset})` : `the archive reaches ${new Date(last).toISOString()} only` };
  }
  const cut = cutMark(marks, target);
  if (!cut || cut.offset < baseOffset) return { error: 'BeforeBase', message: `${new Date(target).toISOString()} is before the base backup's point: take an earlier base` };
  const ranges = parts
    .filter((p) => p.from < cut.offset)
    .map((p) => ({ segment: p.segment, start: p.from - p.segment.from, end: Math.min(p.to, cut.offset) - p.segment.from }));
  return { cut, ranges };
}

// ---- The archive phase's decisions (controller/archive.ts)

/** When a RedisBackup was taken (its start), or NaN. */
const startedAt = (b: RedisBackup): number => Date.parse(b.status?.startedAt ?? '');

/**
 * The base an archive starts from: the newest Completed RedisBackup of the resource with a
 * replication position, stored in this resource's base folder of `store` (a base elsewhere is not
 * one a restore from this store finds), taken at or after `notBeforeMs` (after a +FULLRESYNC ended the
 * archive: a base from before would leave the same gap).
 */
export function archiveBase(backups: readonly RedisBackup[], store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'path'>, resource: string, notBeforeMs = -Infinity): RedisBackup | undefined {
  return backups
    .filter((b) => b.status?.phase === 'Completed' && b.status.replid !== undefined && b.status.offset !== undefined && storedPrefix(b, store, resource) !== undefined)
    .filter((b) => startedAt(b) >= notBeforeMs)
    .sort((a, b) => startedAt(b) - startedAt(a) || (a.metadata.name < b.metadata.name ? 1 : -1))[0];
}

/** The name of a base backup the archive phase creates: <resource>-base-<yyyymmddhhmmss>. */
export function baseBackupName(resource: string, atMs: number): string {
  return `${resource}-base-${new Date(atMs).toISOString().slice(0, 19).replace(/[-T:]/g, '')}`;
}

/** Where an archiver for `base` starts: the end of what is archived after it without a gap (a
 * restarted operator goes on from there, not from the base again), and when the archive had received
 * that much (its last mark on the way); the base's own point when nothing was. */
export function resumeFrom(base: { replid: string; offset: number }, archive: { chain: readonly ChainLink[]; segments: readonly SegmentIndex[] }): { replid: string; offset: number; at: number | undefined } {
  const { parts, end } = archivePath(base.replid, base.offset, archive.chain, archive.segments);
  const marks = parts.flatMap((p) => p.segment.marks.filter((m) => m.offset <= p.to).map((m) => m.at));
  return { ...end, at: marks.length > 0 ? Math.max(...marks) : undefined };
}

export type ArchiveSource = { pod: NodeStatus } | { reason: 'NoSource'; message: string };

/**
 * The pod the archiver follows. A linked replica: PSYNC2 replicas pass on their primary's stream
 * with its offsets, and a replica's sub-replica never counts for the primary's min-replicas-to-write.
 * The current one while it stays linked (a move costs a reconnect), else the most up to date (ties
 * by name). The primary only without a linked replica, and never under a write quorum: there the
 * archiver's ACKs would count it as a replica in sync while the replicas the quorum asks for are
 * gone (it waits: the primary keeps the stream in its backlog).
 */
export function archiveSource(nodes: readonly NodeStatus[], current: string | undefined, writeQuorum: boolean): ArchiveSource {
  const linked = nodes.filter((n) => n.role === 'replica' && n.link === 'up' && n.podIP !== undefined && n.offset !== undefined);
  const kept = linked.find((n) => n.name === current);
  if (kept) return { pod: kept };
  const best = [...linked].sort((a, b) => b.offset! - a.offset! || a.name.localeCompare(b.name))[0];
  if (best) return { pod: best };
  const primary = nodes.find((n) => n.role === 'primary' && n.podIP !== undefined);
  if (primary && !writeQuorum) return { pod: primary };
  return {
    reason: 'NoSource',
    message: primary ? 'no replica is linked, and under spec.writeQuorum the archiver does not follow the primary: waiting' : 'no pod has an address yet: waiting',
  };
}

/** Redis's default repl-timeout, in seconds. */
const REPL_TIMEOUT_S = 60;

/**
 * How often the archiver ACKs (see archiver.ts): below the source's repl-timeout (spec.config's, else
 * Redis's 60 s), which drops a replica whose last ACK is older, with a quarter of it to spare for a
 * slow tick; as rarely as that allows, so that an archiver that follows a primary (one without a
 * write quorum: archiveSource) is seldom counted among its good replicas.
 */
export function archiveAckIntervalMs(config: Readonly<Record<string, string>>): number {
  const set = Number.parseInt(Object.entries(config).find(([k]) => k.trim().toLowerCase() === 'repl-timeout')?.[1] ?? '', 10);
  const timeout = Number.isFinite(set) && set > 0 ? set : REPL_TIMEOUT_S;
  return Math.floor(timeout * 750);
}

/** The wait before the archive is tried again after its `failures`-th failure in a row: 10 s, doubling, at most 10 minutes. */
export function archiveRetryMs(failures: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, failures - 1), 600_000);
}

/** What the live archive covers: it started at `from` (on its base's replid), has since been on
 * `replids`, and has stored up to `stored`. */
export interface ArchiveCoverage {
  base: string;
  from: { replid: string; offset: number };
  replids: ReadonlySet<string>;
  stored: { replid: string; offset: number };
}

/**
 * The base the live archive continues from, as newer backups are taken: the newest Completed base
 * (archiveBase) whose point the archive passed, on a replid it was on, between where it started and
 * what it stored; else the one it started from. Retention keeps that base (and the archive after it),
 * so a daily backup lets older ones and their segments go.
 */
export function coveredBase(backups: readonly RedisBackup[], store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'path'>, resource: string, live: ArchiveCoverage): string {
  const candidates = backups.filter((b) => {
    const { replid, offset } = b.status ?? {};
    return replid !== undefined && offset !== undefined && live.replids.has(replid) && offset >= live.from.offset && offset <= live.stored.offset;
  });
  const current = backups.find((b) => b.metadata.name === live.base);
  const newest = archiveBase(candidates, store, resource);
  return newest && (!current || startedAt(newest) > startedAt(current)) ? newest.metadata.name : live.base;
}

/** When the oldest of the `kept` backups (those retention keeps) that is a base of this store was
 * taken; undefined when none is. */
export function oldestKeptBase(kept: readonly RedisBackup[], store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'path'>, resource: string): number | undefined {
  const starts = kept.filter((b) => b.status?.phase === 'Completed' && storedPrefix(b, store, resource) !== undefined).map(startedAt).filter((t) => !Number.isNaN(t));
  return starts.length > 0 ? Math.min(...starts) : undefined;
}

/** Segments received this long before the oldest kept base started are certainly in it: the margin
 * covers clocks of two operator processes (a new leader) that do not agree. */
const PRUNE_MARGIN_MS = 10 * 60_000;

/**
 * The archive's keys that retention removes: the segments (each index first, then its bytes: a
 * segment without its index is no part of the archive) whose last mark is older than the oldest
 * base kept, `oldestBaseStartMs` (its RDB holds every byte they do). Chain links stay: they are
 * small, and a path from any kept base may pass through them.
 */
export function prunableKeys(root: string, segments: readonly SegmentIndex[], oldestBaseStartMs: number): string[] {
  return segments
    .filter((s) => s.marks.length > 0 && s.marks.at(-1)!.at < oldestBaseStartMs - PRUNE_MARGIN_MS)
    .sort((a, b) => a.from - b.from)
    .flatMap((s) => {
      const key = segmentKey(root, s.replid, s.from, s.to);
      return [indexKey(key), key];
    });
}
