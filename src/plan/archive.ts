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
import type { ObjectStore } from '../api/schema.js';

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
