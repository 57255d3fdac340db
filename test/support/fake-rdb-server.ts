// The operator's restore server (src/backup/rdb-server.ts) against the Redis model: a pod told
// REPLICAOF its address gets `log` (the backup's writes) at the job's replication ID and offset.
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
    const sent = new Promise<void>((r) => (resolve = r));
    this.redis.external.set(FakeRdbServer.HOST, { replId: job.replid, offset: job.offset, log: this.log, served: resolve });
    return { sent, cancel: () => void this.redis.external.delete(FakeRdbServer.HOST) };
  }
}
