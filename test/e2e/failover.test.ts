// High availability without Sentinel, proven by faults under a continuous write load through
// <name>-primary: every scenario counts the acknowledged writes that are missing afterwards and
// ends with the invariants (one writable primary, reachable through the Service; every replica
// linked to the parent the status names).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION } from '../../src/plan/names.js';
import {
  createNamespace,
  freezePod,
  healPod,
  killContainer,
  kubectl,
  partitionPod,
  thawPod,
  waitFor,
} from './support/cluster.js';
import { checkInvariants, failoverBoundMs, newPrimary, primaryServiceIP, settle, writableMasters } from './support/invariants.js';
import { missingWrites, startWriteLoad } from './support/load.js';
import { api, createRR, getRR, installCrd, redisCommand, startOperator, waitReady, type OperatorProcess } from './support/operator.js';
import { localCluster } from './support/where.js';

const name = 'ha';
const PRIMARY_DOWN_SECONDS = 3;
let ns: string;
let cleanup: () => Promise<void>;
let operator: OperatorProcess;

beforeAll(async () => {
  await installCrd();
  ({ name: ns, cleanup } = await createNamespace());
  operator = startOperator({ WATCH_NAMESPACES: ns });
  await createRR(ns, name, {
    replicas: 2,
    cascade: [{ replicasPerParent: 1 }],
    readService: { maxLagSeconds: 2 },
    failover: { enabled: true, primaryDownSeconds: PRIMARY_DOWN_SECONDS },
  });
  await waitReady(ns, name);
});

afterAll(async () => {
  await operator?.stop();
  await cleanup?.();
});

interface Outcome {
  from: string;
  to: string;
  /** From the fault to a new primary in status (undefined when none was expected). */
  failoverMs: number | undefined;
  recoveryMs: number;
  acked: number;
  lost: number;
}

/** Runs a fault under write load; returns who the primary was and became, and what was lost. */
async function underLoad(label: string, fault: (primary: string) => Promise<void>, opts: { expectNewPrimary: boolean }): Promise<Outcome> {
  await settle(ns, name);
  const from = (await getRR(ns, name)).status!.primary!;
  const prefix = `${label}:${Date.now()}`;
  const load = startWriteLoad({ host: await primaryServiceIP(ns, name), prefix });
  await waitFor(() => load.ackedCount() >= 200, { timeoutMs: 20_000, intervalMs: 50, what: 'write load running' });
  const t0 = Date.now();
  // Watched from the fault on, alongside it: some faults wait for the failover themselves.
  const [, moved] = await Promise.all([fault(from), opts.expectNewPrimary ? newPrimary(ns, name, from, t0) : undefined]);
  await waitFor(() => load.recoveredAt(t0) !== undefined || (!opts.expectNewPrimary && load.ackedCount() > 0), {
    timeoutMs: 60_000,
    intervalMs: 50,
    what: `writes accepted again after ${label}`,
  });
  const recoveredAt = load.recoveredAt(t0) ?? t0;
  await settle(ns, name);
  const result = await load.stop();
  const rr = await getRR(ns, name);
  const to = rr.status!.primary!;
  const primaryIP = rr.status!.nodes!.find((n) => n.name === to)!.podIP!;
  const lost = (await missingWrites(primaryIP, undefined, prefix, result.acked)).length;
  const outcome = { from, to, failoverMs: moved?.ms, recoveryMs: recoveredAt - t0, acked: result.acked.length, lost };
  console.log(`[failover] ${label}: ${JSON.stringify(outcome)}`);
  if (opts.expectNewPrimary) {
    expect(moved!.ms).toBeLessThanOrEqual(failoverBoundMs(PRIMARY_DOWN_SECONDS));
    expect(to).not.toBe(from);
    expect(rr.status!.lastFailover?.from).toBe(from);
    expect(rr.status!.lastFailover?.to).toBe(to);
  }
  return outcome;
}

describe.skipIf(!localCluster)('failover of a lost primary', () => {
  it('SIGKILL of the primary container: a replica takes over; the restarted empty primary wipes nothing', async () => {
    const outcome = await underLoad('sigkill', (primary) => killContainer(ns, primary), { expectNewPrimary: true });
    // What the primary acknowledged was already in its replication sockets: the kernel delivers it
    // after the kill. An empty primary serving a full sync would lose everything.
    expect(outcome.lost).toBe(0);
  });

  it('deletion of the primary pod', async () => {
    const outcome = await underLoad('delete', (primary) => api().core.deleteNamespacedPod({ name: primary, namespace: ns }).then(() => undefined), {
      expectNewPrimary: true,
    });
    // A graceful deletion hands over: writes paused, the target caught up, then promoted.
    expect(outcome.lost).toBe(0);
  });

  it('a primary frozen past primaryDownSeconds is fenced (its pod removed), never making two writable primaries', async () => {
    let twoMasters = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if ((await writableMasters(ns, name)).length > 1) twoMasters = true;
        await sleep(100);
      }
    })();
    try {
      const outcome = await underLoad(
        'freeze',
        async (primary) => {
          await freezePod(ns, primary);
          await waitFor(async () => (await getRR(ns, name)).status?.primary !== primary, { timeoutMs: 30_000, intervalMs: 100, what: 'failover from the frozen primary' });
          // Fenced: the pod is removed at once, so there is nothing left to thaw (a thaw would fail).
          await waitFor(async () => !(await api().core.listNamespacedPod({ namespace: ns })).items.some((p) => p.metadata?.name === primary), {
            timeoutMs: 15_000,
            intervalMs: 100,
            what: `the frozen primary ${primary} fenced`,
          });
        },
        { expectNewPrimary: true },
      );
      // A frozen process acknowledges nothing; what it acknowledged before was already replicated.
      expect(outcome.lost).toBe(0);
    } finally {
      watching = false;
      await watcher;
    }
    expect(twoMasters).toBe(false);
  });

  it('a primary cut off the network is fenced; what it acknowledged in its last instant is the only possible loss', async () => {
    let cutAt = 0;
    const outcome = await underLoad(
      'partition',
      async (primary) => {
        cutAt = Date.now();
        await partitionPod(ns, primary);
        await waitFor(async () => (await getRR(ns, name)).status?.primary !== primary, { timeoutMs: 30_000, intervalMs: 100, what: 'failover from the cut-off primary' });
        await waitFor(async () => !(await api().core.listNamespacedPod({ namespace: ns })).items.some((p) => p.metadata?.name === primary), {
          timeoutMs: 15_000,
          intervalMs: 100,
          what: `the cut-off primary ${primary} fenced`,
        });
      },
      { expectNewPrimary: true },
    );
    expect(cutAt).toBeGreaterThan(0);
    // Nobody reaches it once it is cut off, so it acknowledges nothing after; only replication packets in
    // flight at the cut can be lost (no writeQuorum here). The load writes one key at a time, so at most a
    // handful of writes fit in that instant.
    expect(outcome.lost).toBeLessThanOrEqual(5);
  });

  it('a mid-tier replica killed: its child keeps or regains a parent', async () => {
    await settle(ns, name);
    const rr = await getRR(ns, name);
    const mid = rr.status!.nodes!.find((n) => n.tier === 1 && rr.status!.nodes!.some((c) => c.parent === n.name))!;
    await api().core.deleteNamespacedPod({ name: mid.name, namespace: ns });
    await settle(ns, name);
    const after = await getRR(ns, name);
    expect(after.status!.nodes!.filter((n) => n.tier === 2)).toHaveLength(2);
    expect(after.status!.nodes!.some((n) => n.name === mid.name)).toBe(false);
  });
});

describe.skipIf(!localCluster)('the operator fails too', () => {
  it('an operator killed in the middle of a failover: the next one finishes it', async () => {
    await settle(ns, name);
    await operator.stop();
    const crashing = startOperator({ WATCH_NAMESPACES: ns, RRO_TEST_CRASH_AT: 'after-intent' });
    const from = (await getRR(ns, name)).status!.primary!;
    await api().core.deleteNamespacedPod({ name: from, namespace: ns });
    await waitFor(() => crashing.child.exitCode !== null || crashing.child.signalCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the operator to die at the failover intent',
    });
    const target = (await getRR(ns, name)).status!.targetPrimary;
    expect(target).toBeDefined();
    operator = startOperator({ WATCH_NAMESPACES: ns });
    await settle(ns, name);
    expect((await getRR(ns, name)).status!.primary).toBe(target);
  });

  it('an operator killed after the promotion, before the status records it: the next one keeps that primary', async () => {
    await settle(ns, name);
    await operator.stop();
    const before = await getRR(ns, name);
    const from = before.status!.primary!;
    const crashing = startOperator({ WATCH_NAMESPACES: ns, RRO_TEST_CRASH_AT: 'before-role-status' });
    await api().core.deleteNamespacedPod({ name: from, namespace: ns });
    await waitFor(() => crashing.child.exitCode !== null || crashing.child.signalCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the operator to die before recording the new primary',
    });
    const after = await getRR(ns, name);
    const target = after.status!.targetPrimary!;
    expect(after.status!.primary).toBe(from);
    // The target was promoted: it is a writable master while status still names the deleted pod. The
    // next operator must adopt it, not promote another pod.
    const targetIP = after.status!.nodes!.find((n) => n.name === target)!.podIP!;
    expect(String(await redisCommand(targetIP, ['INFO', 'replication']))).toMatch(/role:master/);
    operator = startOperator({ WATCH_NAMESPACES: ns });
    await settle(ns, name);
    const settled = await getRR(ns, name);
    expect(settled.status!.primary).toBe(target);
    expect(settled.status!.lastFailover?.to).toBe(target);
    expect(await writableMasters(ns, name)).toHaveLength(1);
  });
});

describe.skipIf(!localCluster)('planned switchover and lag-aware reads', () => {
  it('switches over under load with no acknowledged write lost', async () => {
    const outcome = await underLoad(
      'switchover',
      async () => {
        await kubectl(['-n', ns, 'annotate', `rr/${name}`, `${ANNOTATION.switchover}=auto`]);
        await waitFor(async () => !(await getRR(ns, name)).metadata.annotations?.[ANNOTATION.switchover], {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: 'the switchover annotation to be removed',
        });
      },
      { expectNewPrimary: true },
    );
    expect(outcome.lost).toBe(0);
    const events = await api().core.listNamespacedEvent({ namespace: ns });
    expect(events.items.some((e) => e.reason === 'Switchover')).toBe(true);
  });

  it('a lagging replica leaves <name>-read and returns once caught up', async () => {
    await settle(ns, name);
    const rr = await getRR(ns, name);
    const leaf = rr.status!.nodes!.find((n) => n.tier === 2)!;
    const readPods = async () =>
      (await api().core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name},redis.replication.dev/read=true` })).items.map(
        (p) => p.metadata!.name,
      );
    expect(await readPods()).toContain(leaf.name);
    await freezePod(ns, leaf.name);
    try {
      // maxLagSeconds 2, the first second is the acknowledgement period, plus 2 s to act.
      await waitFor(async () => !(await readPods()).includes(leaf.name), { timeoutMs: 7_000, intervalMs: 100, what: `${leaf.name} out of ${name}-read` });
      // The label moves first and the status is written at the end of the same pass: wait for it too.
      await waitFor(async () => (await getRR(ns, name)).status!.nodes!.find((n) => n.name === leaf.name)?.read === false, {
        timeoutMs: 5_000,
        intervalMs: 100,
        what: `${leaf.name} read=false in status`,
      });
    } finally {
      await thawPod(ns, leaf.name);
    }
    await waitFor(async () => (await readPods()).includes(leaf.name), { timeoutMs: 15_000, intervalMs: 100, what: `${leaf.name} back in ${name}-read` });
    await checkInvariants(ns, name);
  });
});

describe.skipIf(!localCluster)('bounded loss: writeQuorum', () => {
  const wq = 'wq';
  /** The lag (seconds since its last acknowledgement) of every replica, as the primary reports it. */
  const replicaLags = async (ip: string) =>
    [...String(await redisCommand(ip, ['INFO', 'replication'])).matchAll(/^slave\d+:.*,lag=(\d+)/gm)].map((m) => Number(m[1]));
  const minReplicasToWrite = async (ip: string) => ((await redisCommand(ip, ['CONFIG', 'GET', 'min-replicas-to-write'])) as string[])[1];

  it('a primary cut off from its replicas refuses writes with the option, and keeps accepting them without', async () => {
    await createRR(ns, wq, { replicas: 2, writeQuorum: { minReplicas: 1, maxLagSeconds: 2 }, failover: { enabled: true, primaryDownSeconds: 3 } });
    await waitReady(ns, wq);
    await settle(ns, wq);
    const rr = await getRR(ns, wq);
    const primary = rr.status!.primary!;
    const primaryIP = rr.status!.nodes!.find((n) => n.name === primary)!.podIP!;
    expect(await minReplicasToWrite(primaryIP)).toBe('1');
    const svc = await primaryServiceIP(ns, wq);
    const set = (key: string) => redisCommand(svc, ['SET', key, 'v']).then(String, (e: unknown) => String(e));
    expect(await set('wq:before')).toBe('OK');

    // The operator and this client (on the host) still reach the primary; its replicas do not.
    await partitionPod(ns, primary, { fromPodsOnly: true });
    try {
      const refusal = await waitFor(async () => {
        const reply = await set(`wq:cut:${Date.now()}`);
        return reply.includes('NOREPLICAS') ? reply : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200, what: 'writes refused by the primary cut off from its replicas' });
      expect(refusal).toMatch(/NOREPLICAS/);
      expect((await getRR(ns, wq)).status!.primary).toBe(primary);
    } finally {
      await healPod(ns, primary);
    }
    // Writes resume once a replica acknowledges again (its TCP connection retransmits after the heal).
    await waitFor(async () => (await set('wq:healed')) === 'OK', { timeoutMs: 30_000, intervalMs: 200, what: 'writes accepted after the heal' });
    await settle(ns, wq);

    await kubectl(['-n', ns, 'patch', `rr/${wq}`, '--type=merge', '-p', '{"spec":{"writeQuorum":null}}']);
    await waitFor(async () => (await minReplicasToWrite(primaryIP)) === '0', { timeoutMs: 15_000, intervalMs: 200, what: 'min-replicas-to-write reset to 0' });
    await partitionPod(ns, primary, { fromPodsOnly: true });
    try {
      // Twice the former maxLagSeconds without an acknowledgement from any replica: still writable.
      await waitFor(async () => { const lags = await replicaLags(primaryIP); return lags.length === 2 && lags.every((lag) => lag >= 4); }, { timeoutMs: 15_000, intervalMs: 200, what: 'every replica silent for 4 s' });
      expect(await set('wq:unbounded')).toBe('OK');
    } finally {
      await healPod(ns, primary);
    }
    await settle(ns, wq);
    await kubectl(['-n', ns, 'delete', `rr/${wq}`, '--wait=false']);
  });
});

describe.skipIf(!localCluster)('a randomized fault run', () => {
  it('keeps the invariants after each of a seeded sequence of faults, fails over within the bound, and loses no acknowledged write', async () => {
    const seed = Number(process.env['RRO_FAULT_SEED'] ?? 20261124);
    let state = seed;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const faults = ['kill-primary', 'delete-primary', 'kill-replica', 'delete-replica', 'freeze-replica'] as const;
    const log: string[] = [];
    const context = () => `seed ${seed}, after ${log.join('; ')}`;
    let acked = 0;
    for (let step = 0; step < 6; step++) {
      await settle(ns, name);
      const rr = await getRR(ns, name);
      const replicas = rr.status!.nodes!.filter((n) => n.role === 'replica');
      const fault = faults[Math.floor(random() * faults.length)]!;
      const replica = replicas[Math.floor(random() * replicas.length)]!.name;
      log.push(`${step}: ${fault} (${fault.endsWith('primary') ? rr.status!.primary : replica})`);
      // Each fault under the write load of underLoad (which bounds a failover and settles after):
      // every fault of the list keeps what was acknowledged (a killed primary's acknowledged writes
      // are already in its replication sockets, a deleted one hands over, a replica's faults do not
      // touch the primary).
      const outcome = await underLoad(
        `random-${seed}-${step}`,
        async (primary) => {
          switch (fault) {
            case 'kill-primary':
              return killContainer(ns, primary);
            case 'delete-primary':
              return void (await api().core.deleteNamespacedPod({ name: primary, namespace: ns }));
            case 'kill-replica':
              return killContainer(ns, replica);
            case 'delete-replica':
              return void (await api().core.deleteNamespacedPod({ name: replica, namespace: ns }));
            case 'freeze-replica':
              await freezePod(ns, replica);
              await waitFor(async () => (await getRR(ns, name)).status?.phase !== 'Ready', { timeoutMs: 10_000, intervalMs: 100, what: 'the frozen replica noticed' });
              return thawPod(ns, replica);
          }
        },
        { expectNewPrimary: fault.endsWith('primary') },
      ).catch((e: unknown) => {
        throw new Error(`${context()}: ${String(e)}`);
      });
      acked += outcome.acked;
      log.push(`failover ${outcome.failoverMs ?? '-'} ms, acked ${outcome.acked}, lost ${outcome.lost}`);
      expect(outcome.lost, context()).toBe(0);
    }
    console.log(`[failover] random run, seed ${seed}: ${log.join('; ')}; ${acked} writes acknowledged in all, none lost`);
  });
});
