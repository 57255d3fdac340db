// Retention's deletion against a real object store (SeaweedFS's `weed mini`, on loopback): every
// object under a backup's folder goes, over several list pages and DeleteObjects batches, and the
// parts of an upload cut off mid-backup are aborted; the neighbouring folders stay. The server is
// stopped by PID.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeed } from './weed.js';
import { s3BackupFiles, s3Client } from '../../src/backup/object-store.js';

const dir = mkdtempSync(join(tmpdir(), 'rro-retention-it-'));
let weed: ChildProcess | undefined;
const store = { endpoint: '', bucket: 'backups', path: 'it', region: 'us-east-1', credentialsSecret: 's3' };
const credentials = { accessKeyId: 'itaccess', secretAccessKey: 'itsecret0123456789' };
let client: ReturnType<typeof s3Client>;

beforeAll(async () => {
  let endpoint: string;
  ({ endpoint, child: weed } = await startWeed(dir, credentials, store.bucket, (e) => s3Client({ ...store, endpoint: e }, credentials)));
  store.endpoint = endpoint;
  client = s3Client(store, credentials);
}, 90_000);

afterAll(async () => {
  client?.destroy();
  if (weed && weed.exitCode === null && weed.signalCode === null) {
    const exited = new Promise((r) => weed!.once('exit', r));
    weed.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const put = (key: string) => client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: `content of ${key}` }));

/** The objects and the unfinished uploads under prefix. */
async function under(prefix: string): Promise<string[]> {
  const objects = (await client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix }))).Contents ?? [];
  const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }))).Uploads ?? [];
  return [...objects.map((o) => o.Key!), ...uploads.map((u) => `upload of ${u.Key}`)].sort();
}

describe('s3BackupFiles.deleteFolder', () => {
  it('deletes every object of the folder over several pages, aborts its unfinished upload, and leaves the neighbours', async () => {
    const folder = 'it/cache/base/20261204T100000Z/';
    const neighbours = ['it/cache/base/20261204T100001Z/', 'it/cache/base/20261204T100000Z-x/'];
    for (const key of ['dump.rdb', 'manifest.json', ...Array.from({ length: 5 }, (_, i) => `extra-${i}`)]) await put(`${folder}${key}`);
    for (const n of neighbours) await put(`${n}dump.rdb`);
    // A backup cut off mid-upload: a part stored, the upload neither completed nor aborted.
    const upload = await client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: `${folder}dump.rdb.partial` }));
    await client.send(new UploadPartCommand({ Bucket: store.bucket, Key: `${folder}dump.rdb.partial`, UploadId: upload.UploadId!, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
    expect(await under(folder)).toHaveLength(8);

    // Two keys a page: four list pages, and four DeleteObjects (the manifest alone first).
    const files = s3BackupFiles(store, credentials, 2);
    try {
      await files.deleteFolder(folder);
      expect(await under(folder)).toEqual([]);
      for (const n of neighbours) expect(await under(n)).toEqual([`${n}dump.rdb`]);
      // Deleting what is gone already is no error (an operator that restarted mid-deletion does it again).
      await files.deleteFolder(folder);
    } finally {
      files.close();
    }
  });

  it('wrong keys: the store\'s refusal is thrown, and nothing is deleted', async () => {
    const folder = 'it/cache/base/20261205T100000Z/';
    await put(`${folder}dump.rdb`);
    const files = s3BackupFiles(store, { ...credentials, secretAccessKey: 'not-the-key' });
    try {
      await expect(files.deleteFolder(folder)).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    } finally {
      files.close();
    }
    expect(await under(folder)).toEqual([`${folder}dump.rdb`]);
  });

  it('refuses a prefix that is not a folder (it would reach past one backup)', async () => {
    const files = s3BackupFiles(store, credentials);
    try {
      await expect(files.deleteFolder('')).rejects.toThrow(/not a backup's folder/);
      await expect(files.deleteFolder('it/cache')).rejects.toThrow(/not a backup's folder/);
    } finally {
      files.close();
    }
  });
});
