// Certificates and kubeconfigs of the local cluster, made with openssl.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must } from '../lib.js';
import { BRIDGE_IP, KUBERNETES_SERVICE_IP, ensureDir, type ClusterPaths } from './common.js';

async function key(path: string): Promise<void> {
  await must('openssl', ['genrsa', '-out', path, '2048']);
}

async function signed(pki: string, name: string, subj: string, ext: string): Promise<void> {
  const k = join(pki, `${name}.key`);
  const csr = join(pki, `${name}.csr`);
  const extFile = join(pki, `${name}.ext`);
  await key(k);
  await must('openssl', ['req', '-new', '-key', k, '-subj', subj, '-out', csr]);
  writeFileSync(extFile, ext);
  await must('openssl', ['x509', '-req', '-in', csr, '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAcreateserial',
    '-days', '3650', '-sha256', '-extfile', extFile, '-out', join(pki, `${name}.crt`)]);
}

/** Creates every certificate that is missing. */
export async function ensureCerts(paths: ClusterPaths): Promise<void> {
  const pki = ensureDir(paths.pki);
  if (!existsSync(join(pki, 'ca.crt'))) {
    await key(join(pki, 'ca.key'));
    await must('openssl', ['req', '-x509', '-new', '-key', join(pki, 'ca.key'), '-subj', '/CN=rro-local-ca', '-days', '3650', '-sha256', '-out', join(pki, 'ca.crt')]);
  }
  const client = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
  if (!existsSync(join(pki, 'apiserver.crt'))) {
    const sans = ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
      'IP:127.0.0.1', `IP:${BRIDGE_IP}`, `IP:${KUBERNETES_SERVICE_IP}`].join(',');
    await signed(pki, 'apiserver', '/CN=kube-apiserver',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans}\n`);
  }
  if (!existsSync(join(pki, 'admin.crt'))) await signed(pki, 'admin', '/O=system:masters/CN=rro-admin', client);
  if (!existsSync(join(pki, 'node.crt'))) await signed(pki, 'node', `/O=system:nodes/CN=system:node:rro-node`, client);
  if (!existsSync(join(pki, 'sa.key'))) {
    await key(join(pki, 'sa.key'));
    await must('openssl', ['rsa', '-in', join(pki, 'sa.key'), '-pubout', '-out', join(pki, 'sa.pub')]);
  }
}

function b64(path: string): string {
  return readFileSync(path).toString('base64');
}

/** A kubelet's own identity (`system:node:<name>` in group `system:nodes`): the API server's Node
 * authorizer and NodeRestriction admission then hold it to its own Node, pods and Secrets, as on a
 * real cluster. */
export async function ensureNodeCert(paths: ClusterPaths, node: string): Promise<string> {
  const name = `node-${node}`;
  if (!existsSync(join(paths.pki, `${name}.crt`))) {
    await signed(paths.pki, name, `/O=system:nodes/CN=system:node:${node}`,
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  }
  return name;
}

export function kubeconfigYaml(paths: ClusterPaths, user: string): string {
  const pki = paths.pki;
  return `apiVersion: v1
kind: Config
clusters:
- name: rro
  cluster:
    server: ${paths.apiServer}
    certificate-authority-data: ${b64(join(pki, 'ca.crt'))}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(join(pki, `${user}.crt`))}
    client-key-data: ${b64(join(pki, `${user}.key`))}
contexts:
- name: rro
  context:
    cluster: rro
    user: ${user}
current-context: rro
`;
}

export function writeKubeconfigs(paths: ClusterPaths): void {
  writeFileSync(join(paths.pki, 'admin.kubeconfig'), kubeconfigYaml(paths, 'admin'), { mode: 0o600 });
  writeFileSync(join(paths.pki, 'node.kubeconfig'), kubeconfigYaml(paths, 'node'), { mode: 0o600 });
}
