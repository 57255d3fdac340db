// Which Secrets a resource may use. Whoever may create a RedisReplication need not be allowed to read
// Secrets, yet the operator copies the password (or key pair) of the Secrets the spec names into a
// Secret it mounts into pods running an image of the author's choice: a Secret is used only if its
// owner said so, with a label naming the resource. The Secrets the operator keeps for a resource
// (`<name>-auth`, `<name>-applied-auth`, `<name>-tls`, `<name>-tls-ca`, `<name>-tls-ca-key`) are used
// only if the operator made them for it: one made beforehand by someone else is neither read nor
// overwritten.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { RedisReplicationSpec } from '../api/schema.js';
import { generatedAuthSecretName, LABEL } from './names.js';

/** `named`: a Secret the spec names (auth.secretName, auth.users[].secretName, tls.secretName);
 * `owned`: one of the operator's own for the resource. */
export type SecretUse = 'named' | 'owned';

/** The resource asking: its name and uid (what its ownerReferences carry). */
export interface SecretUser {
  name: string;
  uid: string;
}

/** Why a Secret cannot be used (SecretMissing, SecretInvalid, SecretNotAllowed, SecretNotOwned), as
 * the SecretsAvailable condition and a Warning Event say it. */
export interface SecretIssue {
  reason: string;
  message: string;
}

export interface SecretRefusal extends SecretIssue {
  reason: 'SecretNotAllowed' | 'SecretNotOwned';
}

const ownedBy = (meta: Pick<V1ObjectMeta, 'ownerReferences'>, user: SecretUser) => (meta.ownerReferences ?? []).some((r) => r.uid === user.uid);

/** Why `user` may not use the Secret `secretName` (whose metadata is `meta`) as `use`, or undefined. */
export function secretRefusal(user: SecretUser, secretName: string, meta: Pick<V1ObjectMeta, 'labels' | 'ownerReferences'>, use: SecretUse): SecretRefusal | undefined {
  if (ownedBy(meta, user)) return undefined;
  if (use === 'owned') {
    return {
      reason: 'SecretNotOwned',
      message: `Secret ${secretName} was not created by the operator for RedisReplication ${user.name} (it has no ownerReference to it): it is neither used nor overwritten; delete it, or name the resource otherwise`,
    };
  }
  if (meta.labels?.[LABEL.allow] === user.name) return undefined;
  return {
    reason: 'SecretNotAllowed',
    message: `Secret ${secretName} does not allow RedisReplication ${user.name} to use it: add the label ${LABEL.allow}=${user.name} to it (kubectl label secret ${secretName} ${LABEL.allow}=${user.name})`,
  };
}

/** The Secret holding the default user's password (key `password`) and how it is read: the one
 * auth.secretName names, else the one the operator generates (`<name>-auth`); none with auth off. */
export function passwordSecret(resource: string, spec: Pick<RedisReplicationSpec, 'auth'>): { secretName: string; use: SecretUse } | undefined {
  if (!spec.auth.enabled) return undefined;
  return spec.auth.secretName ? { secretName: spec.auth.secretName, use: 'named' } : { secretName: generatedAuthSecretName(resource), use: 'owned' };
}

/** A Secret's value as the controller read it: the value, or why the resource cannot use it. */
export type Read<T> = { value: T; problem?: undefined } | { value?: undefined; problem: SecretIssue };
