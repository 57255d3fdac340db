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
    const streamed = async (): Promise<number[]> => {
      const ids: number[] = [];
      for await (const chunk of job.stream?.() ?? []) ids.push(...chunk);
      return ids;
    };
    let cancelled = false;
    streamed().then(
      (ids) => {
        if (!cancelled) this.redis.external.set(FakeRdbServer.HOST, { replId: job.replid, offset: job.offset + ids.length, log: [...this.log, ...ids], served: resolve });
      },
      (err: Error) => reject(err),
    );
    return {
      sent,
      cancel: () => {
        cancelled = true;
        this.redis.external.delete(FakeRdbServer.HOST);
      },
    };
  }
}
