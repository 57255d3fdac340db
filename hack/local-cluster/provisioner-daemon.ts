// The volume provisioner of the kubelet nodes (the node agent provisions its own): StorageClass
// rro-hostpath, and a node-local `local` volume under .cluster/volumes/ for each claim, on the node the
// scheduler picked for it (node-agent/provisioner.ts holds the rules).
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { OWNER_ENV, clusterNodes, clusterPaths, ensureDir } from './common.js';
import { ensureStorageClass, provisionOnce } from './node-agent/provisioner.js';

const paths = clusterPaths(process.env[OWNER_ENV] || undefined);
ensureDir(paths.volumes);
const kc = new k8s.KubeConfig();
kc.loadFromFile(join(paths.pki, 'admin.kubeconfig'));
const core = kc.makeApiClient(k8s.CoreV1Api);
const storage = kc.makeApiClient(k8s.StorageV1Api);
const log = (msg: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
};

let failing = false;
for (let pass = 0; ; pass++) {
  try {
    if (pass % 30 === 0) await ensureStorageClass(storage);
    for (const node of clusterNodes(paths)) await provisionOnce(core, paths, node, log, 'local');
    if (failing) log('recovered');
    failing = false;
  } catch (err) {
    if (!failing) log(`provisioning failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    failing = true;
  }
  await sleep(1000);
}
