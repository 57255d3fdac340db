/**
 * RBAC: the chart (by default, with a list of namespaces, with every namespace) and manifests/ grant
 * exactly the API calls the operator's code makes, where docs/security.md#rbac says, and by default
 * nothing cluster-wide but reading Nodes. Needs helm (no cluster).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, MANIFEST_FILE, NAMESPACE } from '../../hack/render-manifests.js';
import { repoRoot } from '../../hack/lib.js';
import { docs, helm, normalizeRules, ofKind, one, read, render, rulesFromCode, type Obj } from './chart.js';

const { objects: CODE_OBJECT_RULES, nodes: CODE_NODE_RULES, leases: CODE_LEASE_RULES } = rulesFromCode();

type Where = 'watched' | 'cluster' | 'release namespace';

/** The table of docs/security.md#rbac, as normalized rules by where they are granted. */
function documentedRules(): Record<Where, string[]> {
  const section = /\n## RBAC\n([\s\S]*?)\n## /.exec(read('docs/security.md'))?.[1];
  if (!section) throw new Error('docs/security.md has no "## RBAC" section');
  const out: Record<Where, string[]> = { watched: [], cluster: [], 'release namespace': [] };
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| group') && !l.startsWith('|---'));
  for (const row of rows) {
    const [group, resource, verbs, where] = row.split('|').slice(1, 5).map((c) => c.trim());
    if (!(where! in out)) throw new Error(`docs/security.md#rbac: unknown "where" ${where} in ${row}`);
    const sorted = verbs!.split(',').map((v) => v.trim()).sort().join(',');
    out[where as Where].push(`${group === 'core' ? '' : group}/${resource}: ${sorted}`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

const DOCUMENTED = documentedRules();
const rolesIn = (objs: Obj[], namespace: string) => ofKind(objs, 'Role').filter((r) => r.metadata.namespace === namespace);
/** The rules of the Role in `namespace` that is not the leader-election one. */
function objectRole(objs: Obj[], namespace: string): Obj | undefined {
  return rolesIn(objs, namespace).find((r) => !JSON.stringify(r.rules).includes('leases'));
}
const leaderRole = (objs: Obj[]) => rolesIn(objs, NAMESPACE).find((r) => JSON.stringify(r.rules).includes('leases'))!;

/** Every rule that lets the subject write Secrets or create Pods, wherever it is. */
function dangerousRules(rules: Obj[]): string[] {
  return normalizeRules(rules).filter((r) => /^\/secrets: .*(create|patch|update|delete)/.test(r) || /^\/pods: .*create/.test(r) || r.includes('*'));
}

describe('the RBAC table of docs/security.md', () => {
  it('is the code: every rule the operator\'s API calls need, and no other', () => {
    expect(DOCUMENTED.watched).toEqual(CODE_OBJECT_RULES);
    expect(DOCUMENTED.cluster).toEqual(CODE_NODE_RULES);
    expect(DOCUMENTED['release namespace']).toEqual(CODE_LEASE_RULES);
  });

  it('the derivation from the code itself works (it finds what the operator calls)', () => {
    expect(CODE_OBJECT_RULES).toEqual([
      '/events: create,patch',
      '/persistentvolumeclaims: create,delete,list,patch,watch',
      '/pods: create,delete,list,patch,watch',
      '/secrets: create,get,patch',
      '/services: create,list,patch,watch',
      'networking.k8s.io/networkpolicies: create,delete,get,update',
      'policy/poddisruptionbudgets: create',
      'redis.replication.dev/redisbackups/status: patch',
      'redis.replication.dev/redisbackups: create,delete,list,watch',
      'redis.replication.dev/redisreplications/finalizers: update',
      'redis.replication.dev/redisreplications/status: patch',
      'redis.replication.dev/redisreplications: list,patch,watch',
    ]);
    expect(CODE_NODE_RULES).toEqual(['/nodes: list,watch']);
    expect(CODE_LEASE_RULES).toEqual(['coordination.k8s.io/leases: create,get,update']);
  });
});

describe('the chart by default: the release namespace only', () => {
  const objs = render();

  it('a Role with the watched rules in the release namespace, bound to the operator', () => {
    const role = objectRole(objs, NAMESPACE)!;
    expect(normalizeRules(role.rules as Obj[])).toEqual(DOCUMENTED.watched);
    const binding = ofKind(objs, 'RoleBinding').find((b) => b.roleRef.name === role.metadata.name && b.metadata.namespace === NAMESPACE)!;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: one(objs, 'ServiceAccount').metadata.name, namespace: NAMESPACE }]);
  });

  it('cluster-wide only the cluster rules: no Secret and no Pod of any other namespace', () => {
    const clusterRole = one(objs, 'ClusterRole');
    expect(normalizeRules(clusterRole.rules as Obj[])).toEqual(DOCUMENTED.cluster);
    expect(dangerousRules(clusterRole.rules as Obj[])).toEqual([]);
    expect(one(objs, 'ClusterRoleBinding').roleRef.name).toBe(clusterRole.metadata.name);
  });

  it('the leader Lease: a Role in the release namespace', () => {
    expect(normalizeRules(leaderRole(objs).rules as Obj[])).toEqual(DOCUMENTED['release namespace']);
  });

  it('no Role outside the release namespace', () => {
    expect(ofKind(objs, 'Role').map((r) => r.metadata.namespace)).toEqual([NAMESPACE, NAMESPACE]);
  });
});

describe('the chart with watchNamespaces [a, b]', () => {
  const objs = render('--set', 'watchNamespaces={a,b}');

  it('a Role with the watched rules in each, and none in the release namespace but the Lease\'s', () => {
    for (const ns of ['a', 'b']) {
      const role = objectRole(objs, ns)!;
      expect(normalizeRules(role.rules as Obj[])).toEqual(DOCUMENTED.watched);
      const binding = ofKind(objs, 'RoleBinding').find((r) => r.metadata.namespace === ns)!;
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
      expect(binding.subjects[0].namespace).toBe(NAMESPACE);
    }
    expect(objectRole(objs, NAMESPACE)).toBeUndefined();
    expect(normalizeRules(leaderRole(objs).rules as Obj[])).toEqual(DOCUMENTED['release namespace']);
  });

  it('cluster-wide only the cluster rules', () => {
    expect(normalizeRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual(DOCUMENTED.cluster);
  });
});

describe('the chart with watchNamespaces [] (every namespace)', () => {
  const objs = render('--set-json', 'watchNamespaces=[]');

  it('the watched rules are cluster-wide, as the values comment warns', () => {
    expect(normalizeRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual([...DOCUMENTED.watched, ...DOCUMENTED.cluster].sort());
    expect(objectRole(objs, NAMESPACE)).toBeUndefined();
    const comment = read(`${CHART_DIR}/values.yaml`).split('\nwatchNamespaces:')[0]!;
    for (const said of ['secrets get, create, patch', 'pods create', 'cluster-admin']) expect(comment).toContain(said);
  });
});

describe('manifests/', () => {
  const objs = docs(read(MANIFEST_FILE));

  it('watch their own namespace: the watched rules in a Role there, nothing cluster-wide but the cluster rules', () => {
    expect(normalizeRules(objectRole(objs, NAMESPACE)!.rules as Obj[])).toEqual(DOCUMENTED.watched);
    expect(normalizeRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual(DOCUMENTED.cluster);
    expect(dangerousRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual([]);
    const envs = one(objs, 'Deployment').spec.template.spec.containers[0].env as Obj[];
    expect(envs.find((e) => e.name === 'WATCH_NAMESPACES')?.value).toBe(NAMESPACE);
  });
});

describe('names', () => {
  it('cluster-wide names carry the release namespace: two releases of one name never clash', () => {
    const inA = one(render('--namespace', 'team-a'), 'ClusterRole').metadata.name;
    const inB = one(render('--namespace', 'team-b'), 'ClusterRole').metadata.name;
    expect(inA).not.toBe(inB);
  });

  it('a release name of 53 characters (helm\'s limit) still gives names that fit their kinds', () => {
    const r = spawnSync(helm(), ['template', 'x'.repeat(53), join(repoRoot, CHART_DIR), '--namespace', NAMESPACE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const objs = docs(r.stdout);
    expect(objs.length).toBeGreaterThan(5);
    for (const o of objs) {
      // Services and label values are DNS labels (63); the rest DNS subdomains (253).
      const limit = o.kind === 'Service' ? 63 : 253;
      expect(o.metadata.name.length, `${o.kind} ${o.metadata.name}`).toBeLessThanOrEqual(limit);
      for (const v of Object.values((o.metadata.labels ?? {}) as Record<string, string>)) expect(v.length).toBeLessThanOrEqual(63);
    }
  });
});
