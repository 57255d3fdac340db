// Services: `<name>-primary` and `<name>-read` exist and select what the builders say.
import { isConflict } from '../kube/client.js';
import { semanticEqual } from '../kube/semantic.js';
import { buildServices } from '../plan/specs.js';
import type { Pass } from './pass.js';
import { ignore } from './pods.js';

export async function ensureServices(pass: Pass): Promise<void> {
  const { deps, rr, namespace, name } = pass;
  const existing = new Map(deps.cache.services(namespace, name).map((s) => [s.metadata?.name, s]));
  for (const service of buildServices(rr)) {
    const current = existing.get(service.metadata!.name);
    if (!current) await ignore(isConflict, deps.kube.createService(service));
    else if (!semanticEqual(current.spec?.selector, service.spec!.selector)) {
      await deps.kube.patchServiceSelector(namespace, service.metadata!.name!, service.spec!.selector!);
    }
  }
}
