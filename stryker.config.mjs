// npm run test:mutation (docs/development.md): mutation testing of the decisions in src/plan and of the
// safety-critical controller phases, against the unit project (test/unit, test/controller). Slow, so
// not in CI: run it in chunks (`npm run test:mutation -- --mutate src/plan/primary.ts`); incremental
// mode keeps every result whose code and covering tests did not change, so a rerun only tests what
// changed. test/mutation/survivors.md lists the scores and explains every surviving mutant.
/** @type {import('@stryker-mutator/core').PartialStrykerOptions} */
export default {
  mutate: ['src/plan/**/*.ts', 'src/controller/roles.ts', 'src/controller/reconcile.ts', 'src/controller/pods.ts'],
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.unit.config.ts' },
  // A mutant that does not type-check is dropped before any test runs.
  checkers: ['typescript'],
  tsconfigFile: 'test/mutation/tsconfig.json',
  coverageAnalysis: 'perTest',
  // The machine is shared: one test runner, one checker.
  concurrency: 1,
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  ignorePatterns: ['dist', '.cluster', 'test-results', 'bench/results', 'reports'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
};
