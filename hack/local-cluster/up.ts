// npm run cluster:up
import { up } from './lifecycle.js';

up().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[cluster] cluster:up failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
