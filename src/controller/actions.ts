// The small, idempotent API actions of a reconcile pass. Each tolerates having been done already.
import type { V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type RedisReplication, type RedisReplicationSpec } from '../api/schema.js';
import { isConflict, isNotFound, mergePatchCustomObjectStatus, mergePatchOptions } from '../kube/client.js';
import { semanticEqual } from '../kube/semantic.js';
import type { Deps } from './deps.js';
import { buildClaim, buildPod, buildServices, type PodPlacement } from './resources.js';

const isAlreadyExists = isConflict;

export async function createPod(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec, placement: PodPlacement): Promise<void> {
  const namespace = rr.metadata.namespace;
  if (spec.persistence.enabled) {
    await ignore(isAlreadyExists, deps.core.createNamespacedPersistentVolumeClaim({ namespace, body: buildClaim(rr, spec, placement.name, placement.tier) }));
  }
  await ignore(isAlreadyExists, deps.core.createNamespacedPod({ namespace, body: buildPod(rr, spec, placement) }));
}

/** Deletes a pod; `fence` skips the grace period so a lost primary cannot come back writable. */
export async function deletePod(deps: Deps, rr: RedisReplication, name: string, opts: { fence?: boolean; withClaim?: boolean } = {}): Promise<void> {
  const namespace = rr.metadata.namespace;
  await ignore(isNotFound, deps.core.deleteNamespacedPod({ name, namespace, ...(opts.fence ? { gracePeriodSeconds: 0 } : {}) }));
  if (opts.withClaim) await ignore(isNotFound, deps.core.deleteNamespacedPersistentVolumeClaim({ name: `data-${name}`, namespace }));
}

export async function patchPodMeta(
  deps: Deps,
  pod: V1Pod,
  labels: Record<string, string>,
  annotations: Record<string, string | null>,
): Promise<void> {
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  await ignore(isNotFound, deps.core.patchNamespacedPod({ name, namespace, body: { metadata: { labels, annotations } } }, mergePatchOptions()));
}

export async function ensureServices(deps: Deps, rr: RedisReplication): Promise<void> {
  const existing = new Map(deps.cache.services(rr.metadata.namespace, rr.metadata.name).map((s) => [s.metadata?.name, s]));
  for (const service of buildServices(rr)) {
    const current = existing.get(service.metadata!.name);
    if (!current) {
      await ignore(isAlreadyExists, deps.core.createNamespacedService({ namespace: rr.metadata.namespace, body: service }));
    } else if (!semanticEqual(current.spec?.selector, service.spec!.selector)) {
      await deps.core.patchNamespacedService(
        { name: service.metadata!.name!, namespace: rr.metadata.namespace, body: { spec: { selector: service.spec!.selector } } },
        mergePatchOptions(),
      );
    }
  }
}

/** Merge-patches the status; `null` values remove fields. */
export async function patchStatus(deps: Deps, rr: RedisReplication, status: Record<string, unknown>): Promise<void> {
  await mergePatchCustomObjectStatus(
    deps.custom,
    { group: GROUP, version: VERSION, plural: PLURAL, namespace: rr.metadata.namespace, name: rr.metadata.name },
    status,
  );
}

export async function removeAnnotation(deps: Deps, rr: RedisReplication, key: string): Promise<void> {
  await deps.custom.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: rr.metadata.namespace,
      name: rr.metadata.name,
      body: { metadata: { annotations: { [key]: null } } },
    },
    mergePatchOptions(),
  );
}

async function ignore(skip: (e: unknown) => boolean, call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!skip(e)) throw e;
  }
}

