// TLS decisions: the names a server certificate covers, when it is renewed, which CAs the pods and
// the operator trust, and how a running Redis is made to re-read its certificate files.
import { primaryServiceName, readServiceName } from './names.js';
import type { SecretIssue } from './secrets.js';

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

export type CaStep = 'keep' | 'begin' | 'switch' | 'drop';

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
export function caStep(ca: CaState, names: readonly string[], nowMs: number, issuedAtMs: number, servedEverywhere: boolean): CaStep {
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

/** With nothing else waking a resource, its TLS steps that come with time are looked at at least this
 * often: the CA renewal's overlaps (CA_OVERLAP_MS), a user's certificate that expires. */
export const TLS_TIME_CHECK_MS = 86_400_000;

/** Milliseconds until the certificate is due for renewal (at most TLS_TIME_CHECK_MS); undefined when
 * it is due already (the pass that found it so renews it, or reports why it cannot). */
export function tlsDueInMs(cert: Validity, nowMs: number): number | undefined {
  const renewAt = cert.notAfterMs - (cert.notAfterMs - cert.notBeforeMs) / 3;
  return needsRenewal(cert, nowMs) ? undefined : Math.min(Math.max(0, renewAt - nowMs), TLS_TIME_CHECK_MS);
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

/** A certificate (or a CA certificate) and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What `<name>-tls` (and a user's TLS Secret) holds: a certificate, its key and the CAs to trust. */
export interface CertificateMaterial extends KeyPair {
  ca: string;
}

/** What a certificate says (tls/certificates.ts describeCertificate reads it). */
export interface CertificateFacts extends Validity {
  /** SHA-256 fingerprint as Node's TLS reports a peer's (AA:BB:...). */
  fingerprint: string;
  /** The DNS names and IP addresses of the subjectAltName. */
  names: string[];
}

/** The keys of `<name>-tls-ca-key`: the CA that issues, the next one during a renewal, and the one
 * it replaced while still trusted. An empty value is an absent key (a merge patch of stringData cannot
 * remove one). */
export const CA_KEYS = { cert: 'ca.crt', key: 'ca.key', nextCert: 'next.crt', nextKey: 'next.key', previous: 'previous.crt' } as const;

/** The operator's CAs of a resource, as `<name>-tls-ca-key` holds them. */
export interface OwnCa {
  current: KeyPair;
  next: KeyPair | undefined;
  previous: string | undefined;
}

/** Why the certificate `<name>-tls` holds is replaced by a new one of the issuing CA. */
type ReissueReason =
  /** tls.crt is no certificate. */
  | 'unreadable'
  /** Less than a third of its lifetime is left (needsRenewal). */
  | 'expiring'
  /** It does not cover every name of serverNames (the resource's Services). */
  | 'namesChanged'
  /** The CA renewal switches to the new CA this pass. */
  | 'caChanged'
  /** It is not a usable pair of the issuing CA: another key, another CA (`detail` says which). */
  | 'notOfIssuingCa';

export type CertificateAction = { action: 'keep' } | { action: 'issue' } | { action: 'reissue'; reason: ReissueReason; detail?: string };

/** The certificate `<name>-tls` holds, as the controller read it (the facts and checks need X.509). */
interface AppliedCertificate {
  /** undefined when tls.crt is no certificate. */
  facts: CertificateFacts | undefined;
  /** Why it and its key are not a pair issued by the current CA (tls/certificates.ts checkKeyPair). */
  faultWithCurrent: string | undefined;
  /** The same for the next CA, while there is one. */
  faultWithNext: string | undefined;
}

export interface CertificateInput {
  names: readonly string[];
  nowMs: number;
  ca: CaState;
  /** undefined when `<name>-tls` does not exist yet. */
  applied: AppliedCertificate | undefined;
  /** The fingerprint every pod served at the last check, if they all served the same. */
  servedEverywhere: string | undefined;
}

/** With the operator's CA: the step of its renewal (caStep), and whether the certificate the pods
 * have is kept or a new one issued from the CA that issues after that step. It is kept while it is
 * fresh, covers the names, and is a pair of that CA. */
export function planCertificate(input: CertificateInput): { caStep: CaStep; certificate: CertificateAction } {
  const { names, nowMs, ca, applied } = input;
  const facts = applied?.facts;
  const step = caStep(ca, names, nowMs, facts?.notBeforeMs ?? 0, facts !== undefined && input.servedEverywhere === facts.fingerprint);
  return { caStep: step, certificate: certificateAction(applied, names, nowMs, step) };
}

function certificateAction(applied: AppliedCertificate | undefined, names: readonly string[], nowMs: number, step: CaStep): CertificateAction {
  if (!applied) return { action: 'issue' };
  const { facts } = applied;
  if (!facts) return { action: 'reissue', reason: 'unreadable' };
  if (needsRenewal(facts, nowMs)) return { action: 'reissue', reason: 'expiring' };
  if (!names.every((n) => facts.names.includes(n))) return { action: 'reissue', reason: 'namesChanged' };
  // caStep switches only to a next CA, which then issues.
  const fault = step === 'switch' ? applied.faultWithNext : applied.faultWithCurrent;
  if (fault) return { action: 'reissue', reason: step === 'switch' ? 'caChanged' : 'notOfIssuingCa', detail: fault };
  return { action: 'keep' };
}

/** The keys `<name>-tls-ca-key` is created with. */
export function newCaData(ca: KeyPair): Record<string, string> {
  return { [CA_KEYS.cert]: ca.cert, [CA_KEYS.key]: ca.key };
}

export type CaChange = { step: 'begin'; made: KeyPair } | { step: 'switch' | 'drop' };

/** One step of a CA renewal: the CAs after it, the keys of `<name>-tls-ca-key` to write, and what
 * the Event says; undefined when there is nothing to do (a switch with no next CA). `begin` takes
 * the new CA (`made`). */
export function caRenewal(ca: OwnCa, change: CaChange): { ca: OwnCa; data: Record<string, string>; note: string } | undefined {
  switch (change.step) {
    case 'begin':
      return {
        ca: { ...ca, next: change.made },
        data: { [CA_KEYS.nextCert]: change.made.cert, [CA_KEYS.nextKey]: change.made.key },
        note: 'a new CA is trusted beside the current one; certificates are issued from it in a week',
      };
    case 'drop':
      return { ca: { ...ca, previous: undefined }, data: { [CA_KEYS.previous]: '' }, note: 'the old CA is no longer trusted' };
    case 'switch':
      if (!ca.next) return undefined;
      return {
        ca: { current: ca.next, next: undefined, previous: ca.current.cert },
        data: { [CA_KEYS.cert]: ca.next.cert, [CA_KEYS.key]: ca.next.key, [CA_KEYS.nextCert]: '', [CA_KEYS.nextKey]: '', [CA_KEYS.previous]: ca.current.cert },
        note: 'certificates are issued from the new CA; the old one stays trusted until every pod serves one of the new',
      };
  }
}

/** The CAs the pods trust with the operator's CA (exactly those caStep keeps), and whether a
 * renewal is under way (then every pod re-reads them at each check). */
export function ownCaTrust(ca: OwnCa): { bundle: string; renewing: boolean } {
  return { bundle: [ca.current.cert, ca.next?.cert ?? '', ca.previous ?? ''].join(''), renewing: ca.next !== undefined || ca.previous !== undefined };
}

/** What `<name>-tls` is to hold, from the wanted certificate: a user's Secret's CA is trusted
 * beside the one it replaces (caBundle); the own CA's bundle is taken as it is (ownCaTrust). */
export function wantedMaterial(wanted: CertificateMaterial, applied: CertificateMaterial | undefined, fromUserSecret: boolean): CertificateMaterial {
  return fromUserSecret ? { ...wanted, ca: caBundle(wanted.ca, applied?.ca) } : wanted;
}

/** The keys to write to `<name>-tls` and the Event that says so; undefined when it holds `next` already. */
export function copyUpdate(
  applied: CertificateMaterial | undefined,
  next: CertificateMaterial,
): { data: Record<string, string>; event: { reason: 'CertificateIssued' | 'CertificateRenewed'; message: string } } | undefined {
  if (applied && next.cert === applied.cert && next.key === applied.key && next.ca === applied.ca) return undefined;
  return {
    data: { [TLS_KEYS.cert]: next.cert, [TLS_KEYS.key]: next.key, [TLS_KEYS.ca]: next.ca },
    event: applied
      ? { reason: 'CertificateRenewed', message: 'TLS certificate renewed: the pods re-read it, no pod restarts' }
      : { reason: 'CertificateIssued', message: 'TLS certificate issued' },
  };
}

/** A Secret problem as the SecretsAvailable condition says it: with what it means for the pods. */
export function tlsProblem(problem: SecretIssue, applied: boolean): SecretIssue {
  return { ...problem, message: `${problem.message}; ${applied ? 'the pods keep the certificate they have' : 'no pod is created until it is fixed'}` };
}
