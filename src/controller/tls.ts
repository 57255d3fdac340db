// TLS phase: the certificate every pod mounts is the operator's copy, `<name>-tls` (as the password
// is, for auth), taken from the user's Secret or issued by the operator's own CA and renewed before
// it expires. A renewal restarts nothing: the kubelet refreshes the Secret volume, and each pod is
// told to re-read its files until the certificate it serves is the new one. A missing or unusable
// Secret, or one the resource may not use (plan/secrets.ts), is reported, and the pods keep the
// certificate they have.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { tlsCaKeySecretName, tlsCaSecretName, tlsSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import type { SecretIssue, SecretUse } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import { CA_LIFETIME_DAYS, CERT_LIFETIME_DAYS, caBundle, certificateReloadPath, needsRenewal, serverNames, TLS_KEYS } from '../plan/tls.js';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate, type KeyPair } from '../tls/certificates.js';
import { redisTarget, type Deps, type Pass, type TlsState } from './pass.js';
import { optionalKey, SecretMissing, SecretProblem, upsertSecret } from './secrets.js';

/** How often each pod's served certificate is compared with the wanted one: a TLS handshake per pod,
 * so not at every health poll; renewals leave weeks of validity, so this is no hurry. */
export const TLS_CHECK_INTERVAL_MS = 60_000;

interface Material extends KeyPair {
  ca: string;
}

type Found = { material: Material; problem?: undefined } | { material?: undefined; problem: SecretIssue };

export async function resolveTls(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec): Promise<TlsState | undefined> {
  if (!spec.tls?.enabled) return undefined;
  const { namespace, name } = rr.metadata;
  const names = serverNames(name, namespace);
  const copy = await readMaterial(deps, rr, tlsSecretName(name), 'owned');
  // A `<name>-tls` the operator did not make is neither mounted nor overwritten.
  if (copy.problem && copy.problem.reason !== 'SecretMissing') return tlsState(undefined, names, copy.problem);
  let applied = copy.material;
  const wanted = spec.tls.secretName ? await fromSecret(deps, rr, spec.tls.secretName) : await fromOwnCa(deps, rr, applied, names);
  let problem = wanted.problem;
  if (wanted.material) {
    const next = { ...wanted.material, ca: caBundle(wanted.material.ca, applied?.ca) };
    if (next.cert !== applied?.cert || next.key !== applied.key || next.ca !== applied.ca) {
      await upsertSecret(deps, rr, tlsSecretName(name), { [TLS_KEYS.cert]: next.cert, [TLS_KEYS.key]: next.key, [TLS_KEYS.ca]: next.ca });
      const what = applied ? 'renewed: the pods re-read it, no pod restarts' : 'issued';
      await deps.events.record(rr, 'Normal', applied ? 'CertificateRenewed' : 'CertificateIssued', `TLS certificate ${what}`);
      applied = next;
    }
    if (!spec.tls.secretName) problem = await publishCa(deps, rr, applied.ca);
  }
  return tlsState(applied, names, problem);
}

function tlsState(applied: Material | undefined, names: string[], problem: SecretIssue | undefined): TlsState {
  const facts = applied && describeCertificate(applied.cert);
  return {
    client: applied && { ca: applied.ca, serverNames: names },
    fingerprint: facts?.fingerprint,
    notAfterMs: facts?.notAfterMs,
    problem: problem && { ...problem, message: `${problem.message}; ${applied ? 'the pods keep the certificate they have' : 'no pod is created until it is fixed'}` },
  };
}

/** Pods serving another certificate than the wanted one re-read their files. The kubelet refreshes a
 * Secret volume a minute or so after the Secret changed: a pod told too early re-reads the old
 * files, harmlessly, and is told again at the next check. */
export async function reloadCertificates(pass: Pass, observed: ObservedPod[]): Promise<void> {
  const { deps, memory, tls } = pass;
  if (!tls?.client || !tls.fingerprint) return;
  if (memory.tlsCheckedAtMs !== undefined && deps.now() - memory.tlsCheckedAtMs < TLS_CHECK_INTERVAL_MS) return;
  memory.tlsCheckedAtMs = deps.now();
  for (const pod of observed.filter((p) => p.info && p.podIP && !p.deleting)) {
    const target = { ...redisTarget(pass, pod.podIP!), tls: tls.client };
    try {
      if ((await deps.redis.servedCertificate(target)) === tls.fingerprint) continue;
      const current = await deps.redis.command(target, ['CONFIG', 'GET', 'tls-cert-file']);
      await deps.redis.configSet(target, 'tls-cert-file', certificateReloadPath(current));
      pass.log.info({ pod: pod.name }, 'pod serves an old certificate: told it to re-read its files');
    } catch (err) {
      pass.log.warn({ pod: pod.name, err: String(err) }, 'could not check the certificate a pod serves');
    }
  }
}

/** The user's Secret, if it may be used and holds a certificate, its key and the CA that signed it. */
async function fromSecret(deps: Deps, rr: RedisReplication, secretName: string): Promise<Found> {
  const found = await readMaterial(deps, rr, secretName, 'named');
  if (!found.material) return found;
  const unusable = checkKeyPair(found.material, found.material.ca);
  return unusable ? { problem: { reason: 'SecretInvalid', message: `Secret ${secretName}: ${unusable}` } } : found;
}

/** The applied certificate while it is fresh, else a new one from the operator's CA. */
async function fromOwnCa(deps: Deps, rr: RedisReplication, applied: Material | undefined, names: string[]): Promise<Found> {
  let ca: KeyPair;
  try {
    ca = await ensureCa(deps, rr);
  } catch (err) {
    if (err instanceof SecretProblem) return { problem: { reason: err.reason, message: err.message } };
    throw err;
  }
  const facts = applied && describeCertificate(applied.cert);
  const fresh =
    applied &&
    facts &&
    !needsRenewal(facts, deps.now()) &&
    names.every((n) => facts.names.includes(n)) &&
    checkKeyPair(applied, ca.cert) === undefined;
  if (fresh) return { material: { cert: applied.cert, key: applied.key, ca: ca.cert } };
  const issued = await issueServerCertificate(ca, names, deps.now(), CERT_LIFETIME_DAYS);
  return { material: { ...issued, ca: ca.cert } };
}

/** The operator's CA for the resource, created the first time; its key is in a Secret no pod mounts.
 * Throws SecretProblem when a Secret of that name is not the operator's. */
async function ensureCa(deps: Deps, rr: RedisReplication): Promise<KeyPair> {
  const { namespace, name } = rr.metadata;
  const secretName = tlsCaKeySecretName(name);
  const read = async () => ({ cert: await deps.passwords.get(rr.metadata, secretName, 'owned', 'ca.crt'), key: await deps.passwords.get(rr.metadata, secretName, 'owned', 'ca.key') });
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof SecretMissing)) throw err;
  }
  const ca = await createCertificateAuthority(`${namespace}/${name} redis CA`, deps.now(), CA_LIFETIME_DAYS);
  // Another pass may have created it meanwhile: then its CA is the one.
  await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, secretName, { 'ca.crt': ca.cert, 'ca.key': ca.key })));
  deps.passwords.forget(namespace, secretName);
  return read();
}

/** `<name>-tls-ca`: the CAs clients should trust, without any key; why it cannot be, if so. */
async function publishCa(deps: Deps, rr: RedisReplication, ca: string): Promise<SecretIssue | undefined> {
  const secretName = tlsCaSecretName(rr.metadata.name);
  try {
    const published = await optionalKey(deps, rr, secretName, 'owned', TLS_KEYS.ca);
    if (published !== ca) await upsertSecret(deps, rr, secretName, { [TLS_KEYS.ca]: ca });
    return undefined;
  } catch (err) {
    if (err instanceof SecretProblem) return { reason: err.reason, message: err.message };
    throw err;
  }
}

async function readMaterial(deps: Deps, rr: RedisReplication, secretName: string, use: SecretUse): Promise<Found> {
  try {
    const get = (key: string) => deps.passwords.get(rr.metadata, secretName, use, key);
    return { material: { cert: await get(TLS_KEYS.cert), key: await get(TLS_KEYS.key), ca: await get(TLS_KEYS.ca) } };
  } catch (err) {
    if (err instanceof SecretProblem) return { problem: { reason: err.reason, message: err.message } };
    throw err;
  }
}
