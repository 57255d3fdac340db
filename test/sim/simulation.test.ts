// The fault simulation in CI: seeded schedules over the real reconcile code, a fixed range (the same
// schedules every run) and a fresh random range (new schedules every run, its start printed). A
// failure prints the seed and its trace; `npm run sim -- --seed N` replays it exactly.
// RRO_SIM_SCHEDULES sizes the fixed range, RRO_SIM_RANDOM the random one; RRO_SIM_FROM sets the
// random range's start (to replay a CI run's).
import { describe, expect, it } from 'vitest';
import { describeFailure, simulate, simulateRange } from './simulation.js';

const SCHEDULES = Number(process.env['RRO_SIM_SCHEDULES'] ?? 3000);
const RANDOM = Number(process.env['RRO_SIM_RANDOM'] ?? 1000);
// Above the fixed range and the long runs' usual ranges.
const RANDOM_FROM = Number(process.env['RRO_SIM_FROM'] ?? 1_000_000 + Math.floor(Math.random() * 1_000_000_000));

async function keepsEveryInvariant(from: number, count: number): Promise<void> {
  const range = await simulateRange(from, count, { maxFailures: 3 });
  expect(range.failures.map(describeFailure)).toEqual([]);
  // The schedules did write: the invariants were checked against real data.
  expect(range.writes).toBeGreaterThan(count * 10);
}

/** With a bug put in (`apply`, taken out by `undo`), some of seeds 1..`seeds` fail with `message`. */
async function expectSomeToFail(seeds: number, message: string, bug: { apply: () => void; undo: () => void }): Promise<void> {
  bug.apply();
  try {
    const results = [];
    for (let seed = 1; seed <= seeds; seed++) results.push(await simulate(seed));
    expect(results.some((r) => r.violation?.includes(message))).toBe(true);
  } finally {
    bug.undo();
  }
}

// Seeds whose schedules found a bug (each fixed; test/sim/long-runs.md says which), run first: the
// numbers name schedules of this version of the generator, which any change to it reshuffles.
const REGRESSIONS = [205, 534, 557, 856, 1595, 1820, 2004, 2461, 88367336, 88368228, 100188, 101090, 201070, 53480, 61475, 12957, 11559, 29150, 32542, 41047, 94512, 9324, 202446, 204185, 207647, 324225, 410831, 702630, 783783];

describe('fault simulation', () => {
  it('keeps every invariant over the seeds that found bugs', async () => {
    const failures = [];
    for (const seed of REGRESSIONS) {
      const result = await simulate(seed);
      if (result.violation) failures.push(describeFailure(result));
    }
    expect(failures).toEqual([]);
  });

  it(`keeps every invariant over seeds 1..${SCHEDULES}`, () => keepsEveryInvariant(1, SCHEDULES));

  it(`keeps every invariant over ${RANDOM} schedules from a random seed`, () => {
    console.log(`sim: random range from ${RANDOM_FROM}, ${RANDOM} schedules; replay: npm run sim -- --from ${RANDOM_FROM} --schedules ${RANDOM}`);
    return keepsEveryInvariant(RANDOM_FROM, RANDOM);
  });

  it('the checker sees lost data: when volumes forget what they held, schedules fail', async () => {
    const { FakeKube } = await import('../support/fake-kube.js');
    const original = FakeKube.prototype.createPod;
    await expectSomeToFail(200, '', {
      apply: () => {
        FakeKube.prototype.createPod = async function (this: InstanceType<typeof FakeKube>, pod) {
          await original.call(this, pod);
          const s = this.serverOf(pod.metadata!.namespace!, pod.metadata!.name!);
          if (s) s.log = [];
        };
      },
      undo: () => (FakeKube.prototype.createPod = original),
    });
  });

  it('the checker sees a frozen primary nobody notices: with a prober that never probes, schedules fail', async () => {
    const { Prober } = await import('../../src/controller/prober.js');
    const original = Prober.prototype.round;
    await expectSomeToFail(100, 'takes no writes (frozen', {
      apply: () => (Prober.prototype.round = async () => undefined),
      undo: () => (Prober.prototype.round = original),
    });
  });

  it('the checker sees passes that never stop: when every pass asks for another, schedules fail', async () => {
    const { World } = await import('../support/world.js');
    const original = World.prototype.reconcile;
    await expectSomeToFail(20, 'passes still come', {
      apply: () => {
        World.prototype.reconcile = async function (this: InstanceType<typeof World>, rr) {
          await original.call(this, rr);
          return { requeueAfterMs: 30_000 };
        };
      },
      undo: () => (World.prototype.reconcile = original),
    });
  });
});
