// Auth decisions: which password the default user is to have (the user's Secret's, or the one the
// operator generated in `<name>-auth`), what the applied-auth Secret is created or completed with,
// and what a Secret the resource cannot use means for the pods. The controller (controller/auth.ts)
// reads the Secrets, makes the random passwords, and writes what these say.
import type { AppliedAuth, StoredAuth } from './acl.js';
import type { Read, SecretIssue } from './secrets.js';

/** What the pods have and what the user's Secret asks for, as the auth phase found them. */
export interface Auth {
  /** What the pods have; undefined only before anything was ever applied and with no Secret, or
   * while the operator's copy is not its own. */
  applied: AppliedAuth | undefined;
  /** What the user's Secret asks for; undefined when it (or its key) is missing or not allowed. */
  wanted: string | undefined;
  problem: SecretIssue | undefined;
}

/** Passwords made for this pass, used only where one is missing: nobody types them. */
export interface FreshPasswords {
  /** For a `<name>-auth` the operator creates for a resource whose pods have no password yet. */
  password: string;
  operatorPassword: string;
  replicationPassword: string;
  backupPassword: string;
}

export type GeneratedSecretPlan =
  | { kind: 'use'; password: string }
  | { kind: 'refuse'; problem: SecretIssue }
  /** Create `<name>-auth` with `password` (another pass may have meanwhile: then its password is the
   * one); `restored`: with the password the pods have, which an Event says. */
  | { kind: 'create'; password: string; restored?: { reason: 'AuthSecretRestored'; message: string } };

/** The password of `<name>-auth` (`existing`), which is created when it is missing: with a new
 * password for a resource whose pods have none yet; else with the one they have (`stored`, the
 * applied-auth Secret). The operator never changes that password: a Secret deleted by mistake (or a
 * resource moving off auth.secretName) must not lock out the clients that use it. One it did not
 * create is refused, and so is creating it while the applied-auth Secret cannot be read. */
export function planGeneratedSecret(secretName: string, existing: Read<string | undefined>, stored: Read<StoredAuth | undefined>, fresh: FreshPasswords): GeneratedSecretPlan {
  if (existing.problem) return { kind: 'refuse', problem: existing.problem };
  if (existing.value !== undefined) return { kind: 'use', password: existing.value };
  if (stored.problem) return { kind: 'refuse', problem: stored.problem };
  const kept = stored.value?.password;
  if (kept === undefined) return { kind: 'create', password: fresh.password };
  return {
    kind: 'create',
    password: kept,
    restored: { reason: 'AuthSecretRestored', message: `Secret ${secretName} was missing: re-created with the password the pods have (to change it, edit its key password)` },
  };
}

/** What the applied-auth Secret is to hold: `none` while there is no password at all; `create`d
 * with `wanted` the first time; `complete`d with the operator's, the replication and the backup
 * user's passwords where they are missing (a resource created before ACL users or backups existed:
 * its running pods get the users from the users phase, which reaches them as the default user
 * meanwhile); else kept. */
export function planAppliedAuth(
  stored: StoredAuth | undefined,
  wanted: string | undefined,
  fresh: FreshPasswords,
): { kind: 'none' } | { kind: 'create' | 'complete' | 'keep'; applied: AppliedAuth } {
  const password = stored?.password ?? wanted;
  if (password === undefined) return { kind: 'none' };
  const applied: AppliedAuth = {
    password,
    previous: stored?.previous,
    operatorPassword: stored?.operatorPassword ?? fresh.operatorPassword,
    replicationPassword: stored?.replicationPassword ?? fresh.replicationPassword,
    backupPassword: stored?.backupPassword ?? fresh.backupPassword,
    users: stored?.users ?? [],
  };
  if (!stored) return { kind: 'create', applied };
  const complete = stored.operatorPassword && stored.replicationPassword && stored.backupPassword;
  return { kind: complete ? 'keep' : 'complete', applied };
}

/** The auth of the pass, from the password wanted and what the pods have, with what a problem means
 * for the pods. An applied-auth Secret the operator did not make is not mounted into any pod. */
export function authOutcome(wanted: Read<string>, applied: Read<AppliedAuth | undefined>): Auth {
  if (applied.problem) return { applied: undefined, wanted: wanted.value, problem: { reason: applied.problem.reason, message: `${applied.problem.message}; no pod is created until it is gone` } };
  const consequence = applied.value ? 'the pods keep the password they have' : 'no pod is created until it can be used';
  return { applied: applied.value, wanted: wanted.value, problem: wanted.problem && { reason: wanted.problem.reason, message: `${wanted.problem.message}; ${consequence}` } };
}
