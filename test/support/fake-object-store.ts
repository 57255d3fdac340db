// An in-memory object store for the controller tests: the files of backups by bucket and key, the
// folders retention deleted, and switches to make it refuse or not answer.
import type { ObjectStore } from '../../src/api/schema.js';
import type { BackupFiles, S3Credentials } from '../../src/backup/object-store.js';

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
