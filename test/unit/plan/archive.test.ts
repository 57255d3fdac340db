import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { archivePath, chainKey, cutMark, indexKey, parseIndexKey, replayPlan, segmentKey, walRoot, type ChainLink, type Mark, type SegmentIndex } from '../../../src/plan/archive.js';

const R1 = 'a'.repeat(40);
const R2 = 'b'.repeat(40);

describe('archive names', () => {
  it('puts segments, their indexes and the chain under <path>/<resource>/wal/<replid>/', () => {
    const root = walRoot({ path: '/backups//prod/' }, 'cache');
    expect(root).toBe('backups/prod/cache/wal/');
    expect(segmentKey(root, R1, 1234, 5678)).toBe(`backups/prod/cache/wal/${R1}/00000000000000001234-00000000000000005678.seg`);
    expect(indexKey(segmentKey(root, R1, 1, 2))).toBe(`${root}${R1}/00000000000000000001-00000000000000000002.json`);
    expect(chainKey(root, R2)).toBe(`${root}${R2}/chain.json`);
  });

  it('reads back the replid and offsets of every index key, and nothing else', () => {
    const root = walRoot({ path: 'x' }, 'r');
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{40}$/), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 1e9 }), (replid, from, size) => {
        expect(parseIndexKey(root, indexKey(segmentKey(root, replid, from, from + size)))).toEqual({ replid, from, to: from + size });
      }),
    );
    expect(parseIndexKey(root, segmentKey(root, R1, 1, 2))).toBeUndefined();
    expect(parseIndexKey(root, chainKey(root, R1))).toBeUndefined();
    expect(parseIndexKey('y/r/wal/', indexKey(segmentKey(root, R1, 1, 2)))).toBeUndefined();
  });
});

/**
 * An archiver's run as the plan sees it: commands of `sizes` bytes arriving `gaps` ms apart from
 * t = 1000; a mark every `interval` ms (the offset received by then) and at each segment's end;
 * segments cut at the offsets `cuts`; from the offset `switchAt` (a segment boundary) on, the
 * history is R2's.
 */
function archive(sizes: number[], gaps: number[], interval: number, cutPicks: number[], switchPick: number | undefined, base: number) {
  const arrivals: { end: number; at: number }[] = [];
  let offset = base;
  let at = 1000;
  sizes.forEach((size, i) => {
    at += gaps[i % gaps.length]!;
    offset += size;
    arrivals.push({ end: offset, at });
  });
  const received = (t: number) => arrivals.filter((a) => a.at <= t).at(-1)?.end ?? base;
  const marks: Mark[] = [];
  // At least one mark, after the last arrival.
  for (let t = 1000 + interval; t <= at + interval; t += interval) marks.push({ offset: received(t), at: t });
  const total = offset;
  const cuts = [...new Set(cutPicks.map((c) => base + 1 + (c % Math.max(1, total - base))))].filter((c) => c < total).sort((a, b) => a - b);
  const bounds = [base, ...cuts, total];
  const switchAt = switchPick === undefined || cuts.length === 0 ? undefined : cuts[switchPick % cuts.length]!;
  const segments: SegmentIndex[] = bounds.slice(0, -1).map((from, i) => {
    const to = bounds[i + 1]!;
    const inside = marks.filter((m) => m.offset >= from && m.offset <= to);
    return { replid: switchAt !== undefined && from >= switchAt ? R2 : R1, from, to, sha256: '', marks: inside };
  });
  const chain: ChainLink[] = switchAt === undefined ? [] : [{ previous: R1, replid: R2, offset: switchAt, at: 0 }];
  return { arrivals, marks, segments, chain, total, received };
}

const run = fc.record({
  sizes: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 60 }),
  gaps: fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 10 }),
  interval: fc.integer({ min: 50, max: 1000 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  switchPick: fc.option(fc.nat(), { nil: undefined }),
  base: fc.nat({ max: 1e12 }),
  pick: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('cutMark', () => {
  it('is never past the target, and never more than one mark interval before it', () => {
    fc.assert(
      fc.property(run, ({ sizes, gaps, interval, cuts, switchPick, base, pick }) => {
        const { marks, received } = archive(sizes, gaps, interval, cuts, switchPick, base);
        const first = marks[0]!.at;
        const target = Math.floor(first + pick * (marks.at(-1)!.at - first));
        const cut = cutMark(marks, target)!;
        expect(cut.at).toBeLessThanOrEqual(target);
        expect(target - cut.at).toBeLessThan(interval);
        // Every command received a whole interval before the target is in.
        expect(cut.offset).toBeGreaterThanOrEqual(received(target - interval));
        expect(cut.offset).toBeLessThanOrEqual(received(target));
      }),
    );
  });

  it('has no cut before the first mark', () => {
    expect(cutMark([{ offset: 5, at: 100 }], 99)).toBeUndefined();
    expect(cutMark([{ offset: 5, at: 100 }, { offset: 9, at: 200 }], 199)).toEqual({ offset: 5, at: 100 });
  });
});

describe('archivePath', () => {
  const seg = (replid: string, from: number, to: number): SegmentIndex => ({ replid, from, to, sha256: '', marks: [] });

  it('follows segments without a gap and stops at the first one', () => {
    const path = archivePath(R1, 100, [], [seg(R1, 100, 150), seg(R1, 150, 200), seg(R1, 250, 300)]);
    expect(path.parts.map((p) => [p.from, p.to])).toEqual([[100, 150], [150, 200]]);
    expect(path.end).toEqual({ replid: R1, offset: 200 });
  });

  it('starts inside a segment when the base is, and takes the segment that reaches furthest where two overlap', () => {
    const path = archivePath(R1, 120, [], [seg(R1, 100, 150), seg(R1, 100, 180), seg(R1, 180, 200), seg(R1, 150, 190)]);
    expect(path.parts.map((p) => [p.segment.from, p.segment.to, p.from, p.to])).toEqual([[100, 180, 120, 180], [180, 200, 180, 200]]);
  });

  it('switches replid where the chain says, leaving the rest of the old replid\'s segment (the old primary\'s own history)', () => {
    const chain = [{ previous: R1, replid: R2, offset: 170, at: 0 }];
    const path = archivePath(R1, 100, chain, [seg(R1, 100, 200), seg(R2, 170, 220)]);
    expect(path.parts.map((p) => [p.segment.replid, p.from, p.to])).toEqual([[R1, 100, 170], [R2, 170, 220]]);
    expect(path.end).toEqual({ replid: R2, offset: 220 });
  });

  it('ends where a replid has no segment for its offset, even with a link further on', () => {
    const chain = [{ previous: R1, replid: R2, offset: 300, at: 0 }];
    expect(archivePath(R1, 100, chain, [seg(R1, 100, 200), seg(R2, 300, 400)]).end).toEqual({ replid: R1, offset: 200 });
  });
});

describe('replayPlan', () => {
  it('sends exactly the archived bytes from the base to the cut, in order, across a replid switch', () => {
    fc.assert(
      fc.property(run, ({ sizes, gaps, interval, cuts, switchPick, base, pick }) => {
        const { marks, segments, chain } = archive(sizes, gaps, interval, cuts, switchPick, base);
        const first = marks[0]!.at;
        const target = Math.floor(first + pick * (marks.at(-1)!.at - first));
        const plan = replayPlan(R1, base, chain, segments, target);
        if ('error' in plan) throw new Error(plan.message);
        expect(plan.cut).toEqual(cutMark(marks, target));
        let at = base;
        for (const r of plan.ranges) {
          expect(r.segment.from + r.start).toBe(at);
          expect(r.end).toBeGreaterThan(r.start);
          expect(r.segment.from + r.end).toBeLessThanOrEqual(r.segment.to);
          if (chain[0] && at >= chain[0].offset) expect(r.segment.replid).toBe(R2);
          at = r.segment.from + r.end;
        }
        expect(at).toBe(Math.max(base, plan.cut.offset));
      }),
    );
  });

  it('refuses a target after the archive\'s last mark: what came after it is not known', () => {
    const segments = [{ replid: R1, from: 100, to: 200, sha256: '', marks: [{ offset: 150, at: 1000 }, { offset: 200, at: 2000 }] }];
    expect(replayPlan(R1, 100, [], segments, 2001)).toMatchObject({ error: 'NotArchived', message: expect.stringContaining('1970-01-01T00:00:02.000Z') });
    expect(replayPlan(R1, 100, [], segments, 2000)).toMatchObject({ cut: { offset: 200 }, ranges: [{ start: 0, end: 100 }] });
    expect(replayPlan(R1, 100, [], [], 2000)).toMatchObject({ error: 'NotArchived' });
  });

  it('refuses a target before the base\'s point', () => {
    const segments = [{ replid: R1, from: 100, to: 200, sha256: '', marks: [{ offset: 120, at: 1000 }, { offset: 200, at: 2000 }] }];
    expect(replayPlan(R1, 150, [], segments, 1500)).toMatchObject({ error: 'BeforeBase' });
    expect(replayPlan(R1, 150, [], segments, 999)).toMatchObject({ error: 'BeforeBase' });
    expect(replayPlan(R1, 120, [], segments, 1500)).toMatchObject({ cut: { offset: 120 }, ranges: [] });
  });
});
