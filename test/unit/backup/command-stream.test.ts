// The command boundaries of a replication stream, fed whole, cut at every byte position, and cut at
// random: the boundary is always the end of the last whole command outside MULTI ... EXEC.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandBoundaries, CommandStreamError } from '../../../src/backup/command-stream.js';

const bulk = (args: readonly string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;

/** The stream of these commands, and the end of each command at which a cut is allowed. */
function stream(commands: readonly string[]): { bytes: Buffer; boundaries: number[] } {
  const boundaries: number[] = [];
  let at = 0;
  let inMulti = false;
  for (const c of commands) {
    at += Buffer.byteLength(c, 'latin1');
    const name = /^\*\d+\r\n\$\d+\r\n([^\r]*)\r\n/.exec(c)?.[1]?.toUpperCase();
    if (name === 'MULTI') inMulti = true;
    if (name === 'EXEC') inMulti = false;
    if (!inMulti) boundaries.push(at);
  }
  return { bytes: Buffer.from(commands.join(''), 'latin1'), boundaries };
}

/** Feeds `bytes` in pieces ending at `cuts`; after each piece, the boundary the parser reports. */
function feed(bytes: Buffer, cuts: number[]): { pushed: number; boundary: number }[] {
  const parser = new CommandBoundaries();
  const seen: { pushed: number; boundary: number }[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b).concat(bytes.length)) {
    parser.push(bytes.subarray(at, cut));
    at = cut;
    seen.push({ pushed: at, boundary: parser.boundary });
  }
  return seen;
}

/** What the boundary must be once `pushed` bytes came: the last allowed end within them. */
const expected = (boundaries: number[], pushed: number): number => boundaries.filter((b) => b <= pushed).at(-1) ?? 0;

// What a Redis 7 primary sends its replicas: SELECT, writes, its PING, a GETACK, a transaction, a
// newline, an inline PING, payloads holding \r\n and bytes of every value.
const SAMPLE = [
  bulk(['SELECT', '0']),
  bulk(['SET', 'k', 'v']),
  bulk(['PING']),
  bulk(['SET', 'crlf', 'a\r\n*3\r\n$1\r\nb']),
  bulk(['MULTI']),
  bulk(['INCR', 'n']),
  bulk(['SET', 'x', 'EXEC']),
  bulk(['EXEC']),
  '\n',
  'PING\r\n',
  bulk(['REPLCONF', 'GETACK', '*']),
  bulk(['multi']),
  bulk(['exec']),
  bulk(['MULTIPLY', 'x']),
  bulk(['SET', 'bin', String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))]),
  '*0\r\n',
];

describe('CommandBoundaries', () => {
  const { bytes, boundaries } = stream(SAMPLE);

  it('finds the end of every command outside a transaction, fed whole', () => {
    const parser = new CommandBoundaries();
    parser.push(bytes);
    expect(parser.boundary).toBe(bytes.length);
    expect(boundaries).toContain(bytes.length);
  });

  it('reports the same boundaries whichever byte the stream is cut at', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const [first, second] = feed(bytes, [cut]);
      expect(first!.boundary, `cut at ${cut}`).toBe(expected(boundaries, cut));
      expect(second!.boundary).toBe(bytes.length);
    }
  });

  it('reports the right boundary after every single byte', () => {
    const seen = feed(bytes, Array.from({ length: bytes.length }, (_, i) => i));
    for (const { pushed, boundary } of seen) expect(boundary, `after ${pushed} bytes`).toBe(expected(boundaries, pushed));
  });

  it('does not place a boundary inside MULTI ... EXEC', () => {
    const multi = bytes.indexOf('*1\r\n$5\r\nMULTI');
    const exec = bytes.indexOf('*1\r\n$4\r\nEXEC') + '*1\r\n$4\r\nEXEC\r\n'.length;
    const inside = feed(bytes, [exec - 1]);
    expect(inside[0]!.boundary).toBe(multi);
    expect(feed(bytes, [exec])[0]!.boundary).toBe(exec);
  });

  const command = fc.oneof(
    { weight: 6, arbitrary: fc.array(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s).toString('latin1')), { minLength: 1, maxLength: 5 }).map(bulk) },
    { weight: 1, arbitrary: fc.constantFrom(bulk(['MULTI']), bulk(['EXEC']), '\n', 'PING\r\n', '*0\r\n', bulk(['PING'])) },
  );

  it('reports, for random streams cut at random, the last allowed end within what came', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 10 }), (commands, rawCuts) => {
        const s = stream(commands);
        const cuts = rawCuts.map((c) => (s.bytes.length === 0 ? 0 : c % s.bytes.length));
        for (const { pushed, boundary } of feed(s.bytes, cuts)) expect(boundary).toBe(expected(s.boundaries, pushed));
      }),
    );
  });

  it('refuses what is not a command stream', () => {
    expect(() => new CommandBoundaries().push(Buffer.from('*x\r\n'))).toThrow(CommandStreamError);
    expect(() => new CommandBoundaries().push(Buffer.from('*1\r\nSET\r\n'))).toThrow(/bulk string's length/);
    expect(() => new CommandBoundaries().push(Buffer.alloc(70 * 1024, 0x41))).toThrow(/line of more than/);
  });
});
