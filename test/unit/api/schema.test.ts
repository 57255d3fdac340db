import { describe, expect, it } from 'vitest';
import { DANGEROUS_COMMANDS, DANGEROUS_DIRECTIVES, dangerousGrant } from '../../../src/api/dangerous.js';
import { MAX_PODS, OWNED_DIRECTIVES, parseSpec, totalPods } from '../../../src/api/schema.js';

const refused = (raw: unknown): string => {
  const result = parseSpec(raw);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(raw)}`);
  return result.message;
};

describe('parseSpec', () => {
  it('fills every default into an empty or missing spec', () => {
    const expected = {
      image: 'redis:8.0',
      replicas: 1,
      cascade: [],
      auth: { enabled: true, users: [] },
      persistence: { enabled: false, size: '1Gi', storageClassName: '' },
      resources: {},
      config: {},
      readService: { maxLagSeconds: 5, includePrimary: false, preferClose: true },
      failover: { enabled: true, primaryDownSeconds: 3 },
      placement: { zoneAware: false },
      updateStrategy: { type: 'RollingUpdate', primary: 'Unsupervised', progressDeadlineSeconds: 300 },
      networkPolicy: { enabled: true, from: [] },
    };
    expect(parseSpec({})).toEqual({ ok: true, spec: expected });
    expect(parseSpec(undefined)).toEqual({ ok: true, spec: expected });
    expect(parseSpec(null)).toEqual({ ok: true, spec: expected });
  });

  it('accepts the contract example and fills nested defaults', () => {
    const result = parseSpec({
      image: 'redis:8.0',
      replicas: 2,
      cascade: [{ replicasPerParent: 2 }],
      auth: { secretName: 'cache-auth' },
      persistence: { enabled: true },
      resources: { limits: { cpu: 1, memory: '256Mi' } },
      config: { 'maxmemory-policy': 'allkeys-lru' },
      readService: { includePrimary: true },
      failover: { primaryDownSeconds: 5 },
      writeQuorum: { minReplicas: 1 },
    });
    expect(result.ok && result.spec).toMatchObject({
      persistence: { enabled: true, size: '1Gi', storageClassName: '' },
      readService: { maxLagSeconds: 5, includePrimary: true },
      failover: { enabled: true, primaryDownSeconds: 5 },
      writeQuorum: { minReplicas: 1, maxLagSeconds: 10 },
    });
  });

  it.each([
    [{ replicas: -1 }, 'spec.replicas'],
    [{ replicas: 101 }, 'spec.replicas'],
    [{ replicas: 1.5 }, 'spec.replicas'],
    [{ replicas: '2' }, 'spec.replicas'],
    [{ cascade: [{ replicasPerParent: 0 }] }, 'spec.cascade.0.replicasPerParent'],
    [{ cascade: [{ replicasPerParent: 11 }] }, 'spec.cascade.0.replicasPerParent'],
    [{ cascade: [{ replicasPerParent: 1 }, { replicasPerParent: 1 }, { replicasPerParent: 1 }, { replicasPerParent: 1 }] }, 'spec.cascade'],
    [{ readService: { maxLagSeconds: -1 } }, 'spec.readService.maxLagSeconds'],
    [{ failover: { primaryDownSeconds: 0 } }, 'spec.failover.primaryDownSeconds'],
    [{ image: '' }, 'spec.image'],
    [{ auth: { secretName: '' } }, 'spec.auth.secretName'],
    [{ auth: { enabled: 'no' } }, 'spec.auth.enabled'],
  ])('refuses %j naming %s', (raw, field) => {
    expect(refused(raw)).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
  });

  it('refuses an unknown field, naming it', () => {
    expect(refused({ replica: 2 })).toMatch(/^spec: .*replica/);
    expect(refused({ readService: { maxLag: 2 } })).toMatch(/^spec\.readService: .*maxLag/);
  });

  it.each(OWNED_DIRECTIVES.map((d) => [d]))('refuses the owned directive %s in config, in any case', (directive) => {
    expect(refused({ config: { [directive]: 'x' } })).toMatch(/^spec\.config: may not set a directive the operator owns/);
    expect(refused({ config: { [directive.toUpperCase()]: 'x' } })).toMatch(/^spec\.config: /);
  });

  it('refuses a spec with more pods than MAX_PODS and accepts one with exactly MAX_PODS', () => {
    expect(refused({ replicas: 100, cascade: [{ replicasPerParent: 2 }] })).toBe(`spec.replicas: the spec asks for 301 pods, more than ${MAX_PODS}`);
    expect(parseSpec({ replicas: 83, cascade: [{ replicasPerParent: 2 }] }).ok).toBe(true); // 1 + 83 + 166 = 250
  });
});

describe('totalPods', () => {
  it('counts the primary and every tier', () => {
    expect(totalPods(0, [])).toBe(1);
    expect(totalPods(2, [])).toBe(3);
    expect(totalPods(2, [{ replicasPerParent: 2 }])).toBe(7);
    expect(totalPods(2, [{ replicasPerParent: 2 }, { replicasPerParent: 3 }])).toBe(19);
  });
});

describe('config and writeQuorum validation', () => {
  it('compares directive names trimmed and case-insensitively, and refuses spaces that smuggle arguments', () => {
    for (const key of ['port ', 'PORT', ' replicaof', 'replicaof x', 'maxmemory policy']) {
      expect(parseSpec({ config: { [key]: 'v' } }).ok, key).toBe(false);
    }
    expect(parseSpec({ config: { 'maxmemory-policy': 'allkeys-lru' } }).ok).toBe(true);
  });

  it('refuses a value with a line break (a second directive)', () => {
    expect(parseSpec({ config: { maxmemory: '1mb\nrequirepass x' } })).toMatchObject({ ok: false, message: expect.stringMatching(/line break/) });
  });

  it('bounds writeQuorum.minReplicas by the replicas: more would refuse every write', () => {
    expect(parseSpec({ replicas: 1, writeQuorum: { minReplicas: 2 } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.writeQuorum\.minReplicas/) });
    expect(parseSpec({ replicas: 2, writeQuorum: { minReplicas: 2 } }).ok).toBe(true);
  });

  it('takes spec.backup.archive, on or off', () => {
    const store = { endpoint: 'http://s3:8333', bucket: 'bbb', credentialsSecret: 's3' };
    expect(parseSpec({ backup: { objectStore: store, archive: true } }).ok).toBe(true);
    expect(parseSpec({ backup: { objectStore: store, archive: false } }).ok).toBe(true);
  });

  it('bootstrap.recovery names one source: a RedisBackup, or a store and a resource (to a point in time with targetTime)', () => {
    const store = { endpoint: 'http://s3:8333', bucket: 'bbb', credentialsSecret: 's3' };
    expect(parseSpec({ bootstrap: { recovery: { objectStore: store, resource: 'src', targetTime: '2026-12-04T10:00:00Z' } } }).ok).toBe(true);
    expect(parseSpec({ bootstrap: { recovery: { objectStore: store, resource: 'src' } } }).ok).toBe(true);
    expect(parseSpec({ bootstrap: { recovery: {} } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery\.backup: name the RedisBackup to restore, or give objectStore and resource/) });
    expect(parseSpec({ bootstrap: { recovery: { backup: 'b1', targetTime: 'yesterday' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery\.targetTime/) });
    expect(parseSpec({ bootstrap: { recovery: { backup: 'b1', targetTime: '2026-12-04T10:00:00Z' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery: either backup .* not both/) });
    expect(parseSpec({ bootstrap: { recovery: { backup: 'b1', objectStore: store, resource: 'src' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/not both/) });
    expect(parseSpec({ bootstrap: { recovery: { resource: 'src', targetTime: '2026-12-04T10:00:00Z' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery\.objectStore: .*of src/) });
    expect(parseSpec({ bootstrap: { recovery: { objectStore: store, targetTime: '2026-12-04T10:00:00Z' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery\.resource: /) });
    expect(parseSpec({ bootstrap: { recovery: { objectStore: store, resource: 'src', targetTime: '4 December' } } })).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery\.targetTime/) });
    // Restored under the old name into the same folders, its own backups would mix with the ones it came from.
    const own = { backup: { objectStore: { ...store, path: '/' } }, bootstrap: { recovery: { objectStore: store, resource: 'src' } } };
    expect(parseSpec(own, 'src')).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.backup\.objectStore: resource src would write its backups into the folder it is restored from/) });
    expect(parseSpec(own, 'src2').ok).toBe(true);
    expect(parseSpec({ ...own, backup: { objectStore: { ...store, path: 'new' } } }, 'src').ok).toBe(true);
  });

  it('takes bootstrap.recovery, but not with TLS: the restore link is plain TCP', () => {
    expect(parseSpec({ replicas: 1, bootstrap: { recovery: { backup: 'b1' } } }).ok).toBe(true);
    expect(parseSpec({ replicas: 1, tls: { enabled: true }, bootstrap: { recovery: { backup: 'b1' } } })).toMatchObject({
      ok: false, message: expect.stringMatching(/^spec\.bootstrap\.recovery: restoring into a resource with tls\.enabled is not supported yet/),
    });
  });

  it('tls: off unless enabled; an empty secretName means the operator\'s own CA', () => {
    expect(parseSpec({}).ok && (parseSpec({}) as { spec: { tls?: unknown } }).spec.tls).toBeUndefined();
    expect(parseSpec({ tls: { enabled: true } })).toMatchObject({ ok: true, spec: { tls: { enabled: true, secretName: '' } } });
    expect(refused({ tls: { enabled: true, ca: 'x' } })).toMatch(/^spec\.tls/);
  });

  it('refuses the TLS directives the operator sets itself', () => {
    for (const d of ['tls-port', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-replication', 'tls-auth-clients']) {
      expect(refused({ config: { [d]: 'x' } })).toMatch(/operator owns/);
    }
    // The rest of the TLS settings (protocols, ciphers) stay the user's.
    expect(parseSpec({ config: { 'tls-protocols': 'TLSv1.3' } }).ok).toBe(true);
  });
});

describe('auth.users validation', () => {
  const users = (...list: unknown[]) => ({ auth: { secretName: 'auth', users: list } });
  const user = (rules: string, name = 'app') => ({ name, secretName: 'app-user', rules });

  it('accepts ACL rules separated by spaces, and defaults to no users', () => {
    expect(parseSpec(users(user('~app:* %R~cache:* +@read +@write -@dangerous &events:*'))).ok).toBe(true);
    const parsed = parseSpec({ auth: { secretName: 'auth' } });
    expect(parsed.ok && parsed.spec.auth?.users).toEqual([]);
  });

  it('refuses rules that would add a line to auth.conf or unbalance it', () => {
    for (const rules of ['+get\nuser evil on nopass +@all', '+get\r+set', '~"a', "~'a", '+get\t+set']) {
      expect(refused(users(user(rules)))).toMatch(/^spec\.auth\.users\.0\.rules: rules may not contain a line break/);
    }
  });

  it('refuses password rules, nopass, and on/off/reset: the password comes from the Secret', () => {
    for (const rules of ['>secret +@all', '+get <old', '#' + 'a'.repeat(64), '+get !' + 'a'.repeat(64), 'nopass +@all', '+get resetpass', '+get off', 'reset +get', 'on +get']) {
      expect(refused(users(user(rules)))).toMatch(/rules may not set passwords/);
    }
    // A word that only starts like one is a rule like any other.
    expect(parseSpec(users(user('~online:* +get'))).ok).toBe(true);
  });

  it("refuses the operator's names, default, odd names and two users of one name", () => {
    for (const name of ['default', 'rro-operator', 'rro-replication', 'rro-anything']) expect(refused(users(user('+get', name)))).toMatch(/are taken/);
    expect(refused(users(user('+get', 'a b')))).toMatch(/letters, digits/);
    expect(refused(users(user('+get'), user('+set')))).toMatch(/same name/);
  });

  it('refuses masteruser and aclfile in config: replication uses the operator\'s user, and an ACL file stops redis-server', () => {
    expect(refused({ config: { masteruser: 'x' } })).toMatch(/directive the operator owns/);
    expect(refused({ config: { AclFile: '/data/users.acl' } })).toMatch(/directive the operator owns/);
  });
});

/** The bad specs of issue 24 and the security audit (§5), each refused naming its field, and the
 * valid controls beside them. The e2e table (test/e2e/bad-specs.test.ts) sends the same to a real
 * API server, which refuses them with the CRD's CEL rules. */
describe('names, quantities, object names, dangerous directives and rules', () => {
  const user = (rules: string, extra: Record<string, unknown> = {}) => ({ auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules, ...extra }] } });

  it.each([
    ['1cache', /^metadata\.name: must be a DNS-1035 label/],
    ['my.cache', /^metadata\.name: must be a DNS-1035 label/],
    ['Cache', /^metadata\.name: must be a DNS-1035 label/],
    ['cache-', /^metadata\.name: must be a DNS-1035 label/],
    ['a'.repeat(56), /^metadata\.name: may be at most 55 characters/],
  ])('refuses the resource name %s', (name, message) => {
    expect(parseSpec({}, name)).toEqual({ ok: false, message: expect.stringMatching(message) });
  });

  it('accepts names of 1 to 55 characters as DNS-1035 labels', () => {
    for (const name of ['c', 'cache', 'cache-2', 'a'.repeat(55)]) expect(parseSpec({}, name).ok, name).toBe(true);
  });

  it.each([
    [{ persistence: { size: '10 GB' } }, 'spec.persistence.size'],
    [{ persistence: { size: '' } }, 'spec.persistence.size'],
    [{ persistence: { size: 'lots' } }, 'spec.persistence.size'],
    [{ persistence: { size: '-1Gi' } }, 'spec.persistence.size'],
    [{ persistence: { size: '0' } }, 'spec.persistence.size'],
    [{ resources: { limits: { cpu: 'lots' } } }, 'spec.resources.limits.cpu'],
    [{ resources: { limits: { cpu: -1 } } }, 'spec.resources.limits.cpu'],
    [{ resources: { requests: { memory: '1 Gi' } } }, 'spec.resources.requests.memory'],
    [{ resources: { limits: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`example.com/r${i}`, 1])) } }, 'spec.resources.limits'],
    [{ config: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`d${i}`, '1'])) }, 'spec.config'],
    [{ persistence: { storageClassName: 'Fast_SSD' } }, 'spec.persistence.storageClassName'],
    [{ auth: { secretName: 'Bad_Name' } }, 'spec.auth.secretName'],
    [{ tls: { enabled: true, secretName: 'bad name' } }, 'spec.tls.secretName'],
    [{ auth: { secretName: 's', users: [{ name: 'app', secretName: 'App-Secret', rules: '+get' }] } }, 'spec.auth.users.0.secretName'],
    [{ placement: { priorityClassName: 'High_Priority' } }, 'spec.placement.priorityClassName'],
  ])('refuses %j naming %s', (raw, field) => {
    expect(refused(raw)).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
  });

  it('accepts quantities as Kubernetes writes them, numbers included, and object names as DNS-1123 subdomains', () => {
    for (const size of ['10Gi', '500Mi', '1.5Gi', '1e9', '1G', '+2Gi']) expect(parseSpec({ persistence: { size } }).ok, size).toBe(true);
    for (const cpu of [0.5, 1, 0, '500m', '0.25', '2']) expect(parseSpec({ resources: { limits: { cpu }, requests: { cpu } } }).ok, String(cpu)).toBe(true);
    expect(parseSpec({ persistence: { storageClassName: 'gp3.encrypted' }, tls: { enabled: true, secretName: '' }, placement: { priorityClassName: '' } }).ok).toBe(true);
  });

  it.each([...Object.keys(DANGEROUS_DIRECTIVES), 'LoadModule'].map((d) => [d]))('refuses the directive %s unless allowDangerousConfig, naming it', (directive) => {
    expect(refused({ config: { [directive]: 'yes' } })).toMatch(new RegExp(`^spec\\.config\\.${directive}: .*set spec\\.allowDangerousConfig: true to allow it$`));
    expect(parseSpec({ allowDangerousConfig: true, config: { [directive]: 'yes' } }).ok).toBe(true);
  });

  it('refuses tls-protocols naming TLSv1 or TLSv1.1 unless allowDangerousConfig; TLSv1.2 and 1.3 are fine', () => {
    for (const value of ['TLSv1', 'TLSv1.1 TLSv1.2', 'tlsv1.1']) expect(refused({ config: { 'tls-protocols': value } }), value).toMatch(/^spec\.config\.tls-protocols: TLSv1 and TLSv1\.1 are deprecated/);
    expect(parseSpec({ config: { 'tls-protocols': 'TLSv1.2 TLSv1.3' } }).ok).toBe(true);
    expect(parseSpec({ allowDangerousConfig: true, config: { 'tls-protocols': 'TLSv1' } }).ok).toBe(true);
  });

  it('refuses user and aclfile always: ACL users are auth.users', () => {
    for (const d of ['user', 'aclfile']) expect(refused({ allowDangerousConfig: true, config: { [d]: 'x' } })).toMatch(/^spec\.config: may not set a directive the operator owns/);
  });

  it.each([
    ['~app:* +@read +@write', '+@read'], // the README's old example: FLUSHALL and KEYS through @write and @read
    ['+@all ~*', '+@all'],
    ['allcommands ~*', 'allcommands'],
    ['~* +@dangerous', '+@dangerous'],
    ['~* +@admin -@dangerous +@slow', '+@slow'],
    ['+get +FLUSHALL', '+flushall'],
    ['+get +flushall|async', '+flushall|async'],
    ['+@all -@dangerous +config|set', '+config|set'],
    ['+@all -@dangerous +client', '+client'],
    ['+get (+@all ~*)', '(+@all'],
    ['+@all ~x-@dangerous', '+@all'],
    ['+@search', '+@search'],
  ])('refuses app-user rules %j (%s) unless allowDangerousCommands', (rules, grant) => {
    expect(dangerousGrant(rules)).toBe(grant);
    expect(refused(user(rules))).toMatch(/^spec\.auth\.users\.0\.rules: rules may not give the user commands of @dangerous/);
    expect(parseSpec(user(rules, { allowDangerousCommands: true })).ok).toBe(true);
  });

  it('accepts rules that end with -@dangerous or grant only safe categories and commands', () => {
    for (const rules of ['~app:* +@read +@write -@dangerous', '+@all -@DANGEROUS ~*', '~app:* +@hash +@string +get +client|setname +acl|whoami', '-@dangerous +@geo +@pubsub +@scripting']) {
      expect(dangerousGrant(rules), rules).toBeUndefined();
      expect(parseSpec(user(rules)).ok, rules).toBe(true);
    }
  });

  it('knows the dangerous commands of Redis 7.0.15 (ACL CAT dangerous)', () => {
    expect(DANGEROUS_COMMANDS).toHaveLength(75);
    for (const c of ['flushall', 'flushdb', 'keys', 'debug', 'shutdown', 'config|set', 'acl|setuser', 'module|load', 'monitor']) expect(DANGEROUS_COMMANDS).toContain(c);
  });
});
