// The tests stryker.safety.config.mjs runs against each mutant of the safety rules: the unit project,
// then a short fixed range of the fault simulation (test/mutation/simulation-short.test.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import unit from './vitest.unit.config.js';

const [unitProject] = unit.test!.projects as [{ test: Record<string, unknown> }];

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    projects: [
      unitProject,
      { test: { name: 'sim-short', include: ['test/mutation/simulation-short.test.ts'], isolate: false, testTimeout: 600_000 } },
    ],
  },
});
