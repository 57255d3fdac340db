import { describe, expect, it } from 'vitest';
import type { ChainLink, Mark, SegmentIndex } from '../../../src/plan/archive.js';
import type { BackupManifest } from '../../../src/plan/backup.js';
import { ARCHIVE_GRACE_MS, folderName, manifestFrom, recoveryPlan, type StoredBase } from '../../../src/plan/pitr.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);
const T0 = Date.UTC(2026, 11, 4, 10);
const s = (seconds: number) => T0 + seconds * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

function base(name: string, offset: number, started: number, completed: number, replid = R1): StoredBase {
  const manifest: BackupManifest = {
    engine: 'redis', engineVersion: '7.0.15', rdbVersion: 10, replid, offset, size: 100, sha256: 'c'.repeat(64),
    startedAt: iso(s(started)), completedAt: iso(s(completed)), resource: 'src', sourcePod: 'src-1',
  };
  return { prefix: `p/src/base/${name}/`, manifest };
}

const mark = (offset: number, seconds: number): Mark => ({ offset, at: s(seconds) });
const segment = (from: number, to: number, marks: Mark[], replid = R1): SegmentIndex => ({ replid, from, to, sha256: '', marks });

// B1 at 1000 (taken at 0-5 s), B2 at 2500 (31-35 s); the archive from B1 on, in two segments.
const B1 = base('20261204T100000Z', 1000, 0, 5);
const B2 = base('20261204T100031Z', 2500, 31, 35);
const SEG1 = segment(1000, 2000, [mark(1000, 6), mark(1500, 10), mark(2000, 20)]);
const SEG2 = segment(2000, 3000, [mark(2500, 30), mark(3000, 40)]);
const ARCHIVE = { segments: [SEG1, SEG2], chain: [] as ChainLink[] };
const NOW = s(600);

describe('recoveryPlan: the base and the replay for a target time', () => {
  it('takes the newest base that started before the target and that the archive carries to it', () => {
    expect(recoveryPlan([B1, B2], ARCHIVE, s(40), NOW)).toEqual({ base: B2, cut: mark(3000, 40), ranges: [{ segment: SEG2, start: 500, end: 1000 }], bytes: 500 });
    // Before B2 started: B1, replayed through both segments up to the last mark at or before the target.
    expect(recoveryPlan([B2, B1], ARCHIVE, s(30.5), NOW)).toEqual({
      base: B1, cut: mark(2500, 30), ranges: [{ segment: SEG1, start: 0, end: 1000 }, { segment: SEG2, start: 0, end: 500 }], bytes: 1500,
    });
    expect(recoveryPlan([B1], ARCHIVE, s(25), NOW)).toMatchObject({ base: B1, cut: mark(2000, 20), bytes: 1000 });
  });

  it('a base that started before the target but whose point the archive reached only later is passed over for an older one', () => {
    // B3 started at 28 s, its fork at offset 2600: the archive had 2500 at 30 s, so at 30.5 s it is B1's history.
    const B3 = base('20261204T100028Z', 2600, 28, 33);
    expect(recoveryPlan([B1, B3], ARCHIVE, s(30.5), NOW)).toMatchObject({ base: B1, cut: mark(2500, 30) });
  });

  it('follows the history across a failover (a chain link) to the target', () => {
    const seg2 = segment(2000, 3000, [mark(3000, 40)], R2);
    const chain: ChainLink[] = [{ previous: R1, replid: R2, offset: 2000, at: s(21) }];
    expect(recoveryPlan([B1], { segments: [SEG1, seg2], chain }, s(40), NOW)).toMatchObject({ base: B1, cut: mark(3000, 40), bytes: 2000 });
  });

  it('refuses a target before the point of every base, with nothing to load', () => {
    expect(recoveryPlan([B1, B2], ARCHIVE, s(-1), NOW)).toMatchObject({ reason: 'TargetBeforeBase', wait: false, message: expect.stringMatching(/^2026-12-04T09:59:59\.000Z is before the point of every base backup .*taken 2026-12-04T10:00:00\.000Z/) });
    expect(recoveryPlan([], ARCHIVE, s(10), NOW)).toMatchObject({ reason: 'NoBaseBackup', wait: false });
  });

  it('a target past the archive\'s last mark: waited for while it is recent, refused once the archive should have reached it', () => {
    expect(recoveryPlan([B1, B2], ARCHIVE, s(50), s(60))).toMatchObject({ reason: 'ArchiveBehind', wait: true, message: expect.stringMatching(/does not reach 2026-12-04T10:00:50\.000Z \(base 20261204T100031Z: the archive reaches 2026-12-04T10:00:40\.000Z only\): waiting/) });
    expect(recoveryPlan([B1, B2], ARCHIVE, s(50), s(50) + ARCHIVE_GRACE_MS)).toMatchObject({ reason: 'ArchiveBehind', wait: false });
    // A target in the future is waited for the same way.
    expect(recoveryPlan([B1], ARCHIVE, s(120), s(60))).toMatchObject({ reason: 'ArchiveBehind', wait: true });
  });

  it('a gap: the archive holds later times, but no base before the target continues to them', () => {
    // B1's archive ends at 2000 (20 s); a new base at 2600 (taken at 50 s) has its own archive.
    const B3 = base('20261204T100050Z', 2600, 50, 52);
    const seg3 = segment(2600, 3000, [mark(2600, 53), mark(3000, 60)]);
    const archive = { segments: [SEG1, seg3], chain: [] };
    expect(recoveryPlan([B1, B3], archive, s(45), NOW)).toMatchObject({ reason: 'ArchiveGap', wait: false, message: expect.stringMatching(/gap before 2026-12-04T10:00:45\.000Z \(base 20261204T100000Z: the archive reaches 2026-12-04T10:00:20\.000Z only/) });
    // Either side of the gap restores.
    expect(recoveryPlan([B1, B3], archive, s(15), NOW)).toMatchObject({ base: B1, cut: mark(1500, 10) });
    expect(recoveryPlan([B1, B3], archive, s(58), NOW)).toMatchObject({ base: B3, cut: mark(2600, 53), bytes: 0 });
  });
});

describe('recoveryPlan without a target: the latest point archived', () => {
  it('is the newest base and the archive after it up to its last mark', () => {
    expect(recoveryPlan([B1, B2], ARCHIVE, undefined, NOW)).toEqual({ base: B2, cut: mark(3000, 40), ranges: [{ segment: SEG2, start: 500, end: 1000 }], bytes: 500 });
  });

  it('is the newest base alone when nothing is archived past it', () => {
    expect(recoveryPlan([B1, B2], { segments: [SEG1], chain: [] }, undefined, NOW)).toEqual({ base: B2, cut: { offset: 2500, at: s(35) }, ranges: [], bytes: 0 });
    expect(recoveryPlan([B1], { segments: [], chain: [] }, undefined, NOW)).toEqual({ base: B1, cut: { offset: 1000, at: s(5) }, ranges: [], bytes: 0 });
    expect(recoveryPlan([], ARCHIVE, undefined, NOW)).toMatchObject({ reason: 'NoBaseBackup' });
  });
});

describe('stored bases', () => {
  it('are named by their folder', () => {
    expect(folderName(B1)).toBe('20261204T100000Z');
  });

  it('take a manifest.json only when it is one', () => {
    expect(manifestFrom(JSON.parse(JSON.stringify(B1.manifest)))).toEqual(B1.manifest);
    expect(manifestFrom({ ...B1.manifest, offset: '1000' })).toBeUndefined();
    expect(manifestFrom({ ...B1.manifest, completedAt: 'soon' })).toBeUndefined();
    const { sha256: _, ...unhashed } = B1.manifest;
    expect(manifestFrom(unhashed)).toBeUndefined();
    expect(manifestFrom(null)).toBeUndefined();
  });
});
