// Ready means safe: a client that waits for Ready, writes at once (each write acknowledged, no WAIT)
// and loses the primary right after loses nothing. With diskless sync the primary streams to a new
// replica only from its first acknowledgement, up to a second after it lists it online; a resource
// Ready in that window lost every write of it (plan/sync.ts).
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { killContainer, waitFor } from './support/cluster.js';
import { failoverBoundMs, newPrimary, settle } from './support/invariants.js';
import { missingWrites } from './support/load.js';
import { createRR, getRR, operatorNamespace } from './support/operator.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('ready');
const PRIMARY_DOWN_SECONDS = 2;
const WRITES = 300;
const TRIALS = 3;

/** Writes `n` keys one SET at a time on one connection, as fast as they are acknowledged: the
 * numbers acknowledged. */
async function writeAtOnce(host: string, prefix: string, n: number): Promise<number[]> {
  const client = createClient({ socket: { host, port: 6379, connectTimeout: 2000, reconnectStrategy: false }, RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  const acked: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      if (String(await client.sendCommand(['SET', `${prefix}:${i}`, String(i)])) === 'OK') acked.push(i);
    }
  } finally {
    client.destroy();
  }
  return acked;
}

describe.skipIf(!localCluster)('Ready means safe', () => {
  it(`writes acknowledged right after Ready survive a SIGKILL of the primary (${TRIALS} fresh resources)`, async () => {
    const { ns } = fixture;
    const outcomes: { acked: number; lost: number; failoverMs: number }[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const name = `fresh-${trial}`;
      await createRR(ns, name, { replicas: 1, failover: { enabled: true, primaryDownSeconds: PRIMARY_DOWN_SECONDS } });
      // Polled fast: the first moment status says Ready is the moment a client would start writing.
      const rr = await waitFor(
        async () => {
          const r = await getRR(ns, name);
          return r.status?.phase === 'Ready' && r.status.observedGeneration === r.metadata.generation ? r : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 20, what: `${ns}/${name} Ready` },
      );
      const primary = rr.status!.primary!;
      const prefix = `ready:${trial}`;
      const acked = await writeAtOnce(rr.status!.nodes!.find((n) => n.name === primary)!.podIP!, prefix, WRITES);
      const t0 = Date.now();
      await killContainer(ns, primary);
      const moved = await newPrimary(ns, name, primary, t0);
      await settle(ns, name);
      const after = await getRR(ns, name);
      const lost = await missingWrites(after.status!.nodes!.find((n) => n.name === after.status!.primary)!.podIP!, undefined, prefix, acked);
      outcomes.push({ acked: acked.length, lost: lost.length, failoverMs: moved.ms });
      console.log(`[ready] trial ${trial}: ${JSON.stringify({ from: primary, to: moved.to, acked: acked.length, lost: lost.length, failoverMs: moved.ms })}`);
    }
    for (const o of outcomes) {
      expect(o.acked).toBe(WRITES);
      expect(o.lost).toBe(0);
      expect(o.failoverMs).toBeLessThanOrEqual(failoverBoundMs(PRIMARY_DOWN_SECONDS));
    }
  });
});
