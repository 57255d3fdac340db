// The operator's restore server (src/backup/rdb-server.ts) against the Redis model: a pod told
// REPLICAOF its address gets `log` (the backup's writes) at the job's replication ID and offset, and
// then the job's stream, if it has one: each byte a write (its value the write's id), as the model
// counts offsets in writes.
import { RdbMismatch, type RdbJob, type RdbServer, type RdbServing } from '../../src/backup/rdb-server.js';
import type { RedisModel } from './redis-model.js';

export class FakeRdbServer implements RdbServer {
  static readonly HOST = '10.99.0.1';
  readonly jobs: RdbJob[] = [];
  /** The stored file does not match its manifest: every transfer fails, as the real check would. */
  corrupt = false;
  /** No --restore-address. */
  unaddressed = false;

  constructor(private readonly redis: RedisModel, readonly log: number[]) {}

  async address(): Promise<{ host: string; port: number } | undefined> {
    return this.unaddressed ? undefined : { host: FakeRdbServer.HOST, port: 6380 };
  }

  serve(job: RdbJob): RdbServing {
    this.jobs.push(job);
    if (this.corrupt) return { sent: Promise.reject(new RdbMismatch(`the stored RDB's SHA-256 is not ${job.sha256}`)), cancel: () => undefined };
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const sent = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // The stream is read once the pod links (the first served()) and counts as sent once all of it
    // was read; the pod applies it a replication step later, as a real one applies what it was sent
    // after the operator wrote it.
    let read: number[] | undefined;
    let reading = false;
    const entry = {
      replId: job.replid, offset: job.offset, log: [...this.log],
      served: () => {
        if (read) {
          entry.log = [...this.log, ...read];
          entry.offset = job.offset + read.length;
        }
        if (reading) return;
        reading = true;
        (async () => {
          const ids: number[] = [];
          for await (const chunk of job.stream?.() ?? []) ids.push(...chunk);
          return ids;
        })().then((ids) => {
          read = ids;
          resolve();
        }, reject);
      },
    };
    this.redis.external.set(FakeRdbServer.HOST, entry);
    return { sent, cancel: () => void this.redis.external.delete(FakeRdbServer.HOST) };
  }
}
