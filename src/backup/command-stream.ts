// Where the commands of a replication stream end (pure: bytes in, a position out; the socket is in
// archiver.ts). An archive is cut for a point in time only where a command ends: a cut inside one
// would leave a restored server with half a command. A primary sends its replicas arrays of bulk
// strings (`*<n>\r\n` then n times `$<len>\r\n<len bytes>\r\n`); the inline form (a line ending in
// \n, a bare \n included) is read too, as Redis's replica reads it. Inside MULTI ... EXEC is not a
// boundary either: a restore cut there would hold part of a transaction (Redis 7 wraps the effects
// of a script or a module command in one too), so the boundary stays before the MULTI until the EXEC
// has come. Only what framing needs is looked at: this is not a validator of commands.

export class CommandStreamError extends Error {
  override name = 'CommandStreamError';
}

const STAR = 0x2a;
const DOLLAR = 0x24;
const NEWLINE = 0x0a;
/** Redis's own limit on an inline command or a multibulk header line (PROTO_INLINE_MAX_SIZE). */
const MAX_LINE = 64 * 1024;
/** Enough of a command's name to tell MULTI and EXEC from longer names. */
const NAME_BYTES = 6;

export class CommandBoundaries {
  private state: 'start' | 'inline' | 'count' | 'length' | 'bulk' = 'start';
  private line: number[] = [];
  /** Bytes taken so far, and up to the end of the last whole command outside a transaction. */
  private taken = 0;
  private last = 0;
  private argsLeft = 0;
  private bulkLeft = 0;
  private firstArg = true;
  /** The first argument's first bytes (without its \r\n): the command's name. */
  private name: number[] = [];
  private nameLength = 0;
  private inMulti = false;

  /** Bytes pushed so far that end with a whole command outside MULTI ... EXEC. */
  get boundary(): number {
    return this.last;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'bulk') {
        const take = Math.min(this.bulkLeft, chunk.length - i);
        if (this.name.length < this.nameLength) this.name.push(...chunk.subarray(i, i + Math.min(take, this.nameLength - this.name.length)));
        this.bulkLeft -= take;
        i += take;
        if (this.bulkLeft === 0) this.endArgument(i);
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'start') {
        if (byte === STAR) this.state = 'count';
        else if (byte === NEWLINE) this.endCommand(i, '');
        else this.state = 'inline';
        continue;
      }
      if (byte !== NEWLINE) {
        if (this.line.length >= MAX_LINE) throw new CommandStreamError(`a line of more than ${MAX_LINE} bytes: not a command stream`);
        this.line.push(byte);
        continue;
      }
      const text = Buffer.from(this.line).toString('latin1').replace(/\r$/, '');
      this.line = [];
      if (this.state === 'inline') this.endCommand(i, text.split(' ')[0] ?? '');
      else if (this.state === 'count') this.count(i, text);
      else this.length(text);
    }
    this.taken += chunk.length;
  }

  private count(at: number, text: string): void {
    if (!/^-?\d{1,10}$/.test(text)) throw new CommandStreamError(`expected the number of arguments, got "*${text.slice(0, 100)}"`);
    this.argsLeft = Number(text);
    // `*0` and `*-1` are empty commands to Redis: skipped.
    if (this.argsLeft <= 0) return this.endCommand(at, '');
    this.firstArg = true;
    this.name = [];
    this.state = 'length';
  }

  private length(text: string): void {
    if (text.charCodeAt(0) !== DOLLAR || !/^\d{1,10}$/.test(text.slice(1))) throw new CommandStreamError(`expected a bulk string's length, got "${text.slice(0, 100)}"`);
    const payload = Number(text.slice(1));
    this.nameLength = this.firstArg ? Math.min(payload, NAME_BYTES) : 0;
    // The payload and its \r\n.
    this.bulkLeft = payload + 2;
    this.state = 'bulk';
  }

  private endArgument(at: number): void {
    this.firstArg = false;
    if (--this.argsLeft > 0) this.state = 'length';
    else this.endCommand(at, Buffer.from(this.name).toString('latin1'));
  }

  private endCommand(at: number, name: string): void {
    this.state = 'start';
    const upper = name.toUpperCase();
    if (upper === 'MULTI') this.inMulti = true;
    else if (upper === 'EXEC') this.inMulti = false;
    if (!this.inMulti) this.last = this.taken + at;
  }
}
