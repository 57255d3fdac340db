import { defineConfig } from 'vitest/config';

// Pure: no helm, kubectl or cluster needed.
export const unitProject = { test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/controller/**/*.test.ts'] } };
// The fault simulation: thousands of seeded schedules over the real reconcile code.
export const simProject = { test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: 300_000 } };

export default defineConfig({
  test: {
    projects: [
      unitProject,
      simProject,
      // Needs the binaries of hack/local-cluster/build-binaries.sh (helm, kubectl), no cluster.
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 30_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // One cluster, shared by every file: run files one after another.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
    ],
  },
});
