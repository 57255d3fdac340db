// The tests Stryker runs against each mutant: the unit project (test/unit and test/controller).
// Not isolated: each mutant run re-executes only its test files, not every module they import (the
// Kubernetes client above all), which makes a run several times faster. Stryker switches mutants at
// run time, so cached source modules see each one, except a mutant of a module-level constant, read
// once at load: such a "static" survivor is checked by hand (test/mutation/survivors.md).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { unitProject } from '../../vitest.config.js';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  // Instrumented code on a shared machine is slow: Stryker times each mutant out itself.
  test: { projects: [{ test: { ...unitProject.test, isolate: false, testTimeout: 60_000 } }] },
});
