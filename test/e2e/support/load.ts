// A continuous write load through a Service, counting acknowledged writes, and the checks that
// find which acknowledged writes are missing afterwards. Bounded in count and time.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { waitFor } from '../../../hack/lib.js';

export interface WriteLoad {
  /** Stops writing; resolves with what happened. */
  stop(): Promise<LoadResult>;
  ackedCount(): number;
  /** When writes came back for good: the first acknowledgement after the last failure at or after `sinceMs`
   * (a stray early success between failures does not end the outage). */
  recoveredAt(sinceMs: number): number | undefined;
}

export interface LoadResult {
  acked: number[];
  /** The longest time between two acknowledged writes: the longest write outage. */
  longestGapMs: number;
  failures: number;
  /** The servers written to, in order (a new entry each time a reconnect lands elsewhere). */
  hosts: string[];
}

/** A client that finds the server by itself and reconnects on its own (e.g. a Sentinel client). */
export interface Writer {
  set(key: string, value: string): Promise<unknown>;
  /** Where its last command went. */
  host(): string | undefined;
  close(): void;
}

export interface LoadOptions {
  /** A Service IP, dialled anew after every failure; or a client that reconnects by itself. */
  host: string | Writer;
  password?: string | undefined;
  prefix: string;
  maxWrites?: number;
  maxDurationMs?: number;
}

/** A writer through one address: a new connection after each failure, as a plain client would. */
function serviceWriter(host: string, password: string | undefined): Writer {
  const connect = async () => {
    const c = createClient({
      socket: { host, port: 6379, connectTimeout: 500, socketTimeout: 1000, reconnectStrategy: false },
      password,
      disableOfflineQueue: true,
      RESP: 2,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  let client: Awaited<ReturnType<typeof connect>> | undefined;
  return {
    async set(key, value) {
      try {
        client ??= await connect();
        return await client.sendCommand(['SET', key, value]);
      } catch (err) {
        client?.destroy();
        client = undefined;
        throw err;
      }
    },
    host: () => host,
    close: () => client?.destroy(),
  };
}

export function startWriteLoad(o: LoadOptions): WriteLoad {
  const acked: number[] = [];
  const ackTimes: number[] = [];
  const failureTimes: number[] = [];
  const hosts: string[] = [];
  let stopped = false;
  const maxWrites = o.maxWrites ?? 200_000;
  const deadline = Date.now() + (o.maxDurationMs ?? 180_000);

  const writer = typeof o.host === 'string' ? serviceWriter(o.host, o.password) : o.host;

  const run = (async () => {
    // A refused write is not retried under its number: only acknowledged numbers count.
    for (let i = 0; !stopped && i < maxWrites && Date.now() < deadline; i++) {
      try {
        await writer.set(`${o.prefix}:${i}`, String(i));
        acked.push(i);
        ackTimes.push(Date.now());
        const host = writer.host();
        if (host && hosts[hosts.length - 1] !== host) hosts.push(host);
      } catch {
        failureTimes.push(Date.now());
        await sleep(10);
      }
    }
    writer.close();
  })();

  return {
    async stop() {
      stopped = true;
      await run;
      const longestGapMs = ackTimes.reduce((max, t, i) => (i === 0 ? 0 : Math.max(max, t - ackTimes[i - 1]!)), 0);
      return { acked, longestGapMs, failures: failureTimes.length, hosts };
    },
    ackedCount: () => acked.length,
    recoveredAt(sinceMs) {
      const failed = failureTimes[failureTimes.length - 1];
      return failed === undefined || failed < sinceMs ? undefined : ackTimes.find((t) => t >= failed);
    },
  };
}

/** Acknowledged writes that the given server does not hold. */
export async function missingWrites(host: string, password: string | undefined, prefix: string, acked: number[]): Promise<number[]> {
  const client = createClient({ socket: { host, port: 6379, connectTimeout: 2000, reconnectStrategy: false }, password, RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const missing: number[] = [];
    for (let i = 0; i < acked.length; i += 1000) {
      const batch = acked.slice(i, i + 1000);
      const values = (await client.sendCommand(['MGET', ...batch.map((n) => `${prefix}:${n}`)])) as (string | null)[];
      values.forEach((v, j) => {
        if (v === null) missing.push(batch[j]!);
      });
    }
    return missing;
  } finally {
    client.destroy();
  }
}

/** Runs `change` under a write load through `host` and waits until `done` (within `timeoutMs`);
 * `beforeStop` runs before the load stops (e.g. waiting for the topology to settle). Returns how long
 * `done` took after the change, and what the load saw. */
export async function changeUnderLoad(
  o: { host: string; prefix: string; timeoutMs: number; what: string },
  change: () => Promise<unknown>,
  done: () => Promise<boolean>,
  beforeStop: () => Promise<void> = async () => undefined,
): Promise<{ ms: number; result: LoadResult }> {
  const load = startWriteLoad({ host: o.host, prefix: o.prefix, maxDurationMs: o.timeoutMs });
  await waitFor(() => load.ackedCount() >= 200, { timeoutMs: 20_000, intervalMs: 50, what: 'write load running' });
  const t0 = Date.now();
  await change();
  await waitFor(done, { timeoutMs: o.timeoutMs, intervalMs: 250, what: o.what });
  const ms = Date.now() - t0;
  await beforeStop();
  return { ms, result: await load.stop() };
}
