// TLS phase: the certificate every pod mounts is the operator's copy, `<name>-tls` (as the password
// is, for auth), taken from the user's Secret or issued by the operator's own CA and renewed before
// it expires. A renewal restarts nothing: the kubelet refreshes the Secret volume, and each pod is
// told to re-read its files until the certificate it serves is the new one. The own CA is renewed
// too, with an overlap (plan/tls.ts caStep), and may only sign the resource's Service names. A
// missing or unusable Secret, or one the resource may not use (plan/secrets.ts), is reported, and the
// pods keep the certificate they have.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { tlsCaKeySecretName, tlsCaSecretName, tlsSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import type { SecretIssue, SecretUse } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import { CA_LIFETIME_DAYS, CERT_LIFETIME_DAYS, caBundle, caStep, certificateReloadPath, needsRenewal, serverNames, TLS_KEYS } from '../plan/tls.js';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate, permittedNames, type KeyPair } from '../tls/certificates.js';
import { redisTarget, type Deps, type Pass, type TlsState } from './pass.js';
import { optionalKey, SecretMissing, SecretProblem, upsertSecret } from './secrets.js';

/** How often each pod's served certificate is compared with the wanted one: a TLS handshake per pod,
 * so not at every health poll; renewals leave weeks of validity, so this is no hurry. */
export const TLS_CHECK_INTERVAL_MS = 60_000;

interface Material extends KeyPair {
  ca: string;
}

type Found = { material: Material; caRenewal?: boolean; problem?: undefined } | { material?: undefined; caRenewal?: undefined; problem: SecretIssue };

/** The keys of `<name>-tls-ca-key`: the CA that issues, the next one during a renewal, and the one
 * it replaced while still trusted. An empty value is an absent key (a merge patch of stringData cannot
 * remove one). */
const CA_KEYS = { cert: 'ca.crt', key: 'ca.key', nextCert: 'next.crt', nextKey: 'next.key', previous: 'previous.crt' } as const;

interface OwnCa {
  current: KeyPair;
  next: KeyPair | undefined;
  previous: string | undefined;
}

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
    // A user's Secret: its new CA is trusted beside the one it replaces. The own CA: exactly the CAs caStep keeps.
    const next = { ...wanted.material, ca: spec.tls.secretName ? caBundle(wanted.material.ca, applied?.ca) : wanted.material.ca };
    if (next.cert !== applied?.cert || next.key !== applied.key || next.ca !== applied.ca) {
      await upsertSecret(deps, rr, tlsSecretName(name), { [TLS_KEYS.cert]: next.cert, [TLS_KEYS.key]: next.key, [TLS_KEYS.ca]: next.ca });
      const what = applied ? 'renewed: the pods re-read it, no pod restarts' : 'issued';
      await deps.events.record(rr, 'Normal', applied ? 'CertificateRenewed' : 'CertificateIssued', `TLS certificate ${what}`);
      applied = next;
    }
    if (!spec.tls.secretName) problem = await publishCa(deps, rr, applied.ca);
  }
  return tlsState(applied, names, problem, wanted.caRenewal);
}

function tlsState(applied: Material | undefined, names: string[], problem: SecretIssue | undefined, caRenewal = false): TlsState {
  const facts = applied && describeCertificate(applied.cert);
  return {
    client: applied && { ca: applied.ca, serverNames: names },
    fingerprint: facts?.fingerprint,
    notAfterMs: facts?.notAfterMs,
    caRenewal,
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
  let everywhere = true;
  for (const pod of observed.filter((p) => p.info && p.podIP && !p.deleting)) {
    const target = { ...redisTarget(pass, pod.podIP!), tls: tls.client };
    try {
      const serves = (await deps.redis.servedCertificate(target)) === tls.fingerprint;
      everywhere &&= serves;
      // While the CA is renewed the CAs to trust change under the same certificate: every pod re-reads them.
      if (serves && !tls.caRenewal) continue;
      const current = await deps.redis.configGet(target, 'tls-cert-file');
      await deps.redis.configSet(target, 'tls-cert-file', certificateReloadPath(current));
      if (!serves) pass.log.info({ pod: pod.name }, 'pod serves an old certificate: told it to re-read its files');
    } catch (err) {
      everywhere = false;
      pass.log.warn({ pod: pod.name, err: String(err) }, 'could not check the certificate a pod serves');
    }
  }
  if (everywhere) memory.tlsServedEverywhere = tls.fingerprint;
  else delete memory.tlsServedEverywhere;
}

/** The user's Secret, if it may be used and holds a certificate, its key and the CA that signed it. */
async function fromSecret(deps: Deps, rr: RedisReplication, secretName: string): Promise<Found> {
  const found = await readMaterial(deps, rr, secretName, 'named');
  if (!found.material) return found;
  const unusable = checkKeyPair(found.material, found.material.ca);
  return unusable ? { problem: { reason: 'SecretInvalid', message: `Secret ${secretName}: ${unusable}` } } : found;
}

/** The applied certificate while it is fresh and of the issuing CA, else a new one from it; the CA
 * renewed a step when it is due (plan/tls.ts caStep). */
async function fromOwnCa(deps: Deps, rr: RedisReplication, applied: Material | undefined, names: string[]): Promise<Found> {
  let ca: OwnCa;
  try {
    ca = await ensureCa(deps, rr, names);
  } catch (err) {
    if (err instanceof SecretProblem) return { problem: { reason: err.reason, message: err.message } };
    throw err;
  }
  const facts = applied && describeCertificate(applied.cert);
  const memory = deps.memory.get(`${rr.metadata.namespace}/${rr.metadata.name}`);
  if (memory && memory.caPermitted?.cert !== ca.current.cert) memory.caPermitted = { cert: ca.current.cert, names: permittedNames(ca.current.cert) };
  const state = {
    current: { ...describeCertificate(ca.current.cert)!, permitted: memory?.caPermitted?.names ?? permittedNames(ca.current.cert) },
    next: ca.next && describeCertificate(ca.next.cert),
    previous: ca.previous !== undefined,
  };
  const step = caStep(state, names, deps.now(), facts?.notBeforeMs ?? 0, facts !== undefined && memory?.tlsServedEverywhere === facts.fingerprint);
  if (step !== 'keep') ca = await renewCa(deps, rr, ca, step, names);
  const trust = [ca.current.cert, ca.next?.cert ?? '', ca.previous ?? ''].join('');
  const caRenewal = ca.next !== undefined || ca.previous !== undefined;
  const fresh =
    applied &&
    facts &&
    !needsRenewal(facts, deps.now()) &&
    names.every((n) => facts.names.includes(n)) &&
    checkKeyPair(applied, ca.current.cert) === undefined;
  if (fresh) return { material: { cert: applied.cert, key: applied.key, ca: trust }, caRenewal };
  const issued = await issueServerCertificate(ca.current, names, deps.now(), CERT_LIFETIME_DAYS);
  return { material: { ...issued, ca: trust }, caRenewal };
}

/** The operator's CA for the resource, created the first time; its key is in a Secret no pod mounts.
 * Throws SecretProblem when a Secret of that name is not the operator's. */
async function ensureCa(deps: Deps, rr: RedisReplication, names: string[]): Promise<OwnCa> {
  const { namespace, name } = rr.metadata;
  const secretName = tlsCaKeySecretName(name);
  const get = (key: string) => deps.passwords.get(rr.metadata, secretName, 'owned', key);
  const optional = (key: string) => optionalKey(deps, rr, secretName, 'owned', key);
  const read = async (): Promise<OwnCa> => {
    const current = { cert: await get(CA_KEYS.cert), key: await get(CA_KEYS.key) };
    const [nextCert, nextKey, previous] = [await optional(CA_KEYS.nextCert), await optional(CA_KEYS.nextKey), await optional(CA_KEYS.previous)];
    return { current, next: nextCert && nextKey ? { cert: nextCert, key: nextKey } : undefined, previous };
  };
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof SecretMissing)) throw err;
  }
  const ca = await newCa(deps, rr, names);
  // Another pass may have created it meanwhile: then its CA is the one.
  await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, secretName, { [CA_KEYS.cert]: ca.cert, [CA_KEYS.key]: ca.key })));
  deps.passwords.forget(namespace, secretName);
  return read();
}

const newCa = (deps: Deps, rr: RedisReplication, names: string[]) =>
  createCertificateAuthority(`${rr.metadata.namespace}/${rr.metadata.name} redis CA`, deps.now(), CA_LIFETIME_DAYS, names);

/** One step of a CA renewal, written to `<name>-tls-ca-key` with an Event; the CA as it then is. */
async function renewCa(deps: Deps, rr: RedisReplication, ca: OwnCa, step: 'begin' | 'switch' | 'drop', names: string[]): Promise<OwnCa> {
  let next: OwnCa;
  let data: Record<string, string>;
  let note: string;
  if (step === 'begin') {
    const made = await newCa(deps, rr, names);
    next = { ...ca, next: made };
    data = { [CA_KEYS.nextCert]: made.cert, [CA_KEYS.nextKey]: made.key };
    note = 'a new CA is trusted beside the current one; certificates are issued from it in a week';
  } else if (step === 'drop') {
    next = { ...ca, previous: undefined };
    data = { [CA_KEYS.previous]: '' };
    note = 'the old CA is no longer trusted';
  } else {
    // caStep switches only to a next CA.
    if (!ca.next) return ca;
    next = { current: ca.next, next: undefined, previous: ca.current.cert };
    data = { [CA_KEYS.cert]: ca.next.cert, [CA_KEYS.key]: ca.next.key, [CA_KEYS.nextCert]: '', [CA_KEYS.nextKey]: '', [CA_KEYS.previous]: ca.current.cert };
    note = 'certificates are issued from the new CA; the old one stays trusted until every pod serves one of the new';
  }
  await upsertSecret(deps, rr, tlsCaKeySecretName(rr.metadata.name), data);
  await deps.events.record(rr, 'Normal', 'CARenewal', `TLS CA renewal: ${note}`);
  return next;
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
