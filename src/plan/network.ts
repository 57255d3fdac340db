// The NetworkPolicy of a resource's pods: port 6379 is reachable from the resource's own pods
// (replication), from the operator (its namespace), and from the peers the spec lists (the clients);
// nothing else. A password alone still lets every pod of the cluster try it, and with auth off
// it is all there is.
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { baseLabels, LABEL, networkPolicyName, REDIS_PORT } from './names.js';
import { ownerReference } from './specs.js';

/** The label the API server puts on every namespace, with its name (Kubernetes ≥ 1.22). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The policy wanted, or undefined with `networkPolicy.enabled: false`. `operatorNamespace`: where the
 * operator runs, undefined outside a cluster. Then no namespace is let in for it: an operator outside
 * the cluster connects from a node or host address, which no namespace selector matches, and letting
 * in every namespace would defeat the policy (docs/security.md says what to do). */
export function buildNetworkPolicy(rr: RedisReplication, spec: RedisReplicationSpec, operatorNamespace: string | undefined): V1NetworkPolicy | undefined {
  if (!spec.networkPolicy.enabled) return undefined;
  const name = rr.metadata.name;
  const pods = { matchLabels: { [LABEL.instance]: name, [LABEL.name]: 'redis' } };
  const from: V1NetworkPolicyPeer[] = [
    { podSelector: pods },
    ...(operatorNamespace ? [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: operatorNamespace } } }] : []),
    ...(spec.networkPolicy.from as V1NetworkPolicyPeer[]),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: networkPolicyName(name), namespace: rr.metadata.namespace, labels: baseLabels(name), ownerReferences: [ownerReference(rr)] },
    // `_from`: client-node's name for `from` (a reserved word). It serializes only the names it knows,
    // and a rule without `from` lets everyone in: test/unit/plan/network.test.ts checks the wire form.
    spec: { podSelector: pods, policyTypes: ['Ingress'], ingress: [{ _from: from, ports: [{ protocol: 'TCP', port: REDIS_PORT }] }] },
  };
}
