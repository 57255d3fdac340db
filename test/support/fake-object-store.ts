// An in-memory object store for the controller tests: the files of backups by bucket and key, the
// folders retention deleted, and switches to make it refuse or not answer.
import type { ObjectStore } from '../../src/api/schema.js';
import type { BackupFiles, S3Credentials } from '../../src/backup/object-store.js';
import { SegmentMismatch, type RecoveryStore } from '../../src/backup/archive-store.js';
import { segmentKey, type ByteRange } from '../../src/plan/archive.js';
import type { ArchiveListing, StoredBase } from '../../src/plan/pitr.js';

export class FakeObjectStore {
  /** `<bucket>/<key>` of every stored file. */
  readonly files = new Set<string>();
  /** `<bucket>/<prefix>` of each deleteFolder call, in order. */
  readonly deletedFolders: string[] = [];
  /** The keys the operator last connected with. */
  credentials: S3Credentials | undefined;
  /** Set: every deletion fails with this message. */
  refusal: string | undefined;
  /** Set: deletions wait until release() (a store that does not answer). */
  private held: (() => void)[] | undefined;

  /** Stores what a Completed backup leaves under `prefix`. */
  storeBackup(bucket: string, prefix: string): void {
    this.files.add(`${bucket}/${prefix}dump.rdb`).add(`${bucket}/${prefix}manifest.json`);
  }

  /** What a restore reads: base backups by `<bucket>/<base root>`, archives by `<bucket>/<wal root>`,
   * and the bytes of each segment by `<bucket>/<key>`. */
  readonly bases = new Map<string, StoredBase[]>();
  readonly archives = new Map<string, ArchiveListing>();
  readonly segmentBytes = new Map<string, Buffer>();
  /** How many times a restore listed the store. */
  reads = 0;

  recovery(store: Pick<ObjectStore, 'bucket'>, credentials: S3Credentials): RecoveryStore {
    this.credentials = credentials;
    const refuse = () => {
      if (this.refusal !== undefined) throw new Error(this.refusal);
    };
    return {
      bases: async (root) => {
        refuse();
        this.reads++;
        return this.bases.get(`${store.bucket}/${root}`) ?? [];
      },
      archive: async (root) => (refuse(), this.archives.get(`${store.bucket}/${root}`) ?? { segments: [], chain: [] }),
      open: async () => {
        throw new Error('the fake restore server does not read the RDB');
      },
      replay: (root, ranges) => this.replay(store.bucket, root, ranges),
    };
  }

  private async *replay(bucket: string, root: string, ranges: readonly ByteRange[]): AsyncGenerator<Buffer> {
    for (const { segment, start, end } of ranges) {
      const key = segmentKey(root, segment.replid, segment.from, segment.to);
      const body = this.segmentBytes.get(`${bucket}/${key}`);
      if (!body || body.length !== segment.to - segment.from) throw new SegmentMismatch(`${key} is not the segment its index describes`);
      yield body.subarray(start, end);
    }
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    waiting.forEach((go) => go());
  }

  client(store: ObjectStore, credentials: S3Credentials): BackupFiles {
    this.credentials = credentials;
    return {
      deleteFolder: async (prefix) => {
        if (this.held) await new Promise<void>((go) => this.held!.push(go));
        if (this.refusal !== undefined) throw new Error(this.refusal);
        this.deletedFolders.push(`${store.bucket}/${prefix}`);
        for (const f of [...this.files]) if (f.startsWith(`${store.bucket}/${prefix}`)) this.files.delete(f);
      },
      close: () => undefined,
    };
  }
}
