// The resource's NetworkPolicy (plan/network.ts): created, brought back to the wanted spec, or with
// networkPolicy.enabled false deleted. Not watched: made sure of once per operator process and spec
// change, so an idle resource costs no API call. One of that name that the resource does not own is
// the user's: neither changed nor deleted, and a Warning Event says so.
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { apiErrorCode, apiErrorMessage, isConflict, isNotFound } from '../kube/client.js';
import { semanticEqual } from '../kube/semantic.js';
import { networkPolicyName } from '../plan/names.js';
import { buildNetworkPolicy } from '../plan/network.js';
import { REFUSED_CODES } from '../plan/status.js';
import type { Pass } from './pass.js';

export async function ensureNetworkPolicy(pass: Pass): Promise<void> {
  const { deps, rr, spec, memory } = pass;
  const wanted = buildNetworkPolicy(rr, spec, deps.operatorNamespace);
  const key = wanted ? JSON.stringify(wanted.spec) : 'none';
  if (memory.networkPolicy === key) return;
  try {
    await apply(pass, wanted);
  } catch (err) {
    // A peer of networkPolicy.from the API server refuses: said once, tried again when the spec changes.
    if (!REFUSED_CODES.includes(apiErrorCode(err) ?? 0)) throw err;
    await deps.events.record(rr, 'Warning', 'NetworkPolicyRefused', `NetworkPolicy ${networkPolicyName(rr.metadata.name)} refused: ${apiErrorMessage(err)}`);
  }
  memory.networkPolicy = key;
}

async function apply(pass: Pass, wanted: V1NetworkPolicy | undefined): Promise<void> {
  const { deps, rr, namespace } = pass;
  const name = networkPolicyName(rr.metadata.name);
  if (wanted) {
    try {
      await deps.kube.createNetworkPolicy(wanted);
    } catch (err) {
      if (!isConflict(err)) throw err;
      const current = await deps.kube.readNetworkPolicy(namespace, name);
      if ((await ownedOrReported(pass, current)) && !semanticEqual(current.spec, wanted.spec)) await deps.kube.replaceNetworkPolicy({ ...current, spec: wanted.spec });
    }
  } else {
    const current = await deps.kube.readNetworkPolicy(namespace, name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (current && (await ownedOrReported(pass, current))) await deps.kube.deleteNetworkPolicy(namespace, name);
  }
}

/** Whether the resource owns the policy; if not, a Warning Event (once per process and spec: the
 * caller remembers the spec either way). */
async function ownedOrReported(pass: Pass, policy: V1NetworkPolicy): Promise<boolean> {
  if ((policy.metadata?.ownerReferences ?? []).some((r) => r.uid === pass.rr.metadata.uid)) return true;
  const name = policy.metadata?.name;
  await pass.deps.events.record(pass.rr, 'Warning', 'NetworkPolicyNotOwned', `NetworkPolicy ${name} was not created by the operator for this resource: it is neither changed nor deleted; delete it, or set networkPolicy.enabled false`);
  return false;
}
