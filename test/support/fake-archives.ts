// Archives for the controller tests: an archive in memory (its indexes and chain links, as
// readArchive gives them) and archivers that do nothing by themselves: a test moves them
// (position, end) and sees what the phase asked of them (where they started, each retarget, stop).
import type { ObjectStore } from '../../src/api/schema.js';
import type { Archives, RunningArchive } from '../../src/backup/archive-store.js';
import type { ArchiveListing } from '../../src/plan/pitr.js';
import type { ArchiveEnd, ArchivePosition } from '../../src/backup/archiver.js';
import type { S3Credentials } from '../../src/backup/object-store.js';
import type { RedisTarget } from '../../src/redis/client.js';

export class FakeArchiver implements RunningArchive {
  readonly targets: RedisTarget[];
  stored: ArchivePosition;
  storedAt: number | undefined;
  linked = true;
  lastError: string | undefined;
  stopped = false;
  private resolve!: (end: ArchiveEnd) => void;
  readonly done = new Promise<ArchiveEnd>((r) => (this.resolve = r));

  constructor(target: RedisTarget, readonly from: ArchivePosition, readonly root: string, readonly ackIntervalMs: number) {
    this.targets = [target];
    this.stored = { ...from };
  }

  get position() {
    return { received: { ...this.stored }, stored: { ...this.stored }, storedAt: this.storedAt, linked: this.linked };
  }

  retarget(target: RedisTarget): void {
    this.targets.push(target);
  }

  /** Ends as the real one does: 'needs-base' on +FULLRESYNC, 'failed' when the store refuses. */
  end(end: ArchiveEnd): void {
    this.resolve(end);
  }

  async stop(): Promise<ArchiveEnd> {
    this.stopped = true;
    this.resolve({ reason: 'stopped', stored: this.stored });
    return this.done;
  }
}

export class FakeArchives implements Archives {
  /** The archive as readArchive would list it. */
  listing: ArchiveListing = { segments: [], chain: [] };
  readonly started: FakeArchiver[] = [];
  readonly deleted: string[] = [];

  async read(_store: ObjectStore, _credentials: S3Credentials, _root: string): Promise<ArchiveListing> {
    return structuredClone(this.listing);
  }

  async delete(_store: ObjectStore, _credentials: S3Credentials, keys: readonly string[]): Promise<void> {
    this.deleted.push(...keys);
  }

  start(target: RedisTarget, from: ArchivePosition, _store: ObjectStore, _credentials: S3Credentials, root: string, ackIntervalMs: number): FakeArchiver {
    const archiver = new FakeArchiver(target, from, root, ackIntervalMs);
    this.started.push(archiver);
    return archiver;
  }

  /** The archiver started last. */
  get live(): FakeArchiver | undefined {
    return this.started.at(-1);
  }
}
