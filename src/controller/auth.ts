// Auth phase: what every pod has (the operator's own copy, `<name>-applied-auth`: the default user's
// password, the passwords of the operator's and the replication user, the app users) and the
// password the user's Secret asks for. A password change is rolled onto every pod with no restart
// and no failover: each pod first accepts both passwords (Redis ACL lets the default user hold two);
// once every pod has it, the old one is dropped everywhere and the copy updated. Replicas
// authenticate as the replication user, whose password never changes, so a rotation never touches
// replication. A Secret that is missing or does not allow the resource (plan/secrets.ts), and a copy
// the operator did not make, are reported, never mistaken for unreachable pods. Without
// auth.secretName the password is one the operator generates once, in `<name>-auth`. Which password
// and which Secret contents, and what a refusal says, is decided in plan/auth.ts; this file reads and
// writes.
import { createHash, randomBytes } from 'node:crypto';
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { AUTH_SECRET_KEYS, authSecretData, parseAuthSecret, type AppliedAuth, type StoredAuth } from '../plan/acl.js';
import { authOutcome, planAppliedAuth, planGeneratedSecret, type Auth, type FreshPasswords } from '../plan/auth.js';
import { appliedAuthSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import { passwordSecret, type Read } from '../plan/secrets.js';
import { buildOwnedSecret } from '../plan/specs.js';
import { redisTarget, redisTargetAs, type Deps, type Pass } from './pass.js';
import { attempt, optionalKey } from './secrets.js';

/** Reads the password Secret and the applied-auth Secret, and writes what plan/auth.ts says. */
export async function resolveAuth(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec): Promise<Auth | undefined> {
  const source = passwordSecret(rr.metadata.name, spec);
  if (!source) return undefined;
  const fresh: FreshPasswords = { password: newPassword(), operatorPassword: newPassword(), replicationPassword: newPassword(), backupPassword: newPassword() };
  let wanted: Read<string>;
  let stored: Read<StoredAuth | undefined>;
  if (source.use === 'named') {
    wanted = await attempt(() => deps.passwords.get(rr.metadata, source.secretName, 'named'));
    stored = await attempt(() => readApplied(deps, rr));
  } else {
    const existing = await attempt(() => optionalKey(deps, rr, source.secretName, 'owned'));
    stored = await attempt(() => readApplied(deps, rr));
    wanted = await generatedPassword(deps, rr, source.secretName, planGeneratedSecret(source.secretName, existing, stored, fresh));
  }
  // The re-read after creating the applied-auth Secret may find one someone else made meanwhile.
  return authOutcome(wanted, stored.problem ? stored : await attempt(() => appliedAuth(deps, rr, planAppliedAuth(stored.value, wanted.value, fresh))));
}

/** The password of `<name>-auth`, created first when the plan says so. */
async function generatedPassword(deps: Deps, rr: RedisReplication, secretName: string, plan: ReturnType<typeof planGeneratedSecret>): Promise<Read<string>> {
  if (plan.kind === 'use') return { value: plan.password };
  if (plan.kind === 'refuse') return { problem: plan.problem };
  // Another pass may have created it meanwhile: then its password is the one.
  await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, secretName, { password: plan.password })));
  deps.passwords.forget(rr.metadata.namespace, secretName);
  if (plan.restored) await deps.events.record(rr, 'Warning', plan.restored.reason, plan.restored.message);
  return attempt(() => deps.passwords.get(rr.metadata, secretName, 'owned'));
}

/** What the pods have, from the applied-auth Secret, written as the plan says. */
async function appliedAuth(deps: Deps, rr: RedisReplication, plan: ReturnType<typeof planAppliedAuth>): Promise<AppliedAuth | undefined> {
  switch (plan.kind) {
    case 'none':
      return undefined;
    case 'create':
      // Another pass may have created it meanwhile: then its passwords are the ones.
      await ignore(isConflict, deps.kube.createSecret(buildOwnedSecret(rr, appliedAuthSecretName(rr.metadata.name), authSecretData(plan.applied, sha256))));
      deps.passwords.forget(rr.metadata.namespace, appliedAuthSecretName(rr.metadata.name));
      return (await readApplied(deps, rr)) as AppliedAuth;
    case 'complete':
      await writeApplied(deps, rr, plan.applied);
      return plan.applied;
    case 'keep':
      return plan.applied;
  }
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
 * goes on to write status. Returns what the pods have after the step. */
export async function rotatePassword(pass: Pass, observed: ObservedPod[], usersSynced: boolean): Promise<AppliedAuth | undefined> {
  const { deps, rr, auth, newPassword: wanted } = pass;
  if (auth === undefined || wanted === undefined || wanted === auth.password) return auth;
  const running = observed.filter((p) => !p.deleting && p.podIP);
  const answered = running.filter((p) => p.info);
  const added = await onEveryPod(pass, answered, 'could not give a pod the new password', (ip) =>
    deps.redis.aclSetUser(redisTarget(pass, ip), 'default', ['on', `>${wanted}`]),
  );
  if (!added || answered.length < running.length || !usersSynced) {
    pass.log.info({ waitingFor: running.filter((p) => !p.info).map((p) => p.name) }, 'password rotation waits for every pod');
    return auth;
  }
  // Authenticated as the default user with the new password: a pod that restarted since with the
  // old one only refuses, and keeps the password it has. `resetpass` then the new one leaves exactly
  // the new one, whether the pod still had the old one or lost it in a pass that stopped part-way.
  const dropped = await onEveryPod(pass, answered, 'could not drop the old password from a pod', (ip) =>
    deps.redis.aclSetUser(redisTargetAs(pass, ip, { password: wanted }), 'default', ['resetpass', `>${wanted}`]),
  );
  if (!dropped) return auth;
  const rotated = { ...auth, password: wanted, previous: auth.password };
  await writeApplied(deps, rr, rotated);
  await deps.events.record(rr, 'Normal', 'PasswordRotated', `every pod now takes only the password of Secret ${passwordSecret(rr.metadata.name, pass.spec)?.secretName}`);
  return rotated;
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
