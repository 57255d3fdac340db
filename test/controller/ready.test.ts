// Ready means safe: a replica counts as synced only once its parent streams to it (plan/sync.ts).
// The Redis model reproduces the window of a diskless sync: the replica is online, but nothing
// reaches it before its first acknowledgement, a second later.
import { describe, expect, it } from 'vitest';
import type { RedisReplication } from '../../src/api/schema.js';
import { World } from '../support/world.js';

const primaryOf = (world: World, rr: RedisReplication) => world.kube.serverOf('ns', world.status(rr)!.primary!)!;

/** Acknowledged writes to the primary, then one step of replication (the stream a client's
 * acknowledgement is sent with, before the primary can die): their ids. */
function writeNow(world: World, rr: RedisReplication, n: number): number[] {
  const ip = primaryOf(world, rr).ip;
  const acked = Array.from({ length: n }, (_, i) => i + 1).filter((id) => world.redis.write(ip, id));
  world.redis.replicate();
  return acked;
}

const synced = (world: World, rr: RedisReplication) => world.status(rr)!.conditions!.find((c) => c.type === 'ReplicasSynced')!;

describe('Ready means safe: writes acknowledged right after Ready survive the loss of the primary', () => {
  it('replicas: 1: the primary restarts empty right after Ready and 100 writes; the replica takes over with all of them', async () => {
    const { world, rr } = World.withResource({ replicas: 1, failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const acked = writeNow(world, rr, 100);
    expect(acked).toHaveLength(100);
    world.kube.restartContainer('ns', old);
    await world.settle(rr, () => world.ready(rr) && world.status(rr)!.primary !== old);
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('replicas: 2, cascade [1]: the primary is lost right after Ready; no write acknowledged after Ready is lost', async () => {
    const { world, rr } = World.withResource({ replicas: 2, cascade: [{ replicasPerParent: 1 }], failover: { primaryDownSeconds: 2 } });
    await world.settle(rr, () => world.ready(rr));
    const old = world.status(rr)!.primary!;
    const acked = writeNow(world, rr, 50);
    world.kube.killContainer('ns', old);
    await world.settle(rr, () => world.status(rr)!.primary !== old && world.status(rr)!.phase !== 'FailingOver' && primaryOf(world, rr).role === 'master');
    expect(primaryOf(world, rr).log).toEqual(acked);
  });

  it('an operator restart keeps what status showed proven while the connection holds; a full sync during the restart is not synced', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    world.restartOperator();
    await world.passes(rr, 1);
    // Ready does not drop for an operator upgrade: the replica acknowledged on the same connection.
    expect(synced(world, rr)).toMatchObject({ status: 'True' });
    // A full sync while no operator runs: a new connection, nothing acknowledged yet.
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    const server = world.kube.serverOf('ns', replica)!;
    server.linkUp = false;
    server.replId = 'another history';
    world.redis.replicate();
    world.restartOperator();
    await world.passes(rr, 1, 0);
    expect(synced(world, rr)).toMatchObject({ status: 'False', reason: 'FullSync' });
    expect(world.status(rr)!.nodes!.find((n) => n.role === 'replica')).toMatchObject({ link: 'syncing', read: false });
    // Proven again by the next acknowledgement past the primary's offset: idle, its ping, once a second.
    await world.settle(rr, () => world.ready(rr), 4);
    expect(synced(world, rr)).toMatchObject({ status: 'True' });
  });

  it('every pod pings its replicas once a second (set at run time), unless config says otherwise', async () => {
    const { world, rr } = World.withResource({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    expect(world.servers().map((s) => s.config['repl-ping-replica-period'])).toEqual(['1', '1', '1']);
    const other = World.withResource({ replicas: 1, config: { 'repl-ping-replica-period': '5' } });
    await other.world.settle(other.rr, () => other.world.ready(other.rr));
    expect(other.world.servers().map((s) => s.config['repl-ping-replica-period'])).toEqual(['5', '5']);
  });
});
