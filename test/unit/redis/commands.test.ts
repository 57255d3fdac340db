// Every Redis command the operator sends is a method of RedisCommands (src/redis/client.ts); the
// operator's ACL user (OPERATOR_RULES) is derived here from those methods: it may run exactly what
// they send, plus the connection's CLIENT SETNAME, and nothing else.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_RULES } from '../../../src/plan/acl.js';
import { RedisCommands, type RedisTarget } from '../../../src/redis/client.js';

class Recording extends RedisCommands {
  readonly sent: string[][] = [];
  protected override async send(_target: RedisTarget, args: string[]): Promise<string> {
    this.sent.push(args);
    return '';
  }
  override async servedCertificate(): Promise<string> {
    return '';
  }
}

const t: RedisTarget = { host: '10.0.0.1' };
/** One call of each method that sends a command. */
const CALLS: Record<string, (r: RedisCommands) => Promise<unknown>> = {
  info: (r) => r.info(t),
  replicaOf: (r) => r.replicaOf(t, '10.0.0.2'),
  promote: (r) => r.promote(t),
  configSet: (r) => r.configSet(t, 'maxmemory', '1mb'),
  configGet: (r) => r.configGet(t, 'tls-cert-file'),
  pauseWrites: (r) => r.pauseWrites(t, 1000),
  unpause: (r) => r.unpause(t),
  aclSetUser: (r) => r.aclSetUser(t, 'app', ['on']),
  aclUsers: (r) => r.aclUsers(t),
  aclDelUser: (r) => r.aclDelUser(t, 'app'),
};
/** Sent by the pool when it connects (the client library's `name` option), not by a method. */
const HANDSHAKE = ['+client|setname'];
/** Commands with subcommands: the ACL names the subcommand. */
const CONTAINERS = new Set(['config', 'client', 'acl']);

describe('the commands the operator sends', () => {
  it('are the methods of RedisCommands, each called above (a new method needs its row)', () => {
    const methods = Object.getOwnPropertyNames(RedisCommands.prototype).filter((m) => !['constructor', 'command', 'servedCertificate'].includes(m));
    expect(methods.sort()).toEqual(Object.keys(CALLS).sort());
  });

  it('are exactly what the operator\'s ACL user may run', async () => {
    const r = new Recording();
    for (const call of Object.values(CALLS)) await call(r);
    const derived = r.sent.map(([cmd, sub]) => `+${cmd!.toLowerCase()}${CONTAINERS.has(cmd!.toLowerCase()) ? `|${sub!.toLowerCase()}` : ''}`);
    expect([...new Set([...derived, ...HANDSHAKE])].sort()).toEqual(OPERATOR_RULES.filter((rule) => rule.startsWith('+')).sort());
  });

  it('are sent through those methods only: nothing outside src/redis calls command() with a command of its own', () => {
    const src = new URL('../../../src/', import.meta.url).pathname;
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.startsWith('redis/'));
    // The prober's wrapper passes on what a method built (PassRedis.send).
    const callers = files.filter((f) => /\.command\(/.test(readFileSync(join(src, f), 'utf8')));
    expect(callers).toEqual(['controller/prober.ts']);
  });
});
