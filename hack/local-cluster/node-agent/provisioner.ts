// StorageClass rro-hostpath (default, WaitForFirstConsumer) and a provisioner that binds claims to host-path volumes
// under .cluster/volumes/: each agent provisions the claims the scheduler selected its node for, and the PV carries
// nodeAffinity to that node (node-local storage: a pod of the claim is scheduled there from then on).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { rmrf, type ClusterPaths, type NodeSpec } from '../common.js';
import type { Logger } from './pods.js';

export const STORAGE_CLASS = 'rro-hostpath';
export const PROVISIONER = 'rro.local/hostpath';

export async function ensureStorageClass(storage: k8s.StorageV1Api): Promise<void> {
  try {
    await storage.readStorageClass({ name: STORAGE_CLASS });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await storage.createStorageClass({
      body: {
        apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass',
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: PROVISIONER, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true,
      },
    }).catch((e: unknown) => {
      if ((e as { code?: number }).code !== 409) throw e; // another node's agent made it
    });
  }
}

const SELECTED_NODE = 'volume.kubernetes.io/selected-node';

/** The node a PV of ours is bound to by its nodeAffinity. */
function pvNode(pv: k8s.V1PersistentVolume): string | undefined {
  return pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.find((e) => e.key === 'kubernetes.io/hostname')?.values?.[0];
}

/**
 * One pass: provision volumes for pending claims of our class, delete released volumes of ours.
 * `local` volumes (kubelet nodes) get the pod's fsGroup applied by the kubelet, as a real local disk
 * does; the node agent mounts `hostPath` ones.
 */
export async function provisionOnce(core: k8s.CoreV1Api, paths: ClusterPaths, self: NodeSpec, log: Logger, source: 'hostPath' | 'local' = 'hostPath'): Promise<void> {
  const pvcs = await core.listPersistentVolumeClaimForAllNamespaces({});
  const pvs = await core.listPersistentVolume({});
  const byClaim = new Set(pvs.items.map((pv) => pv.spec?.claimRef?.uid).filter(Boolean));
  for (const pvc of pvcs.items) {
    if (pvc.status?.phase !== 'Pending' || pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) continue;
    if ((pvc.spec?.storageClassName ?? STORAGE_CLASS) !== STORAGE_CLASS) continue;
    // The node the scheduler picked for the claim's first pod; none (a claim of an Immediate class): the first node.
    const selected = pvc.metadata?.annotations?.[SELECTED_NODE];
    if (selected ? selected !== self.name : self.index !== 1) continue;
    const uid = pvc.metadata!.uid!;
    if (byClaim.has(uid)) continue;
    const name = `pvc-${uid}`;
    const dir = join(paths.volumes, name);
    mkdirSync(dir, { recursive: true });
    try {
      await core.createPersistentVolume({
        body: {
          apiVersion: 'v1', kind: 'PersistentVolume',
          metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER }, labels: { 'rro.local/claim-namespace': pvc.metadata!.namespace! } },
          spec: {
            capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Delete',
            storageClassName: STORAGE_CLASS,
            volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
            ...(source === 'local' ? { local: { path: dir } } : { hostPath: { path: dir, type: 'DirectoryOrCreate' } }),
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [self.name] }] }] } },
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: pvc.metadata!.namespace!, name: pvc.metadata!.name!, uid },
          },
        },
      });
      log(`provisioned ${name} on ${self.name} for ${pvc.metadata!.namespace}/${pvc.metadata!.name}`);
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  for (const pv of pvs.items) {
    if (pv.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) continue;
    if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') continue;
    if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') continue;
    if ((pvNode(pv) ?? self.name) !== self.name) continue;
    try {
      await core.deletePersistentVolume({ name: pv.metadata!.name! });
      const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
      if (path?.startsWith(paths.volumes + '/')) rmrf(path);
      log(`deleted released ${pv.metadata!.name}`);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}
