// A backup client that is a replica for as long as one full sync takes: it authenticates (as the
// backup user, which may only sync), asks for the diskless form (REPLCONF capa eof) and, where the
// server knows it (Redis 7+, Valkey), for the RDB alone (REPLCONF rdb-only 1: no command stream, and
// the primary keeps no replica state for it); then PSYNC ? -1 and the RDB, streamed as it comes.
// Where rdb-only is unknown (Redis 6.2) the connection is closed as soon as the RDB has ended.
// The connection and authentication (openReplicaLink) are the archiver's too (archiver.ts).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { PassThrough, type Readable } from 'node:stream';
import { REDIS_PORT } from '../plan/names.js';
import { redact, tlsOptions, type RedisTarget } from '../redis/client.js';
import { SyncParser } from './sync-parser.js';

export interface FullSync {
  replid: string;
  /** The replication offset the RDB is at. */
  offset: number;
  form: 'eof' | 'length';
  /** Whether the server took REPLCONF rdb-only. */
  rdbOnly: boolean;
  /** The RDB's bytes; ends with the RDB, errors if the connection ends before. */
  rdb: Readable;
}

export interface SyncOptions {
  connectMs: number;
  /** Longest wait for a handshake reply, and for the RDB to start (the primary may be forking). */
  replyMs: number;
  /** Longest silence once the RDB streams. */
  idleMs: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = { connectMs: 5_000, replyMs: 60_000, idleMs: 30_000 };

/** One RESP command, as a replica writes it. */
export function resp(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Reads simple-string / error replies one line at a time, then hands the socket over. */
class LineReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.deliver();
  };

  fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  private deliver(): void {
    if (!this.waiting) return;
    const end = this.buffer.indexOf('\r\n');
    if (end < 0) return;
    const line = this.buffer.subarray(0, end).toString('utf8');
    this.buffer = this.buffer.subarray(end + 2);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve(line);
  }

  line(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  /** Stops reading lines; what was read past the last line. */
  release(): Buffer {
    this.socket.off('data', this.onData);
    return this.buffer;
  }
}

/** A connection to a server as one of its replicas, authenticated; the handshake's replies are read
 * a line at a time until release(). */
export interface ReplicaLink {
  socket: Socket;
  /** Sends one command; its one-line reply. `what` names the step in errors. */
  ask(args: string[], what: string): Promise<string>;
  /** ask, failing unless the reply is +...; the error never carries the password. */
  must(args: string[], what: string): Promise<void>;
  /** Names the step for the errors of timeouts and closes. */
  step(what: string): void;
  /** Stops reading replies: the bytes that came after the last one. */
  release(): Buffer;
}

/** Connects to `target` and authenticates (when it has a password); destroys the socket on failure. */
export async function openReplicaLink(target: RedisTarget, opts: SyncOptions): Promise<ReplicaLink> {
  const port = target.port ?? REDIS_PORT;
  const socket: Socket = target.tls ? tlsConnect({ host: target.host, port, ...tlsOptions(target.tls) }) : netConnect({ host: target.host, port });
  const secrets = [target.password];
  const reader = new LineReader(socket);
  let phase = 'connecting';
  socket.setTimeout(opts.connectMs);
  socket.on('timeout', () => socket.destroy(new Error(`no answer from ${target.host}:${port} for ${socket.timeout} ms while ${phase}`)));
  socket.on('error', (err) => reader.fail(redact(err, secrets)));
  socket.on('close', () => reader.fail(new Error(`${target.host}:${port} closed the connection while ${phase}`)));
  const ask = async (args: string[], what: string): Promise<string> => {
    phase = what;
    socket.write(resp(args));
    return reader.line();
  };
  const link: ReplicaLink = {
    socket,
    ask,
    async must(args, what) {
      const reply = await ask(args, what);
      if (!reply.startsWith('+')) throw redact(new Error(`${what}: ${reply}`), secrets);
    },
    step: (what) => void (phase = what),
    release: () => reader.release(),
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(target.tls ? 'secureConnect' : 'connect', resolve);
      socket.once('error', reject);
    });
    socket.setTimeout(opts.replyMs);
    if (target.password !== undefined) {
      await link.must(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password], 'authenticating');
    }
    return link;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Opens a full sync from `target`; resolves once the primary said +FULLRESYNC and the RDB started. */
export async function fullSync(target: RedisTarget, opts: SyncOptions = DEFAULT_SYNC_OPTIONS): Promise<FullSync> {
  const link = await openReplicaLink(target, opts);
  try {
    await link.must(['REPLCONF', 'capa', 'eof'], 'asking for the diskless form (REPLCONF capa eof)');
    const rdbOnly = (await link.ask(['REPLCONF', 'rdb-only', '1'], 'asking for the RDB alone (REPLCONF rdb-only 1)')).startsWith('+');
    link.step('waiting for the RDB (PSYNC ? -1)');
    link.socket.write(resp(['PSYNC', '?', '-1']));
    return await streamRdb(link.socket, link.release(), rdbOnly, opts, link.step);
  } catch (err) {
    link.socket.destroy();
    throw err;
  }
}

/** Parses the PSYNC reply from the socket; resolves when the RDB starts, then streams it. */
function streamRdb(socket: Socket, rest: Buffer, rdbOnly: boolean, opts: SyncOptions, setPhase: (p: string) => void): Promise<FullSync> {
  const parser = new SyncParser();
  const rdb = new PassThrough();
  let header: { replid: string; offset: number } | undefined;
  let streamed = 0;
  return new Promise<FullSync>((resolve, reject) => {
    const fail = (err: Error): void => {
      socket.destroy();
      if (started) rdb.destroy(err);
      else reject(err);
    };
    let started = false;
    const onChunk = (chunk: Buffer): void => {
      let events;
      try {
        events = parser.push(chunk);
      } catch (err) {
        fail(err as Error);
        return;
      }
      for (const e of events) {
        if (e.kind === 'fullresync') header = e;
        else if (e.kind === 'rdb-start') {
          started = true;
          socket.setTimeout(opts.idleMs);
          setPhase('streaming the RDB');
          resolve({ ...header!, form: e.form, rdbOnly, rdb });
        } else if (e.kind === 'rdb-data') {
          streamed += e.data.length;
          if (!rdb.write(e.data)) {
            socket.pause();
            rdb.once('drain', () => socket.resume());
          }
        } else {
          // The RDB is whole: what follows (the command stream, on a server without rdb-only) is not ours.
          socket.off('close', onClose);
          socket.destroy();
          rdb.end();
        }
      }
    };
    const onClose = (): void => fail(new Error(`the connection closed ${started ? `after ${streamed} bytes of the RDB` : 'before the RDB started'}`));
    socket.on('close', onClose);
    // A reader that gives up (the upload failed) ends the sync.
    rdb.on('close', () => socket.destroy());
    socket.removeAllListeners('timeout');
    socket.on('timeout', () => fail(new Error(started ? `no RDB bytes for ${opts.idleMs} ms (after ${streamed})` : `the RDB did not start within ${opts.replyMs} ms`)));
    socket.on('error', (err) => fail(err));
    socket.on('data', onChunk);
    if (rest.length > 0) onChunk(rest);
  });
}
