// The safety rules (plan/primary.ts, controller/roles.ts) against the unit project and a short fixed
// range of the fault simulation: slower than stryker.config.mjs, for the mutants the unit project
// leaves alive. `npx stryker run stryker.safety.config.mjs --mutate src/plan/primary.ts:120-140`.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: ['src/plan/primary.ts', 'src/controller/roles.ts'],
  vitest: { configFile: 'test/mutation/vitest.safety.config.ts' },
  // Its own record: a mutant the unit project leaves alive and the simulation kills is still a
  // survivor of `npm run test:mutation`.
  incrementalFile: 'test/mutation/stryker-safety-incremental.json',
  htmlReporter: { fileName: 'reports/mutation-safety/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-safety/mutation.json' },
};
