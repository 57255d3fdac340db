// The replication backlog end to end, on the local cluster: under a steady write load, a replica cut
// off from the other pods while the primary writes more than its small backlog holds full-syncs when
// the cut heals; the second time the operator reports a full-resync loop (ReplicasSynced
// FullResyncLoop, a Warning Event) and raises repl-backlog-size (spec.replicationBacklog.auto, a
// BacklogResized Event); the same cut then ends in a partial sync. It prints the figures.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { parseInfo } from '../../src/redis/info.js';
import { healPod, partitionPod, waitFor } from './support/cluster.js';
import { api, createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('backlog');
const NAME = 'bl';
const SMALL_BACKLOG = 64 * 1024;
/** Each cut lasts until the primary has written this much more stream: four times the small backlog. */
const CUT_BYTES = 4 * SMALL_BACKLOG;
/** The load: one SET of a 1000-byte value every 100 ms, about 10 KB/s of replication stream. */
const VALUE = 'v'.repeat(1000);
const WRITE_EVERY_MS = 100;
const MAX_WRITES = 20_000;

const info = async (ip: string, section: string) => parseInfo(String(await redisCommand(ip, ['INFO', section])))[section]!;
const num = (fields: Record<string, string>, key: string) => Number(fields[key]);
const backlogSize = async (ip: string) => Number(((await redisCommand(ip, ['CONFIG', 'GET', 'repl-backlog-size'])) as string[])[1]);
const counters = async (ip: string) => {
  const stats = await info(ip, 'stats');
  return { full: num(stats, 'sync_full'), partialOk: num(stats, 'sync_partial_ok') };
};
const events = async (reason: string) => (await api().core.listNamespacedEvent({ namespace: fixture.ns })).items.filter((e) => e.involvedObject.name === NAME && e.reason === reason);

/** A bounded, paced write load on the primary: stops on stop() or after MAX_WRITES; a refused write fails the test. */
function startLoad(ip: string): { stop: () => Promise<number> } {
  let stopped = false;
  const run = (async () => {
    const client = createClient({ socket: { host: ip, port: 6379, connectTimeout: 2000 }, RESP: 2 });
    client.on('error', () => undefined);
    await client.connect();
    let n = 0;
    try {
      for (; n < MAX_WRITES && !stopped; n++) {
        expect(await client.set(`load:${n % 500}`, VALUE)).toBe('OK');
        await sleep(WRITE_EVERY_MS);
      }
    } finally {
      client.destroy();
    }
    if (!stopped) throw new Error(`the write load reached ${MAX_WRITES} writes before the test stopped it`);
    return n;
  })();
  return {
    stop: async () => {
      stopped = true;
      return run;
    },
  };
}

describe.skipIf(!localCluster)('replication backlog', () => {
  it('a replica cut off longer than a small backlog covers loops on full syncs; the operator raises the backlog and the same cut then resumes', { timeout: 900_000 }, async () => {
    const { ns } = fixture;
    await createRR(ns, NAME, {
      replicas: 1,
      // A short repl-timeout drops the link a few seconds into the cut, as a long outage would.
      config: { 'repl-backlog-size': '64kb', 'repl-timeout': '5', 'repl-ping-replica-period': '1' },
      replicationBacklog: { auto: true, minCoverageSeconds: 3 },
    });
    const ready = await waitReady(ns, NAME);
    const primary = ready.status!.nodes!.find((n) => n.role === 'primary')!;
    const replica = ready.status!.nodes!.find((n) => n.role === 'replica')!;
    const [primaryIP, replicaIP] = [primary.podIP!, replica.podIP!];
    expect(await backlogSize(primaryIP)).toBe(SMALL_BACKLOG);
    const load = startLoad(primaryIP);
    try {
      // The rate, as the operator measures it: offset growth over time.
      const t0 = Date.now();
      const o0 = num(await info(primaryIP, 'replication'), 'master_repl_offset');
      await waitFor(async () => Date.now() - t0 >= 12_000 && num(await info(primaryIP, 'replication'), 'master_repl_offset') > o0, { timeoutMs: 30_000, what: 'the primary taking writes for 12 s' });
      const rate = ((num(await info(primaryIP, 'replication'), 'master_repl_offset') - o0) * 1000) / (Date.now() - t0);
      console.log(`write rate ${Math.round(rate)} B/s; repl-backlog-size ${SMALL_BACKLOG} covers ${(SMALL_BACKLOG / rate).toFixed(1)} s`);
      // 3 s of coverage is enough for minCoverageSeconds: nothing is raised before the loop.
      expect(await backlogSize(primaryIP)).toBe(SMALL_BACKLOG);

      /** Cuts the replica off until the primary wrote CUT_BYTES more, heals, and waits for its sync. */
      const cut = async (label: string): Promise<'full' | 'partial'> => {
        const before = await counters(primaryIP);
        const start = num(await info(primaryIP, 'replication'), 'master_repl_offset');
        const startedAt = Date.now();
        await partitionPod(ns, replica.name, { fromPodsOnly: true });
        try {
          await waitFor(async () => (await info(replicaIP, 'replication'))['master_link_status'] === 'down', { timeoutMs: 60_000, intervalMs: 250, what: `${label}: the replica's link dropping (repl-timeout 5)` });
          await waitFor(async () => num(await info(primaryIP, 'replication'), 'master_repl_offset') - start >= CUT_BYTES, { timeoutMs: 180_000, intervalMs: 250, what: `${label}: the primary writing ${CUT_BYTES} bytes during the cut` });
        } finally {
          await healPod(ns, replica.name);
        }
        const cutSeconds = (Date.now() - startedAt) / 1000;
        const after = await waitFor(
          async () => {
            const c = await counters(primaryIP);
            const link = await info(replicaIP, 'replication');
            return link['master_link_status'] === 'up' && link['master_sync_in_progress'] === '0' && (c.full > before.full || c.partialOk > before.partialOk) && c;
          },
          { timeoutMs: 120_000, intervalMs: 250, what: `${label}: the replica syncing again after the cut` },
        );
        const kind = after.full > before.full ? 'full' : 'partial';
        console.log(`${label}: cut ${cutSeconds.toFixed(1)} s, sync_full +${after.full - before.full}, sync_partial_ok +${after.partialOk - before.partialOk}: ${kind} sync`);
        return kind;
      };

      expect(await cut('cut 1')).toBe('full');
      expect(await cut('cut 2')).toBe('full');
      const looping = await waitFor(
        async () => {
          const c = (await getRR(ns, NAME)).status?.conditions?.find((x) => x.type === 'ReplicasSynced');
          return c?.reason === 'FullResyncLoop' && c;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'ReplicasSynced False, reason FullResyncLoop' },
      );
      console.log(`condition: ReplicasSynced ${looping.status} ${looping.reason}: ${looping.message}`);
      expect((await events('FullResyncLoop'))[0]?.type).toBe('Warning');
      const resized = await waitFor(async () => (await events('BacklogResized'))[0], { timeoutMs: 30_000, intervalMs: 250, what: 'a BacklogResized Event' });
      console.log(`event BacklogResized: ${resized.message}`);
      const raised = await waitFor(
        async () => {
          const [p, r] = [await backlogSize(primaryIP), await backlogSize(replicaIP)];
          return p > CUT_BYTES && r === p && p;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'repl-backlog-size raised past the cut on the primary and the replica' },
      );
      const status = (await getRR(ns, NAME)).status!.replicationBacklog!;
      expect(status.size).toBe(raised);
      console.log(`repl-backlog-size ${SMALL_BACKLOG} -> ${raised} bytes (status ${JSON.stringify(status)}); covers ${(raised / rate).toFixed(1)} s at ${Math.round(rate)} B/s`);

      expect(await cut('cut 3 (raised backlog)')).toBe('partial');
    } finally {
      console.log(`writes: ${await load.stop()}`);
    }
  });
});
