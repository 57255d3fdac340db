// Writes crds/redisreplications.yaml and crds/redisbackups.yaml from the zod schemas (npm run crd:generate).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderBackupCrd, renderCrd } from '../src/api/crd.js';
import { repoRoot } from './lib.js';

for (const [file, text] of [['redisreplications.yaml', renderCrd()], ['redisbackups.yaml', renderBackupCrd()]] as const) {
  const path = join(repoRoot, 'crds', file);
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
