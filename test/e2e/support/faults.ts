// Faults for tests: the shared implementation is hack/local-cluster/faults.ts (also behind `npm run cluster:fault`).
export * from '../../../hack/local-cluster/faults.js';
