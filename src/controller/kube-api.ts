// KubeApi over client-node: the few verbs the operator uses, each one API request.
import { GROUP, PLURAL, VERSION } from '../api/schema.js';
import { BACKUP_PLURAL } from '../api/backup.js';
import { mergePatchOptions, type Clients } from '../kube/client.js';
import type { KubeApi } from './pass.js';

export function kubeApi({ core, custom, policy, networking }: Pick<Clients, 'core' | 'custom' | 'policy' | 'networking'>): KubeApi {
  const resource = (namespace: string, name: string) => ({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name });
  return {
    createPod: async (pod) => void (await core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod })),
    deletePod: async (namespace, name, graceSeconds) =>
      void (await core.deleteNamespacedPod({ namespace, name, ...(graceSeconds === undefined ? {} : { gracePeriodSeconds: graceSeconds }) })),
    patchPodMeta: async (namespace, name, labels, annotations) =>
      void (await core.patchNamespacedPod({ namespace, name, body: { metadata: { labels, annotations } } }, mergePatchOptions())),
    createClaim: async (claim) => void (await core.createNamespacedPersistentVolumeClaim({ namespace: claim.metadata!.namespace!, body: claim })),
    deleteClaim: async (namespace, name) => void (await core.deleteNamespacedPersistentVolumeClaim({ namespace, name })),
    patchClaimAnnotations: async (namespace, name, annotations) =>
      void (await core.patchNamespacedPersistentVolumeClaim({ namespace, name, body: { metadata: { annotations } } }, mergePatchOptions())),
    createService: async (service) => void (await core.createNamespacedService({ namespace: service.metadata!.namespace!, body: service })),
    createDisruptionBudget: async (budget) =>
      void (await policy.createNamespacedPodDisruptionBudget({ namespace: budget.metadata!.namespace!, body: budget })),
    createNetworkPolicy: async (np) => void (await networking.createNamespacedNetworkPolicy({ namespace: np.metadata!.namespace!, body: np })),
    readNetworkPolicy: (namespace, name) => networking.readNamespacedNetworkPolicy({ namespace, name }),
    replaceNetworkPolicy: async (np) =>
      void (await networking.replaceNamespacedNetworkPolicy({ namespace: np.metadata!.namespace!, name: np.metadata!.name!, body: np })),
    deleteNetworkPolicy: async (namespace, name) => void (await networking.deleteNamespacedNetworkPolicy({ namespace, name })),
    patchServiceSpec: async (namespace, name, spec) => void (await core.patchNamespacedService({ namespace, name, body: { spec } }, mergePatchOptions())),
    patchStatus: async (namespace, name, status, resourceVersion) => {
      const body = resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status };
      const updated = (await custom.patchNamespacedCustomObjectStatus({ ...resource(namespace, name), body }, mergePatchOptions())) as {
        metadata?: { resourceVersion?: string };
      };
      return updated.metadata?.resourceVersion;
    },
    patchAnnotations: async (namespace, name, annotations, resourceVersion) => {
      const metadata = resourceVersion === undefined ? { annotations } : { annotations, resourceVersion };
      const updated = (await custom.patchNamespacedCustomObject({ ...resource(namespace, name), body: { metadata } }, mergePatchOptions())) as {
        metadata?: { resourceVersion?: string };
      };
      return updated.metadata?.resourceVersion;
    },
    readSecret: (namespace, name) => core.readNamespacedSecret({ namespace, name }),
    createSecret: async (secret) => void (await core.createNamespacedSecret({ namespace: secret.metadata!.namespace!, body: secret })),
    patchSecretData: async (namespace, name, stringData) =>
      void (await core.patchNamespacedSecret({ namespace, name, body: { stringData } }, mergePatchOptions())),
    patchBackupStatus: async (namespace, name, status) =>
      void (await custom.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace, name, body: { status } }, mergePatchOptions())),
    createBackup: async (backup) =>
      void (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace: backup.metadata.namespace, body: backup })),
    deleteBackup: async (namespace, name) => void (await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace, name })),
  };
}
