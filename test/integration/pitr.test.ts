// Point-in-time restore against real servers (Debian's redis-server 7.0 and SeaweedFS's `weed mini`,
// on loopback), through the code the controller runs for it: the store read by s3RecoveryStore, the
// plan of plan/pitr.ts, the job of recoveryJob served by the operator's replication-protocol server
// to a fresh redis-server told REPLICAOF it, and the pod's replication offset compared with the cut
// (plan/restore.ts `loaded`) before REPLICAOF NO ONE. The archiver marks once a second, as in
// production: a restore to T holds every write acknowledged more than a second before T and none
// acknowledged more than a second after it (CONTRACT §12). Servers are stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../hack/lib.js';
import { freePort, startWeed, stopServers } from './weed.js';
import { BACKUP_RULES, BACKUP_USER } from '../../src/plan/acl.js';
import { walRoot } from '../../src/plan/archive.js';
import { basePrefix, baseRoot, DUMP_FILE } from '../../src/plan/backup.js';
import { recoveryPlan, type RecoveryPlan } from '../../src/plan/pitr.js';
import { loaded } from '../../src/plan/restore.js';
import { parseReplication } from '../../src/redis/info.js';
import { s3Client } from '../../src/backup/object-store.js';
import { takeBackup } from '../../src/backup/take-backup.js';
import { Archiver, DEFAULT_ARCHIVER_OPTIONS } from '../../src/backup/archiver.js';
import { recoveryJob, s3RecoveryStore } from '../../src/backup/archive-store.js';
import { ReplicationRdbServer } from '../../src/backup/rdb-server.js';
import { RedisPool, type RedisTarget } from '../../src/redis/client.js';

const REDIS = '/usr/bin/redis-server';
const dir = mkdtempSync(join(tmpdir(), 'rro-pitr-it-'));
const children: ChildProcess[] = [];
const store = { endpoint: '', bucket: 'backups', path: 'it/', region: 'us-east-1', credentialsSecret: 's3' };
const credentials = { accessKeyId: 'itaccess', secretAccessKey: 'itsecret0123456789' };
const pool = new RedisPool({ connectMs: 2000, commandMs: 5000 });
const rdbServer = new ReplicationRdbServer('127.0.0.1', 0);
const BACKUP_PASSWORD = 'backup-pw';
const RESOURCE = 'src';

async function redis(port: number, extra: string[] = []): Promise<void> {
  children.push(spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${port}.rdb`, ...extra], { stdio: 'ignore', cwd: dir }));
  await waitFor(async () => (await pool.command(at(port), ['PING']).then(() => true, () => false)), { timeoutMs: 10_000, intervalMs: 50, what: `redis on ${port}` });
}

const at = (port: number): RedisTarget => ({ host: '127.0.0.1', port });
const cmd = (port: number, ...args: string[]) => pool.command(at(port), args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

/** What the controller does with a plan: a fresh server gets the base and the replay, and is made a
 * primary once at the cut's offset. Its keys. */
async function restore(plan: Extract<RecoveryPlan, { base: unknown }>): Promise<string[]> {
  const port = await freePort();
  await redis(port);
  const recovery = s3RecoveryStore(store, credentials);
  const { manifest, prefix } = plan.base;
  const replay = plan.ranges.length > 0 ? { root: walRoot(store, RESOURCE), ranges: plan.ranges } : undefined;
  const serving = rdbServer.serve(recoveryJob(recovery, { ...manifest, key: `${prefix}${DUMP_FILE}` }, '127.0.0.1', undefined, replay));
  const server = (await rdbServer.address())!;
  await cmd(port, 'REPLICAOF', server.host, String(server.port));
  await serving.sent;
  await waitFor(async () => loaded(parseReplication(await cmd(port, 'INFO', 'replication')), { replid: manifest.replid, offset: plan.cut.offset }), { timeoutMs: 20_000, intervalMs: 50, what: `the restored server at offset ${plan.cut.offset}` });
  expect(parseReplication(await cmd(port, 'INFO', 'replication')).replOffset).toBe(plan.cut.offset);
  await cmd(port, 'REPLICAOF', 'NO', 'ONE');
  serving.cancel();
  return (JSON.parse(await cmd(port, 'KEYS', '*')) as string[]).sort();
}

async function planFor(target: number | undefined): Promise<RecoveryPlan> {
  const recovery = s3RecoveryStore(store, credentials);
  const [bases, archive] = await Promise.all([recovery.bases(baseRoot(store, RESOURCE)), recovery.archive(walRoot(store, RESOURCE))]);
  return recoveryPlan(bases, archive, target, Date.now());
}

let primary: number;
beforeAll(async () => {
  const weed = await startWeed(dir, credentials, store.bucket, (e) => s3Client({ ...store, endpoint: e }, credentials));
  children.push(weed.child);
  store.endpoint = weed.endpoint;
  primary = await freePort();
  await redis(primary, ['--user', BACKUP_USER, 'on', `>${BACKUP_PASSWORD}`, ...BACKUP_RULES]);
}, 90_000);

afterAll(async () => {
  await rdbServer.close();
  await pool.close();
  await stopServers(children, dir);
}, 60_000);

describe('point-in-time restore', () => {
  it('to a time between two batches: every write of the first, none of the second; to the latest point: both; before the base: refused', async () => {
    const client = s3Client(store, credentials);
    for (const k of range('before', 20)) await cmd(primary, 'SET', k, 'v');
    const prefix = basePrefix(store, RESOURCE, new Date());
    const manifest = await takeBackup(
      { target: { ...at(primary), username: BACKUP_USER, password: BACKUP_PASSWORD }, resource: RESOURCE, pod: `${RESOURCE}-0`, engine: 'redis', engineVersion: '7.0.15' },
      { client, bucket: store.bucket, prefix },
    );
    client.destroy();
    const beforeBase = Date.parse(manifest.startedAt) - 1000;
    // Marks once a second (production's interval); segments of 2 s, so that the batches span several.
    const archiver = new Archiver({ ...at(primary), username: BACKUP_USER, password: BACKUP_PASSWORD }, manifest, { client: s3Client(store, credentials), bucket: store.bucket, root: walRoot(store, RESOURCE) }, { ...DEFAULT_ARCHIVER_OPTIONS, segmentMs: 2_000, retryMs: 200 });
    archiver.start();
    await waitFor(() => archiver.position.linked, { timeoutMs: 5_000, intervalMs: 20, what: 'the archiver linked' });

    const a = range('a', 100);
    for (const k of a) await cmd(primary, 'SET', k, 'v');
    const lastA = Date.now();
    await sleep(1600);
    const target = Date.now();
    await sleep(1600);
    const firstB = Date.now();
    const b = range('b', 100);
    for (const k of b) await cmd(primary, 'SET', k, 'v');
    // The archive's marks go past the second batch before it is stored.
    await sleep(1500);
    expect(await archiver.stop()).toMatchObject({ reason: 'stopped' });
    expect(target - lastA).toBeGreaterThan(1000);
    expect(firstB - target).toBeGreaterThan(1000);

    const plan = await planFor(target);
    if ('reason' in plan) throw new Error(`${plan.reason}: ${plan.message}`);
    expect(plan.base.manifest).toEqual(manifest);
    expect(plan.cut.at).toBeLessThanOrEqual(target);
    expect(plan.cut.at).toBeGreaterThan(target - 1500);
    expect(await restore(plan)).toEqual([...range('before', 20), ...a].sort());

    const latest = await planFor(undefined);
    if ('reason' in latest) throw new Error(`${latest.reason}: ${latest.message}`);
    expect(await restore(latest)).toEqual([...range('before', 20), ...a, ...b].sort());

    expect(await planFor(beforeBase)).toMatchObject({ reason: 'TargetBeforeBase', wait: false, message: expect.stringContaining('before the point of every base backup') });
  }, 90_000);
});
