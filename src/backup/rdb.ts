// What a backup needs to know of an RDB file: its format version, from the 9-byte header.

/** `REDIS` and 4 digits (Redis, Valkey 8 and older), or `VALKEY` and 3 digits (Valkey 9's own formats). */
const HEADER = /^(REDIS(\d{4})|VALKEY(\d{3}))/;
export const RDB_HEADER_LENGTH = 9;

export interface RdbHeader {
  magic: 'REDIS' | 'VALKEY';
  version: number;
}

/** The header of an RDB file's first bytes; undefined when they are not one. */
export function rdbHeader(first: Buffer): RdbHeader | undefined {
  if (first.length < RDB_HEADER_LENGTH) return undefined;
  const m = HEADER.exec(first.subarray(0, RDB_HEADER_LENGTH).toString('latin1'));
  if (!m) return undefined;
  return m[2] !== undefined ? { magic: 'REDIS', version: Number(m[2]) } : { magic: 'VALKEY', version: Number(m[3]) };
}
