// TLS decisions: the names a server certificate covers, when it is renewed, which CAs the pods and
// the operator trust, and how a running Redis is made to re-read its certificate files.
import { primaryServiceName, readServiceName } from './names.js';

/** Where the TLS Secret is mounted in every pod; the key names are cert-manager's. */
export const TLS_DIR = '/etc/redis-tls';
export const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** The operator's CA lives long (clients pin it); the certificates it issues are short-lived and
 * renewed once a third of their lifetime is left, long before a missed renewal could hurt. A CA is
 * renewed the same way (a third of ten years), with an overlap (caStep). */
export const CA_LIFETIME_DAYS = 3650;
export const CERT_LIFETIME_DAYS = 90;

/** How long a new CA is trusted before certificates are issued from it, and the old one still trusted
 * after the last pod serves a certificate of the new one: time for the kubelet to refresh every pod's
 * Secret volume and for clients to fetch `<name>-tls-ca` again. */
export const CA_OVERLAP_MS = 7 * 86_400_000;

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

/** The operator's CA of a resource, as its Secret holds it. */
interface CaFacts extends Validity {
  /** The DNS names its name constraints permit; undefined without name constraints. */
  permitted: string[] | undefined;
}

export interface CaState {
  /** The CA that issues the server certificate. */
  current: CaFacts;
  /** A newer CA, trusted beside the current one, not issuing yet. */
  next?: Validity | undefined;
  /** Whether the CA the current one replaced is still trusted. */
  previous: boolean;
}

/**
 * The next step of the renewal of a resource's CA, with an overlap in both directions so that no
 * peer ever meets a certificate it does not trust:
 * - `begin`: the current CA is in its last third (or expired), or its name constraints are not
 *   exactly `names` (a CA made before name constraints, or the names changed): a new CA is made and
 *   trusted beside it; certificates are still issued by the current one.
 * - `switch`: the new CA has been trusted for CA_OVERLAP_MS (at once if the current one expired):
 *   it becomes the current one and the certificate is reissued from it; the old one stays trusted.
 * - `drop`: every pod serves the certificate of the new CA (`servedEverywhere`), issued at
 *   `issuedAtMs`, for CA_OVERLAP_MS: the old CA is no longer trusted.
 */
export function caStep(ca: CaState, names: readonly string[], nowMs: number, issuedAtMs: number, servedEverywhere: boolean): 'keep' | 'begin' | 'switch' | 'drop' {
  const expired = nowMs >= ca.current.notAfterMs;
  if (ca.next) return expired || nowMs - ca.next.notBeforeMs >= CA_OVERLAP_MS ? 'switch' : 'keep';
  if (ca.previous) return servedEverywhere && nowMs - issuedAtMs >= CA_OVERLAP_MS ? 'drop' : 'keep';
  return expired || needsRenewal(ca.current, nowMs) || !sameNames(ca.current.permitted, names) ? 'begin' : 'keep';
}

function sameNames(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
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
