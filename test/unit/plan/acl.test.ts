import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authConf,
  authSecretData,
  OPERATOR_RULES,
  parseAuthSecret,
  parseUserList,
  REPLICATION_RULES,
  BACKUP_RULES,
  splitRules,
  undeclaredUsers,
  userRules,
  wantedUsers,
  type AppliedAuth,
} from '../../../src/plan/acl.js';

const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');
const applied: AppliedAuth = {
  password: 'p"a\\ss\nx',
  operatorPassword: 'op',
  replicationPassword: 'repl"pw',
  backupPassword: 'bk',
  users: [{ name: 'app', hash: sha256('app-pw'), rules: ['~app:*', '+@read', '+@write'] }],
};

describe('auth.conf', () => {
  it('sets the default password with redis.conf quoting, replicates as the replication user, and lists every user by hash', () => {
    expect(authConf(applied, sha256).split('\n')).toEqual([
      'requirepass "p\\"a\\\\ss\\nx"',
      'masteruser rro-replication',
      'masterauth "repl\\"pw"',
      `user rro-operator reset on #${sha256('op')} ${OPERATOR_RULES.join(' ')}`,
      `user rro-replication reset on #${sha256('repl"pw')} ${REPLICATION_RULES.join(' ')}`,
      `user rro-backup reset on #${sha256('bk')} ${BACKUP_RULES.join(' ')}`,
      `user app reset on #${sha256('app-pw')} ~app:* +@read +@write`,
      '',
    ]);
  });

  it('holds no plain-text password but the default one and the replication one (masterauth takes no hash)', () => {
    const conf = authConf(applied, sha256);
    expect(conf).not.toContain('op"');
    expect(conf).not.toContain('bk');
    expect(conf).not.toContain('app-pw');
    expect(conf).not.toContain('>');
  });

  it('gives the operator no key, no channel and only the commands it sends; the replication user only what a replica sends', () => {
    expect(OPERATOR_RULES.slice(0, 3)).toEqual(['resetkeys', 'resetchannels', '-@all']);
    // Pinned: a command added here is a decision (docs/security.md, ACL users), not a side effect.
    expect(OPERATOR_RULES.filter((r) => r.startsWith('+')).join(' ')).toBe(
      '+info +replicaof +config|set +config|get +client|pause +client|unpause +client|setname +acl|setuser +acl|deluser +acl|users',
    );
    expect(REPLICATION_RULES).toEqual(['resetkeys', 'resetchannels', '-@all', '+psync', '+replconf', '+ping']);
    // A backup syncs once, as a replica or as redis-cli --rdb does: nothing else.
    expect(BACKUP_RULES).toEqual(['resetkeys', 'resetchannels', '-@all', '+psync', '+replconf', '+ping', '+sync']);
  });
});

describe('the applied-auth Secret', () => {
  it('reads back what it wrote', () => {
    const data = authSecretData({ ...applied, previous: 'old' }, sha256);
    expect(parseAuthSecret(data)).toEqual({ ...applied, previous: 'old' });
  });

  it('of a resource created before ACL users has no operator or replication password (the operator then makes them)', () => {
    expect(parseAuthSecret({ password: 'pw', 'auth.conf': 'requirepass "pw"\nmasterauth "pw"\n' })).toEqual({
      password: 'pw',
      previous: undefined,
      operatorPassword: undefined,
      replicationPassword: undefined,
      backupPassword: undefined,
      users: [],
    });
    expect(parseAuthSecret({})).toBeUndefined();
  });
});

describe('users', () => {
  it('ACL SETUSER starts from reset, so the result depends on the rules only', () => {
    expect(userRules({ name: 'app', hash: 'h', rules: ['~a:*', '+get'] })).toEqual(['reset', 'on', '#h', '~a:*', '+get']);
  });

  it('splits rules at any run of spaces', () => {
    expect(splitRules('  ~app:*   +@read +@write ')).toEqual(['~app:*', '+@read', '+@write']);
  });

  it('finds the users nobody declares; default is never one', () => {
    const declared = [{ name: 'rro-operator', hash: '', rules: [] }, { name: 'app', hash: '', rules: [] }];
    expect(undeclaredUsers(parseUserList('["app","default","old","rro-operator"]'), declared)).toEqual(['old']);
  });
});

describe('wantedUsers: spec.auth.users with their passwords', () => {
  const missing = { reason: 'SecretMissing', message: 'Secret app-pw does not exist' };
  const declared = (password: { value: string } | { problem: typeof missing }, name = 'app') => ({ name, secretName: 'app-pw', rules: ' ~app:*  +@read ', password });

  it('a readable Secret: the user with its password hashed and its rules split', () => {
    expect(wantedUsers([declared({ value: 'app-pw' })], undefined, sha256)).toEqual({ users: [{ name: 'app', hash: sha256('app-pw'), rules: ['~app:*', '+@read'] }], problems: [] });
  });

  it('an unusable Secret: the pods keep the user as they have it, or it is not created; the problem says which', () => {
    expect(wantedUsers([declared({ problem: missing })], applied, sha256)).toEqual({
      users: applied.users,
      problems: [{ reason: 'SecretMissing', message: 'user app: Secret app-pw does not exist; the pods keep the user as it was' }],
    });
    expect(wantedUsers([declared({ problem: missing }, 'other')], applied, sha256)).toEqual({
      users: [],
      problems: [{ reason: 'SecretMissing', message: 'user other: Secret app-pw does not exist; the user is not created until it can be used' }],
    });
  });
});
