// Services and disruption budgets: `<name>-primary` and `<name>-read` exist and select what the
// builders say; the PodDisruptionBudgets `<name>-primary` and `<name>-replicas` exist.
import { ignore, isConflict } from '../kube/client.js';
import { semanticEqual } from '../kube/semantic.js';
import { buildDisruptionBudgets, buildServices } from '../plan/specs.js';
import type { Pass } from './pass.js';
import { refuse } from './pods.js';

/** The Services and budgets, all at once: they are independent, and a new resource's first pass
 * would otherwise wait for each API round trip in turn. */
export async function ensureServicesAndBudgets(pass: Pass): Promise<void> {
  await Promise.all([ensureServices(pass), ensureDisruptionBudgets(pass)]);
}

async function ensureServices(pass: Pass): Promise<void> {
  const { deps, rr, spec, namespace, name } = pass;
  const existing = new Map(deps.cache.services(namespace, name).map((s) => [s.metadata?.name, s]));
  await Promise.all(
    buildServices(rr, spec).map(async (service) => {
      const current = existing.get(service.metadata!.name);
      if (!current) await refuse(pass, 'service', service.metadata!.name!, deps.kube.createService(service));
      else if (!semanticEqual(current.spec?.selector, service.spec!.selector) || current.spec?.trafficDistribution !== service.spec!.trafficDistribution) {
        await deps.kube.patchServiceSpec(namespace, service.metadata!.name!, { selector: service.spec!.selector!, trafficDistribution: service.spec!.trafficDistribution ?? null });
      }
    }),
  );
}

/** The budgets never change: created once per operator process, an existing one is left alone. */
async function ensureDisruptionBudgets(pass: Pass): Promise<void> {
  if (pass.memory.budgetsEnsured) return;
  await Promise.all(buildDisruptionBudgets(pass.rr).map((budget) => ignore(isConflict, pass.deps.kube.createDisruptionBudget(budget))));
  pass.memory.budgetsEnsured = true;
}
