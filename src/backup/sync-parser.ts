// The primary's side of a full sync, as a replica reads it after `PSYNC ? -1` (pure: bytes in,
// events out; the socket is in replica-sync.ts):
//
//   +FULLRESYNC <replid> <offset>\r\n
//   \n\n...                         keep-alives while the primary prepares the RDB
//   $<length>\r\n<length bytes>     the disk form (repl-diskless-sync no): the RDB file as saved
//   $EOF:<40 bytes>\r\n<rdb><the same 40 bytes>   the diskless form (the replica sent REPLCONF capa eof)
//
// then, unless the replica asked for REPLCONF rdb-only, the command stream: returned as `rest`.

export const EOF_MARK_LENGTH = 40;

export type SyncEvent =
  | { kind: 'fullresync'; replid: string; offset: number }
  | { kind: 'rdb-start'; form: 'eof' | 'length'; length?: number }
  | { kind: 'rdb-data'; data: Buffer }
  | { kind: 'rdb-end'; rest: Buffer };

export class SyncProtocolError extends Error {
  override name = 'SyncProtocolError';
}

const NEWLINE = 0x0a;

export class SyncParser {
  private state: 'reply' | 'preamble' | 'length' | 'eof' | 'done' = 'reply';
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private mark: Buffer = Buffer.alloc(0);
  /** Diskless form: the last bytes seen, which may be the start of the end mark. */
  private held: Buffer = Buffer.alloc(0);

  get done(): boolean {
    return this.state === 'done';
  }

  /** Whether the RDB has started but not ended (a close now leaves it partial). */
  get inRdb(): boolean {
    return this.state === 'length' || this.state === 'eof';
  }

  push(chunk: Buffer): SyncEvent[] {
    const events: SyncEvent[] = [];
    let data: Buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0 && this.state !== 'done') {
      if (this.state === 'reply' || this.state === 'preamble') {
        let start = 0;
        while (start < data.length && data[start] === NEWLINE) start++;
        const end = data.indexOf('\r\n', start);
        if (end < 0) {
          if (data.length - start > 1024) throw new SyncProtocolError(`no line end in ${data.length - start} bytes: not a sync reply`);
          this.pending = data.subarray(start);
          return events;
        }
        const line = data.subarray(start, end).toString('latin1');
        data = data.subarray(end + 2);
        if (this.state === 'reply') events.push(this.reply(line));
        else events.push(this.preamble(line));
      } else if (this.state === 'length') {
        const take = Math.min(this.remaining, data.length);
        if (take > 0) events.push({ kind: 'rdb-data', data: data.subarray(0, take) });
        this.remaining -= take;
        data = data.subarray(take);
        if (this.remaining === 0) {
          this.state = 'done';
          events.push({ kind: 'rdb-end', rest: data });
        }
      } else {
        const window = this.held.length > 0 ? Buffer.concat([this.held, data]) : data;
        const at = window.indexOf(this.mark);
        if (at >= 0) {
          if (at > 0) events.push({ kind: 'rdb-data', data: window.subarray(0, at) });
          this.state = 'done';
          events.push({ kind: 'rdb-end', rest: window.subarray(at + EOF_MARK_LENGTH) });
        } else {
          // Everything but what could be the start of the mark is RDB.
          const keep = Math.min(window.length, EOF_MARK_LENGTH - 1);
          if (window.length > keep) events.push({ kind: 'rdb-data', data: window.subarray(0, window.length - keep) });
          this.held = Buffer.from(window.subarray(window.length - keep));
        }
        data = Buffer.alloc(0);
      }
    }
    return events;
  }

  private reply(line: string): SyncEvent {
    const m = /^\+FULLRESYNC ([0-9a-f]{40}) (\d+)$/.exec(line);
    if (!m) throw new SyncProtocolError(`the primary answered PSYNC with "${line.slice(0, 200)}", not +FULLRESYNC`);
    this.state = 'preamble';
    return { kind: 'fullresync', replid: m[1]!, offset: Number(m[2]) };
  }

  private preamble(line: string): SyncEvent {
    if (line.startsWith('$EOF:')) {
      const mark = line.slice(5);
      if (mark.length !== EOF_MARK_LENGTH) throw new SyncProtocolError(`end mark of ${mark.length} bytes, not ${EOF_MARK_LENGTH}`);
      this.mark = Buffer.from(mark, 'latin1');
      this.state = 'eof';
      return { kind: 'rdb-start', form: 'eof' };
    }
    const m = /^\$(\d+)$/.exec(line);
    if (!m) throw new SyncProtocolError(`expected the RDB ($<length> or $EOF:<mark>), got "${line.slice(0, 200)}"`);
    this.remaining = Number(m[1]);
    if (this.remaining === 0) throw new SyncProtocolError('an RDB of 0 bytes (a file always has a header)');
    this.state = 'length';
    return { kind: 'rdb-start', form: 'length', length: this.remaining };
  }
}
