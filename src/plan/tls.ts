// TLS decisions: the names a server certificate covers, when it is renewed, which CAs the pods and
// the operator trust, and how a running Redis is made to re-read its certificate files.
import { primaryServiceName, readServiceName } from './names.js';

/** Where the TLS Secret is mounted in every pod; the key names are cert-manager's. */
export const TLS_DIR = '/etc/redis-tls';
export const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** The operator's CA lives long (clients pin it); the certificates it issues are short-lived and
 * renewed once a third of their lifetime is left, long before a missed renewal could hurt. */
export const CA_LIFETIME_DAYS = 3650;
export const CERT_LIFETIME_DAYS = 90;

/** DNS names (and the loopback address) a pod's certificate covers: the two Services in every form a
 * client in the cluster may dial, so that clients connecting through a Service can check the name. */
export function serverNames(resource: string, namespace: string): string[] {
  const names = [primaryServiceName(resource), readServiceName(resource)].flatMap((s) => [
    s,
    `${s}.${namespace}`,
    `${s}.${namespace}.svc`,
    `${s}.${namespace}.svc.cluster.local`,
  ]);
  return [...names, 'localhost'];
}

export interface Validity {
  notBeforeMs: number;
  notAfterMs: number;
}

/** Renew when less than a third of the lifetime is left (or the certificate is not valid yet, e.g. a
 * clock that went back). */
export function needsRenewal(cert: Validity, nowMs: number): boolean {
  const lifetime = cert.notAfterMs - cert.notBeforeMs;
  return nowMs < cert.notBeforeMs || cert.notAfterMs - nowMs < lifetime / 3;
}

/** The PEM certificates of a bundle, each ending with a newline. */
export function pemBlocks(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => `${b}\n`);
}

/** The CAs the pods and the operator trust: the wanted ones, and the newest one trusted before that
 * is no longer wanted. When the CA changes, a pod that has not re-read its files yet still serves a
 * certificate of the old CA, and its peers must keep accepting it. */
export function caBundle(wanted: string, applied: string | undefined): string {
  const blocks = pemBlocks(wanted);
  const previous = pemBlocks(applied ?? '').find((b) => !blocks.includes(b));
  return [...blocks, ...(previous ? [previous] : [])].join('');
}

/** The value of tls-cert-file that makes a running Redis re-read its certificate, key and CAs
 * (`current`: the CONFIG GET reply). Whether a CONFIG SET that leaves a tls-* value unchanged
 * reloads differs between versions (7.0.15 does; a server that skips unchanged values would not),
 * so every reload changes it, alternating between two spellings of the same path. The kubelet
 * swaps a Secret volume's files at once; should a reload read a certificate and a key of different
 * generations, Redis refuses the set, keeps what it serves, and the next check tries again. */
export function certificateReloadPath(current: string): string {
  const direct = `${TLS_DIR}/${TLS_KEYS.cert}`;
  return current.includes(direct) ? `${TLS_DIR}/./${TLS_KEYS.cert}` : direct;
}
