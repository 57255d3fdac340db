// npm run sim -- [--seed N] [--schedules N] [--steps N]: runs the fault simulation; a failing seed is
// printed with its trace and replays exactly with --seed.
import { parseArgs } from 'node:util';
import { simulate } from './simulation.js';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, schedules: { type: 'string', default: '2000' }, steps: { type: 'string', default: '40' }, trace: { type: 'boolean', default: false } },
});
const steps = Number(values.steps);
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.schedules) }, (_, i) => i + 1);
const started = performance.now();
let failed = 0;
for (const seed of seeds) {
  const result = await simulate(seed, steps);
  if (result.violation || values.trace) console.log(result.trace.map((l) => `  ${l}`).join('\n'));
  if (result.violation) {
    failed++;
    console.log(`seed ${seed}: ${result.violation}\n  replay: npm run sim -- --seed ${seed}`);
  }
}
console.log(`${seeds.length} schedules, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = failed > 0 ? 1 : 0;
