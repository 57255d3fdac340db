// Continuous archiving of the replication stream, for point-in-time recovery: the archiver is a
// replica of the primary (as the backup user) that continues from a base backup's replication ID and
// offset with PSYNC and stores the stream it is sent, byte for byte, in segments (src/plan/archive.ts
// names them). A restore loads the base RDB and replays the segments up to a cut.
//
// - PSYNC <replid> <offset+1>: a replica at offset O lacks byte O+1 first. +CONTINUE streams from
//   there; +FULLRESYNC means the source no longer has that history (its backlog moved on, or it never
//   had it): continuing would leave a gap, so the archiver stores what it has and ends with
//   'needs-base' (the caller takes a new base backup and starts a new archiver from its manifest).
// - A failover: retarget() to the new primary, which continues the stream under a new replid (its
//   replid2 is the old one). The segment of the old replid is closed there and a chain link
//   (wal/<new replid>/chain.json) records where the history went on.
// - Segments close at `segmentBytes` or `segmentMs` after they opened. Each carries marks (the end of
//   the last whole command received, and when), one a `markIntervalMs` while linked and one at its
//   end: the cut of a point-in-time restore. Its index (the .json) is stored after it: a segment
//   without one is not part of the archive.
//
// REPLCONF ACK and the write quorum. A primary counts a replica as good for min-replicas-to-write
// while its last ACK is at most min-replicas-max-lag seconds old, and drops a replica whose last
// ACK is older than repl-timeout. The archiver holds up to a minute of the stream in memory and is
// no failover candidate, so it ACKs only every `ackIntervalMs`, which the caller sets above the
// resource's writeQuorum max lag and below the primary's repl-timeout: it then counts for about
// (max lag + 1 s) after each ACK and not in between (a longer interval, nearer repl-timeout, counts
// less). No interval makes it never count while it stays linked: only a source that takes no writes
// (a replica: PSYNC2 replicas pass on their primary's stream with its offsets) keeps it out of the
// quorum entirely. The offset it ACKs is the one it has stored, not the one it received: WAIT counts
// it only for writes that are in the object store. A primary's REPLCONF GETACK is not answered, so
// that the ACKs stay at the chosen interval.
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { chainKey, indexKey, segmentKey, type ChainLink, type Mark, type SegmentIndex } from '../plan/archive.js';
import type { RedisTarget } from '../redis/client.js';
import { CommandBoundaries } from './command-stream.js';
import { openReplicaLink, resp, type SyncOptions } from './replica-sync.js';

export interface ArchiveDestination {
  client: S3Client;
  bucket: string;
  /** The archive's folder: walRoot(store, resource). */
  root: string;
}

export interface ArchiverOptions extends SyncOptions {
  ackIntervalMs: number;
  segmentBytes: number;
  segmentMs: number;
  markIntervalMs: number;
  /** The wait before connecting again after the link broke or could not be made. */
  retryMs: number;
  /** Attempts at storing one object (each with the SDK's own retries) before the archiver ends. */
  storeAttempts: number;
}

export const DEFAULT_ARCHIVER_OPTIONS: ArchiverOptions = {
  connectMs: 5_000,
  replyMs: 10_000,
  // A primary PINGs its replicas every 10 s (repl-ping-replica-period); a minute without a byte is
  // a dead link, as Redis's own repl-timeout has it.
  idleMs: 60_000,
  // Below Redis's default repl-timeout (60 s) with room for a slow tick; the controller sets it from
  // the resource (see above).
  ackIntervalMs: 45_000,
  segmentBytes: 16 * 1024 * 1024,
  segmentMs: 60_000,
  markIntervalMs: 1_000,
  retryMs: 1_000,
  storeAttempts: 5,
};

export interface ArchivePosition {
  replid: string;
  offset: number;
}

export type ArchiveEnd =
  | { reason: 'stopped'; stored: ArchivePosition }
  /** The source answered +FULLRESYNC: the archive ends at `stored`; a new base is needed. */
  | { reason: 'needs-base'; stored: ArchivePosition; message: string }
  /** The store refused a segment, or the stream could not be read: the archive ends at `stored`. */
  | { reason: 'failed'; stored: ArchivePosition; error: Error };

interface OpenSegment {
  replid: string;
  from: number;
  openedAt: number;
  chunks: Buffer[];
  size: number;
  marks: Mark[];
}

/** Uploads in flight past which the archiver stops reading the socket (the primary buffers). */
const MAX_PENDING_UPLOADS = 2;

export class Archiver {
  private target: RedisTarget;
  private replid: string;
  /** The offset of the last byte received. */
  private offset: number;
  private stored: ArchivePosition;
  /** When the archiver had received the stored stream (the last stored segment's last mark). */
  private storedAt: number | undefined;
  /** The offset the boundary parser started at. */
  private readonly parsedFrom: number;
  private readonly boundaries = new CommandBoundaries();
  private segment: OpenSegment;
  private socket: Socket | undefined;
  private linked = false;
  private retargeted = false;
  private uploads: Promise<void> = Promise.resolve();
  private pendingUploads = 0;
  private ticker: NodeJS.Timeout | undefined;
  /** Set once the archiver is ending: no more links, no more bytes. */
  private ending = false;
  /** A write the store refused every time, or a stream that could not be read. */
  private failure: Error | undefined;
  private resolveDone!: (end: ArchiveEnd) => void;
  /** Settles once the archiver ended, whichever way. */
  readonly done = new Promise<ArchiveEnd>((resolve) => (this.resolveDone = resolve));
  /** Why the last connection failed or broke (it is retried). */
  lastError: string | undefined;

  constructor(
    target: RedisTarget,
    start: ArchivePosition,
    private readonly dest: ArchiveDestination,
    private readonly opts: ArchiverOptions = DEFAULT_ARCHIVER_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.target = target;
    this.replid = start.replid;
    this.offset = start.offset;
    this.parsedFrom = start.offset;
    this.stored = { ...start };
    this.segment = this.open();
  }

  /** Where the archive is: received, and stored (segment and index in the object store). */
  get position(): { received: ArchivePosition; stored: ArchivePosition; storedAt: number | undefined; linked: boolean } {
    return { received: { replid: this.replid, offset: this.offset }, stored: { ...this.stored }, storedAt: this.storedAt, linked: this.linked };
  }

  start(): void {
    this.ticker = setInterval(() => this.tick(), this.opts.markIntervalMs);
    void this.run();
  }

  /** Follows a new primary: the link to the old one is cut and the next one continues from the same
   * replid and offset. */
  retarget(target: RedisTarget): void {
    this.target = target;
    this.retargeted = true;
    this.socket?.destroy();
  }

  /** Stores what was received and ends. */
  async stop(): Promise<ArchiveEnd> {
    await this.finish(() => ({ reason: 'stopped', stored: this.stored }));
    return this.done;
  }

  private async run(): Promise<void> {
    while (!this.ending) {
      try {
        await this.session(this.target);
      } catch (err) {
        this.lastError = (err as Error).message;
      }
      this.linked = false;
      if (this.ending) return;
      if (!this.retargeted) await new Promise((r) => setTimeout(r, this.opts.retryMs));
      this.retargeted = false;
    }
  }

  /** One link: resolves when it closes. */
  private async session(target: RedisTarget): Promise<void> {
    const link = await openReplicaLink(target, this.opts);
    this.socket = link.socket;
    let ack: NodeJS.Timeout | undefined;
    try {
      if (this.ending || this.target !== target) return;
      // psync2: +CONTINUE names the source's replid, which is how a failover is seen.
      await link.must(['REPLCONF', 'capa', 'eof', 'capa', 'psync2'], 'announcing PSYNC2 (REPLCONF capa psync2)');
      // A primary preparing a full sync sends newlines (keep-alives) before its +FULLRESYNC.
      const reply = (await link.ask(['PSYNC', this.replid, String(this.offset + 1)], `continuing ${this.replid} from ${this.offset} (PSYNC)`)).replace(/^\n+/, '');
      if (reply.startsWith('+FULLRESYNC')) {
        await this.finish(() => ({ reason: 'needs-base', stored: this.stored, message: `${target.host} no longer has ${this.replid} at ${this.offset} (it answered ${reply.slice(0, 60)}): a new base backup is needed` }));
        return;
      }
      const m = /^\+CONTINUE(?: ([0-9a-f]{40}))?$/.exec(reply);
      if (!m) throw new Error(`PSYNC ${this.replid} ${this.offset + 1}: ${reply.slice(0, 200)}`);
      if (m[1] && m[1] !== this.replid) this.follow(m[1]);
      link.step('streaming');
      link.socket.setTimeout(this.opts.idleMs);
      this.linked = true;
      this.lastError = undefined;
      const closed = new Promise<void>((resolve) => link.socket.once('close', () => resolve()));
      ack = setInterval(() => link.socket.write(resp(['REPLCONF', 'ACK', String(this.stored.offset)])), this.opts.ackIntervalMs);
      const rest = link.release();
      link.socket.on('error', (err) => (this.lastError = err.message));
      link.socket.on('data', (chunk: Buffer) => this.receive(chunk));
      if (rest.length > 0) this.receive(rest);
      await closed;
      // Retried like an error, and shown like one: a link that keeps closing is worth a look.
      if (!this.ending && !this.retargeted) this.lastError ??= `${target.host} closed the replication link`;
    } finally {
      clearInterval(ack);
      link.socket.destroy();
    }
  }

  private receive(chunk: Buffer): void {
    if (this.ending) return;
    try {
      let rest = chunk;
      while (rest.length > 0) {
        const piece = rest.subarray(0, this.opts.segmentBytes - this.segment.size);
        rest = rest.subarray(piece.length);
        this.boundaries.push(piece);
        this.offset += piece.length;
        this.segment.chunks.push(piece);
        this.segment.size += piece.length;
        if (this.segment.size >= this.opts.segmentBytes) this.close();
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** The end of the last whole command received, now. */
  private mark(): void {
    const mark = { offset: this.parsedFrom + this.boundaries.boundary, at: this.now() };
    const last = this.segment.marks.at(-1);
    if (last?.offset !== mark.offset || last.at !== mark.at) this.segment.marks.push(mark);
  }

  private tick(): void {
    if (this.linked) this.mark();
    if (this.now() - this.segment.openedAt < this.opts.segmentMs) return;
    // An empty segment is not stored: its marks go on into the next one, at the same offset.
    if (this.segment.size === 0) this.segment.openedAt = this.now();
    else this.close();
  }

  private open(): OpenSegment {
    return { replid: this.replid, from: this.offset, openedAt: this.now(), chunks: [], size: 0, marks: [] };
  }

  /** Closes the open segment (with a mark at its end) and queues it for storing. */
  private close(): void {
    const segment = this.segment;
    if (segment.size === 0) return;
    this.mark();
    this.segment = this.open();
    const to = segment.from + segment.size;
    this.store(async () => {
      const body = Buffer.concat(segment.chunks);
      const key = segmentKey(this.dest.root, segment.replid, segment.from, to);
      const index: SegmentIndex = { replid: segment.replid, from: segment.from, to, sha256: createHash('sha256').update(body).digest('hex'), marks: segment.marks };
      await this.put(key, body, 'application/octet-stream');
      await this.put(indexKey(key), JSON.stringify(index), 'application/json');
      this.stored = { replid: segment.replid, offset: to };
      this.storedAt = segment.marks.at(-1)!.at;
    });
  }

  /** The source continued under another replid from the current offset on. */
  private follow(replid: string): void {
    this.close();
    const link: ChainLink = { previous: this.replid, replid, offset: this.offset, at: this.now() };
    this.replid = replid;
    // The open segment is empty (just closed); its marks, if any, stay with it under the new replid.
    this.segment.replid = replid;
    this.store(async () => {
      await this.put(chainKey(this.dest.root, replid), JSON.stringify(link), 'application/json');
      this.stored = { replid, offset: link.offset };
    });
  }

  /** Queues a write to the store, in order; a write that fails every attempt ends the archiver
   * (what follows would be archived after a gap). */
  private store(write: () => Promise<void>): void {
    this.pendingUploads++;
    if (this.pendingUploads >= MAX_PENDING_UPLOADS) this.socket?.pause();
    this.uploads = this.uploads.then(async () => {
      for (let attempt = 1; !this.failure; attempt++) {
        try {
          return await write();
        } catch (err) {
          if (attempt >= this.opts.storeAttempts) return this.fail(err as Error);
          await new Promise((r) => setTimeout(r, this.opts.retryMs));
        }
      }
    }).finally(() => {
      this.pendingUploads--;
      if (this.pendingUploads < MAX_PENDING_UPLOADS) this.socket?.resume();
    });
  }

  private async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    await this.dest.client.send(new PutObjectCommand({ Bucket: this.dest.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    void this.finish();
  }

  /** Ends once: stops the link and the ticker; unless it failed, stores the open segment, waits for
   * the writes queued and settles `done` with `end()` (evaluated last, so that it sees the stored
   * position); a failure, then or meanwhile, settles it as failed. */
  private async finish(end?: () => ArchiveEnd): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    clearInterval(this.ticker);
    this.socket?.destroy();
    this.linked = false;
    if (!this.failure) this.close();
    await this.uploads;
    this.resolveDone(this.failure ? { reason: 'failed', stored: this.stored, error: this.failure } : end!());
  }
}
