// Scheduled backups and retention, the pure part: when the next backup is due and what it is named,
// and which backups retention removes. The backups phase (controller/backup-schedule.ts) creates and
// deletes what these decide.
import { CronExpressionParser } from 'cron-parser';
import type { RedisBackup } from '../api/backup.js';
import type { ObjectStore, RedisReplicationStatus } from '../api/schema.js';
import { baseRoot, DUMP_FILE } from './backup.js';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const named = (names: string[]) => [...names, ...names.map((n) => n.toLowerCase())].join('|');
/** Each field: `*`, a value or a range a-b, with an optional step /n, or a list of those. */
const field = (value: string) => {
  const item = `(\\*|(${value})(-(${value}))?)(/[1-9][0-9]?)?`;
  return `${item}(,${item})*`;
};
const VALUES = ['[0-5]?[0-9]', '[01]?[0-9]|2[0-3]', '0?[1-9]|[12][0-9]|3[01]', `0?[1-9]|1[0-2]|${named(MONTHS)}`, `[0-7]|${named(DAYS)}`];

/**
 * A cron expression of five fields in range, as the API server (CEL) and the schema both check it.
 * No seconds field, no alias (@daily), none of the extensions H, L, # and ?: H picks a random minute
 * unless seeded, so two operators would not agree on the times.
 */
export const SCHEDULE = new RegExp(`^\\s*${VALUES.map(field).join('\\s+')}\\s*$`);
export const SCHEDULE_MESSAGE =
  "must be a cron expression of 5 fields, in UTC: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT), " +
  "each '*', a value, a range a-b or a list a,b, with an optional step /n; such as '0 3 * * *'";

const parse = (schedule: string, atMs: number) => CronExpressionParser.parse(schedule.trim(), { currentDate: new Date(atMs), tz: 'UTC' });

/**
 * What is wrong with a schedule that has the right shape (SCHEDULE), which no regular expression
 * sees: a range backwards (5-1), a date that never comes (30 2: February 30th). The API server
 * accepts those; the operator creates no backup and says why in an Event, rather than refuse the
 * whole resource (that would stop its failovers over a backup setting).
 */
export function scheduleProblem(schedule: string): string | undefined {
  try {
    parse(schedule, 0).next();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** The first slot of the schedule strictly after `afterMs`. */
export const nextSlot = (schedule: string, afterMs: number): number => parse(schedule, afterMs).next().getTime();

/** The last slot of the schedule at or before `atMs` (prev() is strictly before its start). */
const latestSlot = (schedule: string, atMs: number): number => parse(schedule, atMs + 1).prev().getTime();

/** 2026-12-04T03:00:00Z -> cache-202612040300: one name per slot, whoever creates it, so two passes
 * or two operators create one backup for a slot (the second create gets AlreadyExists). */
export function scheduledName(resource: string, slotMs: number): string {
  return `${resource}-${new Date(slotMs).toISOString().slice(0, 16).replace(/[-T:]/g, '')}`;
}

export type ScheduleStatus = NonNullable<RedisReplicationStatus['backup']>;

export interface ScheduleInput {
  resource: string;
  schedule: string;
  /** status.backup as the pass read it. */
  recorded: ScheduleStatus | undefined;
  /** The RedisBackups of the resource that have not ended (Pending, Running, or not started). */
  unfinished: string[];
  nowMs: number;
}

export interface ScheduleStep {
  /** status.backup as it should be. */
  status: ScheduleStatus;
  /** The RedisBackup to create for the slot that came. */
  create?: string;
  /** The slot that came while another backup of the resource had not ended: not taken. */
  skipped?: { slot: string; unfinished: string };
  /** When the next slot comes. */
  nextMs: number;
}

/**
 * One look at the schedule. status.backup.nextScheduleTime is the slot the operator waits for: a new
 * or changed schedule waits for its first slot after now (setting a schedule does not take a backup at
 * once). When that slot has come, the backup is for the latest slot that has come: after downtime,
 * one backup for every slot missed, never a burst. A slot that comes while a backup of the resource
 * has not ended is skipped, not queued: backups that take longer than the interval never pile up.
 */
export function scheduleStep(input: ScheduleInput): ScheduleStep {
  const { resource, schedule, recorded, nowMs } = input;
  const nextMs = nextSlot(schedule, nowMs);
  const last = recorded?.lastScheduleTime ? { lastScheduleTime: recorded.lastScheduleTime } : {};
  const waiting = { schedule, ...last, nextScheduleTime: iso(nextMs) };
  const awaited = recorded?.schedule === schedule ? Date.parse(recorded.nextScheduleTime ?? '') : NaN;
  // A slot recorded later than the schedule's next one is not this schedule's (a clock that ran ahead).
  if (Number.isNaN(awaited) || awaited > nextMs) return { status: waiting, nextMs };
  if (awaited > nowMs) return { status: { schedule, ...last, nextScheduleTime: iso(awaited) }, nextMs: awaited };
  const slotMs = latestSlot(schedule, nowMs);
  const name = scheduledName(resource, slotMs);
  // The slot's own backup, created by a pass whose status write did not happen, is not in the way.
  const blocking = input.unfinished.find((b) => b !== name);
  if (blocking !== undefined) return { status: waiting, skipped: { slot: iso(slotMs), unfinished: blocking }, nextMs };
  return { status: { schedule, lastScheduleTime: iso(slotMs), nextScheduleTime: iso(nextMs) }, create: name, nextMs };
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

/** A count (5: the five newest Completed) or an age (12h, 7d). */
export const RETENTION = /^[1-9][0-9]{0,3}[hd]?$/;
export const RETENTION_MESSAGE = 'must be how many Completed backups to keep (1 to 9999, such as 5) or how long to keep backups (such as 12h or 7d)';
export const MAX_RETENTION_COUNT = 9999;

export type Retention = { count: number } | { maxAgeMs: number };

const HOUR_MS = 3_600_000;

/** spec.backup.retention (the schema checked it). */
export function parseRetention(value: string | number): Retention {
  const text = String(value);
  const n = Number.parseInt(text, 10);
  if (text.endsWith('d')) return { maxAgeMs: n * 24 * HOUR_MS };
  if (text.endsWith('h')) return { maxAgeMs: n * HOUR_MS };
  return { count: n };
}

/** When a backup was taken (its start; else when it was created), or NaN. */
const takenAt = (b: RedisBackup): number => Date.parse(b.status?.startedAt ?? b.metadata.creationTimestamp ?? '');

/**
 * The folder of a backup's files in `store`, from the key its status records, or undefined when it
 * is not a folder of this resource's base backups there (another endpoint or bucket, or another path
 * since spec.backup.objectStore changed): what retention deletes is never wider than one backup.
 */
export function storedPrefix(backup: RedisBackup, store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'path'>, resource: string): string | undefined {
  const { endpoint, bucket, key } = backup.status ?? {};
  if (endpoint !== store.endpoint || bucket !== store.bucket || !key?.endsWith(`/${DUMP_FILE}`)) return undefined;
  const prefix = key.slice(0, -DUMP_FILE.length);
  const root = baseRoot(store, resource);
  return prefix.startsWith(root) && /^[^/]+\/$/.test(prefix.slice(root.length)) ? prefix : undefined;
}

export interface Expired {
  name: string;
  /** The folder of its files, deleted before the RedisBackup; undefined when it has none of its own. */
  prefix: string | undefined;
}

export interface RetentionInput {
  /** Every RedisBackup of the resource (spec.replication). */
  backups: RedisBackup[];
  retention: Retention;
  store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'path'>;
  resource: string;
  nowMs: number;
  /** Backups a resource of the namespace is being restored from (spec.bootstrap.recovery): kept. */
  restoring?: ReadonlySet<string>;
  /** The base the live archive continues from (status.archive.base): kept. */
  archiveBase?: string | undefined;
}

/**
 * The backups retention removes, oldest first. It looks at the ended backups of the resource, made by
 * the schedule or by hand: Completed ones stored in spec.backup.objectStore as it is now, and Failed
 * ones stored there or that never stored anything. Pending and Running backups, and those stored
 * elsewhere, are never removed.
 * - count N: the N newest Completed stay; a Failed one stays while it is among the N newest ended.
 * - age: those taken longer ago are removed.
 * Either way the newest Completed backup stays, and so do one a restore reads and the one the live
 * archive continues from. A backup whose folder another kept backup also records (two started in the
 * same second) is removed without its files.
 */
export function expiredBackups(input: RetentionInput): Expired[] {
  const { backups, retention, store, resource, nowMs } = input;
  const withFiles = (b: RedisBackup) => storedPrefix(b, store, resource) !== undefined;
  const considered = backups
    .filter((b) => !Number.isNaN(takenAt(b)))
    .filter((b) => (b.status?.phase === 'Completed' && withFiles(b)) || (b.status?.phase === 'Failed' && (b.status.key === undefined || withFiles(b))))
    .sort((a, b) => takenAt(b) - takenAt(a) || (a.metadata.name < b.metadata.name ? 1 : -1));
  const completed = considered.filter((b) => b.status?.phase === 'Completed');
  const needed = (b: RedisBackup) => input.restoring?.has(b.metadata.name) || b.metadata.name === input.archiveBase;
  const kept = new Set<RedisBackup>([...completed.slice(0, 1), ...considered.filter(needed)]);
  if ('count' in retention) {
    completed.slice(0, retention.count).forEach((b) => kept.add(b));
    considered.slice(0, retention.count).forEach((b) => b.status?.phase === 'Failed' && kept.add(b));
  } else {
    considered.filter((b) => takenAt(b) > nowMs - retention.maxAgeMs).forEach((b) => kept.add(b));
  }
  const expired = considered.filter((b) => !kept.has(b));
  const gone = new Set(expired.map((b) => b.metadata.name));
  const keptKeys = new Set(backups.filter((b) => !gone.has(b.metadata.name)).map(location));
  return expired.reverse().map((b) => ({
    name: b.metadata.name,
    prefix: keptKeys.has(location(b)) ? undefined : storedPrefix(b, store, resource),
  }));
}

const location = (b: RedisBackup): string => JSON.stringify([b.status?.endpoint, b.status?.bucket, b.status?.key]);
