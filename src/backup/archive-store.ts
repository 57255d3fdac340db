// The object store as a restore reads it: the manifests of the base backups and the archive's
// indexes and chain links (what src/plan/pitr.ts and src/plan/archive.ts plan with), a base's RDB,
// and the bytes of a replay plan, each segment checked against its index before any of it is given
// out (a replica applies the stream as it comes: a corrupt piece cannot be taken back).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore } from '../api/schema.js';
import { parseIndexKey, segmentKey, type ByteRange, type ChainLink, type SegmentIndex } from '../plan/archive.js';
import { MANIFEST_FILE } from '../plan/backup.js';
import { manifestFrom, type ArchiveListing, type StoredBase } from '../plan/pitr.js';
import type { RedisTarget } from '../redis/client.js';
import { Archiver, DEFAULT_ARCHIVER_OPTIONS, type ArchivePosition } from './archiver.js';
import { s3Client, type S3Credentials } from './object-store.js';
import type { RdbJob } from './rdb-server.js';

/** The stored segment does not match its index. */
export class SegmentMismatch extends Error {
  override name = 'SegmentMismatch';
}

async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The base backups under `root` (baseRoot): each <root><timestamp>/manifest.json that is one. The
 * manifest is written after dump.rdb and deleted before it: a folder with a manifest has its file. */
async function readBases(client: S3Client, bucket: string, root: string): Promise<StoredBase[]> {
  const bases: StoredBase[] = [];
  for (const key of await listKeys(client, bucket, root)) {
    const [timestamp, file, ...deeper] = key.slice(root.length).split('/');
    if (!timestamp || file !== MANIFEST_FILE || deeper.length > 0) continue;
    let json: unknown;
    try {
      json = JSON.parse((await getObject(client, bucket, key)).toString('utf8'));
    } catch {
      continue;
    }
    const manifest = manifestFrom(json);
    if (manifest) bases.push({ prefix: key.slice(0, -MANIFEST_FILE.length), manifest });
  }
  return bases;
}

/** Every index and chain link under `root` (walRoot). A segment without its index is left out, and
 * so is an index that does not describe the segment its key names. */
export async function readArchive(client: S3Client, bucket: string, root: string): Promise<ArchiveListing> {
  const keys = await listKeys(client, bucket, root);
  const segments: SegmentIndex[] = [];
  const chain: ChainLink[] = [];
  for (const key of keys) {
    const named = parseIndexKey(root, key);
    if (named) {
      const index = JSON.parse((await getObject(client, bucket, key)).toString('utf8')) as SegmentIndex;
      if (index.replid === named.replid && index.from === named.from && index.to === named.to) segments.push(index);
    } else if (key.endsWith('/chain.json')) {
      chain.push(JSON.parse((await getObject(client, bucket, key)).toString('utf8')) as ChainLink);
    }
  }
  return { segments, chain };
}

/** The bytes of `ranges` (replayPlan's), in order, one whole segment fetched and checked at a time. */
export async function* replayBytes(client: S3Client, bucket: string, root: string, ranges: readonly ByteRange[]): AsyncGenerator<Buffer> {
  for (const { segment, start, end } of ranges) {
    const key = segmentKey(root, segment.replid, segment.from, segment.to);
    const body = await getObject(client, bucket, key);
    if (body.length !== segment.to - segment.from) throw new SegmentMismatch(`${key} has ${body.length} bytes, its index ${segment.to - segment.from}`);
    const digest = createHash('sha256').update(body).digest('hex');
    if (digest !== segment.sha256) throw new SegmentMismatch(`${key}'s SHA-256 is ${digest}, its index's ${segment.sha256}`);
    yield body.subarray(start, end);
  }
}

/** A running archiver, as the archive phase sees it. */
export type RunningArchive = Pick<Archiver, 'position' | 'done' | 'lastError' | 'retarget' | 'stop'>;

/** The archives of a resource's object store, as the archive phase uses them (controller/archive.ts):
 * an interface, so that the controller tests can fake the store and the archiver. */
export interface Archives {
  read(store: ObjectStore, credentials: S3Credentials, root: string): Promise<ArchiveListing>;
  /** Deletes these keys; throws when the store keeps any. */
  delete(store: ObjectStore, credentials: S3Credentials, keys: readonly string[]): Promise<void>;
  /** An archiver of `root`, started, continuing from `from` at `target`. */
  start(target: RedisTarget, from: ArchivePosition, store: ObjectStore, credentials: S3Credentials, root: string, ackIntervalMs: number): RunningArchive;
}

/** S3's most keys in one DeleteObjects. */
const DELETE_BATCH = 1000;

export const s3Archives: Archives = {
  async read(store, credentials, root) {
    const client = s3Client(store, credentials);
    try {
      return await readArchive(client, store.bucket, root);
    } finally {
      client.destroy();
    }
  },
  async delete(store, credentials, keys) {
    const client = s3Client(store, credentials);
    try {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH);
        const out = await client.send(new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
        const failed = out.Errors ?? [];
        if (failed.length > 0) throw new Error(`the object store kept ${failed.length} of ${batch.length} archive files (${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''})`.trim());
      }
    } finally {
      client.destroy();
    }
  },
  start(target, from, store, credentials, root, ackIntervalMs) {
    const client = s3Client(store, credentials);
    const archiver = new Archiver(target, from, { client, bucket: store.bucket, root }, { ...DEFAULT_ARCHIVER_OPTIONS, ackIntervalMs });
    archiver.start();
    void archiver.done.finally(() => client.destroy());
    return archiver;
  },
};

/** What a restore reads from one object store: an interface, so that the controller tests can fake
 * the store. Each call makes its own client: a restore's reads are minutes apart. */
export interface RecoveryStore {
  bases(root: string): Promise<StoredBase[]>;
  archive(root: string): Promise<ArchiveListing>;
  /** The object's bytes as they come (a base's dump.rdb: checked by whoever serves it). */
  open(key: string): Promise<Readable>;
  replay(root: string, ranges: readonly ByteRange[]): AsyncIterable<Buffer>;
}

export function s3RecoveryStore(store: Pick<ObjectStore, 'endpoint' | 'bucket' | 'region'>, credentials: S3Credentials): RecoveryStore {
  const once = async <T>(read: (client: S3Client) => Promise<T>): Promise<T> => {
    const client = s3Client(store, credentials);
    try {
      return await read(client);
    } finally {
      client.destroy();
    }
  };
  return {
    bases: (root) => once((client) => readBases(client, store.bucket, root)),
    archive: (root) => once((client) => readArchive(client, store.bucket, root)),
    async open(key) {
      const client = s3Client(store, credentials);
      const object = await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key })).catch((err: unknown) => {
        client.destroy();
        throw err;
      });
      const body = object.Body as Readable;
      body.once('close', () => client.destroy());
      return body;
    },
    async *replay(root, ranges) {
      const client = s3Client(store, credentials);
      try {
        yield* replayBytes(client, store.bucket, root, ranges);
      } finally {
        client.destroy();
      }
    },
  };
}

/** The restore server's job for the pod at `podIP`: the RDB at `rdb.key` (checked against its
 * manifest's size and SHA-256 as it is served), then, for a point in time, the archive's `ranges`. */
export function recoveryJob(
  store: RecoveryStore,
  rdb: Pick<RdbJob, 'replid' | 'offset' | 'size' | 'sha256'> & { key: string },
  podIP: string,
  password: string | undefined,
  replay: { root: string; ranges: readonly ByteRange[] } | undefined,
): RdbJob {
  const { replid, offset, size, sha256, key } = rdb;
  return {
    podIP, replid, offset, size, sha256, password,
    open: () => store.open(key),
    ...(replay ? { stream: () => store.replay(replay.root, replay.ranges) } : {}),
  };
}
