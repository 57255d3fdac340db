// A model of Redis replication, deterministic and in memory: what the controller tests and the
// fault simulation run the real reconcile code against. It keeps what matters for data safety:
// - each server holds a log of writes (its dataset) and a replication offset;
// - a replica copies its parent's log: a partial sync when its log is a prefix of the parent's,
//   else a full sync that replaces its dataset (how an empty primary wipes its replicas);
// - after a full sync the parent lists the replica online but streams to it only from the replica's
//   first acknowledgement (REPLCONF ACK) a second later, as a diskless sync does: until then the
//   parent reports the offset the replica acknowledged on its connection (0 before any), and writes
//   reach the parent alone; a parent with replicas pings them every repl-ping-replica-period (10 s),
//   which moves its offset but not its dataset;
// - a restart loses the dataset without persistence; with AOF it keeps the data but reports
//   offset 0 (Redis restores the replication offset only from an RDB);
// - frozen or partitioned servers do not answer; writes are refused while paused or below the
//   write quorum;
// - ACL users as auth.conf and ACL SETUSER/DELUSER make them: AUTH must name an enabled user and one
//   of its passwords, and a command the user may not run is refused (NOPERM), as is a replica whose
//   masteruser may not sync; an unknown command in a rule is refused (ERR) and changes nothing; a
//   refused modifier is quoted in the error as Redis 7.0.15 quotes it, password included;
// - with tls-port, a server speaks TLS only (to clients and to its parent), serves the certificate
//   its files held when it last loaded them, and reloads them only when CONFIG SET changes a tls-*
//   value (the stricter of the behaviours Redis versions have).
import { createHash } from 'node:crypto';
import { DEFAULT_BACKLOG_BYTES, redisBytes } from '../../src/plan/backlog.js';
import { BOOT_PARENT, REDIS_PORT } from '../../src/plan/names.js';
import { RedisCommands, type RedisTarget, type RedisTls } from '../../src/redis/client.js';
import { checkKeyPair, describeCertificate, type KeyPair } from '../../src/tls/certificates.js';

export interface ServerOptions {
  /** The pod it runs in: a stable identity across re-creations on the same volume. */
  pod: string;
  persistent: boolean;
  /** The auth.conf it includes (requirepass, masteruser, masterauth, user lines), if any. */
  authConf: string | undefined;
  /** Extra redis.conf directives the container starts with. */
  config: Record<string, string>;
  /** The server and version it reports (INFO server); Redis 7.0.15 when unset. */
  server?: 'redis' | 'valkey';
  version?: string;
  /** The certificate and key of its TLS volume, as the kubelet shows them now. */
  tlsFiles?: () => KeyPair | undefined;
}

export class RedisServer {
  role: 'master' | 'replica' = 'replica';
  masterHost: string = BOOT_PARENT.host;
  masterPort: number = BOOT_PARENT.port;
  linkUp = false;
  /** The dataset: ids of the writes it holds, in order. */
  log: number[] = [];
  /** master_repl_offset as Redis reports it. */
  offset = 0;
  replId = newReplId();
  replId2: string | undefined;
  running = true;
  /** Frozen (SIGSTOP) or cut off from the network: it neither answers nor replicates. */
  unreachable = false;
  /** Cut off from the operator and its replicas, not from every client: those still connected to it
   * keep writing (the writes a failover loses unless `writeQuorum` stops them). */
  clientsReach = false;
  pausedUntilMs = 0;
  /** Passwords the default user accepts (none: no auth). */
  passwords = new Set<string>();
  /** The other ACL users. */
  users = new Map<string, AclUser>();
  masteruser: string | undefined;
  masterauth: string | undefined;
  config: Record<string, string>;
  lastIoMs = 0;
  /** As its parent sees it: the offset it last acknowledged on this connection, and when its full
   * sync ended; it streams once it acknowledged after that. */
  acked = 0;
  syncedAtMs = 0;
  streaming = false;
  /** When it last pinged its replicas, and where each ping it holds sits in its stream (the number
   * of writes before it): a ping moves the offset with no write, so a replica that lacks writes
   * lacks the pings after them too. */
  pingedAtMs = 0;
  pingsAt: number[] = [];
  /** The pod whose write stream this dataset comes from (its last master up the chain). */
  origin: string | undefined;
  /** INFO stats: the syncs it served (reset by a restart). */
  syncs = { full: 0, partialOk: 0 };
  /** The certificate it serves (loaded from its files at start or on a reload), and its fingerprint. */
  certificate: KeyPair | undefined;
  served: string | undefined;

  constructor(
    readonly ip: string,
    readonly options: ServerOptions,
  ) {
    this.config = { ...options.config };
    this.loadAuth();
    this.loadCertificate();
  }

  /** What auth.conf sets, as redis-server reads it at start. */
  private loadAuth(): void {
    this.passwords = new Set();
    this.users = new Map();
    this.masteruser = undefined;
    this.masterauth = undefined;
    for (const line of (this.options.authConf ?? '').split('\n')) {
      const [directive, ...args] = splitConfigLine(line);
      if (directive === 'requirepass') this.passwords = new Set([args[0]!]);
      else if (directive === 'masteruser') this.masteruser = args[0];
      else if (directive === 'masterauth') this.masterauth = args[0];
      else if (directive === 'user') this.users.set(args[0]!, setUser(undefined, args.slice(1)));
      else if (directive !== undefined) throw new Error(`auth.conf: unknown directive ${directive}`);
    }
  }

  /** repl-backlog-size in bytes (offsets count one byte a write here). */
  get backlogSize(): number {
    return redisBytes(this.config['repl-backlog-size'] ?? '') ?? DEFAULT_BACKLOG_BYTES;
  }

  /** repl_backlog_first_byte_offset: the oldest offset its backlog still holds. */
  get backlogFirstByte(): number {
    return Math.max(1, this.offset - this.backlogSize + 1);
  }

  get tls(): boolean {
    return this.config['tls-port'] !== undefined;
  }

  loadCertificate(): void {
    this.certificate = this.tls ? this.options.tlsFiles?.() : undefined;
    this.served = this.certificate && describeCertificate(this.certificate.cert)?.fingerprint;
  }

  /** The container restarts: the boot arguments again, the dataset only if persisted. */
  restart(): void {
    this.role = 'replica';
    this.masterHost = BOOT_PARENT.host;
    this.masterPort = BOOT_PARENT.port;
    this.linkUp = false;
    if (!this.options.persistent) this.log = [];
    this.offset = 0;
    this.pingsAt = [];
    this.replId = newReplId();
    this.replId2 = undefined;
    this.pausedUntilMs = 0;
    this.syncs = { full: 0, partialOk: 0 };
    this.config = { ...this.options.config };
    this.loadAuth();
    this.loadCertificate();
    this.running = true;
  }
}

/** A password the default user accepts (anything, when it has none). */
const accepts = (s: RedisServer, password: string | undefined) => s.passwords.size === 0 || (password !== undefined && s.passwords.has(password));

/** An ACL user other than default: the commands it may run (`cmd` or `cmd|sub`). Keys and channels
 * are not modelled: the operator and replication users have none. */
export interface AclUser {
  on: boolean;
  /** SHA-256 hex of its passwords. */
  hashes: Set<string>;
  all: boolean;
  commands: Set<string>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const COMMANDS = new Set(['info', 'replicaof', 'config', 'client', 'acl', 'psync', 'sync', 'replconf', 'ping', 'get', 'set', 'del', 'keys', 'scan', 'incr', 'mget', 'mset', 'exists']);
const CATEGORIES = new Set(['all', 'read', 'write', 'admin', 'dangerous', 'keyspace', 'string', 'hash', 'list', 'set', 'sortedset', 'connection', 'fast', 'slow', 'pubsub']);

/** ACL SETUSER's rules applied to a copy of the user (a new one: off, no password, nothing allowed):
 * a rule it does not know throws and leaves the user as it was. */
function setUser(current: AclUser | undefined, rules: string[]): AclUser {
  const u: AclUser = current ? { ...current, hashes: new Set(current.hashes), commands: new Set(current.commands) } : { on: false, hashes: new Set(), all: false, commands: new Set() };
  for (const rule of rules) {
    const refuse = (why: string) => new Error(`ERR Error in ACL SETUSER modifier '${rule}': ${why}`);
    const lower = rule.toLowerCase();
    if (lower === 'on' || lower === 'off') u.on = lower === 'on';
    else if (lower === 'reset') Object.assign(u, { on: false, hashes: new Set(), all: false, commands: new Set() });
    else if (lower === 'resetpass') u.hashes = new Set();
    else if (rule.startsWith('>')) u.hashes.add(sha256(rule.slice(1)));
    else if (rule.startsWith('#')) {
      if (!/^#[0-9a-f]{64}$/.test(rule)) throw refuse('The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters');
      u.hashes.add(rule.slice(1));
    } else if (['resetkeys', 'allkeys', 'resetchannels', 'allchannels'].includes(lower) || /^(%R?W?)?~|^&/.test(rule)) continue;
    else if (lower === '+@all' || lower === 'allcommands') u.all = true;
    else if (lower === '-@all' || lower === 'nocommands') Object.assign(u, { all: false, commands: new Set() });
    else if (/^[+-]@/.test(rule)) {
      if (!CATEGORIES.has(lower.slice(2))) throw refuse('Unknown command or category name in ACL');
    } else if (/^[+-]/.test(rule)) {
      const command = lower.slice(1);
      if (!COMMANDS.has(command.split('|')[0]!)) throw refuse('Unknown command or category name in ACL');
      if (rule.startsWith('+')) u.commands.add(command);
      else u.commands.delete(command);
    } else throw refuse('Syntax error');
  }
  return u;
}

const may = (u: AclUser, command: string) => u.all || u.commands.has(command) || u.commands.has(command.split('|')[0]!);

/** The words of a redis.conf line (sdssplitargs): spaces separate, double quotes with backslash escapes. */
function splitConfigLine(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r' })[c] ?? c) : m[2]!);
  }
  return words;
}

let replIds = 0;
const newReplId = () => `replid-${++replIds}`;

export class RedisUnavailable extends Error {}

/** Every Redis server of the fake cluster, by IP, and the commands the operator sends them. */
export class RedisModel extends RedisCommands {
  readonly servers = new Map<string, RedisServer>();
  /** Commands sent by the operator, for assertions: "ip COMMAND args...". */
  readonly sent: string[] = [];
  /** Who each command authenticated as: "ip user". */
  readonly logins: string[] = [];
  /** Called before each command: the simulation may throw here to crash the operator mid-pass. */
  beforeCommand: (ip: string, args: string[]) => void = () => {};
  /** Called before each replication step of a linked replica (`full`: its dataset is replaced by
   * its parent's). */
  beforeSync: (replica: RedisServer, parent: RedisServer, full: boolean) => void = () => {};
  /** How long a command to a running server that does not answer (frozen, cut off) waits before it
   * fails, on the timers (a client's command timeout, with fake timers in a test); 0: it fails at once. */
  noAnswerAfterMs = 0;

  /** Primaries that are not pods, by host: the operator serving a backup (controller/restore.ts).
   * A replica of one gets its dataset at its replication ID and offset, in one step, and the writes
   * the external primary adds later (offset and log grown) at the step after they were added. */
  readonly external = new Map<string, { replId: string; offset: number; log: number[]; served: () => void }>();

  constructor(private readonly now: () => number) {
    super();
  }

  start(ip: string, options: ServerOptions): RedisServer {
    const server = new RedisServer(ip, options);
    server.lastIoMs = this.now();
    this.servers.set(ip, server);
    return server;
  }

  /** A client write to `ip`: acknowledged (returns its id) or refused. */
  write(ip: string, id: number): boolean {
    const s = this.servers.get(ip);
    if (!s || !s.running || (s.unreachable && !s.clientsReach) || s.role !== 'master' || s.pausedUntilMs > this.now()) return false;
    const minReplicas = Number(s.config['min-replicas-to-write'] ?? 0);
    if (minReplicas > 0) {
      const maxLagMs = Number(s.config['min-replicas-max-lag'] ?? 10) * 1000;
      const good = this.replicasOf(s).filter((r) => r.linkUp && this.now() - r.lastIoMs <= maxLagMs).length;
      if (good < minReplicas) return false;
    }
    s.log.push(id);
    s.offset += 1;
    return true;
  }

  /** One step of replication: every linked replica catches up with its parent (as far as `limit`). */
  replicate(limit = Number.POSITIVE_INFINITY): void {
    // Parents before children, so a cascade catches up in one step when nothing limits it.
    const depth = (s: RedisServer, seen = 0): number => {
      if (s.role === 'master' || seen > 10) return 0;
      const parent = this.servers.get(s.masterHost);
      return parent ? 1 + depth(parent, seen + 1) : 1;
    };
    for (const s of this.servers.values()) {
      const period = Number(s.config['repl-ping-replica-period'] ?? 10) * 1000;
      if (s.role !== 'master' || !s.running || s.unreachable || this.replicasOf(s).length === 0 || this.now() - s.pingedAtMs < period) continue;
      s.offset += 1;
      s.pingsAt.push(s.log.length);
      s.pingedAtMs = this.now();
    }
    for (const s of [...this.servers.values()].sort((a, b) => depth(a) - depth(b))) {
      if (s.role !== 'replica' || !s.running || s.unreachable) continue;
      const external = this.external.get(s.masterHost);
      if (external) {
        external.served();
        // The dataset on the first link; then what the operator streams after it.
        if (!s.linkUp || s.offset < external.offset) Object.assign(s, { log: [...external.log], replId: external.replId, offset: external.offset, linkUp: true, lastIoMs: this.now() });
        continue;
      }
      const parent = this.servers.get(s.masterHost);
      const reachable = parent && parent.running && !parent.unreachable && s.masterPort === REDIS_PORT && parent.tls === s.tls;
      const authOk = reachable && this.mayReplicate(parent, s);
      // A parent that is itself waiting for a role (booting) refuses to serve a sync.
      const serving = authOk && (parent.role === 'master' || parent.linkUp);
      if (!serving) {
        s.linkUp = false;
        continue;
      }
      const prefix = s.log.length <= parent.log.length && s.log.every((id, i) => parent.log[i] === id);
      // A link that comes back resumes (PSYNC) when the replica follows the parent's history and the
      // parent's backlog still holds the offset after its own; else the parent sends a full sync.
      const resumes = prefix && s.replId === parent.replId && s.offset + 1 >= parent.backlogFirstByte;
      const full = s.linkUp ? !prefix || s.replId !== parent.replId : !resumes;
      if (s.linkUp && !full && !s.streaming) {
        // Online after a full sync, not streamed to yet: its first acknowledgement, a second after
        // the sync, starts the stream; nothing reaches it before.
        if (this.now() - s.syncedAtMs > 1000) {
          s.acked = s.offset;
          s.streaming = true;
        }
        s.lastIoMs = this.now();
        continue;
      }
      if (!s.linkUp) parent.syncs[full ? 'full' : 'partialOk']++;
      this.beforeSync(s, parent, full);
      if (full || !s.linkUp) {
        // Full sync: the replica's dataset is replaced by all of its parent's, at once; a resumed link
        // gets what it missed from the backlog at once too (the same dataset: its own is a prefix).
        s.log = [...parent.log];
        // A resumed link streams at once; a full sync waits for the replica's first acknowledgement.
        if (full) {
          s.acked = 0;
          s.syncedAtMs = this.now();
          s.streaming = false;
        }
      } else {
        // Partial sync: the stream it missed, as far as `limit` gets it this step.
        s.log.push(...parent.log.slice(s.log.length, s.log.length + limit));
      }
      s.replId = parent.replId;
      s.replId2 = parent.replId2;
      s.origin = parent.role === 'master' ? parent.options.pod : parent.origin;
      // What it lacks of its parent's stream: the writes past its own, and the pings after them.
      s.pingsAt = parent.pingsAt.filter((p) => p <= s.log.length);
      s.offset = Math.max(0, parent.offset - (parent.log.length - s.log.length) - (parent.pingsAt.length - s.pingsAt.length));
      if (s.streaming) s.acked = s.offset;
      s.linkUp = true;
      s.lastIoMs = this.now();
    }
  }

  /** Whether the parent lets the replica in: its masteruser (default when unset) with masterauth, and
  * the commands a replica sends. */
  private mayReplicate(parent: RedisServer, replica: RedisServer): boolean {
    if (replica.masteruser === undefined || replica.masteruser === 'default') return accepts(parent, replica.masterauth);
    const user = parent.users.get(replica.masteruser);
    const authenticated = user?.on && replica.masterauth !== undefined && user.hashes.has(sha256(replica.masterauth));
    return Boolean(authenticated && ['ping', 'replconf', 'psync'].every((c) => may(user!, c)));
  }

  /** AUTH as the target's user, then CLIENT SETNAME (the pool opens every connection so), then the
   * command: each refused as Redis would. */
  private authorize(s: RedisServer, target: RedisTarget, args: string[]): void {
    this.logins.push(`${s.ip} ${target.username ?? 'default'}`);
    const wrongpass = new Error('WRONGPASS invalid username-password pair or user is disabled.');
    if (target.username === undefined || target.username === 'default') {
      if (!accepts(s, target.password)) throw wrongpass;
      return;
    }
    const user = s.users.get(target.username);
    if (!user?.on || target.password === undefined || !user.hashes.has(sha256(target.password))) throw wrongpass;
    const [cmd, sub] = [args[0]!.toLowerCase(), args[1]?.toLowerCase()];
    const command = ['config', 'client', 'acl'].includes(cmd) && sub ? `${cmd}|${sub}` : cmd;
    for (const needed of ['client|setname', command]) {
      if (!may(user, needed)) throw new Error(`NOPERM User ${target.username} has no permissions to run the '${needed}' command`);
    }
  }

  replicasOf(s: RedisServer): RedisServer[] {
    return [...this.servers.values()].filter((r) => r.role === 'replica' && r.masterHost === s.ip && r.running && !r.unreachable && r.linkUp);
  }

  // RedisApi: what the operator calls.

  protected override async send(target: RedisTarget, args: string[]): Promise<string> {
    this.beforeCommand(target.host, args);
    this.sent.push(`${target.host} ${args.join(' ')}`);
    const s = this.servers.get(target.host);
    if (!s || !s.running || s.unreachable) {
      if (s?.running && this.noAnswerAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, this.noAnswerAfterMs));
      throw new RedisUnavailable(`${args[0]} to ${target.host}: no answer`);
    }
    this.handshake(s, target.tls);
    this.authorize(s, target, args);
    const [cmd, ...rest] = args.map((a, i) => (i === 0 ? a.toUpperCase() : a));
    switch (cmd) {
      case 'INFO':
        // used_memory: a base plus 100 bytes a write held.
        if (rest[0]?.toLowerCase() === 'keyspace') return `# Keyspace\r\n${s.log.length > 0 ? `db0:keys=${s.log.length},expires=0,avg_ttl=0\r\n` : ''}`;
        if (rest[0]?.toLowerCase() === 'memory') return `# Memory\r\nused_memory:${1_000_000 + 100 * s.log.length}\r\n`;
        if (rest[0]?.toLowerCase() !== 'server') return this.infoText(s);
        // Valkey reports the Redis version it is compatible with, and its own.
        return s.options.server === 'valkey'
          ? `# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:${s.options.version}\r\n`
          : `# Server\r\nredis_version:${s.options.version ?? '7.0.15'}\r\n`;
      case 'REPLICAOF':
        if (rest[0]?.toUpperCase() === 'NO') {
          if (s.role !== 'master') {
            s.role = 'master';
            s.replId2 = s.replId;
            s.replId = newReplId();
          }
          s.linkUp = false;
        } else {
          s.role = 'replica';
          s.masterHost = rest[0]!;
          s.masterPort = Number(rest[1]);
          s.linkUp = false;
        }
        return 'OK';
      case 'CONFIG':
        // As the pool renders the reply (a map).
        if (rest[0]?.toUpperCase() === 'GET') return JSON.stringify({ [rest[1]!]: rest[1] === 'repl-backlog-size' ? String(s.backlogSize) : (s.config[rest[1]!] ?? '') });
        if (rest[0]?.toUpperCase() !== 'SET') throw new Error(`unsupported CONFIG ${rest[0]}`);
        for (let i = 1; i + 1 < rest.length; i += 2) {
          const [k, v] = [rest[i]!, rest[i + 1]!];
          const changed = s.config[k] !== v;
          if (k === 'requirepass') s.passwords = new Set(v === '' ? [] : [v]);
          else if (k === 'masterauth') s.masterauth = v === '' ? undefined : v;
          else if (k === 'masteruser') s.masteruser = v === '' ? undefined : v;
          else s.config[k] = v;
          if (k.startsWith('tls-') && changed) s.loadCertificate();
        }
        return 'OK';
      case 'ACL':
        return this.acl(s, rest);
      case 'CLIENT':
        if (rest[0]?.toUpperCase() === 'PAUSE') s.pausedUntilMs = this.now() + Number(rest[1]);
        else if (rest[0]?.toUpperCase() === 'UNPAUSE') s.pausedUntilMs = 0;
        return 'OK';
      default:
        throw new Error(`the model does not know ${cmd}`);
    }
  }

  private acl(s: RedisServer, [sub, ...args]: string[]): string {
    switch (sub?.toUpperCase()) {
      case 'SETUSER': {
        const [name, ...rules] = args as [string, ...string[]];
        if (name !== 'default') {
          s.users.set(name, setUser(s.users.get(name), rules));
          return 'OK';
        }
        // The default user: its passwords (plain text here) only.
        const passwords = new Set(s.passwords);
        for (const rule of rules) {
          if (rule === 'resetpass') passwords.clear();
          else if (rule.startsWith('>')) passwords.add(rule.slice(1));
          else if (rule.startsWith('<')) {
            // As Redis 7.0.15 answers: the modifier, password included, quoted in the error.
            if (!passwords.delete(rule.slice(1))) throw new Error(`ERR Error in ACL SETUSER modifier '${rule}': The password you are trying to remove from the user does not exist`);
          } else if (rule !== 'on') throw new Error(`the model does not know ACL SETUSER default ${rule}`);
        }
        s.passwords = passwords;
        return 'OK';
      }
      case 'DELUSER':
        return String(args.filter((name) => s.users.delete(name)).length);
      case 'USERS':
        // As the pool renders an array reply.
        return JSON.stringify(['default', ...s.users.keys()].sort());
      default:
        throw new Error(`unsupported ACL ${sub}`);
    }
  }

  override async servedCertificate(target: RedisTarget & { tls: RedisTls }): Promise<string> {
    const s = this.servers.get(target.host);
    if (!s || !s.running || s.unreachable) throw new RedisUnavailable(`TLS handshake with ${target.host}: no answer`);
    this.handshake(s, target.tls);
    return s.served!;
  }

  /** A TLS client gets no answer from a plain server, nor a plain one from a TLS server; a TLS client
   * refuses a certificate that no CA it trusts signed. */
  private handshake(s: RedisServer, tls: RedisTls | undefined): void {
    if (Boolean(tls) !== s.tls) throw new RedisUnavailable(`${s.ip}: ${s.tls ? 'TLS' : 'plain'} server, ${tls ? 'TLS' : 'plain'} client`);
    if (tls && (!s.certificate || checkKeyPair(s.certificate, tls.ca) !== undefined)) throw new Error(`${s.ip}: certificate verify failed`);
  }

  private infoText(s: RedisServer): string {
    const children = this.replicasOf(s);
    const lines = ['# Replication', `role:${s.role === 'master' ? 'master' : 'slave'}`];
    if (s.role === 'replica') {
      lines.push(
        `master_host:${s.masterHost}`,
        `master_port:${s.masterPort}`,
        `master_link_status:${s.linkUp ? 'up' : 'down'}`,
        `master_last_io_seconds_ago:${s.linkUp ? Math.floor((this.now() - s.lastIoMs) / 1000) : -1}`,
        'master_sync_in_progress:0',
        `slave_repl_offset:${s.offset}`,
        'slave_read_only:1',
      );
    }
    lines.push(`connected_slaves:${children.length}`);
    children.forEach((c, i) => lines.push(`slave${i}:ip=${c.ip},port=${REDIS_PORT},state=online,offset=${c.acked},lag=${Math.floor((this.now() - c.lastIoMs) / 1000)}`));
    lines.push(`master_replid:${s.replId}`, `master_replid2:${s.replId2 ?? '0'.repeat(40)}`, `master_repl_offset:${s.offset}`);
    lines.push(`repl_backlog_size:${s.backlogSize}`, `repl_backlog_first_byte_offset:${s.backlogFirstByte}`);
    lines.push('# Stats', `sync_full:${s.syncs.full}`, `sync_partial_ok:${s.syncs.partialOk}`, 'sync_partial_err:0');
    return lines.join('\r\n') + '\r\n';
  }
}
