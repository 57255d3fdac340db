// The sync parser on bytes captured from real servers (test/fixtures/sync/capture.ts): Redis 6.2,
// 7.0, 8.0 (from a pod of the image redis:8.0 on the local cluster's nodes) and Valkey 8.1, each in
// the diskless ($EOF:<mark>) and the disk ($<length>) form.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EOF_MARK_LENGTH, SyncParser, SyncProtocolError, type SyncEvent } from '../../../src/backup/sync-parser.js';
import { rdbHeader } from '../../../src/backup/rdb.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/sync/${name}.bin`, import.meta.url));

/** The RDB inside a capture, found without the parser: after the preamble line, up to the length or the mark. */
function expectedRdb(bytes: Buffer): { rdb: Buffer; replid: string; offset: number } {
  const first = bytes.indexOf('\r\n');
  const [, replid, offset] = bytes.subarray(0, first).toString().split(' ') as [string, string, string];
  const second = bytes.indexOf('\r\n', first + 2);
  const preamble = bytes.subarray(first + 2, second).toString();
  const body = bytes.subarray(second + 2);
  if (preamble.startsWith('$EOF:')) {
    expect(body.subarray(body.length - EOF_MARK_LENGTH).toString()).toBe(preamble.slice(5));
    return { rdb: body.subarray(0, body.length - EOF_MARK_LENGTH), replid, offset: Number(offset) };
  }
  return { rdb: body.subarray(0, Number(preamble.slice(1))), replid, offset: Number(offset) };
}

/** Feeds the bytes in pieces cut at `cuts`; everything the parser said. */
function parse(bytes: Buffer, cuts: number[] = []): { events: SyncEvent[]; parser: SyncParser } {
  const parser = new SyncParser();
  const events: SyncEvent[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b).concat(bytes.length)) {
    events.push(...parser.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return { events, parser };
}

const rdbOf = (events: SyncEvent[]): Buffer => Buffer.concat(events.flatMap((e) => (e.kind === 'rdb-data' ? [e.data] : [])));

const CAPTURES = [
  ['redis-6.2', 9],
  ['redis-7.0', 10],
  ['redis-8.0', 12],
  ['valkey-8.1', 11],
] as const;

describe.each(CAPTURES)('%s', (server, rdbVersion) => {
  describe.each(['diskless', 'disk'] as const)('%s form', (form) => {
    const bytes = fixture(`${server}-${form}`);
    const expected = expectedRdb(bytes);

    it('yields +FULLRESYNC, the RDB whole and its end', () => {
      const { events, parser } = parse(bytes);
      expect(events[0]).toEqual({ kind: 'fullresync', replid: expected.replid, offset: expected.offset });
      expect(events[1]).toMatchObject({ kind: 'rdb-start', form: form === 'diskless' ? 'eof' : 'length' });
      expect(rdbOf(events).equals(expected.rdb)).toBe(true);
      expect(events.at(-1)).toEqual({ kind: 'rdb-end', rest: Buffer.alloc(0) });
      expect(parser.done).toBe(true);
      expect(rdbHeader(rdbOf(events))).toEqual({ magic: 'REDIS', version: rdbVersion });
    });

    it('yields the same RDB however the bytes are cut into chunks', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 20 }), (cuts) => {
          const { events, parser } = parse(bytes, cuts);
          return parser.done && rdbOf(events).equals(expected.rdb);
        }),
        { numRuns: 300 },
      );
    });

    it('skips the keep-alive newlines the primary sends while it prepares the RDB', () => {
      const first = bytes.indexOf('\r\n') + 2;
      const withKeepAlives = Buffer.concat([bytes.subarray(0, first), Buffer.from('\n\n\n'), bytes.subarray(first)]);
      expect(rdbOf(parse(withKeepAlives).events).equals(expected.rdb)).toBe(true);
      expect(rdbOf(parse(withKeepAlives, [first + 1, first + 2]).events).equals(expected.rdb)).toBe(true);
    });

    it('is not done, and inside the RDB, when the connection ends one byte early', () => {
      const { parser } = parse(bytes.subarray(0, bytes.length - 1));
      expect(parser.done).toBe(false);
      expect(parser.inRdb).toBe(true);
    });

    it('hands back the command stream that follows the RDB', () => {
      const stream = Buffer.from('*1\r\n$4\r\nPING\r\n');
      const { events } = parse(Buffer.concat([bytes, stream]), [bytes.length - 3]);
      expect(rdbOf(events).equals(expected.rdb)).toBe(true);
      expect(events.at(-1)).toEqual({ kind: 'rdb-end', rest: stream });
    });
  });
});

describe('SyncParser refuses what is not a full sync', () => {
  it.each([
    ['an error reply', '-NOPERM this user has no permissions to run the \'psync\' command\r\n', /NOPERM/],
    ['a partial resync', '+CONTINUE\r\n', /not \+FULLRESYNC/],
    ['a bad preamble', `+FULLRESYNC ${'a'.repeat(40)} 7\r\n:12\r\n`, /expected the RDB/],
    ['a short end mark', `+FULLRESYNC ${'a'.repeat(40)} 7\r\n$EOF:abc\r\n`, /end mark of 3 bytes/],
    ['an empty RDB', `+FULLRESYNC ${'a'.repeat(40)} 7\r\n$0\r\n`, /0 bytes/],
  ])('%s', (_what, text, message) => {
    expect(() => new SyncParser().push(Buffer.from(text))).toThrow(SyncProtocolError);
    expect(() => new SyncParser().push(Buffer.from(text))).toThrow(message);
  });
});

describe('rdbHeader', () => {
  it('reads REDIS0012 (Redis 7.4 and 8) and Valkey 9\'s VALKEY080', () => {
    expect(rdbHeader(Buffer.from('REDIS0012\xfa', 'latin1'))).toEqual({ magic: 'REDIS', version: 12 });
    expect(rdbHeader(Buffer.from('VALKEY080\xfa', 'latin1'))).toEqual({ magic: 'VALKEY', version: 80 });
  });

  it('refuses what is not an RDB header', () => {
    expect(rdbHeader(Buffer.from('REDIS00'))).toBeUndefined();
    expect(rdbHeader(Buffer.from('*1\r\n$4\r\nPING'))).toBeUndefined();
  });
});
