// Parses the text of `INFO` into typed replication facts. Redis answers with CRLF lines, `# Section`
// headers and `key:value` fields; replica lines (`slaveN:`) carry comma-separated `k=v` pairs.

interface ReplicaEntry {
  ip: string;
  port: number;
  state: string;
  offset: number;
  lag: number;
}

interface ReplicationCommon {
  replId: string;
  /** master_replid2: the replication ID this node's history had before its last promotion, if any. */
  replId2?: string;
  /** master_repl_offset of this node. */
  replOffset: number;
  connectedReplicas: number;
  /** Its own replicas: for a replica, the next cascade tier. */
  replicas: ReplicaEntry[];
  /** repl_backlog_size, and the first offset its backlog still holds (repl_backlog_first_byte_offset):
   * a replica whose offset + 1 is below it cannot resume with a partial sync. */
  backlogSize?: number;
  backlogFirstByte?: number;
  /** The syncs it served to its replicas (INFO stats), when the text has that section. */
  syncs?: SyncStats;
}

/** INFO stats counters of the syncs a server served: full, and partial accepted or refused. */
interface SyncStats {
  full: number;
  partialOk: number;
  partialErr: number;
}

export interface PrimaryInfo extends ReplicationCommon {
  role: 'master';
}

export interface ReplicaInfo extends ReplicationCommon {
  role: 'replica';
  masterHost: string;
  masterPort: number;
  linkUp: boolean;
  syncInProgress: boolean;
  /** slave_repl_offset: how far it has applied its parent's stream. */
  replicaOffset: number;
  /** master_last_io_seconds_ago, -1 when unknown. */
  lastIoSecondsAgo: number;
  readOnly: boolean;
}

export type ReplicationInfo = PrimaryInfo | ReplicaInfo;

export class InfoParseError extends Error {}

/** Every field of INFO text by section name, lower-cased (`replication`, `server`, ...). */
export function parseInfo(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      current = {};
      sections[line.slice(1).trim().toLowerCase()] = current;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    // Output of `INFO replication` without a header still parses, into the replication section.
    current ??= sections['replication'] = {};
    current[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return sections;
}

/** The replication facts of `INFO replication` (or of a full `INFO`). */
export function parseReplication(text: string): ReplicationInfo {
  const sections = parseInfo(text);
  const fields = sections['replication'];
  if (!fields || fields['role'] === undefined) {
    throw new InfoParseError('not the output of INFO replication: no role field');
  }
  const common: ReplicationCommon = {
    replId: fields['master_replid'] ?? '',
    ...(fields['master_replid2'] && !/^0+$/.test(fields['master_replid2']) ? { replId2: fields['master_replid2'] } : {}),
    replOffset: integer(fields, 'master_repl_offset', 0),
    connectedReplicas: integer(fields, 'connected_slaves', 0),
    replicas: replicaEntries(fields),
    ...(fields['repl_backlog_size'] ? { backlogSize: integer(fields, 'repl_backlog_size', 0) } : {}),
    ...(fields['repl_backlog_first_byte_offset'] ? { backlogFirstByte: integer(fields, 'repl_backlog_first_byte_offset', 0) } : {}),
    ...syncStats(sections['stats']),
  };
  const role = fields['role'];
  if (role === 'master') return { role: 'master', ...common };
  if (role !== 'slave' && role !== 'replica') throw new InfoParseError(`INFO replication: unknown role "${role}"`);
  return {
    role: 'replica',
    ...common,
    masterHost: fields['master_host'] ?? '',
    masterPort: integer(fields, 'master_port', 0),
    linkUp: fields['master_link_status'] === 'up',
    syncInProgress: fields['master_sync_in_progress'] === '1',
    replicaOffset: integer(fields, 'slave_repl_offset', 0),
    lastIoSecondsAgo: integer(fields, 'master_last_io_seconds_ago', -1),
    readOnly: fields['slave_read_only'] !== '0',
  };
}

function syncStats(fields: Record<string, string> | undefined): { syncs?: SyncStats } {
  if (fields?.['sync_full'] === undefined) return {};
  return { syncs: { full: integer(fields, 'sync_full', 0), partialOk: integer(fields, 'sync_partial_ok', 0), partialErr: integer(fields, 'sync_partial_err', 0) } };
}

function integer(fields: Record<string, string>, key: string, fallback: number): number {
  const value = fields[key];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InfoParseError(`INFO replication: ${key} is not an integer: "${value}"`);
  return n;
}

function replicaEntries(fields: Record<string, string>): ReplicaEntry[] {
  return Object.entries(fields)
    .flatMap(([key, value]) => {
      const match = /^slave(\d+)$/.exec(key);
      return match ? [{ n: Number(match[1]), entry: replicaEntry(key, value) }] : [];
    })
    .sort((a, b) => a.n - b.n)
    .map(({ entry }) => entry);
}

function replicaEntry(key: string, value: string): ReplicaEntry {
  const pairs: Record<string, string> = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) pairs[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (pairs['ip'] === undefined) throw new InfoParseError(`INFO replication: ${key} has no ip: "${value}"`);
  return {
    ip: pairs['ip'],
    port: integer(pairs, 'port', 0),
    state: pairs['state'] ?? 'unknown',
    offset: integer(pairs, 'offset', 0),
    lag: integer(pairs, 'lag', -1),
  };
}

/** Which server a pod runs, from `INFO server`: Valkey says so (server_name, valkey_version) and
 * keeps redis_version at the Redis version it is compatible with. */
export interface ServerInfo {
  server: 'redis' | 'valkey';
  version: string;
}

export function parseServer(text: string): ServerInfo {
  const fields = parseInfo(text)['server'];
  if (!fields?.['redis_version']) throw new InfoParseError('not the output of INFO server: no redis_version field');
  if (fields['server_name'] === 'valkey' || fields['valkey_version'] !== undefined) return { server: 'valkey', version: fields['valkey_version'] ?? fields['redis_version'] };
  return { server: 'redis', version: fields['redis_version'] };
}

/** used_memory of `INFO memory`; undefined when the text has no memory section. */
export function parseUsedMemory(text: string): number | undefined {
  const value = parseInfo(text)['memory']?.['used_memory'];
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
}
