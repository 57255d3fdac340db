// A short, fixed range of the fault simulation, as an extra killer of mutants in the safety rules
// (stryker.safety.config.mjs): the whole simulation is far too slow to run once per mutant, and a
// random range would kill a mutant on one run and not the next. RRO_MUTATION_SIM_SCHEDULES sizes it.
import { expect, it } from 'vitest';
import { describeFailure, simulateRange } from '../sim/simulation.js';

const SCHEDULES = Number(process.env['RRO_MUTATION_SIM_SCHEDULES'] ?? 30);

it(`keeps every invariant over seeds 1..${SCHEDULES}`, async () => {
  const range = await simulateRange(1, SCHEDULES, { maxFailures: 1 });
  expect(range.failures.map(describeFailure)).toEqual([]);
});
