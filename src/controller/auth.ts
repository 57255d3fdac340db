// Auth phase: the password every pod has (the operator's own copy, `<name>-applied-auth`) and the
// one the user's Secret asks for. A change is rolled onto every pod with no restart and no failover:
// each pod first accepts both passwords and authenticates to its parent with the new one (Redis ACL
// lets the default user hold two); once every pod has it, the old one is dropped everywhere and the
// copy updated. A missing Secret is reported, never mistaken for unreachable pods.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ignore, isConflict } from '../kube/client.js';
import { appliedAuthSecretName } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import { authSecretData, buildAppliedAuthSecret } from '../plan/specs.js';
import { redisTarget, redisTargetAs, type Deps, type Pass } from './pass.js';
import { SecretMissing } from './secrets.js';

export interface Auth {
  /** What the pods have; undefined only before anything was ever applied and with no Secret. */
  applied: string | undefined;
  /** What the user's Secret asks for; undefined when it (or its key) is missing. */
  wanted: string | undefined;
  /** What the pods had before the last rotation. */
  previous: string | undefined;
  problem: string | undefined;
}

export async function resolveAuth(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec): Promise<Auth | undefined> {
  if (!spec.auth) return undefined;
  const { namespace, name } = rr.metadata;
  const read = async (secret: string, key?: string): Promise<{ value?: string; problem?: string }> => {
    try {
      return { value: await deps.passwords.get(namespace, secret, key) };
    } catch (err) {
      if (err instanceof SecretMissing) return { problem: err.message };
      throw err;
    }
  };
  const wanted = await read(spec.auth.secretName);
  let applied = (await read(appliedAuthSecretName(name))).value;
  if (applied === undefined && wanted.value !== undefined) {
    await ignore(isConflict, deps.kube.createSecret(buildAppliedAuthSecret(rr, wanted.value)));
    deps.passwords.forget(namespace, appliedAuthSecretName(name));
    applied = wanted.value;
  }
  const previous = applied === undefined ? undefined : (await read(appliedAuthSecretName(name), 'previous')).value;
  return { applied, wanted: wanted.value, previous, problem: wanted.problem };
}

/** One step of a password rotation (each pass takes the next). */
export async function rotatePassword(pass: Pass, observed: ObservedPod[]): Promise<void> {
  const { deps, rr, password: applied, newPassword: wanted, namespace, name } = pass;
  if (applied === undefined) return;
  if (wanted === undefined || wanted === applied) return repair(pass);
  const running = observed.filter((p) => !p.deleting && p.podIP);
  const answered = running.filter((p) => p.info);
  for (const pod of answered) {
    const target = redisTarget(pass, pod.podIP!);
    await deps.redis.command(target, ['ACL', 'SETUSER', 'default', 'on', `>${wanted}`]);
    await deps.redis.configSet(target, 'masterauth', wanted);
  }
  if (answered.length < running.length) {
    pass.log.info({ waitingFor: running.filter((p) => !p.info).map((p) => p.name) }, 'password rotation waits for every pod');
    return;
  }
  // Authenticated with the new password: a pod that restarted since with the old one only refuses,
  // and keeps the password it has.
  for (const pod of answered) await deps.redis.command(redisTargetAs(pass, pod.podIP!, wanted), ['ACL', 'SETUSER', 'default', `<${applied}`]);
  await deps.kube.patchSecretData(namespace, appliedAuthSecretName(name), authSecretData(wanted, applied));
  deps.passwords.forget(namespace, appliedAuthSecretName(name));
  await deps.events.record(rr, 'Normal', 'PasswordRotated', `every pod now takes only the password of Secret ${pass.spec.auth?.secretName}`);
}

/** A pod that answered to another password than the applied one (its container restarted before the
 * kubelet refreshed its volume) gets the applied one, and loses the other. */
async function repair(pass: Pass): Promise<void> {
  for (const [ip, password] of pass.passwordOf) {
    if (password === pass.password) continue;
    const target = redisTargetAs(pass, ip, password);
    await pass.deps.redis.command(target, ['ACL', 'SETUSER', 'default', 'on', `>${pass.password}`, ...(password === undefined ? [] : [`<${password}`])]);
    await pass.deps.redis.configSet(redisTargetAs(pass, ip, pass.password), 'masterauth', pass.password!);
    pass.log.info({ ip }, 'pod answered to an old password: applied the current one');
  }
}
