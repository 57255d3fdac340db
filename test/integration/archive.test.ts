// Archiving the replication stream of real redis-servers (Debian's 7.0, on loopback) into a real
// object store (SeaweedFS's `weed mini`), as the backup user: a base backup, the archiver from its
// manifest, writes, and a rebuild for a point in time (the base RDB and the archived bytes up to the
// cut, served by the operator's replication-protocol server to a fresh server) that holds exactly the
// writes acknowledged before the cut. The archiver follows a failover (retarget) without a gap or a
// duplicate; asks for a new base when the source no longer has its history; and, ACKing rarely,
// neither holds up a write quorum on its own nor is dropped by repl-timeout. Servers are stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../hack/lib.js';
import { freePort, startWeed } from './weed.js';
import { BACKUP_RULES, BACKUP_USER } from '../../src/plan/acl.js';
import { basePrefix, type BackupManifest } from '../../src/plan/backup.js';
import { replayPlan, resumeFrom, segmentKey, walRoot, type Mark } from '../../src/plan/archive.js';
import { s3Client } from '../../src/backup/object-store.js';
import { takeBackup } from '../../src/backup/take-backup.js';
import { Archiver, DEFAULT_ARCHIVER_OPTIONS, type ArchiverOptions } from '../../src/backup/archiver.js';
import { readArchive, replayBytes, SegmentMismatch } from '../../src/backup/archive-store.js';
import { ReplicationRdbServer } from '../../src/backup/rdb-server.js';
import { RedisPool, type RedisTarget } from '../../src/redis/client.js';

const REDIS = '/usr/bin/redis-server';
const dir = mkdtempSync(join(tmpdir(), 'rro-archive-it-'));
const children: ChildProcess[] = [];
const store = { endpoint: '', bucket: 'backups', path: 'it/', region: 'us-east-1', credentialsSecret: 's3' };
const credentials = { accessKeyId: 'itaccess', secretAccessKey: 'itsecret0123456789' };
let client: ReturnType<typeof s3Client>;
const pool = new RedisPool({ connectMs: 2000, commandMs: 5000 });
const rdbServer = new ReplicationRdbServer('127.0.0.1', 0);
const BACKUP_PASSWORD = 'backup-pw';
const BACKUP_ACL = ['--user', BACKUP_USER, 'on', `>${BACKUP_PASSWORD}`, ...BACKUP_RULES];
/** Small segments and frequent marks: several segments and cuts within seconds. */
const OPTS: ArchiverOptions = { ...DEFAULT_ARCHIVER_OPTIONS, segmentBytes: 1024 * 1024, segmentMs: 2_000, markIntervalMs: 100, retryMs: 200 };

async function redis(port: number, extra: string[] = []): Promise<void> {
  children.push(spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${port}.rdb`, ...extra], { stdio: 'ignore', cwd: dir }));
  await waitFor(async () => (await pool.command(at(port), ['PING']).then(() => true, () => false)), { timeoutMs: 10_000, intervalMs: 50, what: `redis on ${port}` });
}

const at = (port: number): RedisTarget => ({ host: '127.0.0.1', port });
const asBackup = (port: number): RedisTarget => ({ ...at(port), username: BACKUP_USER, password: BACKUP_PASSWORD });
const cmd = (port: number, ...args: string[]) => pool.command(at(port), args);
const infoField = async (port: number, field: string, section = 'replication'): Promise<string> => new RegExp(`^${field}:(.*)\\r?$`, 'm').exec(await cmd(port, 'INFO', section))?.[1]?.trim() ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function base(port: number, resource: string): Promise<{ manifest: BackupManifest; prefix: string }> {
  const prefix = basePrefix(store, resource, new Date());
  const manifest = await takeBackup({ target: asBackup(port), resource, pod: `${resource}-0`, engine: 'redis', engineVersion: '7.0.15' }, { client, bucket: store.bucket, prefix });
  return { manifest, prefix };
}

/** A fresh server loaded with the base and the archive up to the last mark at or before `target`
 * (Infinity: the whole archive): its keys, and the cut. */
async function rebuild(b: { manifest: BackupManifest; prefix: string }, root: string, target: number): Promise<{ keys: string[]; cut: Mark; stream: Buffer }> {
  const { segments, chain } = await readArchive(client, store.bucket, root);
  const last = Math.max(...segments.flatMap((s) => s.marks.map((m) => m.at)));
  const plan = replayPlan(b.manifest.replid, b.manifest.offset, chain, segments, Math.min(target, last));
  if ('error' in plan) throw new Error(plan.message);
  const port = await freePort();
  await redis(port);
  const pieces: Buffer[] = [];
  const serving = rdbServer.serve({
    podIP: '127.0.0.1', replid: b.manifest.replid, offset: b.manifest.offset, size: b.manifest.size, sha256: b.manifest.sha256,
    open: async () => (await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${b.prefix}dump.rdb` }))).Body as Readable,
    stream: async function* () {
      for await (const piece of replayBytes(client, store.bucket, root, plan.ranges)) {
        pieces.push(piece);
        yield piece;
      }
    },
  });
  const server = (await rdbServer.address())!;
  await cmd(port, 'REPLICAOF', server.host, String(server.port));
  await serving.sent;
  await waitFor(async () => Number(await infoField(port, 'master_repl_offset')) === plan.cut.offset && /master_link_status:up/.test(await cmd(port, 'INFO', 'replication')), { timeoutMs: 20_000, intervalMs: 50, what: `the rebuilt server at offset ${plan.cut.offset}` });
  await cmd(port, 'REPLICAOF', 'NO', 'ONE');
  const keys = JSON.parse(await cmd(port, 'KEYS', '*')) as string[];
  return { keys: keys.sort(), cut: plan.cut, stream: Buffer.concat(pieces) };
}

let primary: number;
let replica: number;
beforeAll(async () => {
  const weed = await startWeed(dir, credentials, store.bucket, (e) => s3Client({ ...store, endpoint: e }, credentials));
  children.push(weed.child);
  store.endpoint = weed.endpoint;
  client = s3Client(store, credentials);
  [primary, replica] = [await freePort(), await freePort()];
  await redis(primary, BACKUP_ACL);
  await redis(replica, [...BACKUP_ACL, '--replicaof', '127.0.0.1', String(primary)]);
  await waitFor(async () => (await infoField(replica, 'master_link_status')) === 'up', { timeoutMs: 10_000, intervalMs: 50, what: 'the replica linked' });
}, 90_000);

afterAll(async () => {
  await rdbServer.close();
  await pool.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}:${from + i}`);

describe('Archiver', () => {
  it('archives every write after a base, and a rebuild for a point in time holds exactly the writes acknowledged before its cut', async () => {
    const root = walRoot(store, 'pitr');
    for (const k of range('base', 0, 50)) await cmd(primary, 'SET', k, 'v');
    const b = await base(primary, 'pitr');
    const archiver = new Archiver(asBackup(primary), b.manifest, { client, bucket: store.bucket, root }, OPTS);
    archiver.start();
    await waitFor(() => archiver.position.linked, { timeoutMs: 5_000, intervalMs: 20, what: 'the archiver linked' });

    // Batches of writes with a quiet time between them; the point in time after each.
    const points: { time: number; keys: string[] }[] = [];
    const written = range('base', 0, 50);
    for (let batch = 0; batch < 3; batch++) {
      for (const k of range(`b${batch}`, 0, 40)) {
        await cmd(primary, 'SET', k, 'v');
        written.push(k);
      }
      await sleep(3 * OPTS.markIntervalMs);
      points.push({ time: Date.now(), keys: [...written] });
      await sleep(3 * OPTS.markIntervalMs);
    }

    // A write load for the figures: 1 KiB values, 8 writers, for 2 s; each write's acknowledgement time.
    const acked: { key: string; at: number }[] = [];
    const loadFrom = Number(await infoField(primary, 'master_repl_offset'));
    const loadStart = Date.now();
    let n = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() - loadStart < 2_000) {
        const key = `load:${n++}`;
        await cmd(primary, 'SET', key, 'x'.repeat(1024));
        acked.push({ key, at: Date.now() });
      }
    }));
    const loadMs = Date.now() - loadStart;
    const loadBytes = Number(await infoField(primary, 'master_repl_offset')) - loadFrom;
    written.push(...acked.map((a) => a.key));
    await waitFor(() => archiver.position.received.offset === loadFrom + loadBytes, { timeoutMs: 10_000, intervalMs: 20, what: 'the archiver received the load' });
    await sleep(2 * OPTS.markIntervalMs);

    const end = await archiver.stop();
    expect(end).toEqual({ reason: 'stopped', stored: { replid: b.manifest.replid, offset: Number(await infoField(primary, 'master_repl_offset')) } });
    const { segments } = await readArchive(client, store.bucket, root);
    expect(segments.length).toBeGreaterThan(3);
    for (const s of segments) expect(s.to - s.from).toBeLessThanOrEqual(OPTS.segmentBytes);

    for (const point of points) {
      const rebuilt = await rebuild(b, root, point.time);
      expect(rebuilt.keys).toEqual([...point.keys].sort());
      expect(rebuilt.cut.at).toBeLessThanOrEqual(point.time);
    }
    const whole = await rebuild(b, root, Infinity);
    expect(whole.keys).toEqual([...written].sort());

    // Lag: from a write's acknowledgement to the first mark that covers it (the stream's offset just
    // past its key, found in the archived bytes); throughput: the load's stream bytes per second.
    const marks = segments.flatMap((s) => s.marks).sort((x, y) => x.offset - y.offset);
    let from = 0;
    const lags = acked.map(({ key, at }) => {
      const pos = whole.stream.indexOf(`\r\n${key}\r\n`, from);
      from = pos;
      const offset = b.manifest.offset + pos;
      return marks.find((m) => m.offset >= offset)!.at - at;
    }).sort((x, y) => x - y);
    const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
    console.log(`[archive] load: ${acked.length} writes, ${loadBytes} stream bytes in ${loadMs} ms (${(loadBytes / 1e6 / (loadMs / 1000)).toFixed(2)} MB/s); ack -> mark (marks every ${OPTS.markIntervalMs} ms): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${lags.at(-1)} ms; ${segments.length} segments`);
  }, 90_000);

  it('follows a failover: every write in order, no gap, no duplicate, and a chain link from the old replid to the new', async () => {
    const root = walRoot(store, 'failover');
    const b = await base(primary, 'failover');
    const archiver = new Archiver(asBackup(primary), b.manifest, { client, bucket: store.bucket, root }, OPTS);
    archiver.start();
    await waitFor(() => archiver.position.linked, { timeoutMs: 5_000, intervalMs: 20, what: 'the archiver linked' });
    for (const k of range('f', 0, 100)) await cmd(primary, 'SET', k, 'v');
    const caughtUp = await infoField(primary, 'master_repl_offset');
    await waitFor(async () => (await infoField(replica, 'master_repl_offset')) === caughtUp, { timeoutMs: 5_000, intervalMs: 20, what: 'the replica caught up' });

    await cmd(replica, 'REPLICAOF', 'NO', 'ONE');
    await cmd(primary, 'REPLICAOF', '127.0.0.1', String(replica));
    archiver.retarget(asBackup(replica));
    const newReplid = await infoField(replica, 'master_replid');
    expect(await infoField(replica, 'master_replid2')).toBe(b.manifest.replid);
    for (const k of range('f', 100, 200)) await cmd(replica, 'SET', k, 'v');
    const final = Number(await infoField(replica, 'master_repl_offset'));
    await waitFor(() => archiver.position.received.offset === final, { timeoutMs: 10_000, intervalMs: 20, what: 'the archiver received the new primary\'s writes' });
    await sleep(2 * OPTS.markIntervalMs);
    expect(await archiver.stop()).toEqual({ reason: 'stopped', stored: { replid: newReplid, offset: final } });

    const { segments, chain } = await readArchive(client, store.bucket, root);
    expect(chain).toEqual([{ previous: b.manifest.replid, replid: newReplid, offset: Number(caughtUp), at: expect.any(Number) }]);
    expect(segments.filter((s) => s.replid === b.manifest.replid).every((s) => s.to <= Number(caughtUp))).toBe(true);
    expect(segments.some((s) => s.replid === newReplid)).toBe(true);
    const whole = await rebuild(b, root, Infinity);
    const sets = [...whole.stream.toString('latin1').matchAll(/\*3\r\n\$3\r\nSET\r\n\$\d+\r\n([^\r]+)\r\n/g)].map((m) => m[1]);
    expect(sets).toEqual(range('f', 0, 200));
    expect(whole.keys.filter((k) => k.startsWith('f:'))).toEqual(range('f', 0, 200).sort());
    expect(whole.cut.offset).toBe(final);

    // A stored segment that is not the one its index describes is never given out, not even in part.
    const last = segments.reduce((x, y) => (y.from > x.from ? y : x));
    const key = segmentKey(root, last.replid, last.from, last.to);
    await client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: Buffer.alloc(last.to - last.from, 0x0a) }));
    const plan = replayPlan(b.manifest.replid, b.manifest.offset, chain, segments, Math.max(...segments.flatMap((s) => s.marks.map((m) => m.at))));
    const given: Buffer[] = [];
    await expect((async () => {
      for await (const piece of replayBytes(client, store.bucket, root, 'error' in plan ? [] : plan.ranges)) given.push(piece);
    })()).rejects.toThrow(SegmentMismatch);
    expect(Buffer.concat(given).length).toBe(last.from - b.manifest.offset);
  }, 60_000);

  // The archive phase's source (plan/archive.ts archiveSource) and its resume after a restart.
  it('follows a replica: the primary\'s stream at its offsets, the primary lists no archiver; a second archiver goes on from where the archive ends', async () => {
    const [p, r] = [await freePort(), await freePort()];
    await redis(p, BACKUP_ACL);
    await redis(r, [...BACKUP_ACL, '--replicaof', '127.0.0.1', String(p)]);
    await waitFor(async () => (await infoField(r, 'master_link_status')) === 'up', { timeoutMs: 10_000, intervalMs: 50, what: 'the replica linked' });
    const root = walRoot(store, 'via-replica');
    const b = await base(r, 'via-replica');
    expect(b.manifest.replid).toBe(await infoField(p, 'master_replid'));
    const run = async (from: { replid: string; offset: number }, keys: string[]) => {
      const archiver = new Archiver(asBackup(r), from, { client, bucket: store.bucket, root }, OPTS);
      archiver.start();
      await waitFor(() => archiver.position.linked, { timeoutMs: 5_000, intervalMs: 20, what: 'the archiver linked' });
      for (const k of keys) await cmd(p, 'SET', k, 'v');
      const offset = Number(await infoField(p, 'master_repl_offset'));
      await waitFor(() => archiver.position.received.offset === offset, { timeoutMs: 10_000, intervalMs: 20, what: 'the archiver received the primary\'s writes' });
      // The primary's replicas: its own, not the archiver (a replica's replica never counts for its quorum).
      expect(await infoField(p, 'connected_slaves')).toBe('1');
      await sleep(2 * OPTS.markIntervalMs);
      const end = await archiver.stop();
      expect(end).toEqual({ reason: 'stopped', stored: { replid: b.manifest.replid, offset } });
      expect(archiver.position.storedAt).toBeLessThanOrEqual(Date.now());
      return { offset, storedAt: archiver.position.storedAt };
    };
    const first = await run(b.manifest, range('r', 0, 50));
    // An operator that restarts reads the archive and goes on from its end, not from the base.
    const resume = resumeFrom(b.manifest, await readArchive(client, store.bucket, root));
    expect(resume).toEqual({ replid: b.manifest.replid, offset: first.offset, at: first.storedAt });
    await run(resume, range('r', 50, 100));
    const whole = await rebuild(b, root, Infinity);
    const sets = [...whole.stream.toString('latin1').matchAll(/\*3\r\n\$3\r\nSET\r\n\$\d+\r\n([^\r]+)\r\n/g)].map((m) => m[1]);
    expect(sets).toEqual(range('r', 0, 100));
    expect(whole.keys).toEqual(range('r', 0, 100).sort());
  }, 60_000);

  it('ends asking for a new base when the source no longer has its history, storing nothing', async () => {
    const root = walRoot(store, 'gone');
    const archiver = new Archiver(asBackup(replica), { replid: 'f'.repeat(40), offset: 1 }, { client, bucket: store.bucket, root }, OPTS);
    archiver.start();
    expect(await archiver.done).toMatchObject({ reason: 'needs-base', stored: { replid: 'f'.repeat(40), offset: 1 }, message: expect.stringContaining('+FULLRESYNC') });
    expect(await readArchive(client, store.bucket, root)).toEqual({ segments: [], chain: [] });
  });

  // What the ACK interval can do for the write quorum, and what it cannot: an ACK makes the archiver a
  // good replica for min-replicas-max-lag + 1 s (INFO's lag 0 and 1 here), so a quorum of 1 holds for
  // about 2 s of every 3 on the archiver alone; between, writes are refused. A replica's own ACK
  // period (1 s) would hold it all the time.
  it('ACKing every 3 s against min-replicas-max-lag 1: holds a write quorum of 1 only after each ACK, and repl-timeout 5 does not drop it', async () => {
    const port = await freePort();
    await redis(port, [...BACKUP_ACL, '--repl-timeout', '5']);
    const b = await base(port, 'quorum');
    await cmd(port, 'CONFIG', 'SET', 'min-replicas-to-write', '1');
    await cmd(port, 'CONFIG', 'SET', 'min-replicas-max-lag', '1');
    const partialBefore = Number(await infoField(port, 'sync_partial_ok', 'stats'));
    const archiver = new Archiver(asBackup(port), b.manifest, { client, bucket: store.bucket, root: walRoot(store, 'quorum') }, { ...OPTS, ackIntervalMs: 3_000 });
    archiver.start();
    await waitFor(() => archiver.position.linked, { timeoutMs: 5_000, intervalMs: 20, what: 'the archiver linked' });
    let accepted = 0;
    let refused = 0;
    const lags = new Set<string>();
    const t0 = Date.now();
    // Three times repl-timeout.
    while (Date.now() - t0 < 15_000) {
      const ok = await cmd(port, 'SET', 'q', String(Date.now())).then(() => true, (err: Error) => (expect(err.message).toMatch(/NOREPLICAS/), false));
      if (ok) accepted++;
      else refused++;
      const line = /slave0:(.*)/.exec(await cmd(port, 'INFO', 'replication'))?.[1] ?? '';
      lags.add(/lag=(\d+)/.exec(line)?.[1] ?? 'none');
      await sleep(100);
    }
    console.log(`[archive] ACK every 3 s, min-replicas-max-lag 1: ${accepted} writes accepted, ${refused} refused (NOREPLICAS); lags seen on the primary: ${[...lags].sort().join(', ')}`);
    expect(refused).toBeGreaterThan(0.2 * (accepted + refused));
    expect(lags).toEqual(new Set(['0', '1', '2', '3']));
    // One link all along: the only partial sync is the archiver's first.
    expect(Number(await infoField(port, 'sync_partial_ok', 'stats'))).toBe(partialBefore + 1);
    expect(await infoField(port, 'connected_slaves')).toBe('1');
    expect(archiver.lastError).toBeUndefined();
    await archiver.stop();
  }, 60_000);
});
