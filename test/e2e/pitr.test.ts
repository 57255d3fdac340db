// Continuous archiving and point-in-time recovery on the local cluster and its object store: a
// resource archives its replication stream (the operator takes the base itself), goes through a
// failover, and is restored as new resources, to a moment between two batches of writes and to the
// latest point archived.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { objectStoreEnvFile, parseEnv } from '../../hack/local-cluster/object-store.js';
import type { ObjectStore } from '../../src/api/schema.js';
import { readArchive } from '../../src/backup/archive-store.js';
import { s3Client } from '../../src/backup/object-store.js';
import { walRoot } from '../../src/plan/archive.js';
import { waitFor } from './support/cluster.js';
import { killContainer } from './support/faults.js';
import { newPrimary } from './support/invariants.js';
import { createAllowedSecret, createRR, getRR, redisCommand, operatorNamespace, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const PASSWORD = 'pitr-e2e-password-41be';
const fixture = operatorNamespace('pitr');
const BATCH = 200;

describe.skipIf(!localCluster)('point-in-time recovery from the archive', () => {
  const s3 = localCluster ? parseEnv(readFileSync(objectStoreEnvFile(), 'utf8')) : {};
  // A fresh object each time: the S3 client marks the credentials it is given (\$source).
  const keys = () => ({ accessKeyId: s3['S3_ACCESS_KEY']!, secretAccessKey: s3['S3_SECRET_KEY']! });
  const store = (credentialsSecret: string) => ({ endpoint: s3['S3_ENDPOINT']!, bucket: s3['S3_BUCKET']!, path: `e2e/${fixture.ns}`, region: s3['S3_REGION']!, credentialsSecret });

  /** Writes `prefix:0..BATCH-1` to the primary, each acknowledged; returns when the last was. */
  async function batch(prefix: string): Promise<number> {
    const primary = (await getRR(fixture.ns, 'ar')).status!.nodes!.find((n) => n.role === 'primary')!.podIP!;
    for (let i = 0; i < BATCH; i++) expect(await redisCommand(primary, ['SET', `${prefix}:${i}`, `v${i}`], PASSWORD)).toBe('OK');
    return Date.now();
  }

  /** The time of the archive's last stored mark (segments are stored as they close: up to a minute). */
  async function archivedUntil(): Promise<number> {
    const client = s3Client(store('s3-ar') as ObjectStore, keys());
    try {
      const { segments } = await readArchive(client, s3['S3_BUCKET']!, walRoot(store('s3-ar'), 'ar'));
      return Math.max(0, ...segments.flatMap((s) => s.marks.map((m) => m.at)));
    } finally {
      client.destroy();
    }
  }

  /** The keys a restored resource holds, on every pod, sorted (the pods must agree). */
  async function keysOf(name: string): Promise<string[]> {
    const rr = await waitReady(fixture.ns, name, 300_000);
    const all = await Promise.all(rr.status!.nodes!.map(async (n) => ((await redisCommand(n.podIP!, ['KEYS', '*'], PASSWORD)) as string[]).sort()));
    for (const k of all) expect(k).toEqual(all[0]);
    return all[0]!;
  }

  const names = (prefix: string) => Array.from({ length: BATCH }, (_, i) => `${prefix}:${i}`);

  it('archiving goes on across a failover; restores hold, to a moment between two batches, the first and none of the second, and to the latest point every acknowledged write', async () => {
    const { ns } = fixture;
    await createAllowedSecret(ns, 'ar-auth', 'ar', { password: PASSWORD });
    await createAllowedSecret(ns, 's3-ar', 'ar', keys());
    await createRR(ns, 'ar', { image: 'redis:7.0', replicas: 2, auth: { secretName: 'ar-auth' }, backup: { objectStore: store('s3-ar'), archive: true } });
    await waitReady(ns, 'ar');
    // The operator takes a base backup itself, then archives from it, following a replica.
    await waitFor(async () => {
      const archive = (await getRR(ns, 'ar')).status?.archive;
      return Boolean(archive?.base && archive.sourcePod);
    }, { timeoutMs: 180_000, intervalMs: 1000, what: 'the archive running from a base' });

    const aDone = await batch('a');
    // Point-in-time recovery is precise to a second (CONTRACT §12): the target lies two seconds
    // after the first batch and two before the second.
    await waitFor(async () => Date.now() >= aDone + 2000, { timeoutMs: 5000, intervalMs: 50, what: 'two seconds after the first batch' });
    const target = Date.now();
    await waitFor(async () => Date.now() >= target + 2000, { timeoutMs: 5000, intervalMs: 50, what: 'two seconds after the target' });
    await batch('b');

    // A failover: the primary's container killed; the archive follows the new topology.
    const old = (await getRR(ns, 'ar')).status!.primary!;
    const killedAt = Date.now();
    await killContainer(ns, old);
    await newPrimary(ns, 'ar', old, killedAt);
    await waitReady(ns, 'ar');
    const cDone = await batch('c');
    await waitFor(async () => (await archivedUntil()) > cDone + 1000, { timeoutMs: 240_000, intervalMs: 2000, what: 'the archive past the last batch' });

    for (const name of ['pt', 'lt']) {
      await createAllowedSecret(ns, `${name}-auth`, name, { password: PASSWORD });
      await createAllowedSecret(ns, `s3-${name}`, name, keys());
    }
    await createRR(ns, 'pt', { image: 'redis:7.0', replicas: 1, auth: { secretName: 'pt-auth' }, bootstrap: { recovery: { objectStore: store('s3-pt'), resource: 'ar', targetTime: new Date(target).toISOString() } } });
    await createRR(ns, 'lt', { image: 'redis:7.0', replicas: 1, auth: { secretName: 'lt-auth' }, bootstrap: { recovery: { objectStore: store('s3-lt'), resource: 'ar' } } });

    expect(await keysOf('pt')).toEqual(names('a').sort());
    const pt = (await getRR(ns, 'pt')).status!.restore!;
    expect(pt).toMatchObject({ phase: 'Completed', resource: 'ar' });
    console.log(`[pitr] target ${new Date(target).toISOString()}, cut at ${pt.cutTime} (offset ${pt.cutOffset}, ${pt.replayedBytes} bytes replayed)`);
    // The cut is the archive's last mark at or before the target: after the first batch.
    expect(Date.parse(pt.cutTime!)).toBeLessThanOrEqual(target);
    expect(Date.parse(pt.cutTime!)).toBeGreaterThanOrEqual(aDone - 1000);

    expect(await keysOf('lt')).toEqual([...names('a'), ...names('b'), ...names('c')].sort());
  }, 900_000);
});
