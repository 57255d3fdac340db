import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RedisBackup } from '../../../src/api/backup.js';
import { baseRoot } from '../../../src/plan/backup.js';
import {
  expiredBackups,
  nextSlot,
  parseRetention,
  SCHEDULE,
  scheduledName,
  scheduleProblem,
  scheduleStep,
  storedPrefix,
  type Retention,
  type ScheduleStatus,
} from '../../../src/plan/backup-schedule.js';

const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('SCHEDULE (the schema and the CRD rule)', () => {
  it.each(['0 3 * * *', '*/15 * * * MON-FRI', '0 0 1 jan *', '30 2 * * 0,6', '0 0 * * 7', ' 5 4  * * * ', '0 0 29 2 *', '0-30/10 8-18 1,15 1-6 mon-fri', '59 23 31 12 SUN'])('accepts %j', (s) => {
    expect(SCHEDULE.test(s)).toBe(true);
    expect(scheduleProblem(s)).toBeUndefined();
  });

  it.each([
    ['* * * *', 'four fields'],
    ['0 * * * * *', 'a seconds field'],
    ['@daily', 'an alias'],
    ['', 'nothing'],
    ['61 * * * *', 'minute 61'],
    ['0 24 * * *', 'hour 24'],
    ['0 0 0 * *', 'day 0'],
    ['0 0 32 * *', 'day 32'],
    ['0 0 * 13 *', 'month 13'],
    ['0 0 * * 8', 'day of week 8'],
    ['*/0 * * * *', 'a step of 0'],
    ['H * * * *', 'a random minute (two operators would disagree)'],
    ['0 0 L * *', 'L'],
    ['0 0 * * 1#1', '#'],
    ['? * * * *', '?'],
    ['0 0 * FOO *', 'a month that is none'],
    ['0 0 * * JAN', 'a month for a day'],
    ['0 0 * Jan *', 'a name in mixed case'],
    ['1,,2 * * * *', 'an empty list item'],
  ])('refuses %j (%s)', (s) => {
    expect(SCHEDULE.test(s)).toBe(false);
  });

  it.each([
    ['5-1 * * * *', '5-1'],
    ['0 0 * DEC-JAN *', '12-1'],
    ['0 0 30 2 *', 'day of month'],
    ['0 0 * * 0,7', 'duplicate'],
  ])('what only a parser sees in %j (the API server lets it through) is a problem the operator names', (s, why) => {
    expect(SCHEDULE.test(s)).toBe(true);
    expect(scheduleProblem(s)).toContain(why);
  });

  it('every expression of values in range, ranges in order, is accepted by both the rule and the parser', () => {
    const bounds = [[0, 59], [0, 23], [1, 28], [1, 12], [0, 7]] as const;
    const step = fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }).map((n) => (n === undefined ? '' : `/${n}`));
    // The parser refuses a list that names a value twice (0,7 are both Sunday): lists of distinct days 0-6.
    const one = (min: number, max: number) =>
      fc.oneof(
        step.map((s) => `*${s}`),
        fc.integer({ min, max }).map(String),
        fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }), step).map(([a, b, s]) => `${Math.min(a, b)}-${Math.max(a, b)}${s}`),
      );
    const list = (min: number, max: number) => fc.uniqueArray(fc.integer({ min, max: max === 7 ? 6 : max }), { minLength: 2, maxLength: 4 }).map((v) => v.join(','));
    const fields = fc.tuple(...bounds.map(([min, max]) => fc.oneof(one(min, max), list(min, max))));
    fc.assert(fc.property(fields, (f) => {
      const s = f.join(' ');
      return SCHEDULE.test(s) && scheduleProblem(s) === undefined;
    }));
  });
});

describe('scheduledName', () => {
  it('<resource>-<yyyymmddhhmm> of the slot, UTC', () => {
    expect(scheduledName('cache', at('2026-12-04T03:00:00Z'))).toBe('cache-202612040300');
    expect(scheduledName('cache', at('2027-01-09T23:45:00Z'))).toBe('cache-202701092345');
  });
});

describe('scheduleStep', () => {
  const step = (schedule: string, recorded: ScheduleStatus | undefined, now: string, unfinished: string[] = []) =>
    scheduleStep({ resource: 'cache', schedule, recorded, unfinished, nowMs: at(now) });
  const daily = '0 3 * * *';

  it('a new schedule waits for its first slot: no backup at once', () => {
    const s = step(daily, undefined, '2026-12-01T15:00:00Z');
    expect(s.create).toBeUndefined();
    expect(s.status).toEqual({ schedule: daily, nextScheduleTime: '2026-12-02T03:00:00Z' });
    expect(s.nextMs).toBe(at('2026-12-02T03:00:00Z'));
  });

  it('before the slot: nothing, and the next check at the slot', () => {
    const recorded = { schedule: daily, nextScheduleTime: '2026-12-02T03:00:00Z' };
    const s = step(daily, recorded, '2026-12-02T02:59:59.999Z');
    expect(s.create).toBeUndefined();
    expect(s.status).toEqual(recorded);
    expect(s.nextMs).toBe(at('2026-12-02T03:00:00Z'));
  });

  it('at the slot: the backup of that slot, recorded, and the next slot awaited', () => {
    const s = step(daily, { schedule: daily, nextScheduleTime: '2026-12-02T03:00:00Z' }, '2026-12-02T03:00:00Z');
    expect(s.create).toBe('cache-202612020300');
    expect(s.status).toEqual({ schedule: daily, lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    expect(s.nextMs).toBe(at('2026-12-03T03:00:00Z'));
  });

  it('after downtime: one backup, for the latest slot missed, never one per slot', () => {
    const s = step(daily, { schedule: daily, lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-02T03:00:00Z' }, '2026-12-05T10:00:00Z');
    expect(s.create).toBe('cache-202612050300');
    expect(s.status).toEqual({ schedule: daily, lastScheduleTime: '2026-12-05T03:00:00Z', nextScheduleTime: '2026-12-06T03:00:00Z' });
  });

  it('a changed schedule waits for its own first slot', () => {
    const s = step('0 * * * *', { schedule: daily, lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-02T03:00:00Z' }, '2026-12-01T15:10:00Z');
    expect(s.create).toBeUndefined();
    expect(s.status).toEqual({ schedule: '0 * * * *', lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-01T16:00:00Z' });
  });

  it('a slot recorded beyond the schedule\'s next one (a clock that ran ahead) is not waited for', () => {
    const s = step(daily, { schedule: daily, nextScheduleTime: '2027-06-01T03:00:00Z' }, '2026-12-01T15:00:00Z');
    expect(s.status.nextScheduleTime).toBe('2026-12-02T03:00:00Z');
  });

  it('a slot that comes while another backup has not ended is skipped, not queued', () => {
    const recorded = { schedule: daily, lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-02T03:00:00Z' };
    const s = step(daily, recorded, '2026-12-02T03:00:01Z', ['cache-202612010300']);
    expect(s.create).toBeUndefined();
    expect(s.skipped).toEqual({ slot: '2026-12-02T03:00:00Z', unfinished: 'cache-202612010300' });
    expect(s.status).toEqual({ ...recorded, nextScheduleTime: '2026-12-03T03:00:00Z' });
  });

  it('the slot\'s own backup (created by a pass that did not record it) does not block it', () => {
    const s = step(daily, { schedule: daily, nextScheduleTime: '2026-12-02T03:00:00Z' }, '2026-12-02T03:00:05Z', ['cache-202612020300']);
    expect(s.create).toBe('cache-202612020300');
    expect(s.status.lastScheduleTime).toBe('2026-12-02T03:00:00Z');
  });

  it('over any passes: a backup exactly when a slot came since the last pass, for the latest such slot, each name once', () => {
    const schedules = fc.constantFrom('*/5 * * * *', '0 * * * *', '30 2 * * *', '0 0 * * MON', '15 */6 1-10 * *');
    const gaps = fc.array(fc.integer({ min: 1, max: 3 * DAY }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(schedules, fc.integer({ min: 0, max: 365 * DAY }), gaps, (schedule, start, deltas) => {
        let now = at('2026-01-01T00:00:00Z') + start;
        let recorded = scheduleStep({ resource: 'cache', schedule, recorded: undefined, unfinished: [], nowMs: now }).status;
        const names = new Set<string>();
        for (const d of deltas) {
          const before = now;
          now += d;
          const s = scheduleStep({ resource: 'cache', schedule, recorded, unfinished: [], nowMs: now });
          const slotCame = nextSlot(schedule, before) <= now;
          if (Boolean(s.create) !== slotCame) return false;
          if (s.create) {
            const slot = Date.parse(s.status.lastScheduleTime!);
            if (!(slot > before && slot <= now && nextSlot(schedule, slot) > now)) return false;
            if (s.create !== scheduledName('cache', slot) || names.has(s.create)) return false;
            names.add(s.create);
          }
          if (s.nextMs !== nextSlot(schedule, now) || Date.parse(s.status.nextScheduleTime!) !== s.nextMs) return false;
          recorded = s.status;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseRetention', () => {
  it('a number or a numeral is a count; h and d an age', () => {
    expect(parseRetention(5)).toEqual({ count: 5 });
    expect(parseRetention('5')).toEqual({ count: 5 });
    expect(parseRetention('12h')).toEqual({ maxAgeMs: 12 * HOUR });
    expect(parseRetention('7d')).toEqual({ maxAgeMs: 7 * DAY });
  });
});

const STORE = { endpoint: 'http://s3:8333', bucket: 'rro-backups', path: 'team' };
const NOW = at('2026-12-10T00:00:00Z');

function backup(name: string, phase: string | undefined, startedAt: string, extra: Record<string, unknown> = {}): RedisBackup {
  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+/, '');
  return {
    apiVersion: 'redis.replication.dev/v1alpha1',
    kind: 'RedisBackup',
    metadata: { name, namespace: 'ns', creationTimestamp: startedAt },
    spec: { replication: 'cache' },
    status: {
      ...(phase ? { phase: phase as 'Completed' } : {}),
      ...(phase === 'Pending' ? {} : { startedAt, endpoint: STORE.endpoint, bucket: STORE.bucket, key: `team/cache/base/${stamp}/dump.rdb` }),
      ...extra,
    },
  };
}

const expired = (backups: RedisBackup[], retention: Retention) =>
  expiredBackups({ backups, retention, store: STORE, resource: 'cache', nowMs: NOW }).map((e) => e.name);

describe('expiredBackups', () => {
  const c = (n: number, phase = 'Completed', extra = {}) => backup(`b${n}`, phase, `2026-12-0${n}T03:00:00Z`, extra);

  it('count: the N newest Completed stay; the older go, oldest first, with their folders', () => {
    const all = [c(1), c(4), c(2), c(3)];
    expect(expiredBackups({ backups: all, retention: { count: 2 }, store: STORE, resource: 'cache', nowMs: NOW })).toEqual([
      { name: 'b1', prefix: 'team/cache/base/20261201T030000Z/' },
      { name: 'b2', prefix: 'team/cache/base/20261202T030000Z/' },
    ]);
  });

  it('count: a Failed backup stays while it is among the N newest ended', () => {
    expect(expired([c(1), c(2, 'Failed'), c(3)], { count: 2 })).toEqual([]);
    expect(expired([c(1), c(2, 'Failed'), c(3), c(4)], { count: 2 })).toEqual(['b1', 'b2']);
    expect(expired([c(1), c(2), c(3, 'Failed')], { count: 2 })).toEqual([]);
    expect(expired([c(1, 'Failed'), c(2, 'Failed'), c(3, 'Failed')], { count: 2 })).toEqual(['b1']);
  });

  it('age: what was taken longer ago goes, Completed and Failed alike', () => {
    expect(expired([c(1), c(2, 'Failed'), c(5), c(8), c(9, 'Failed')], { maxAgeMs: 4 * DAY })).toEqual(['b1', 'b2', 'b5']);
  });

  it('never a backup a resource is being restored from', () => {
    const all = [c(1), c(2), c(3)];
    expect(expiredBackups({ backups: all, retention: { count: 1 }, store: STORE, resource: 'cache', nowMs: NOW, restoring: new Set(['b1']) }).map((e) => e.name)).toEqual(['b2']);
  });

  it('never the newest Completed backup, however old', () => {
    expect(expired([c(1), c(2), c(3, 'Failed')], { maxAgeMs: HOUR })).toEqual(['b1', 'b3']);
  });

  it('never a Pending or Running backup, nor one not started, however old', () => {
    const all = [c(1, 'Running'), c(2, 'Pending'), { ...c(3), status: {} }, c(4), c(5)];
    expect(expired(all, { count: 1 })).toEqual(['b4']);
    expect(expired(all, { maxAgeMs: HOUR })).toEqual(['b4']);
  });

  it('a Failed backup that never streamed has no folder: the object alone goes', () => {
    const never = backup('b1', 'Failed', '2026-12-01T03:00:00Z');
    never.status = { phase: 'Failed', reason: 'SecretMissing' };
    expect(expiredBackups({ backups: [never, c(5)], retention: { count: 1 }, store: STORE, resource: 'cache', nowMs: NOW })).toEqual([{ name: 'b1', prefix: undefined }]);
  });

  it('backups stored elsewhere (another endpoint, bucket or path) are left alone, and do not count', () => {
    const elsewhere = [c(1, 'Completed', { bucket: 'old' }), c(2, 'Completed', { endpoint: 'http://old:1' }), c(3, 'Completed', { key: 'old/cache/base/20261203T030000Z/dump.rdb' })];
    expect(expired([...elsewhere, c(4), c(5)], { count: 1 })).toEqual(['b4']);
    expect(expired([...elsewhere, c(4)], { count: 1 })).toEqual([]);
  });

  it('a recorded key that is not one backup\'s folder of this resource is never deleted under', () => {
    for (const key of ['dump.rdb', 'team/dump.rdb', 'team/cache/base/dump.rdb', 'team/cache/base/a/b/dump.rdb', 'team/other/base/x/dump.rdb', 'team/cache/base/x/manifest.json']) {
      expect(storedPrefix(c(1, 'Completed', { key }), STORE, 'cache'), key).toBeUndefined();
    }
  });

  it('a folder another kept backup records (two started in one second) is not deleted with the expired one', () => {
    const shared = c(1, 'Failed', { key: 'team/cache/base/20261205T030000Z/dump.rdb' });
    expect(expiredBackups({ backups: [shared, c(5)], retention: { count: 1 }, store: STORE, resource: 'cache', nowMs: NOW })).toEqual([{ name: 'b1', prefix: undefined }]);
  });

  it('whatever the backups and the retention: never an unfinished one, never the newest Completed, at least N Completed kept, every folder one backup\'s', () => {
    const phase = fc.constantFrom('Completed', 'Completed', 'Failed', 'Running', 'Pending', undefined);
    const one = fc.record({ day: fc.integer({ min: 1, max: 9 }), hour: fc.integer({ min: 0, max: 23 }), phase, elsewhere: fc.boolean() });
    const retention: fc.Arbitrary<Retention> = fc.oneof(fc.record({ count: fc.integer({ min: 1, max: 6 }) }), fc.record({ maxAgeMs: fc.integer({ min: 1, max: 10 * DAY }) }));
    fc.assert(
      fc.property(fc.array(one, { maxLength: 12 }), retention, (specs, r) => {
        const all = specs.map((s, i) => backup(`b${i}`, s.phase, `2026-12-0${s.day}T${String(s.hour).padStart(2, '0')}:00:0${i % 10}Z`, s.elsewhere ? { bucket: 'old' } : {}));
        const out = expiredBackups({ backups: all, retention: r, store: STORE, resource: 'cache', nowMs: NOW });
        const gone = new Set(out.map((e) => e.name));
        const here = all.filter((b) => b.status?.bucket === STORE.bucket && b.status.phase === 'Completed');
        const newest = [...here].sort((a, b) => Date.parse(b.status!.startedAt!) - Date.parse(a.status!.startedAt!))[0];
        const keptCompleted = here.filter((b) => !gone.has(b.metadata.name)).length;
        return (
          all.every((b) => !gone.has(b.metadata.name) || b.status?.phase === 'Completed' || b.status?.phase === 'Failed') &&
          all.every((b) => !gone.has(b.metadata.name) || b.status?.bucket !== 'old') &&
          (newest === undefined || !gone.has(newest.metadata.name)) &&
          (!('count' in r) || keptCompleted >= Math.min(r.count, here.length)) &&
          out.every((e) => e.prefix === undefined || (e.prefix.startsWith(baseRoot(STORE, 'cache')) && e.prefix.endsWith('/') && all.filter((b) => b.status?.key?.startsWith(e.prefix!)).every((b) => gone.has(b.metadata.name))))
        );
      }),
      { numRuns: 500 },
    );
  });
});
