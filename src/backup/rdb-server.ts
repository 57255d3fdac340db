// Restore through the replication protocol: the operator poses as the primary of the pod being
// restored. The pod is told REPLICAOF <this server>; it connects as any replica does (PING, AUTH,
// REPLCONF, PSYNC), and is answered +FULLRESYNC with the backup's replication ID and offset and the
// backup's RDB, streamed from the object store. The pod then holds the backup's data at the backup's
// offset, and a REPLICAOF NO ONE makes it a primary whose history continues the backed-up one.
//
// What the pod loads is checked first: the RDB's bytes are hashed as they pass and the last chunk is
// held back until the whole file matches the manifest's SHA-256 and size. A Redis replica loads a
// full sync only once every announced byte has arrived (a diskless load aborts a cut-off stream and
// discards it), so a file that does not match is never loaded: the connection is cut instead.
//
// A point-in-time restore sends more after the RDB: the archived replication stream from the
// backup's offset up to the cut (the job's `stream`), which the pod applies as any replica applies
// its primary's commands; its offset then reaches the cut. Those bytes are applied as they come, so
// whoever provides them checks each piece before yielding it (archive-store.ts: a segment's SHA-256).
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** The stored file is not the one the manifest describes: serving it again cannot help. */
export class RdbMismatch extends Error {
  override name = 'RdbMismatch';
}

/** One restore: the pod that may connect, what to serve it, and how to check it. */
export interface RdbJob {
  /** Only a connection from this address is served. */
  podIP: string;
  /** The replication ID and offset the RDB is at (the backup's). */
  replid: string;
  offset: number;
  size: number;
  sha256: string;
  /** When set, the pod must authenticate with it (its masterauth): the replication user's password. */
  password?: string | undefined;
  /** Opens the RDB's bytes (the object store's stream). */
  open(): Promise<Readable>;
  /** What follows the RDB on the link, in order: the replication stream from `offset` on. */
  stream?(): AsyncIterable<Buffer>;
}

export interface RdbServing {
  /** Resolves once every byte was sent and checked; rejects when the file did not match, the pod
   * went away, or the store failed. */
  sent: Promise<void>;
  cancel(): void;
}

/** The parts of the server the controller uses (a fake in tests). */
export interface RdbServer {
  /** Where pods reach this server: undefined when it cannot serve (no address configured). */
  address(): Promise<{ host: string; port: number } | undefined>;
  serve(job: RdbJob): RdbServing;
}

/**
 * A server on `listenPort` (0: any free port) that pods reach at `advertise`; it listens only
 * once a restore needs it. Connections from addresses with no job are closed at once.
 */
export class ReplicationRdbServer implements RdbServer {
  private server: Promise<Server> | undefined;
  private readonly jobs = new Map<string, { job: RdbJob; resolve: () => void; reject: (err: Error) => void; socket?: Socket }>();

  constructor(private readonly advertise: string | undefined, private readonly listenPort: number) {}

  async address(): Promise<{ host: string; port: number } | undefined> {
    if (!this.advertise) return undefined;
    const server = await (this.server ??= this.listen());
    return { host: this.advertise, port: (server.address() as AddressInfo).port };
  }

  serve(job: RdbJob): RdbServing {
    this.jobs.get(job.podIP)?.reject(new Error('replaced by a newer restore of the same pod'));
    let entry!: { job: RdbJob; resolve: () => void; reject: (err: Error) => void; socket?: Socket };
    const sent = new Promise<void>((resolve, reject) => {
      entry = { job, resolve, reject };
    });
    this.jobs.set(job.podIP, entry);
    // Settled once: whichever comes first ends the job and frees the address.
    const settle = () => {
      if (this.jobs.get(job.podIP) === entry) this.jobs.delete(job.podIP);
    };
    sent.then(settle, settle);
    return {
      sent,
      cancel: () => {
        entry.socket?.destroy();
        entry.reject(new Error('cancelled'));
      },
    };
  }

  /** Stops listening and cuts every connection (the operator is stopping). */
  async close(): Promise<void> {
    for (const entry of this.jobs.values()) {
      entry.socket?.destroy();
      entry.reject(new Error('the operator stopped'));
    }
    const server = await this.server;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private listen(): Promise<Server> {
    const server = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, () => resolve(server));
    });
  }

  private accept(socket: Socket): void {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const entry = this.jobs.get(ip);
    if (!entry || entry.socket) {
      socket.destroy();
      return;
    }
    entry.socket = socket;
    socket.on('error', () => undefined);
    socket.on('close', () => entry.reject(new Error(`the pod at ${ip} closed the replication link before the RDB was sent`)));
    new Handshake(socket, entry.job, () => {
      serveSync(socket, entry.job).then(entry.resolve, (err: Error) => {
        socket.destroy();
        entry.reject(err);
      });
    }).start();
  }
}

/** Answers a replica's commands until its PSYNC or SYNC (then `onSync`); REPLCONF ACKs get no
 * answer, as from a primary. */
class Handshake {
  private buffer = Buffer.alloc(0);
  private authed: boolean;

  constructor(private readonly socket: Socket, private readonly job: RdbJob, private readonly onSync: () => void) {
    this.authed = job.password === undefined;
  }

  start(): void {
    const onData = (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const parsed = parseCommand(this.buffer);
        if (parsed === 'incomplete') return;
        if (parsed === 'invalid') {
          this.socket.destroy();
          return;
        }
        this.buffer = this.buffer.subarray(parsed.length);
        const [name = '', ...args] = parsed.args;
        const command = name.toUpperCase();
        if (command === 'PSYNC' || command === 'SYNC') {
          if (!this.authed) {
            this.socket.write('-NOAUTH Authentication required.\r\n');
            continue;
          }
          this.socket.off('data', onData);
          if (command === 'PSYNC') this.socket.write(`+FULLRESYNC ${this.job.replid} ${this.job.offset}\r\n`);
          this.onSync();
          return;
        }
        this.socket.write(this.answer(command, args));
      }
    };
    this.socket.on('data', onData);
  }

  private answer(command: string, args: string[]): string {
    switch (command) {
      case 'PING':
        return '+PONG\r\n';
      case 'AUTH':
        this.authed = args[args.length - 1] === this.job.password;
        return this.authed ? '+OK\r\n' : '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
      case 'REPLCONF':
        return /^(ACK|GETACK)$/i.test(args[0] ?? '') ? '' : '+OK\r\n';
      default:
        return `-ERR ${command} is not served here: this is the operator restoring a backup\r\n`;
    }
  }
}

/** `*N` then N `$len` bulk strings: one command as a replica sends it. */
function parseCommand(buf: Buffer): { args: string[]; length: number } | 'incomplete' | 'invalid' {
  let pos = 0;
  const line = (): string | undefined => {
    const end = buf.indexOf('\r\n', pos);
    if (end < 0) return undefined;
    const text = buf.subarray(pos, end).toString('latin1');
    pos = end + 2;
    return text;
  };
  const head = line();
  if (head === undefined) return 'incomplete';
  if (!/^\*\d{1,3}$/.test(head)) return 'invalid';
  const args: string[] = [];
  for (let i = 0; i < Number(head.slice(1)); i++) {
    const len = line();
    if (len === undefined) return 'incomplete';
    if (!/^\$\d{1,6}$/.test(len)) return 'invalid';
    const n = Number(len.slice(1));
    if (buf.length < pos + n + 2) return 'incomplete';
    args.push(buf.subarray(pos, pos + n).toString('latin1'));
    pos += n + 2;
  }
  return { args, length: pos };
}

type Write = (chunk: Buffer | string) => Promise<void>;

/** The RDB, then the stream if the job has one. */
async function serveSync(socket: Socket, job: RdbJob): Promise<void> {
  const write: Write = (chunk) => {
    if (socket.destroyed) return Promise.reject(new Error('the pod closed the replication link during the transfer'));
    return socket.write(chunk) ? Promise.resolve() : new Promise<void>((resolve) => socket.once('drain', resolve));
  };
  await streamRdb(job, write);
  if (!job.stream) return;
  for await (const chunk of job.stream()) await write(chunk);
}

/** `$<size>` and the RDB, the last chunk sent only once the whole file is checked. */
async function streamRdb(job: RdbJob, write: Write): Promise<void> {
  const body = await job.open();
  const hash = createHash('sha256');
  let bytes = 0;
  let held: Buffer | undefined;
  await write(`$${job.size}\r\n`);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes > job.size) throw new RdbMismatch(`the stored RDB is larger than the manifest's ${job.size} bytes`);
      if (held) await write(held);
      held = chunk;
    }
  } finally {
    body.destroy();
  }
  const digest = hash.digest('hex');
  if (bytes !== job.size) throw new RdbMismatch(`the stored RDB has ${bytes} bytes, the manifest ${job.size}: not loaded`);
  if (digest !== job.sha256) throw new RdbMismatch(`the stored RDB's SHA-256 is ${digest}, the manifest's ${job.sha256}: not loaded`);
  if (held) await write(held);
}
