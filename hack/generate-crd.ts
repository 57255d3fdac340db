// Writes crds/redisreplications.yaml from the zod schemas (npm run crd:generate).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrd } from '../src/api/crd.js';
import { repoRoot } from './lib.js';

const CRD_PATH = join(repoRoot, 'crds', 'redisreplications.yaml');

writeFileSync(CRD_PATH, renderCrd());
console.log(`wrote ${CRD_PATH}`);
