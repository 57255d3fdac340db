// Point-in-time recovery, the pure part: out of the base backups a store holds of a resource and the
// archive of its replication stream, the base to load and the archived bytes to replay after it, for
// a target time or for the latest point archived; or why there is none.
//
// The base: the newest one that the archive carries to the target. A base whose backup started after
// the target is never a candidate (its fork, the RDB's point, came later still); for one that started
// before, replayPlan's own test decides, on offsets: the archive's last mark at or before the target
// must be at or past the base's offset. That is exact where a time would not be: the fork happened
// somewhere between the backup's start and end, and an idle primary may have reached the base's
// offset long before either.
import { archivePath, pathMarks, replayPlan, type ByteRange, type ChainLink, type Mark, type SegmentIndex } from './archive.js';
import type { BackupManifest } from './backup.js';

/** One base backup in the store: its folder (…/base/<timestamp>/) and its manifest. */
export interface StoredBase {
  prefix: string;
  manifest: BackupManifest;
}

export interface ArchiveListing {
  segments: SegmentIndex[];
  chain: ChainLink[];
}

type RecoveryRefusal = 'NoBaseBackup' | 'TargetBeforeBase' | 'ArchiveBehind' | 'ArchiveGap';

export type RecoveryPlan =
  /** Load `base`, then replay `ranges` (`bytes` in all): the restored server is at `cut`. */
  | { base: StoredBase; cut: Mark; ranges: ByteRange[]; bytes: number }
  /** wait: the archive may still reach the target (it is recent); else it never will. */
  | { reason: RecoveryRefusal; message: string; wait: boolean };

/** How long after a target time the archive may still be catching up to it: an archiver stores a
 * segment up to a minute (segmentMs) after its first byte, plus the upload. Past this, an archive
 * that does not reach the target never will. */
export const ARCHIVE_GRACE_MS = 5 * 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** Newest first, by when the backup ended. */
const newestFirst = (bases: readonly StoredBase[]) => [...bases].sort((a, b) => Date.parse(b.manifest.completedAt) - Date.parse(a.manifest.completedAt));

/** The plan for `target` (epoch ms), or for the latest point archived when it is undefined. */
export function recoveryPlan(bases: readonly StoredBase[], archive: ArchiveListing, target: number | undefined, now: number): RecoveryPlan {
  const sorted = newestFirst(bases);
  if (sorted.length === 0) return { reason: 'NoBaseBackup', message: 'the store holds no base backup of the resource (no manifest.json under its base/ folder)', wait: false };
  return target === undefined ? latest(sorted[0]!, archive) : toTime(sorted, archive, target, now);
}

/** The newest base, and the archive after it up to its last mark: a newer base is only ever taken
 * of the history the archive follows, so what goes on after it is the latest there is. With nothing
 * archived past it, the base alone. */
function latest(base: StoredBase, archive: ArchiveListing): RecoveryPlan {
  const { replid, offset } = base.manifest;
  const marks = pathMarks(archivePath(replid, offset, archive.chain, archive.segments).parts).filter((m) => m.offset >= offset);
  const last = marks.reduce((a, m) => Math.max(a, m.at), -Infinity);
  const plan = marks.length > 0 ? replay(base, archive, last) : undefined;
  // (A last mark past the base is a cut replayPlan takes: no error comes back for it.)
  return plan && !('error' in plan) ? plan : { base, cut: { offset, at: Date.parse(base.manifest.completedAt) }, ranges: [], bytes: 0 };
}

type Planned = Extract<RecoveryPlan, { base: StoredBase }>;

function replay(base: StoredBase, archive: ArchiveListing, target: number): Planned | Extract<ReturnType<typeof replayPlan>, { error: string }> {
  const plan = replayPlan(base.manifest.replid, base.manifest.offset, archive.chain, archive.segments, target);
  if ('error' in plan) return plan;
  return { base, cut: plan.cut, ranges: plan.ranges, bytes: plan.ranges.reduce((n, r) => n + r.end - r.start, 0) };
}

function toTime(sorted: StoredBase[], archive: ArchiveListing, target: number, now: number): RecoveryPlan {
  const candidates = sorted.filter((b) => Date.parse(b.manifest.startedAt) <= target);
  let behind: { base: StoredBase; message: string } | undefined;
  for (const base of candidates) {
    const plan = replay(base, archive, target);
    if (!('error' in plan)) return plan;
    if (plan.error === 'NotArchived') behind ??= { base, message: plan.message };
  }
  if (!behind) {
    const earliest = sorted.at(-1)!.manifest;
    return {
      reason: 'TargetBeforeBase',
      message: `${iso(target)} is before the point of every base backup of the resource (the earliest was taken ${earliest.startedAt} to ${earliest.completedAt}): nothing restores to it`,
      wait: false,
    };
  }
  const at = `base ${folderName(behind.base)}: ${behind.message}`;
  // The archive holds later times, but not as a continuation of any base before the target: a part
  // is missing (lost, or the archiver fell behind its source's backlog and started a new base).
  if (archive.segments.some((s) => s.marks.some((m) => m.at >= target))) {
    return { reason: 'ArchiveGap', message: `the archive has a gap before ${iso(target)} (${at}; later parts do not continue it): restore to an earlier time, or to one after a later base`, wait: false };
  }
  const wait = now < target + ARCHIVE_GRACE_MS;
  return { reason: 'ArchiveBehind', message: `the archive does not reach ${iso(target)} (${at})${wait ? ': waiting for it to' : ''}`, wait };
}

/** The timestamp of a base's folder (…/base/<timestamp>/): how a base is named. */
export function folderName(base: Pick<StoredBase, 'prefix'>): string {
  return base.prefix.split('/').filter(Boolean).at(-1) ?? base.prefix;
}

/** A manifest.json as stored, if it is one (a file written by another tool, or cut off, is not). */
export function manifestFrom(json: unknown): BackupManifest | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const m = json as Record<string, unknown>;
  const strings = ['engine', 'engineVersion', 'replid', 'sha256', 'startedAt', 'completedAt', 'resource', 'sourcePod'];
  const numbers = ['rdbVersion', 'offset', 'size'];
  if (!strings.every((k) => typeof m[k] === 'string') || !numbers.every((k) => Number.isInteger(m[k]))) return undefined;
  if (Number.isNaN(Date.parse(m['startedAt'] as string)) || Number.isNaN(Date.parse(m['completedAt'] as string))) return undefined;
  return m as unknown as BackupManifest;
}
