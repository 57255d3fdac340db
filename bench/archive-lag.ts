// The archive's lag under a write load, without a cluster: a redis-server on loopback, SeaweedFS on
// loopback, a base backup, and the operator's archiver (default segments: 16 MiB or 60 s) following
// the server while redis-benchmark writes. Each second it samples how far the stored archive is
// behind: in bytes (the server's master_repl_offset minus the archive's stored offset) and in
// seconds (now minus the time of the archive's last stored mark: what a point-in-time restore could
// reach now).
// `npx tsx bench/archive-lag.ts [--seconds=120] [--rps=20000] [--value-bytes=100]`
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { waitFor } from '../hack/lib.js';
import { freePort, startWeed, stopServers } from '../test/integration/weed.js';
import { BACKUP_RULES, BACKUP_USER } from '../src/plan/acl.js';
import { basePrefix } from '../src/plan/backup.js';
import { walRoot } from '../src/plan/archive.js';
import { s3Client } from '../src/backup/object-store.js';
import { takeBackup } from '../src/backup/take-backup.js';
import { Archiver } from '../src/backup/archiver.js';
import { RedisPool, type RedisTarget } from '../src/redis/client.js';
import { figure } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '120' }, rps: { type: 'string', default: '20000' }, 'value-bytes': { type: 'string', default: '100' } } });
const SECONDS = Number(values.seconds);
const RPS = Number(values.rps);
const VALUE_BYTES = Number(values['value-bytes']);

const dir = mkdtempSync(join(tmpdir(), 'rro-archive-lag-'));
const children: ChildProcess[] = [];
const store = { endpoint: '', bucket: 'backups', path: 'lag/', region: 'us-east-1', credentialsSecret: 's3' };
const credentials = { accessKeyId: 'lagaccess', secretAccessKey: 'lagsecret0123456789' };
const PASSWORD = 'backup-pw';
const pool = new RedisPool({ connectMs: 2000, commandMs: 5000 });

try {
  const weed = await startWeed(dir, credentials, store.bucket, (endpoint) => s3Client({ endpoint, region: store.region }, { ...credentials }));
  children.push(weed.child);
  store.endpoint = weed.endpoint;
  const port = await freePort();
  children.push(spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--user', BACKUP_USER, 'on', `>${PASSWORD}`, ...BACKUP_RULES], { stdio: 'ignore', cwd: dir }));
  const at: RedisTarget = { host: '127.0.0.1', port };
  await waitFor(() => pool.command(at, ['PING']).then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 50, what: 'redis-server' });
  const asBackup = { ...at, username: BACKUP_USER, password: PASSWORD };
  const client = s3Client(store, { ...credentials });
  const manifest = await takeBackup({ target: asBackup, resource: 'lag', pod: 'lag-0', engine: 'redis', engineVersion: 'host' }, { client, bucket: store.bucket, prefix: basePrefix(store, 'lag', new Date()) });
  const archiver = new Archiver(asBackup, { replid: manifest.replid, offset: manifest.offset }, { client, bucket: store.bucket, root: walRoot(store, 'lag') });
  archiver.start();
  // redis-benchmark's -n bounds the load; its rate is what the machine gives, up to about RPS.
  const load = spawn('/usr/bin/redis-benchmark', ['-p', String(port), '-t', 'set', '-d', String(VALUE_BYTES), '-r', '1000000', '-n', String(RPS * SECONDS), '-c', '20', '-q'], { stdio: 'ignore' });
  children.push(load);
  const bytes: number[] = [];
  const seconds: number[] = [];
  const start = Date.now();
  let lastOffset = 0;
  for (let i = 0; i < SECONDS && load.exitCode === null; i++) {
    await sleep(1000);
    const offset = Number(/master_repl_offset:(\d+)/.exec(await pool.command(at, ['INFO', 'replication']))![1]);
    const { stored, storedAt } = archiver.position;
    bytes.push(offset - stored.offset);
    if (storedAt !== undefined) seconds.push((Date.now() - storedAt) / 1000);
    if (i % 10 === 9) console.error(`[archive-lag] ${i + 1} s: stream ${((offset - lastOffset) / 10 / 2 ** 20).toFixed(2)} MiB/s, lag ${(bytes.at(-1)! / 2 ** 20).toFixed(2)} MiB, ${seconds.at(-1)?.toFixed(1)} s`);
    if (i % 10 === 9) lastOffset = offset;
  }
  const elapsed = (Date.now() - start) / 1000;
  const offset = Number(/master_repl_offset:(\d+)/.exec(await pool.command(at, ['INFO', 'replication']))![1]);
  load.kill();
  await archiver.stop();
  console.log(JSON.stringify({
    seconds: Math.round(elapsed), streamMiBPerSecond: Math.round(((offset - manifest.offset) / elapsed / 2 ** 20) * 100) / 100,
    lagMiB: figure(bytes.map((b) => Math.round((b / 2 ** 20) * 100) / 100), 'MiB'), lagSeconds: figure(seconds.map((s) => Math.round(s * 10) / 10), 's'),
  }, null, 2));
  client.destroy();
} finally {
  await pool.close();
  await stopServers(children, dir);
}
