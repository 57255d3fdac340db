// A SeaweedFS object store (`weed mini`) on loopback for one integration file: its own directory,
// free ports, one identity, and a bucket. The caller stops the process by PID (it is returned).
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { waitFor } from '../../hack/lib.js';
import { ensureWeed } from '../../hack/local-cluster/object-store.js';

/** A free loopback port (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts the store in `dir` for these keys; resolves with its endpoint once `bucket` exists. */
export async function startWeed(dir: string, keys: { accessKeyId: string; secretAccessKey: string }, bucket: string, clientFor: (endpoint: string) => S3Client): Promise<{ endpoint: string; child: ChildProcess }> {
  const [s3, master, volume, filer, admin] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  writeFileSync(join(dir, 's3.json'), JSON.stringify({ identities: [{ name: 'it', credentials: [{ accessKey: keys.accessKeyId, secretKey: keys.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List'] }] }));
  const child = spawn(ensureWeed(), ['-logtostderr', 'mini', `-dir=${dir}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-s3.port=${s3}`, `-s3.config=${join(dir, 's3.json')}`, `-s3.localSocket=${join(dir, 's3.sock')}`,
    `-master.port=${master}`, `-volume.port=${volume}`, `-filer.port=${filer}`, `-admin.port=${admin}`, '-admin.ui=false', '-webdav=false', '-s3.port.iceberg=0', '-s3.port.lance=0'], { stdio: 'ignore', cwd: dir });
  const endpoint = `http://127.0.0.1:${s3}`;
  const client = clientFor(endpoint);
  await waitFor(async () => client.send(new CreateBucketCommand({ Bucket: bucket })).then(() => true, () => false), { timeoutMs: 60_000, intervalMs: 200, what: 'the object store' });
  return { endpoint, child };
}

/** Stops the servers of a file by PID, waits until each has exited, and removes their directory. */
export async function stopServers(children: ChildProcess[], dir: string): Promise<void> {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  rmSync(dir, { recursive: true, force: true });
}
