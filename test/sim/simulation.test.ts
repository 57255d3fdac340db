// The fault simulation in CI: thousands of seeded schedules over the real reconcile code. A failure
// prints the seed and its trace; `npm run sim -- --seed N` replays it exactly. RRO_SIM_SCHEDULES
// runs more (the long run: RRO_SIM_SCHEDULES=50000).
import { describe, expect, it } from 'vitest';
import { simulate } from './simulation.js';

const SCHEDULES = Number(process.env['RRO_SIM_SCHEDULES'] ?? 3000);

describe('fault simulation', () => {
  it(`keeps every invariant over ${SCHEDULES} seeded schedules`, async () => {
    const failures: string[] = [];
    let writes = 0;
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const result = await simulate(seed);
      writes += result.writes;
      if (result.violation) failures.push(`seed ${seed}: ${result.violation}\n${result.trace.join('\n')}\nreplay: npm run sim -- --seed ${seed}`);
      if (failures.length >= 3) break;
    }
    expect(failures).toEqual([]);
    // The schedules did write: the invariants were checked against real data.
    expect(writes).toBeGreaterThan(SCHEDULES * 10);
  });

  it('the checker sees lost data: when volumes forget what they held, schedules fail', async () => {
    const { FakeKube } = await import('../support/fake-kube.js');
    const original = FakeKube.prototype.createPod;
    FakeKube.prototype.createPod = async function (this: InstanceType<typeof FakeKube>, pod) {
      await original.call(this, pod);
      const s = this.serverOf(pod.metadata!.namespace!, pod.metadata!.name!);
      if (s) s.log = [];
    };
    try {
      const results = [];
      for (let seed = 1; seed <= 200; seed++) results.push(await simulate(seed));
      expect(results.some((r) => r.violation !== undefined)).toBe(true);
    } finally {
      FakeKube.prototype.createPod = original;
    }
  });
});
