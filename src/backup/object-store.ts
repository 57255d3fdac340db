// The S3 client of an object store of the spec: path-style addressing (S3-compatible stores), and
// checksums only where the API requires them (many such stores refuse the SDK's default trailers).
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStore } from '../api/schema.js';
import { MANIFEST_FILE } from '../plan/backup.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function s3Client(store: Pick<ObjectStore, 'endpoint' | 'region'>, credentials: S3Credentials): S3Client {
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A wrong endpoint or key fails the backup promptly instead of retrying for minutes.
    maxAttempts: 3,
  });
}

/** The files of backups in one object store, as retention removes them: an interface, so that the
 * controller tests can fake the store. */
export interface BackupFiles {
  /** Deletes every object under `prefix` (manifest.json first) and aborts every multipart upload
   * begun there; throws when the store refuses any of it. */
  deleteFolder(prefix: string): Promise<void>;
  close(): void;
}

/** S3's most keys in one list page and in one DeleteObjects. */
const PAGE_SIZE = 1000;
/** Each request of a deletion: a store that does not answer fails it instead of holding it forever. */
const REQUEST_TIMEOUT_MS = 60_000;

export function s3BackupFiles(store: ObjectStore, credentials: S3Credentials, pageSize = PAGE_SIZE): BackupFiles {
  const client = s3Client(store, credentials);
  const Bucket = store.bucket;
  const timeout = () => ({ abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return {
    async deleteFolder(prefix) {
      if (!prefix.endsWith('/') || prefix === '/') throw new Error(`refusing to delete under ${JSON.stringify(prefix)}: not a backup's folder`);
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, MaxKeys: pageSize, ContinuationToken: token }), timeout());
        keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      // manifest.json first: what is left of a deletion cut off half-way is never taken for a backup.
      const manifest = `${prefix}${MANIFEST_FILE}`;
      const rest = keys.filter((k) => k !== manifest);
      const batches = [keys.filter((k) => k === manifest), ...Array.from({ length: Math.ceil(rest.length / pageSize) }, (_, i) => rest.slice(i * pageSize, (i + 1) * pageSize))];
      for (const batch of batches.filter((b) => b.length > 0)) {
        const out = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), timeout());
        const failed = out.Errors ?? [];
        if (failed.length > 0) throw new Error(`the object store kept ${failed.length} of ${batch.length} files under ${prefix} (${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''})`.trim());
      }
      // An upload cut off (the operator restarted mid-backup) keeps its parts, which no listing of
      // objects shows but the store keeps and bills.
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListMultipartUploadsCommand({ Bucket, Prefix: prefix, MaxUploads: pageSize, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
          timeout(),
        );
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }), timeout()).catch((err: unknown) => {
            // Completed or aborted since it was listed: gone either way.
            if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
          });
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    },
    close: () => client.destroy(),
  };
}
