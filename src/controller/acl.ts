// ACL phase: every pod has the operator's user, the replication user (replicas authenticate to their
// parent as it: masteruser), the default user with the applied password, and the users of
// spec.auth.users, and no other. Changes reach running pods with ACL SETUSER / ACL DELUSER, no
// restart; then the applied-auth Secret, whose auth.conf a restarted pod starts with. A pod is
// (re)done when what it should have changed, when its container restarted (it started from a file
// the kubelet may not have refreshed yet), when it was reached as the default user (it lacks the
// operator's user), and once after an operator start. An app user whose Secret is missing (or does
// not allow the resource) keeps what the pods have; one whose rules Redis refuses stays as it was,
// and is reported.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { ownUsers, parseUserList, REPLICATION_USER, undeclaredUsers, userRules, wantedUsers, type AclUser, type AppliedAuth, type WantedUsers } from '../plan/acl.js';
import { isBooting, type ObservedPod } from '../plan/observation.js';
import { sha256, writeApplied } from './auth.js';
import { redisTarget, type Deps, type Pass } from './pass.js';
import { attempt } from './secrets.js';

/** spec.auth.users with the passwords of their Secrets (key `password`), as plan/acl.ts wantedUsers makes them. */
export async function resolveUsers(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec, applied: AppliedAuth | undefined): Promise<WantedUsers> {
  const declared = [];
  for (const user of spec.auth.enabled ? spec.auth.users : []) {
    declared.push({ ...user, password: await attempt(() => deps.passwords.get(rr.metadata, user.secretName, 'named')) });
  }
  return wantedUsers(declared, applied, sha256);
}

export interface UsersOutcome {
  /** Every running pod answered and has what it should. */
  synced: boolean;
  /** App users Redis refused, with its reason. */
  refused: string[];
  /** What the pods have now (the app users Redis accepted recorded). */
  auth: AppliedAuth | undefined;
}

export async function syncUsers(pass: Pass, observed: ObservedPod[]): Promise<UsersOutcome> {
  const { deps, auth, memory } = pass;
  if (!auth) return { synced: true, refused: [], auth };
  const declared = [...ownUsers(auth, sha256), ...pass.users];
  const digest = sha256(JSON.stringify([declared, auth.password, pass.newPassword ?? null]));
  const done = (memory.usersSynced ??= new Map());
  const accepted = (memory.acceptedUsers ??= new Set());
  const refusedBy = (memory.refusedUsers ??= new Map());
  const running = observed.filter((p) => !p.deleting && p.podIP);
  const due = running.filter((p) => p.info && (done.get(p.podIP!) !== digest || isBooting(p) || pass.credentialsOf.has(p.podIP!)));
  const given = await Promise.all(
    due.map(async (pod) => {
      try {
        await syncPod(pass, pod.podIP!, declared, accepted, refusedBy);
        return pod;
      } catch (err) {
        pass.log.warn({ pod: pod.name, err: String(err) }, 'could not apply the ACL users; retrying on the next pass');
        return undefined;
      }
    }),
  );
  // Replicas switch to the replication user only once their parents have it (a resource created
  // before ACL users replicated as the default user).
  for (const pod of given) {
    if (!pod) continue;
    const target = redisTarget(pass, pod.podIP!);
    try {
      await deps.redis.configSet(target, 'masteruser', REPLICATION_USER);
      await deps.redis.configSet(target, 'masterauth', auth.replicationPassword);
      done.set(pod.podIP!, digest);
    } catch (err) {
      pass.log.warn({ pod: pod.name, err: String(err) }, 'could not point replication at the replication user; retrying on the next pass');
    }
  }
  for (const ip of done.keys()) if (!running.some((p) => p.podIP === ip)) done.delete(ip);

  const refused = pass.users.flatMap((u) => refusedBy.get(userKey(u)) ?? []);
  return { synced: running.every((p) => done.get(p.podIP!) === digest), refused, auth: await recordUsers(pass, auth, accepted, refusedBy) };
}

async function syncPod(pass: Pass, ip: string, declared: AclUser[], accepted: Set<string>, refusedBy: Map<string, string>): Promise<void> {
  const { deps, auth, rr } = pass;
  const target = redisTarget(pass, ip);
  const own = new Set(ownUsers(auth!, sha256).map((u) => u.name));
  for (const user of declared) {
    try {
      await deps.redis.aclSetUser(target, user.name, userRules(user));
      if (!own.has(user.name)) accepted.add(userKey(user));
    } catch (err) {
      // An error reply is a refusal of the user's rules (an unknown command, a bad pattern): ACL
      // SETUSER changes nothing then. No reply is retried at the next pass.
      const message = String((err as Error).message);
      if (own.has(user.name) || !/^ERR/.test(message)) throw err;
      if (!refusedBy.has(userKey(user))) await deps.events.record(rr, 'Warning', 'UserRefused', `user ${user.name}: ${message}`);
      refusedBy.set(userKey(user), `user ${user.name}: ${message}`);
    }
  }
  // The default user: the applied password, and the wanted one while a rotation is under way (a
  // container that restarted from an old auth.conf may have neither).
  const passwords = [auth!.password, ...(pass.newPassword && pass.newPassword !== auth!.password ? [pass.newPassword] : [])];
  await deps.redis.aclSetUser(target, 'default', ['on', 'resetpass', ...passwords.map((p) => `>${p}`)]);
  const present = parseUserList(await deps.redis.aclUsers(target));
  for (const name of undeclaredUsers(present, declared)) {
    await deps.redis.aclDelUser(target, name);
    pass.log.info({ ip, user: name }, 'removed a user nobody declares');
  }
}

/** The app users auth.conf lists: each wanted one once Redis accepted it (and no pod refused it:
 * a pod of another version may), else what it had. A refusal stands until the user changes. Returns
 * what the pods have then. */
async function recordUsers(pass: Pass, auth: AppliedAuth, accepted: Set<string>, refusedBy: Map<string, string>): Promise<AppliedAuth> {
  const wanted = new Set(pass.users.map(userKey));
  for (const key of accepted) if (!wanted.has(key)) accepted.delete(key);
  for (const key of refusedBy.keys()) if (!wanted.has(key)) refusedBy.delete(key);
  const usable = (u: AclUser) => accepted.has(userKey(u)) && !refusedBy.has(userKey(u));
  const users = pass.users.flatMap((u) => (usable(u) ? [u] : auth.users.filter((a) => a.name === u.name)));
  if (JSON.stringify(users) === JSON.stringify(auth.users)) return auth;
  const recorded = { ...auth, users };
  await writeApplied(pass.deps, pass.rr, recorded);
  return recorded;
}

const userKey = (user: AclUser): string => sha256(JSON.stringify(user));
