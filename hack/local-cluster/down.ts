// npm run cluster:down
import { down } from './lifecycle.js';

down().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[cluster] cluster:down failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
