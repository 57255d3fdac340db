// ACL users on a real cluster: a resource with auth and one app user reaches Ready; every pod has the
// operator's user (which the operator's own connections use), the replication user (which the
// replicas' links use: masteruser) and the app user; each may run only what its rules allow; the
// generated passwords are in no argv and no log; removing the app user takes it off running pods.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kubectl, waitFor } from './support/cluster.js';
import { settle } from './support/invariants.js';
import { api, createAllowedSecret, createRR, getRR, operatorNamespace, redisCommand, secretValue, waitReady, type RedisUser } from './support/operator.js';
import { localCluster } from './support/where.js';

const PASSWORD = 'acl-e2e-default-password-93d2';
const APP_PASSWORD = 'acl-e2e-app-password-5e1a';
const fixture = operatorNamespace('acl');

/** A reply, or the error's text (NOPERM, WRONGPASS...). */
const attempt = (ip: string, args: string[], auth?: string | RedisUser) => redisCommand(ip, args, auth).then(String, (e: unknown) => String(e));

describe('ACL users', () => {
  it.skipIf(!localCluster)('operator, replication and app users each run only what they need; replicas link as the replication user', async () => {
    const { ns, operator } = fixture;
    await createAllowedSecret(ns, 'acl-auth', 'acl', { password: PASSWORD });
    await createAllowedSecret(ns, 'acl-app', 'acl', { password: APP_PASSWORD });
    const app = { name: 'app', secretName: 'acl-app', rules: '~app:* +@read +@write +ping -@dangerous' };
    await createRR(ns, 'acl', { replicas: 2, auth: { secretName: 'acl-auth', users: [app] } });
    await waitReady(ns, 'acl');
    await settle(ns, 'acl', PASSWORD);
    // The app user enters auth.conf once a running Redis accepted it.
    await waitFor(async () => (await secretValue(ns, 'acl-applied-auth', 'auth.conf'))?.includes('user app '), { what: 'app user in auth.conf' });
    const rr = await getRR(ns, 'acl');
    expect(rr.status!.conditions!.find((c) => c.type === 'UsersApplied')).toMatchObject({ status: 'True' });
    const opUser: RedisUser = { username: 'rro-operator', password: (await secretValue(ns, 'acl-applied-auth', 'operator-password'))! };
    const replUser: RedisUser = { username: 'rro-replication', password: (await secretValue(ns, 'acl-applied-auth', 'replication-password'))! };
    const appUser: RedisUser = { username: 'app', password: APP_PASSWORD };
    // The user's Secret holds only what the user put there.
    expect(Object.keys((await api().core.readNamespacedSecret({ namespace: ns, name: 'acl-auth' })).data ?? {})).toEqual(['password']);

    const primaryIP = rr.status!.nodes!.find((n) => n.role === 'primary')!.podIP!;
    for (const node of rr.status!.nodes!) {
      const ip = node.podIP!;
      const users = (await redisCommand(ip, ['ACL', 'LIST'], PASSWORD)) as string[];
      expect(users.map((u) => u.split(' ')[1]).sort(), node.name).toEqual(['app', 'default', 'rro-backup', 'rro-operator', 'rro-replication']);
      expect(await attempt(ip, ['ACL', 'WHOAMI'], PASSWORD)).toBe('default');
      // The operator's user: what the operator sends, no key, no ACL LIST.
      expect(await attempt(ip, ['INFO', 'replication'], opUser)).toMatch(/role:/);
      expect(await attempt(ip, ['GET', 'app:1'], opUser)).toMatch(/NOPERM/);
      expect(await attempt(ip, ['ACL', 'LIST'], opUser)).toMatch(/NOPERM/);
      // The replication user: PING, REPLCONF, PSYNC only.
      expect(await attempt(ip, ['PING'], replUser)).toBe('PONG');
      expect(await attempt(ip, ['GET', 'app:1'], replUser)).toMatch(/NOPERM/);
      expect(await attempt(ip, ['CONFIG', 'GET', 'dir'], replUser)).toMatch(/NOPERM/);
      if (node.role === 'replica') {
        const info = String(await redisCommand(ip, ['INFO', 'replication'], PASSWORD));
        expect(info, node.name).toMatch(/master_link_status:up/);
        expect(await redisCommand(ip, ['CONFIG', 'GET', 'masteruser'], PASSWORD)).toEqual(['masteruser', 'rro-replication']);
      }
    }
    // The operator's connections authenticate as its user (CLIENT LIST names both).
    const clients = String(await redisCommand(primaryIP, ['CLIENT', 'LIST'], PASSWORD));
    expect(clients).toMatch(/name=redis-replication-operator .*user=rro-operator/);
    expect(clients).not.toMatch(/name=redis-replication-operator .*user=default/);
    // The app user writes its keys and no other; what it wrote replicates.
    expect(await attempt(primaryIP, ['SET', 'app:1', 'v1'], appUser)).toBe('OK');
    expect(await attempt(primaryIP, ['SET', 'other', 'v1'], appUser)).toMatch(/NOPERM/);
    expect(await attempt(primaryIP, ['CONFIG', 'GET', 'dir'], appUser)).toMatch(/NOPERM/);
    // -@dangerous: @write holds FLUSHALL, @read holds KEYS.
    expect(await attempt(primaryIP, ['FLUSHALL'], appUser)).toMatch(/NOPERM/);
    expect(await attempt(primaryIP, ['KEYS', 'app:*'], appUser)).toMatch(/NOPERM/);
    const replicaIP = rr.status!.nodes!.find((n) => n.role === 'replica')!.podIP!;
    await waitFor(async () => (await attempt(replicaIP, ['GET', 'app:1'], appUser)) === 'v1', { what: 'app:1 on a replica' });
    // The default user keeps the password of the user's Secret.
    expect(await attempt(primaryIP, ['SET', 'k', 'v'], PASSWORD)).toBe('OK');

    // The generated passwords are in no process's arguments and no operator log line.
    const inArgv = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8');
          return [opUser.password, replUser.password, APP_PASSWORD].some((p) => cmdline.includes(p));
        } catch {
          return false;
        }
      });
    expect(inArgv).toEqual([]);
    for (const secret of [opUser.password, replUser.password, APP_PASSWORD, PASSWORD]) expect(operator!.output()).not.toContain(secret);

    // Removing the app user takes it off every running pod, with no restart.
    const uids = (await api().core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=acl' })).items.map((p) => p.metadata!.uid).sort();
    await kubectl(['-n', ns, 'patch', 'rr/acl', '--type=merge', '-p', '{"spec":{"auth":{"users":[]}}}']);
    for (const node of rr.status!.nodes!) {
      await waitFor(async () => !((await redisCommand(node.podIP!, ['ACL', 'USERS'], PASSWORD)) as string[]).includes('app'), { what: `app user gone from ${node.name}` });
    }
    expect(await attempt(primaryIP, ['PING'], appUser)).toMatch(/WRONGPASS/);
    const after = (await api().core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/instance=acl' })).items.map((p) => p.metadata!.uid).sort();
    expect(after).toEqual(uids);
  });

  it('refuses rules with a line break, a password or dangerous commands, and user names the operator takes, at the API server', async () => {
    const { ns } = fixture;
    const refused = (users: unknown[]) => createRR(ns, 'acl-bad', { auth: { secretName: 'acl-auth', users } }).then(() => 'created', (e: unknown) => String(e));
    expect(await refused([{ name: 'x', secretName: 's', rules: '+get\nuser evil on nopass +@all' }])).toMatch(/line break/);
    expect(await refused([{ name: 'x', secretName: 's', rules: '>secret +@all' }])).toMatch(/may not set passwords/);
    expect(await refused([{ name: 'rro-operator', secretName: 's', rules: '+get' }])).toMatch(/taken/);
    expect(await refused([{ name: 'x', secretName: 's', rules: '~app:* +@read +@write' }])).toMatch(/spec\.auth\.users\[0\]\.rules.*@dangerous/);
  });
});
