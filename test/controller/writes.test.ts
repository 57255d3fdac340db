// The writes a pass counts (controller/writes.ts): a settled pass that sent none is not followed by
// another until something changes (plan/next-pass.ts), so a write missed here is a pass that never
// comes back for what it started, and a read counted is a resource passed over and over for nothing.
// Every API verb and every Redis command of the operator is classified below: a method added to
// KubeApi or RedisCommands does not compile here until it is.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import type { Deps, KubeApi } from '../../src/controller/pass.js';
import { countingWrites } from '../../src/controller/writes.js';
import { RedisCommands, type RedisTarget } from '../../src/redis/client.js';
import { World } from '../support/world.js';

const TARGET: RedisTarget = { host: '10.0.0.1', password: 'secret' };

/** A Redis that answers OK to everything, or fails every command, and keeps what it was sent. */
class FakeRedis extends RedisCommands {
  readonly sent: string[] = [];
  failing = false;

  protected override async send(target: RedisTarget, args: string[]): Promise<string> {
    this.sent.push(`${target.host} ${args.join(' ')}`);
    if (this.failing) throw new Error(`${args[0]} to ${target.host}: no answer`);
    return 'OK';
  }

  override async servedCertificate(target: RedisTarget): Promise<string> {
    this.sent.push(`${target.host} (TLS handshake)`);
    return 'sha256-fingerprint';
  }
}

/** Each API verb, and whether it is a write. */
const KUBE_WRITES: Record<keyof KubeApi, boolean> = {
  createPod: true,
  deletePod: true,
  patchPodMeta: true,
  createClaim: true,
  deleteClaim: true,
  patchClaimAnnotations: true,
  createService: true,
  createDisruptionBudget: true,
  createNetworkPolicy: true,
  readNetworkPolicy: false,
  replaceNetworkPolicy: true,
  deleteNetworkPolicy: true,
  patchServiceSpec: true,
  patchStatus: true,
  patchAnnotations: true,
  readSecret: false,
  createSecret: true,
  patchSecretData: true,
  patchBackupStatus: true,
  createBackup: true,
  deleteBackup: true,
};

/** Each Redis command method, how the operator calls it, and whether it is a write. */
const REDIS_WRITES: Record<Exclude<keyof RedisCommands, 'command'>, [call: (redis: RedisCommands) => Promise<string>, write: boolean]> = {
  info: [(r) => r.info(TARGET, 'memory'), false],
  configGet: [(r) => r.configGet(TARGET, 'repl-backlog-size'), false],
  aclUsers: [(r) => r.aclUsers(TARGET), false],
  servedCertificate: [(r) => r.servedCertificate({ ...TARGET, tls: { ca: 'ca', serverNames: ['cache-0'] } }), false],
  replicaOf: [(r) => r.replicaOf(TARGET, '10.0.0.2'), true],
  promote: [(r) => r.promote(TARGET), true],
  configSet: [(r) => r.configSet(TARGET, 'repl-backlog-size', '1048576'), true],
  pauseWrites: [(r) => r.pauseWrites(TARGET, 5000), true],
  unpause: [(r) => r.unpause(TARGET), true],
  aclSetUser: [(r) => r.aclSetUser(TARGET, 'app', ['on', '>secret']), true],
  aclDelUser: [(r) => r.aclDelUser(TARGET, 'app'), true],
};

/** A pass's dependencies over fakes that record what reaches them, with its writes counted. */
function counting() {
  const base = new World().deps;
  const kubeCalls: string[] = [];
  const kube = Object.fromEntries(
    Object.keys(KUBE_WRITES).map((verb) => [
      verb,
      async (...args: unknown[]) => {
        kubeCalls.push(`${verb} ${args.join(' ')}`);
      },
    ]),
  ) as unknown as KubeApi;
  const redis = new FakeRedis();
  const recorded: string[] = [];
  const events: Deps['events'] = { record: async (_rr, type, reason) => void recorded.push(`${type} ${reason}`) };
  const { deps, writes } = countingWrites({ ...base, kube, redis, events });
  return { base, deps, writes, kubeCalls, redis, recorded };
}

/** The writes one call through the counted dependencies adds. */
async function writesOf(call: (deps: Deps) => Promise<unknown>): Promise<number> {
  const { deps, writes } = counting();
  await call(deps);
  return writes();
}

const callKube = (deps: Deps, verb: keyof KubeApi) => (deps.kube[verb] as (...args: unknown[]) => Promise<unknown>)('ns', 'cache');
const raw = (...args: string[]) => (deps: Deps) => deps.redis.command(TARGET, args);

describe('the writes of a pass', () => {
  it('every API call but a read is a write: creates, replaces, patches and deletes count one each, readSecret and readNetworkPolicy none', async () => {
    const counted: Record<string, number> = {};
    for (const verb of Object.keys(KUBE_WRITES) as (keyof KubeApi)[]) counted[verb] = await writesOf((deps) => callKube(deps, verb));
    expect(counted).toEqual(Object.fromEntries(Object.entries(KUBE_WRITES).map(([verb, write]) => [verb, write ? 1 : 0])));
  });

  it('every Redis command but a read is a write: INFO, CONFIG GET, ACL USERS and the served certificate count none; REPLICAOF, the promotion, CONFIG SET, CLIENT PAUSE and UNPAUSE, ACL SETUSER and DELUSER one each', async () => {
    const counted: Record<string, number> = {};
    for (const [method, [call]] of Object.entries(REDIS_WRITES)) counted[method] = await writesOf((deps) => call(deps.redis));
    expect(counted).toEqual(Object.fromEntries(Object.entries(REDIS_WRITES).map(([method, [, write]]) => [method, write ? 1 : 0])));
  });

  it('a raw command is a write unless it only reads (INFO, CONFIG GET, ACL USERS), in whatever case it is spelt; a write to a key named get or users is a write', async () => {
    const reads = [raw('INFO'), raw('info', 'memory'), raw('CONFIG', 'GET', 'maxmemory'), raw('config', 'get', 'save'), raw('ACL', 'USERS'), raw('acl', 'users')];
    const writes = [raw('CONFIG', 'SET', 'maxmemory', '1gb'), raw('config', 'set', 'save', ''), raw('ACL', 'SETUSER', 'app', 'on'), raw('REPLICAOF', 'NO', 'ONE'), raw('FLUSHALL'), raw('SET', 'get', '1'), raw('SADD', 'users', 'alice')];
    expect(await Promise.all(reads.map(writesOf))).toEqual(reads.map(() => 0));
    expect(await Promise.all(writes.map(writesOf))).toEqual(writes.map(() => 1));
  });

  it('every Event is a write, Normal or Warning', async () => {
    const { deps, writes, recorded } = counting();
    const rr = { metadata: { namespace: 'ns', name: 'cache' } } as RedisReplication;
    await deps.events.record(rr, 'Normal', 'Promoted', 'cache-1 is the primary');
    await deps.events.record(rr, 'Warning', 'SwitchoverFailed', 'cache-2 did not catch up');
    expect(recorded).toEqual(['Normal Promoted', 'Warning SwitchoverFailed']);
    expect(writes()).toBe(2);
  });

  it('the writes add up over the pass, counted whether they take or not; each call reaches the client as it was made, and its answer or error the caller', async () => {
    const { base, deps, writes, kubeCalls, redis } = counting();
    await deps.kube.readSecret('ns', 'auth');
    await deps.kube.deletePod('ns', 'cache-1', 0);
    expect(await deps.redis.info(TARGET)).toBe('OK');
    expect(await deps.redis.configSet(TARGET, 'maxmemory', '1gb')).toBe('OK');
    redis.failing = true;
    await expect(deps.redis.replicaOf(TARGET, '10.0.0.2')).rejects.toThrow('REPLICAOF to 10.0.0.1: no answer');
    expect(writes()).toBe(3);
    expect(kubeCalls).toEqual(['readSecret ns auth', 'deletePod ns cache-1 0']);
    expect(redis.sent).toEqual(['10.0.0.1 INFO replication', '10.0.0.1 CONFIG SET maxmemory 1gb', '10.0.0.1 REPLICAOF 10.0.0.2 6379']);
    // What is not a method reads as it is; the rest of the dependencies are the pass's own.
    expect((deps.redis as FakeRedis).sent).toBe(redis.sent);
    expect((deps.redis as FakeRedis).failing).toBe(true);
    expect(deps.metrics).toBe(base.metrics);
    expect(deps.memory).toBe(base.memory);
    // Each pass counts its own: a new one starts from none.
    expect(counting().writes()).toBe(0);
  });
});
