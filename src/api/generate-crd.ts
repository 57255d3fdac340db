// Writes crds/redisreplications.yaml from the zod schemas (npm run crd:generate).
import { writeFileSync } from 'node:fs';
import { renderCrd } from './crd.js';

export const CRD_PATH = new URL('../../crds/redisreplications.yaml', import.meta.url);

writeFileSync(CRD_PATH, renderCrd());
console.log(`wrote ${CRD_PATH.pathname}`);
