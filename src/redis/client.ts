// Connections to the redis-server of each pod, kept open between reconciles (the health poll
// runs every second) and dropped on the first error so that the next call reconnects.
import { createHash } from 'node:crypto';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { RedisClient } from 'redis';
import { REDIS_PORT } from '../plan/names.js';

export const CLIENT_NAME = 'redis-replication-operator';

export interface RedisTarget {
  host: string;
  port?: number;
  /** An ACL user; none: the default user. */
  username?: string | undefined;
  password?: string | undefined;
  /** Speak TLS, trusting these CAs only. */
  tls?: RedisTls | undefined;
}

export interface RedisTls {
  /** PEM CA certificates. */
  ca: string;
  /** The server's certificate must cover one of these names. */
  serverNames: string[];
}

export interface RedisPoolOptions {
  connectMs: number;
  commandMs: number;
  /** Called for every connection opened. */
  onConnect?: () => void;
}

const IDLE_MS = 30_000;

// One client class for every connection: createClient() would build the command table anew each time.
const newClient = RedisClient.factory({ RESP: 2 });
type Client = ReturnType<typeof newClient>;

/** The arguments of a command that are secrets: the passwords and password hashes of ACL SETUSER
 * rules (`>`, `<`, `#`, `!`), the value of CONFIG SET masterauth / requirepass, and what AUTH and
 * HELLO ... AUTH carry. */
export function secretArguments(args: readonly string[]): string[] {
  const [cmd, sub] = [args[0]?.toUpperCase(), args[1]?.toUpperCase()];
  // AUTH [username] password; HELLO protover AUTH username password.
  if (cmd === 'AUTH') return args.length > 1 ? args.slice(-1) : [];
  if (cmd === 'HELLO') {
    const at = args.findIndex((a, i) => i > 0 && a.toUpperCase() === 'AUTH');
    return at < 0 || args[at + 2] === undefined ? [] : [args[at + 2]!];
  }
  if (cmd === 'ACL' && sub === 'SETUSER') return args.slice(3).filter((r) => /^[<>#!]./.test(r)).map((r) => r.slice(1));
  if (cmd === 'CONFIG' && sub === 'SET') {
    return args.slice(2).flatMap((a, i, pairs) => (i % 2 === 0 && ['masterauth', 'requirepass'].includes(a.toLowerCase()) && pairs[i + 1] !== undefined ? [pairs[i + 1]!] : []));
  }
  return [];
}

const REDACTED = '<redacted>';

/** `err` (as an Error) with every secret taken out of its message and stack. Redis quotes some
 * arguments in its error replies (ACL SETUSER names the modifier it refuses), with line breaks
 * turned to spaces: both forms are taken out. */
export function redact(err: unknown, secrets: readonly (string | undefined)[]): Error {
  const forms = secrets.flatMap((s) => (s ? [s, s.replace(/[\r\n]/g, ' ')] : []));
  // Longest first: a secret that contains another is taken out whole.
  const clean = (text: string) => [...new Set(forms)].sort((a, b) => b.length - a.length).reduce((t, s) => t.split(s).join(REDACTED), text);
  const error = err instanceof Error ? err : new Error(String(err));
  error.message = clean(error.message);
  if (error.stack) error.stack = clean(error.stack);
  return error;
}

/** The commands the operator sends, over any way of sending one (the pool; the model in tests). */
export abstract class RedisCommands {
  /** Sends one command as it is; only command() calls it. */
  protected abstract send(target: RedisTarget, args: string[]): Promise<string>;

  /** One command. Its error never carries a secret, whichever command it is: not the password the
   * connection authenticates with, nor one the command carries (see secretArguments). */
  async command(target: RedisTarget, args: string[]): Promise<string> {
    try {
      return await this.send(target, args);
    } catch (err) {
      throw redact(err, [target.password, ...secretArguments(args)]);
    }
  }

  info(target: RedisTarget, section = 'replication'): Promise<string> {
    return this.command(target, ['INFO', section]);
  }

  replicaOf(target: RedisTarget, host: string, port = REDIS_PORT): Promise<string> {
    return this.command(target, ['REPLICAOF', host, String(port)]);
  }

  promote(target: RedisTarget): Promise<string> {
    return this.command(target, ['REPLICAOF', 'NO', 'ONE']);
  }

  configSet(target: RedisTarget, directive: string, value: string): Promise<string> {
    return this.command(target, ['CONFIG', 'SET', directive, value]);
  }

  configGet(target: RedisTarget, directive: string): Promise<string> {
    return this.command(target, ['CONFIG', 'GET', directive]);
  }

  /** Holds every write for `ms` (reads go on): the switchover's catch-up. */
  pauseWrites(target: RedisTarget, ms: number): Promise<string> {
    return this.command(target, ['CLIENT', 'PAUSE', String(ms), 'WRITE']);
  }

  unpause(target: RedisTarget): Promise<string> {
    return this.command(target, ['CLIENT', 'UNPAUSE']);
  }

  /** ACL SETUSER with these rules (the password ones are kept out of errors: secretArguments). */
  aclSetUser(target: RedisTarget, name: string, rules: readonly string[]): Promise<string> {
    return this.command(target, ['ACL', 'SETUSER', name, ...rules]);
  }

  aclUsers(target: RedisTarget): Promise<string> {
    return this.command(target, ['ACL', 'USERS']);
  }

  aclDelUser(target: RedisTarget, name: string): Promise<string> {
    return this.command(target, ['ACL', 'DELUSER', name]);
  }

  /** The SHA-256 fingerprint of the certificate a TLS server presents to a new connection now
   * (pooled connections keep the one of their handshake). */
  abstract servedCertificate(target: RedisTarget & { tls: RedisTls }): Promise<string>;
}

export class RedisPool extends RedisCommands {
  private readonly clients = new Map<string, Promise<Client>>();
  private readonly lastUsed = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: RedisPoolOptions) {
    super();
    // Pods come and go; a connection nobody used for a while belongs to a pod that is gone.
    this.sweeper = setInterval(() => this.closeIdle(IDLE_MS), IDLE_MS);
    this.sweeper.unref();
  }

  protected override async send(target: RedisTarget, args: string[]): Promise<string> {
    const client = await this.connect(target);
    try {
      const reply = await withTimeout(client.sendCommand(args), this.options.commandMs, `${args[0]} to ${target.host}`);
      return replyText(reply);
    } catch (err) {
      this.drop(target);
      throw err;
    }
  }

  /** Closes the connection to a host that is gone or must be re-dialled. */
  drop(target: RedisTarget): void {
    const key = poolKey(target);
    const pending = this.clients.get(key);
    if (!pending) return;
    this.clients.delete(key);
    pending.then((c) => c.destroy()).catch(() => undefined);
  }

  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const [key, pending] of [...this.clients]) {
      if (now - (this.lastUsed.get(key) ?? 0) < idleMs) continue;
      this.clients.delete(key);
      this.lastUsed.delete(key);
      pending.then((c) => c.destroy()).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map(async (p) => (await p).destroy()));
  }

  override servedCertificate(target: RedisTarget & { tls: RedisTls }): Promise<string> {
    const socket = tlsConnect({ host: target.host, port: target.port ?? REDIS_PORT, ...tlsOptions(target.tls) });
    const handshake = new Promise<string>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getPeerCertificate().fingerprint256));
      socket.once('error', reject);
    });
    return withTimeout(handshake, this.options.connectMs, `TLS handshake with ${target.host}`).finally(() => socket.destroy());
  }

  private connect(target: RedisTarget): Promise<Client> {
    const key = poolKey(target);
    this.lastUsed.set(key, Date.now());
    const existing = this.clients.get(key);
    if (existing) return existing;
    const client = newClient({
      socket: {
        host: target.host,
        port: target.port ?? REDIS_PORT,
        connectTimeout: this.options.connectMs,
        // No socketTimeout: node-redis treats it as an idle timeout and would close every pooled
        // connection between two health polls; each command has its own timeout instead.
        reconnectStrategy: false,
        ...(target.tls ? { tls: true as const, ...tlsOptions(target.tls) } : {}),
      },
      username: target.username,
      password: target.password,
      // Shown by CLIENT LIST, so that an operator's connection is told apart from applications'.
      name: CLIENT_NAME,
      // The handshake sends AUTH and CLIENT SETNAME only: the library's CLIENT SETINFO and CLIENT
      // MAINT_NOTIFICATIONS would be refused to the operator's ACL user (noise in ACL LOG) and tell
      // the operator nothing.
      disableClientInfo: true,
      maintNotifications: 'disabled',
      disableOfflineQueue: true,
    });
    client.on('error', () => this.drop(target));
    this.options.onConnect?.();
    const pending = withTimeout(client.connect(), this.options.connectMs + 500, `connect to ${target.host}`).then(
      (c) => c as Client,
      (err) => {
        this.clients.delete(key);
        client.destroy();
        throw err;
      },
    );
    this.clients.set(key, pending);
    return pending;
  }
}

// The user, the password and the trusted CAs are part of the key so that a changed Secret opens a fresh,
// authenticated connection.
function poolKey(target: RedisTarget): string {
  const tls = target.tls ? createHash('sha256').update(target.tls.ca).update(target.tls.serverNames.join(',')).digest('hex') : '';
  return `${target.host}|${target.port ?? REDIS_PORT}|${target.username ?? ''}|${target.password ?? ''}|${tls}`;
}

/** The operator dials pods by IP, which no certificate names (IPs change with every pod): the chain
 * is checked against the resource's CAs, and the certificate must name one of the resource's
 * Services, so that a certificate of the same CA for something else is refused. */
export function tlsOptions(tls: RedisTls): ConnectionOptions {
  return {
    ca: tls.ca,
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const errors = tls.serverNames.map((name) => checkServerIdentity(name, cert));
      return errors.some((e) => e === undefined) ? undefined : errors[0];
    },
  };
}


function replyText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  return JSON.stringify(reply);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // After an event-loop stall the timer runs before the socket's pending reply is read; giving I/O
    // one more turn (setImmediate runs after the poll phase) keeps a stall from failing every command.
    timer = setTimeout(() => setImmediate(() => reject(new Error(`${what}: no answer within ${ms} ms`))), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
