import { defineConfig } from 'vitest/config';

// Pure: no helm, kubectl or cluster needed.
export const unitProject = { test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/controller/**/*.test.ts'] } };
// The fault simulation: thousands of seeded schedules over the real reconcile code.
export const simProject = { test: { name: 'sim', include: ['test/sim/**/*.test.ts'], testTimeout: 300_000 } };
// Faults that reach past a file's own namespace: drains, cordons and node-down faults move every pod on
// a node, and an API server restart breaks every client's connections, whichever file it belongs to.
const CLUSTER_FAULTS = ['test/e2e/nodes.test.ts', 'test/e2e/node-loss.test.ts', 'test/e2e/day2.test.ts', 'test/e2e/api-server.test.ts'];
const E2E = { testTimeout: 180_000, hookTimeout: 300_000, globalSetup: ['test/e2e/global-setup.ts'] };

export default defineConfig({
  test: {
    projects: [
      unitProject,
      simProject,
      // Needs the binaries of hack/local-cluster/build-binaries.sh (helm, kubectl), no cluster.
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 30_000 } },
      // One cluster for every e2e file. The files that drain or take down whole nodes or restart the API server run first, one after
      // another; then the rest, two at a time: each works in namespaces of its own with an operator
      // that watches only those (support/operator.ts), so they share the nodes, not the resources.
      {
        test: {
          name: 'e2e-nodes',
          include: CLUSTER_FAULTS,
          fileParallelism: false,
          // groupOrder 0 with one worker would put them in vitest's last group.
          sequence: { groupOrder: 1 },
          ...E2E,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: CLUSTER_FAULTS,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
          ...E2E,
        },
      },
    ],
  },
});
