// TLS on a real cluster: in a namespace that enforces the restricted Pod Security Standard, a resource
// with tls.enabled and auth speaks TLS only on port 6379 and replicates over TLS; a client that has
// only the published CA connects, a plain one does not; a server certificate issued again reaches the
// running pods through the kubelet's refresh of their Secret volume, and they serve it without a restart.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { serverNames } from '../../src/plan/tls.js';
import { permittedNames } from '../../src/tls/certificates.js';
import { kubectl, kubectlRaw, waitFor } from './support/cluster.js';
import { clusterNodeKind } from '../../hack/local-cluster/common.js';
import { livePods, primaryServiceIP } from './support/invariants.js';
import { api, createAllowedSecret, createRR, operatorNamespace, redisCli, secretValue, waitReady } from './support/operator.js';
import { localCluster } from './support/where.js';

const PASSWORD = 'tls-e2e-password-41c7';
const fixture = operatorNamespace('tls', (ns) =>
  kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']).then(() => undefined),
);

/** The SHA-256 fingerprint of the certificate a pod serves to a new connection. */
function servedFingerprint(ip: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port: 6379, ca, checkServerIdentity: () => undefined }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no TLS handshake with ${ip}`)));
    socket.once('error', reject);
  });
}

describe.skipIf(!localCluster)('TLS with the operator\'s own CA, under the restricted Pod Security Standard', () => {
  it('reaches Ready; redis-cli --tls with only the published CA gets PONG, plain TCP does not; the replica is linked over TLS', async () => {
    const { ns } = fixture;
    await createAllowedSecret(ns, 'sec-auth', 'sec', { password: PASSWORD });
    await createRR(ns, 'sec', { replicas: 1, auth: { secretName: 'sec-auth' }, tls: { enabled: true } });
    const rr = await waitReady(ns, 'sec', 180_000);
    expect(rr.status!.conditions!.find((c) => c.type === 'PodsAdmitted')?.status).toBe('True');
    expect(rr.status!.conditions!.find((c) => c.type === 'SecretsAvailable')?.status).toBe('True');

    // The published CA: a certificate, no key.
    const published = await api().core.readNamespacedSecret({ namespace: ns, name: 'sec-tls-ca' });
    expect(Object.keys(published.data ?? {})).toEqual(['ca.crt']);
    const ca = (await secretValue(ns, 'sec-tls-ca', 'ca.crt'))!;
    expect(new X509Certificate(ca).ca).toBe(true);
    // Name constraints: the CA may sign the resource's Service names only (redis-cli and Redis check the chain with them).
    expect(permittedNames(ca)).toEqual(serverNames('sec', ns));
    const caFile = join(mkdtempSync(join(tmpdir(), 'rro-tls-')), 'ca.crt');
    writeFileSync(caFile, ca);

    const serviceIP = await primaryServiceIP(ns, 'sec');
    // kube-proxy routes the Service once the EndpointSlice has the Ready pod: a moment after status Ready.
    await waitFor(async () => (await redisCli(serviceIP, ['PING'], { password: PASSWORD, cacert: caFile })).stdout.trim() === 'PONG', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'PONG over TLS through sec-primary with only the published CA',
    });
    const plain = await redisCli(serviceIP, ['PING'], { password: PASSWORD });
    expect(plain.stdout.trim()).not.toBe('PONG');

    const primary = rr.status!.nodes!.find((n) => n.role === 'primary')!;
    const replica = rr.status!.nodes!.find((n) => n.role === 'replica')!;
    expect(rr.status!.nodes).toHaveLength(2);
    const written = await redisCli(primary.podIP!, ['SET', 'k', 'v'], { password: PASSWORD, cacert: caFile });
    expect(written.stdout.trim(), written.stderr).toBe('OK');
    await waitFor(
      async () => {
        const info = await redisCli(replica.podIP!, ['INFO', 'replication'], { password: PASSWORD, cacert: caFile });
        const read = await redisCli(replica.podIP!, ['GET', 'k'], { password: PASSWORD, cacert: caFile });
        return info.stdout.includes('master_link_status:up') && info.stdout.includes(`master_host:${primary.podIP}`) && read.stdout.trim() === 'v';
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `${replica.name} linked to ${primary.name} over TLS, with the key written` },
    );
    // Every pod serves the certificate of the operator's copy, which names the Services.
    const cert = new X509Certificate((await secretValue(ns, 'sec-tls', 'tls.crt'))!);
    expect(cert.checkHost(`sec-primary.${ns}.svc`)).toBeDefined();
    for (const node of rr.status!.nodes!) expect(await servedFingerprint(node.podIP!, ca)).toBe(cert.fingerprint256);
  }, 240_000);

  it.skipIf(clusterNodeKind() !== 'kubelet')('a deleted server certificate is issued again and served by the running pods, none restarted', async () => {
    const { ns } = fixture;
    const ca = (await secretValue(ns, 'sec-tls-ca', 'ca.crt'))!;
    const before = new X509Certificate((await secretValue(ns, 'sec-tls', 'tls.crt'))!).fingerprint256;
    const containers = async () => (await livePods(ns, 'sec')).map((p) => `${p.metadata!.uid} ${p.status!.containerStatuses![0]!.containerID} ${p.status!.containerStatuses![0]!.restartCount}`).sort();
    const running = await containers();
    expect(running).toHaveLength(2);
    await api().core.deleteNamespacedSecret({ namespace: ns, name: 'sec-tls' });
    const renewed = await waitFor(async () => {
      const pem = await secretValue(ns, 'sec-tls', 'tls.crt').catch(() => undefined);
      const fingerprint = pem && new X509Certificate(pem).fingerprint256;
      return fingerprint && fingerprint !== before ? fingerprint : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'a new server certificate in sec-tls' });
    const rr = await waitReady(ns, 'sec');
    for (const node of rr.status!.nodes!) {
      await waitFor(async () => (await servedFingerprint(node.podIP!, ca)) === renewed, {
        timeoutMs: 150_000, intervalMs: 1000, what: `${node.name} serving the new certificate`,
      });
    }
    expect(await containers()).toEqual(running);
  }, 240_000);

  it('refuses turning TLS off on the running resource, with a message that says why', async () => {
    const { ns } = fixture;
    const refused = await kubectlRaw(['-n', ns, 'patch', 'redisreplication', 'sec', '--type=merge', '-p', '{"spec":{"tls":{"enabled":false}}}']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/tls\.enabled cannot change/);
  });
});
