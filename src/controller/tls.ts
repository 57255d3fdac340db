// TLS phase: the certificate every pod mounts is the operator's copy, `<name>-tls` (as the password
// is, for auth), taken from the user's Secret or issued by the operator's own CA and renewed before
// it expires. A renewal restarts nothing: the kubelet refreshes the Secret volume, and each pod is
// told to re-read its files until the certificate it serves is the new one. The own CA is renewed
// too, with an overlap (plan/tls.ts caStep), and may only sign the resource's Service names. A
// missing or unusable Secret, or one the resource may not use (plan/secrets.ts), is reported, and the
// pods keep the certificate they have. Whether the certificate is kept or issued again (and why), each
// step of the CA renewal, and what each Secret is written with are decided in plan/tls.ts
// (planCertificate, caRenewal, copyUpdate); this file reads the Secrets, makes keys, and writes.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { tlsCaKeySecretName, tlsCaSecretName, tlsSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import type { Read, SecretIssue, SecretUse } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import {
  CA_KEYS,
  CA_LIFETIME_DAYS,
  caRenewal,
  CERT_LIFETIME_DAYS,
  certificateReloadPath,
  copyUpdate,
  newCaData,
  ownCaTrust,
  planCertificate,
  serverNames,
  TLS_KEYS,
  tlsProblem,
  wantedMaterial,
  type CaStep,
  type CertificateMaterial,
  type OwnCa,
} from '../plan/tls.js';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate, permittedNames } from '../tls/certificates.js';
import { redisTarget, type Deps, type Pass, type TlsState } from './pass.js';
import { attempt, optionalKey, SecretMissing, upsertSecret } from './secrets.js';

/** How often each pod's served certificate is compared with the wanted one: a TLS handshake per pod,
 * so not at every health poll; renewals leave weeks of validity, so this is no hurry. */
export const TLS_CHECK_INTERVAL_MS = 60_000;

/** What `<name>-tls` should hold, and whether the operator's CA is being renewed. */
interface Wanted {
  material: CertificateMaterial;
  caRenewal: boolean;
}

export async function resolveTls(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec): Promise<TlsState | undefined> {
  if (!spec.tls?.enabled) return undefined;
  const { namespace, name } = rr.metadata;
  const names = serverNames(name, namespace);
  const copy = await readMaterial(deps, rr, tlsSecretName(name), 'owned');
  // A `<name>-tls` the operator did not make is neither mounted nor overwritten.
  if (copy.problem && copy.problem.reason !== 'SecretMissing') return tlsState(undefined, names, copy.problem);
  const fromUserSecret = Boolean(spec.tls.secretName);
  const wanted = spec.tls.secretName ? await fromSecret(deps, rr, spec.tls.secretName) : await fromOwnCa(deps, rr, copy.value, names);
  if (!wanted.value) return tlsState(copy.value, names, wanted.problem);
  const applied = wantedMaterial(wanted.value.material, copy.value, fromUserSecret);
  const update = copyUpdate(copy.value, applied);
  if (update) {
    await upsertSecret(deps, rr, tlsSecretName(name), update.data);
    await deps.events.record(rr, 'Normal', update.event.reason, update.event.message);
  }
  const problem = fromUserSecret ? undefined : await publishCa(deps, rr, applied.ca);
  return tlsState(applied, names, problem, wanted.value.caRenewal);
}

function tlsState(applied: CertificateMaterial | undefined, names: string[], problem: SecretIssue | undefined, caRenewal = false): TlsState {
  const facts = applied && describeCertificate(applied.cert);
  return {
    client: applied && { ca: applied.ca, serverNames: names },
    fingerprint: facts?.fingerprint,
    validity: facts && { notBeforeMs: facts.notBeforeMs, notAfterMs: facts.notAfterMs },
    caRenewal,
    problem: problem && tlsProblem(problem, applied !== undefined),
  };
}

/** Whether the certificate each pod serves is still to be checked: not yet found everywhere since it
 * was applied (or since this operator started), or the CA being renewed. A pod that starts later
 * mounts the Secret as it is then: once every pod served the certificate, none goes back. */
export function tlsCheckPending(pass: Pass): boolean {
  const { tls, memory } = pass;
  return tls?.fingerprint !== undefined && (tls.caRenewal || memory.tlsServedEverywhere !== tls.fingerprint);
}

/** Pods serving another certificate than the wanted one re-read their files. The kubelet refreshes a
 * Secret volume a minute or so after the Secret changed: a pod told too early re-reads the old
 * files, harmlessly, and is told again at the next check. */
export async function reloadCertificates(pass: Pass, observed: ObservedPod[]): Promise<void> {
  const { deps, memory, tls } = pass;
  if (!tls?.client || !tls.fingerprint || !tlsCheckPending(pass)) return;
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
async function fromSecret(deps: Deps, rr: RedisReplication, secretName: string): Promise<Read<Wanted>> {
  const found = await readMaterial(deps, rr, secretName, 'named');
  if (!found.value) return found;
  const unusable = checkKeyPair(found.value, found.value.ca);
  return unusable ? { problem: { reason: 'SecretInvalid', message: `Secret ${secretName}: ${unusable}` } } : { value: { material: found.value, caRenewal: false } };
}

/** The certificate of the operator's CA as planCertificate says: the applied one kept, or a new one
 * issued; the CA renewed a step when it is due (plan/tls.ts caStep). */
async function fromOwnCa(deps: Deps, rr: RedisReplication, applied: CertificateMaterial | undefined, names: string[]): Promise<Read<Wanted>> {
  const read = await attempt(() => ensureCa(deps, rr, names));
  if (!read.value) return read;
  let ca = read.value;
  const key = `${rr.metadata.namespace}/${rr.metadata.name}`;
  const memory = deps.memory.get(key);
  if (memory && memory.caPermitted?.cert !== ca.current.cert) memory.caPermitted = { cert: ca.current.cert, names: permittedNames(ca.current.cert) };
  const plan = planCertificate({
    names,
    nowMs: deps.now(),
    ca: {
      current: { ...describeCertificate(ca.current.cert)!, permitted: memory?.caPermitted?.names ?? permittedNames(ca.current.cert) },
      next: ca.next && describeCertificate(ca.next.cert),
      previous: ca.previous !== undefined,
    },
    applied: applied && {
      facts: describeCertificate(applied.cert),
      faultWithCurrent: checkKeyPair(applied, ca.current.cert),
      faultWithNext: ca.next && checkKeyPair(applied, ca.next.cert),
    },
    servedEverywhere: memory?.tlsServedEverywhere,
  });
  if (plan.caStep !== 'keep') ca = await renewCa(deps, rr, ca, plan.caStep, names);
  const trust = ownCaTrust(ca);
  const { certificate } = plan;
  if (certificate.action === 'keep' && applied) return { value: { material: { cert: applied.cert, key: applied.key, ca: trust.bundle }, caRenewal: trust.renewing } };
  if (certificate.action === 'reissue') deps.log.info({ resource: key, reason: certificate.reason, detail: certificate.detail }, 'issuing a new TLS certificate');
  const issued = await issueServerCertificate(ca.current, names, deps.now(), CERT_LIFETIME_DAYS);
  return { value: { material: { ...issued, ca: trust.bundle }, caRenewal: trust.renewing } };
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
  // Another pass may have created it meanwhile: then its CA is the one.
  await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, secretName, newCaData(await newCa(deps, rr, names)))));
  deps.passwords.forget(namespace, secretName);
  return read();
}

const newCa = (deps: Deps, rr: RedisReplication, names: string[]) =>
  createCertificateAuthority(`${rr.metadata.namespace}/${rr.metadata.name} redis CA`, deps.now(), CA_LIFETIME_DAYS, names);

/** One step of a CA renewal (plan/tls.ts caRenewal), written to `<name>-tls-ca-key` with an Event; the CA as it then is. */
async function renewCa(deps: Deps, rr: RedisReplication, ca: OwnCa, step: Exclude<CaStep, 'keep'>, names: string[]): Promise<OwnCa> {
  const renewal = caRenewal(ca, step === 'begin' ? { step, made: await newCa(deps, rr, names) } : { step });
  if (!renewal) return ca;
  await upsertSecret(deps, rr, tlsCaKeySecretName(rr.metadata.name), renewal.data);
  await deps.events.record(rr, 'Normal', 'CARenewal', `TLS CA renewal: ${renewal.note}`);
  return renewal.ca;
}

/** `<name>-tls-ca`: the CAs clients should trust, without any key; why it cannot be, if so. */
async function publishCa(deps: Deps, rr: RedisReplication, ca: string): Promise<SecretIssue | undefined> {
  const secretName = tlsCaSecretName(rr.metadata.name);
  const published = await attempt(() => optionalKey(deps, rr, secretName, 'owned', TLS_KEYS.ca));
  if (published.problem) return published.problem;
  if (published.value === ca) return undefined;
  return (await attempt(() => upsertSecret(deps, rr, secretName, { [TLS_KEYS.ca]: ca }))).problem;
}

function readMaterial(deps: Deps, rr: RedisReplication, secretName: string, use: SecretUse): Promise<Read<CertificateMaterial>> {
  const get = (key: string) => deps.passwords.get(rr.metadata, secretName, use, key);
  return attempt(async () => ({ cert: await get(TLS_KEYS.cert), key: await get(TLS_KEYS.key), ca: await get(TLS_KEYS.ca) }));
}
