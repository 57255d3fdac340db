// A change rolled under a continuous write load: how long it took, the longest write outage, and
// the acknowledged writes lost (asserted 0), for the day-2 and version-upgrade tests.
import { expect } from 'vitest';
import { primaryServiceIP, settle, writableMasters } from './invariants.js';
import { changeUnderLoad, missingWrites } from './load.js';
import { api, getRR } from './operator.js';

export const podImages = async (ns: string, name: string) =>
  (await api().core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => p.spec!.containers[0]!.image!);

/** Runs `change` under a write load and waits until `done`; returns the outcome and checks nothing was lost. */
export async function rollUnderLoad(ns: string, name: string, label: string, change: () => Promise<void>, done: () => Promise<boolean>) {
  await settle(ns, name);
  const before = await getRR(ns, name);
  const prefix = `${label}:${Date.now()}`;
  const { ms: rollMs, result } = await changeUnderLoad(
    { host: await primaryServiceIP(ns, name), prefix, timeoutMs: 240_000, what: `${label} finished` },
    change,
    done,
    () => settle(ns, name),
  );
  const after = await getRR(ns, name);
  const primaryIP = after.status!.nodes!.find((n) => n.name === after.status!.primary)!.podIP!;
  const lost = (await missingWrites(primaryIP, undefined, prefix, result.acked)).length;
  const outcome = { from: before.status!.primary, to: after.status!.primary, rollMs, longestOutageMs: result.longestGapMs, acked: result.acked.length, lost };
  console.log(`[roll] ${label}: ${JSON.stringify(outcome)}`);
  expect(lost).toBe(0);
  expect(await writableMasters(ns, name)).toHaveLength(1);
  return outcome;
}
