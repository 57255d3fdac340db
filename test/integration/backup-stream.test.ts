// A backup streamed from a real redis-server (Debian's 7.0, on loopback) into a real object store
// (SeaweedFS's `weed mini`, on loopback), as the backup user the operator declares: the stored
// dump.rdb matches its manifest and loads into a fresh server with every key; a sync that breaks
// mid-RDB, or a wrong password, leaves nothing stored. The stored backup restored into a fresh server
// through the operator's replication-protocol server holds every key, at the backup's replication ID
// and offset; a stored file that does not match its manifest is never loaded. Servers are stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../hack/lib.js';
import { freePort, startWeed } from './weed.js';
import { BACKUP_RULES, BACKUP_USER } from '../../src/plan/acl.js';
import { basePrefix, type BackupManifest } from '../../src/plan/backup.js';
import { s3Client } from '../../src/backup/object-store.js';
import { takeBackup } from '../../src/backup/take-backup.js';
import { ReplicationRdbServer, type RdbJob } from '../../src/backup/rdb-server.js';
import { RedisPool } from '../../src/redis/client.js';

const REDIS = '/usr/bin/redis-server';
const dir = mkdtempSync(join(tmpdir(), 'rro-backup-it-'));
const children: ChildProcess[] = [];
/** About 20 MB of RDB: more than one 16 MiB part. */
const KEYS = 20_000;
const store = { endpoint: '', bucket: 'backups', path: 'it/', region: 'us-east-1', credentialsSecret: 's3' };
const credentials = { accessKeyId: 'itaccess', secretAccessKey: 'itsecret0123456789' };
let client: ReturnType<typeof s3Client>;
const pool = new RedisPool({ connectMs: 2000, commandMs: 5000 });

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore', cwd: dir });
  children.push(child);
  return child;
}

async function redis(port: number, extra: string[] = []): Promise<void> {
  start(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `${port}.rdb`, ...extra]);
  await waitFor(async () => (await pool.command({ host: '127.0.0.1', port }, ['PING']).then(() => true, () => false)), { timeoutMs: 10_000, intervalMs: 50, what: `redis on ${port}` });
}

let redisPort: number;
/** The first test's backup, restored by the next describe. */
let stored0: BackupManifest | undefined;
let storedPrefix = '';
beforeAll(async () => {
  const weed = await startWeed(dir, credentials, store.bucket, (e) => s3Client({ ...store, endpoint: e }, credentials));
  children.push(weed.child);
  store.endpoint = weed.endpoint;
  client = s3Client(store, credentials);
  redisPort = await freePort();
  await redis(redisPort, ['--user', BACKUP_USER, 'on', '>backup-pw', ...BACKUP_RULES]);
  // Random values: the RDB's compression cannot shrink them below one part.
  for (let i = 0; i < KEYS; i += 500) {
    const pairs = Array.from({ length: 500 }, (_, k) => [`key:${i + k}`, randomBytes(750).toString('base64')]).flat();
    await pool.command({ host: '127.0.0.1', port: redisPort }, ['MSET', ...pairs]);
  }
}, 90_000);

afterAll(async () => {
  await pool.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** The objects under prefix, and the multipart uploads begun there and neither completed nor aborted. */
const objects = async (prefix: string): Promise<string[]> => [
  ...((await client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!),
  ...((await client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }))).Uploads ?? []).map((u) => `upload of ${u.Key}`),
];

const source = (password: string) => ({ target: { host: '127.0.0.1', port: redisPort, username: BACKUP_USER, password }, resource: 'cache', pod: 'cache-0', engine: 'redis', engineVersion: '7.0.15' });

/** sync_full of the server: how many full syncs it has served. */
const fullSyncs = async (): Promise<number> => {
  const info = String(await pool.command({ host: '127.0.0.1', port: redisPort }, ['INFO', 'stats']));
  return Number(/sync_full:(\d+)/.exec(info)![1]);
};

describe('takeBackup', () => {
  it('stores dump.rdb and a manifest that match, and the file loads with every key', async () => {
    const prefix = basePrefix(store, 'cache', new Date('2026-12-04T10:00:00Z'));
    const manifest = (stored0 = await takeBackup(source('backup-pw'), { client, bucket: store.bucket, prefix }));
    storedPrefix = prefix;
    expect(await objects(prefix)).toEqual([`${prefix}dump.rdb`, `${prefix}manifest.json`]);
    const rdb = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${prefix}dump.rdb` }))).Body!.transformToByteArray());
    expect(rdb.length).toBe(manifest.size);
    expect(createHash('sha256').update(rdb).digest('hex')).toBe(manifest.sha256);
    expect(manifest.size).toBeGreaterThan(16 * 1024 * 1024);
    expect(manifest).toMatchObject({ rdbVersion: 10, replid: expect.stringMatching(/^[0-9a-f]{40}$/), engine: 'redis', resource: 'cache' });
    const stored = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${prefix}manifest.json` }))).Body!.transformToString()) as BackupManifest;
    expect(stored).toEqual(manifest);

    const restorePort = await freePort();
    writeFileSync(join(dir, `${restorePort}.rdb`), rdb);
    await redis(restorePort);
    expect(await pool.command({ host: '127.0.0.1', port: restorePort }, ['DBSIZE'])).toBe(String(KEYS));
  });

  it('stores nothing when the password is wrong', async () => {
    const prefix = basePrefix(store, 'cache', new Date('2026-12-04T11:00:00Z'));
    await expect(takeBackup(source('wrong'), { client, bucket: store.bucket, prefix })).rejects.toThrow(/authenticating: -WRONGPASS/);
    expect(await objects(prefix)).toEqual([]);
  });

  it('fails before any sync when the object store refuses the keys', async () => {
    const prefix = basePrefix(store, 'cache', new Date('2026-12-04T13:00:00Z'));
    const wrongKeys = s3Client(store, { ...credentials, secretAccessKey: 'not-the-secret' });
    const syncsBefore = await fullSyncs();
    await expect(takeBackup(source('backup-pw'), { client: wrongKeys, bucket: store.bucket, prefix })).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(await fullSyncs()).toBe(syncsBefore);
    expect(await objects(prefix)).toEqual([]);
  });

  it('stores nothing when the sync breaks in the middle of the RDB', async () => {
    // A primary that announces 64 MiB of RDB, sends 20 (past the first 16 MiB part), and closes.
    const fake: Server = createServer((socket) => {
      socket.on('data', (d) => {
        if (!d.toString().includes('PSYNC')) return void socket.write('+OK\r\n');
        socket.write(`+FULLRESYNC ${'f'.repeat(40)} 42\r\n$${64 * 1024 * 1024}\r\nREDIS0011`);
        socket.end(Buffer.alloc(20 * 1024 * 1024, 7));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const prefix = basePrefix(store, 'cache', new Date('2026-12-04T12:00:00Z'));
    const broken = { ...source('x'), target: { host: '127.0.0.1', port: (fake.address() as AddressInfo).port } };
    await expect(takeBackup(broken, { client, bucket: store.bucket, prefix })).rejects.toThrow(/closed after \d+ bytes of the RDB/);
    fake.close();
    expect(await objects(prefix)).toEqual([]);
  });
});

describe('ReplicationRdbServer', () => {
  const rdbServer = new ReplicationRdbServer('127.0.0.1', 0);
  afterAll(() => rdbServer.close());

  const job = (manifest: BackupManifest, over: Partial<RdbJob> = {}): RdbJob => ({
    podIP: '127.0.0.1', replid: manifest.replid, offset: manifest.offset, size: manifest.size, sha256: manifest.sha256, password: 'repl-pw',
    open: async () => (await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: `${storedPrefix}dump.rdb` }))).Body as Readable,
    ...over,
  });
  const info = async (port: number) => String(await pool.command({ host: '127.0.0.1', port }, ['INFO', 'replication']));

  it('restores the stored backup into a fresh server as its primary would: every key, at the backup\'s replication ID and offset', async () => {
    const manifest = stored0!;
    const port = await freePort();
    await redis(port, ['--masterauth', 'repl-pw']);
    const serving = rdbServer.serve(job(manifest));
    const at = (await rdbServer.address())!;
    const t0 = Date.now();
    await pool.command({ host: '127.0.0.1', port }, ['REPLICAOF', at.host, String(at.port)]);
    await serving.sent;
    await waitFor(async () => /master_link_status:up/.test(await info(port)), { timeoutMs: 30_000, intervalMs: 100, what: 'the restored server linked' });
    const ms = Date.now() - t0;
    console.log(`[restore] ${manifest.size} bytes from the object store, checked and loaded in ${ms} ms (${(manifest.size / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`);
    expect(await info(port)).toContain(`master_replid:${manifest.replid}`);
    await pool.command({ host: '127.0.0.1', port }, ['REPLICAOF', 'NO', 'ONE']);
    expect(await pool.command({ host: '127.0.0.1', port }, ['DBSIZE'])).toBe(String(KEYS));
    const promoted = await info(port);
    expect(promoted).toContain(`master_replid2:${manifest.replid}`);
    expect(promoted).toContain(`master_repl_offset:${manifest.offset}`);
  });

  it('never lets a server load a stored file whose SHA-256 is not the manifest\'s, nor serve a pod that does not authenticate', async () => {
    const manifest = stored0!;
    const port = await freePort();
    await redis(port, ['--masterauth', 'repl-pw']);
    await pool.command({ host: '127.0.0.1', port }, ['SET', 'mine', '1']);
    const at = (await rdbServer.address())!;
    const corrupt = rdbServer.serve(job(manifest, { sha256: '0'.repeat(64) }));
    await pool.command({ host: '127.0.0.1', port }, ['REPLICAOF', at.host, String(at.port)]);
    await expect(corrupt.sent).rejects.toThrow(/SHA-256 .* not loaded/);
    const wrongPassword = rdbServer.serve(job(manifest, { password: 'other' }));
    // Refused AUTH: the server gives up this link.
    await expect(wrongPassword.sent).rejects.toThrow(/closed the replication link before the RDB was sent/);
    await pool.command({ host: '127.0.0.1', port }, ['REPLICAOF', 'NO', 'ONE']);
    // Nothing of the backup was loaded (a replica keeps its data until a full sync completes).
    expect(await pool.command({ host: '127.0.0.1', port }, ['DBSIZE'])).toBe('1');
  });
});
