// One base backup: a full sync from a pod streamed into <prefix>dump.rdb while its SHA-256, size and
// RDB version are computed, then manifest.json. dump.rdb is uploaded in parts as it streams; any
// fault (the sync ends early, the store refuses a part, the bytes are not an RDB) aborts the upload,
// so a failed backup leaves no dump.rdb and no manifest. The manifest is written last: a dump.rdb
// without one is never a backup.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DUMP_FILE, MANIFEST_FILE, type BackupManifest } from '../plan/backup.js';
import type { RedisTarget } from '../redis/client.js';
import { RDB_HEADER_LENGTH, rdbHeader } from './rdb.js';
import { DEFAULT_SYNC_OPTIONS, fullSync, type SyncOptions } from './replica-sync.js';

export interface BackupSource {
  target: RedisTarget;
  resource: string;
  pod: string;
  engine: string;
  engineVersion: string;
}

export interface BackupDestination {
  client: S3Client;
  bucket: string;
  /** The folder of this backup, ending in '/' (basePrefix). */
  prefix: string;
}

/** 16 MiB parts, two in flight: at most ~32 MiB of the RDB in memory. */
const PART_SIZE = 16 * 1024 * 1024;

/** Hashes, counts and checks the header of the bytes that pass. (Not `size`: Upload would take it
 * for the length of the body, as a Blob's.) */
class RdbMeter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  version: number | undefined;
  private head: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.version === undefined) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, RDB_HEADER_LENGTH - this.head.length)]);
      if (this.head.length >= RDB_HEADER_LENGTH) {
        const header = rdbHeader(this.head);
        if (!header) return done(new Error(`the sync did not send an RDB file (it starts with ${JSON.stringify(this.head.toString('latin1'))})`));
        this.version = header.version;
      }
    }
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(this.version === undefined ? new Error(`the RDB ended after ${this.bytes} bytes, before its header`) : null);
  }
}

export async function takeBackup(source: BackupSource, dest: BackupDestination, now: () => Date = () => new Date(), opts: SyncOptions = DEFAULT_SYNC_OPTIONS): Promise<BackupManifest> {
  const startedAt = now().toISOString();
  // A store that refuses (wrong keys, no such bucket) fails the backup before the pod forks for it.
  await dest.client.send(new HeadBucketCommand({ Bucket: dest.bucket }));
  const sync = await fullSync(source.target, opts);
  const meter = new RdbMeter();
  sync.rdb.on('error', (err) => meter.destroy(err));
  sync.rdb.pipe(meter);
  const upload = new Upload({
    client: dest.client,
    params: { Bucket: dest.bucket, Key: `${dest.prefix}${DUMP_FILE}`, Body: meter, ContentType: 'application/octet-stream' },
    partSize: PART_SIZE,
    queueSize: 2,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
  } catch (err) {
    sync.rdb.destroy();
    await upload.abort();
    throw err;
  }
  const manifest: BackupManifest = {
    engine: source.engine,
    engineVersion: source.engineVersion,
    rdbVersion: meter.version!,
    replid: sync.replid,
    offset: sync.offset,
    size: meter.bytes,
    sha256: meter.hash.digest('hex'),
    startedAt,
    completedAt: now().toISOString(),
    resource: source.resource,
    sourcePod: source.pod,
  };
  await dest.client.send(new PutObjectCommand({
    Bucket: dest.bucket, Key: `${dest.prefix}${MANIFEST_FILE}`, Body: JSON.stringify(manifest, null, 2) + '\n', ContentType: 'application/json',
  }));
  return manifest;
}
