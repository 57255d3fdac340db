// Auth phase: what every pod has (the operator's own copy, `<name>-applied-auth`: the default user's
// password, the passwords of the operator's and the replication user, the app users) and the
// password the user's Secret asks for. A password change is rolled onto every pod with no restart
// and no failover: each pod first accepts both passwords (Redis ACL lets the default user hold two);
// once every pod has it, the old one is dropped everywhere and the copy updated. Replicas
// authenticate as the replication user, whose password never changes, so a rotation never touches
// replication. A Secret that is missing or does not allow the resource (plan/secrets.ts), and a copy
// the operator did not make, are reported, never mistaken for unreachable pods. Without
// auth.secretName the password is one the operator generates once, in `<name>-auth`.
import { createHash, randomBytes } from 'node:crypto';
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { AUTH_SECRET_KEYS, authSecretData, parseAuthSecret, type AppliedAuth, type StoredAuth } from '../plan/acl.js';
import { appliedAuthSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import { passwordSecret, type SecretIssue } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import { redisTarget, redisTargetAs, type Deps, type Pass } from './pass.js';
import { optionalKey, SecretProblem } from './secrets.js';

export interface Auth {
  /** What the pods have; undefined only before anything was ever applied and with no Secret, or
   * while the operator's copy is not its own. */
  applied: AppliedAuth | undefined;
  /** What the user's Secret asks for; undefined when it (or its key) is missing or not allowed. */
  wanted: string | undefined;
  problem: SecretIssue | undefined;
}

export async function resolveAuth(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec): Promise<Auth | undefined> {
  const source = passwordSecret(rr.metadata.name, spec);
  if (!source) return undefined;
  let wanted: string | undefined;
  let unusable: SecretProblem | undefined;
  try {
    wanted = source.use === 'named' ? await deps.passwords.get(rr.metadata, source.secretName, 'named') : await generatedPassword(deps, rr, source.secretName);
  } catch (err) {
    if (!(err instanceof SecretProblem)) throw err;
    unusable = err;
  }
  try {
    const applied = await appliedAuth(deps, rr, wanted);
    const consequence = applied ? 'the pods keep the password they have' : 'no pod is created until it can be used';
    return { applied, wanted, problem: unusable && { reason: unusable.reason, message: `${unusable.message}; ${consequence}` } };
  } catch (err) {
    // The operator's copy was made by someone else: its auth.conf is not mounted into any pod.
    if (!(err instanceof SecretProblem)) throw err;
    return { applied: undefined, wanted, problem: { reason: err.reason, message: `${err.message}; no pod is created until it is gone` } };
  }
}

/** The password of `<name>-auth`, which the operator creates when it is missing: with a new password
 * for a resource whose pods have none yet; else with the one they have. The operator never changes
 * that password: a Secret deleted by mistake (or a resource moving off auth.secretName) must not lock
 * out the clients that use it. One it did not create is refused (SecretNotOwned). */
async function generatedPassword(deps: Deps, rr: RedisReplication, secretName: string): Promise<string> {
  const existing = await optionalKey(deps, rr, secretName, 'owned');
  if (existing !== undefined) return existing;
  const kept = (await readApplied(deps, rr))?.password;
  // Another pass may have created it meanwhile: then its password is the one.
  await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, secretName, { password: kept ?? newPassword() })));
  deps.passwords.forget(rr.metadata.namespace, secretName);
  if (kept !== undefined) {
    await deps.events.record(rr, 'Warning', 'AuthSecretRestored', `Secret ${secretName} was missing: re-created with the password the pods have (to change it, edit its key password)`);
  }
  return deps.passwords.get(rr.metadata, secretName, 'owned');
}

/** What the pods have, from the applied-auth Secret; created with `wanted` the first time. */
async function appliedAuth(deps: Deps, rr: RedisReplication, wanted: string | undefined): Promise<AppliedAuth | undefined> {
  const stored = await readApplied(deps, rr);
  const password = stored?.password ?? wanted;
  if (password === undefined) return undefined;
  // The operator's, the replication and the backup user's passwords are made once, here: with the
  // first password, or for a resource created before ACL users (or backups) existed (its running pods get the users
  // from the users phase, which reaches them as the default user meanwhile).
  const applied: AppliedAuth = {
    password,
    previous: stored?.previous,
    operatorPassword: stored?.operatorPassword ?? newPassword(),
    replicationPassword: stored?.replicationPassword ?? newPassword(),
    backupPassword: stored?.backupPassword ?? newPassword(),
    users: stored?.users ?? [],
  };
  if (!stored) {
    // Another pass may have created it meanwhile: then its passwords are the ones.
    await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, appliedAuthSecretName(rr.metadata.name), authSecretData(applied, sha256))));
    deps.passwords.forget(rr.metadata.namespace, appliedAuthSecretName(rr.metadata.name));
    return (await readApplied(deps, rr)) as AppliedAuth;
  }
  if (!stored.operatorPassword || !stored.replicationPassword || !stored.backupPassword) await writeApplied(deps, rr, applied);
  return applied;
}

/** The applied-auth Secret as stored; undefined when it does not exist yet. */
async function readApplied(deps: Deps, rr: RedisReplication): Promise<StoredAuth | undefined> {
  const secretName = appliedAuthSecretName(rr.metadata.name);
  const data: Record<string, string> = {};
  for (const key of AUTH_SECRET_KEYS) {
    const value = await optionalKey(deps, rr, secretName, 'owned', key);
    if (value !== undefined) data[key] = value;
  }
  return parseAuthSecret(data);
}

/** Records what the pods have now (their next start includes the new auth.conf). */
export async function writeApplied(deps: Deps, rr: RedisReplication, applied: AppliedAuth): Promise<void> {
  const secretName = appliedAuthSecretName(rr.metadata.name);
  await deps.kube.patchSecretData(rr.metadata.namespace, secretName, authSecretData(applied, sha256));
  deps.passwords.forget(rr.metadata.namespace, secretName);
}

/** Redis's form of a password in ACL rules (`#hash`): users' passwords are sent and stored so. */
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** 32 random bytes, base64url: the operator's and the replication user's passwords, which nobody
 * types, and the generated default password (shell- and URL-safe, so clients can paste it). */
function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** One step of a password rotation (each pass takes the next). The old password is dropped only
 * once every pod authenticates its replication as the replication user (`usersSynced`): before
 * that, a replica of a resource created before ACL users may still use the default password. Each
 * step is idempotent per pod, and a pod that fails one (no answer in time) is done again at the next
 * pass: the failure is logged (Redis errors carry no secret, see RedisCommands.command) and the pass
 * goes on to write status. */
export async function rotatePassword(pass: Pass, observed: ObservedPod[], usersSynced: boolean): Promise<void> {
  const { deps, rr, auth, newPassword: wanted } = pass;
  if (auth === undefined || wanted === undefined || wanted === auth.password) return;
  const running = observed.filter((p) => !p.deleting && p.podIP);
  const answered = running.filter((p) => p.info);
  const added = await onEveryPod(pass, answered, 'could not give a pod the new password', (ip) =>
    deps.redis.aclSetUser(redisTarget(pass, ip), 'default', ['on', `>${wanted}`]),
  );
  if (!added || answered.length < running.length || !usersSynced) {
    pass.log.info({ waitingFor: running.filter((p) => !p.info).map((p) => p.name) }, 'password rotation waits for every pod');
    return;
  }
  // Authenticated as the default user with the new password: a pod that restarted since with the
  // old one only refuses, and keeps the password it has. `resetpass` then the new one leaves exactly
  // the new one, whether the pod still had the old one or lost it in a pass that stopped part-way.
  const dropped = await onEveryPod(pass, answered, 'could not drop the old password from a pod', (ip) =>
    deps.redis.aclSetUser(redisTargetAs(pass, ip, { password: wanted }), 'default', ['resetpass', `>${wanted}`]),
  );
  if (!dropped) return;
  pass.auth = { ...auth, password: wanted, previous: auth.password };
  await writeApplied(deps, rr, pass.auth);
  await deps.events.record(rr, 'Normal', 'PasswordRotated', `every pod now takes only the password of Secret ${passwordSecret(rr.metadata.name, pass.spec)?.secretName}`);
}

/** Sends a command to every pod at once; whether every one took it (a failure is logged). */
async function onEveryPod(pass: Pass, pods: ObservedPod[], failure: string, send: (ip: string) => Promise<unknown>): Promise<boolean> {
  const results = await Promise.all(
    pods.map((pod) =>
      send(pod.podIP!).then(
        () => true,
        (err: unknown) => {
          pass.log.warn({ pod: pod.name, err: String(err) }, `${failure}; retrying on the next pass`);
          return false;
        },
      ),
    ),
  );
  return results.every(Boolean);
}
