/**
 * Packaging: the Helm chart, the plain manifests rendered from it, the chart's copy of the CRD,
 * the Dockerfile and the kind e2e runner. Needs helm and kubectl (hack/local-cluster/build-binaries.sh
 * builds both); without them these tests fail, and say how to get them. No cluster needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  CHART_CRD_FILE,
  CHART_DIR,
  CRD_FILE,
  HelmMissingError,
  MANIFEST_FILE,
  NAMESPACE,
  findHelm,
  helmTemplate,
  renderManifests,
  runHelm,
} from '../../hack/render-manifests.js';
import { OPERATOR_NODE_FLAGS, repoRoot } from '../../hack/lib.js';
import { cacheBinDir } from '../../hack/local-cluster/common.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

let helmPath: string | undefined;
let helmError: Error | undefined;
try {
  helmPath = findHelm();
} catch (err) {
  helmError = err as Error;
}

/** The helm binary; throws the "how to build it" message when it is missing. */
function helm(): string {
  if (helmPath === undefined) throw helmError ?? new HelmMissingError('helm not found');
  return helmPath;
}

const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8');

function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors[0]?.message);
      return d.toJS() as Obj | null;
    })
    .filter((d): d is Obj => d !== null && typeof d === 'object');
}

/** Renders the chart with `--set`/`--set-json` style arguments, parsed. */
function render(...args: string[]): Obj[] {
  return docs(helmTemplate(args, helm()));
}

const ofKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
function one(objs: Obj[], kind: string): Obj {
  const found = ofKind(objs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as Obj;
}
function container(objs: Obj[]): Obj {
  const containers = one(objs, 'Deployment').spec.template.spec.containers as Obj[];
  expect(containers).toHaveLength(1);
  return containers[0] as Obj;
}
function env(objs: Obj[]): Map<string, Obj> {
  return new Map((container(objs).env as Obj[]).map((e) => [e.name as string, e]));
}
const envValue = (objs: Obj[], name: string): unknown => env(objs).get(name)?.value;

/** Rules normalized for comparison: one entry per (group, resource), verbs sorted. */
function normalizeRules(rules: Obj[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    expect(r.resourceNames ?? [], 'no resourceNames expected').toEqual([]);
    expect(r.nonResourceURLs, 'no nonResourceURLs expected').toBeUndefined();
    for (const g of r.apiGroups as string[]) {
      for (const res of r.resources as string[]) {
        out.push(`${g}/${res}: ${[...(r.verbs as string[])].sort().join(',')}`);
      }
    }
  }
  return out.sort();
}

/**
 * The API calls the operator makes, read from its code (src/ but the CLI, which runs with the user's
 * own credentials): client-node method names say verb and resource; whatever is listed is watched
 * (informers). redisreplications/finalizers is the one rule no call shows: the API server requires it
 * to set blockOwnerDeletion on owner references (OpenShift enforces it).
 */
function rulesFromCode(): { objects: string[]; nodes: string[]; leases: string[] } {
  const files = (function walk(dir: string): string[] {
    return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === 'cli' ? [] : walk(`${dir}/${e.name}`)) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
    );
  })('src');
  const verbs = new Map<string, Set<string>>();
  const add = (resource: string, verb: string) => verbs.set(resource, new Set([...(verbs.get(resource) ?? []), verb]));
  const RESOURCE: Record<string, string> = {
    Pod: '/pods',
    Service: '/services',
    PersistentVolumeClaim: '/persistentvolumeclaims',
    Secret: '/secrets',
    Event: '/events',
    Lease: 'coordination.k8s.io/leases',
    Node: '/nodes',
    PodDisruptionBudget: 'policy/poddisruptionbudgets',
    NetworkPolicy: 'networking.k8s.io/networkpolicies',
    CustomObject: 'redis.replication.dev/redisreplications',
    CustomObjectStatus: 'redis.replication.dev/redisreplications/status',
  };
  const VERB: Record<string, string> = { create: 'create', delete: 'delete', patch: 'patch', read: 'get', replace: 'update', list: 'list' };
  for (const file of files) {
    for (const [, verb, kind, args] of read(file).matchAll(/\.(create|delete|patch|read|replace|list)(?:Namespaced|Cluster)?(\w+?)(?:ForAllNamespaces)?\(([^)]*)/g)) {
      // A custom object call names its kind by the plural it passes: RedisBackups by BACKUP_PLURAL.
      const resource = kind!.startsWith('CustomObject') && args!.includes('BACKUP_PLURAL') ? RESOURCE[kind!]!.replace('redisreplications', 'redisbackups') : RESOURCE[kind!];
      if (!resource) continue;
      add(resource, VERB[verb!]!);
      if (verb === 'list') add(resource, 'watch');
    }
  }
  add('redis.replication.dev/redisreplications/finalizers', 'update');
  const rules = [...verbs].map(([r, v]) => `${r}: ${[...v].sort().join(',')}`).sort();
  return {
    objects: rules.filter((r) => !r.includes('leases') && !r.startsWith('/nodes')),
    nodes: rules.filter((r) => r.startsWith('/nodes')),
    leases: rules.filter((r) => r.includes('leases')),
  };
}

const { objects: EXPECTED_OBJECT_RULES, nodes: EXPECTED_NODE_RULES, leases: EXPECTED_LEASE_RULES } = rulesFromCode();
const EXPECTED_CLUSTER_RULES = [...EXPECTED_OBJECT_RULES, ...EXPECTED_NODE_RULES].sort();

describe('helm availability', () => {
  it('helm is installed (else: run hack/local-cluster/build-binaries.sh)', () => {
    expect(() => helm()).not.toThrow();
  });
});

describe('chart metadata', () => {
  const chart = parse(read(`${CHART_DIR}/Chart.yaml`)) as Obj;
  const values = parse(read(`${CHART_DIR}/values.yaml`)) as Obj;
  const pkg = JSON.parse(read('package.json')) as Obj;

  it('is an apiVersion v2 application chart for Kubernetes >= 1.29, appVersion = package version', () => {
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('redis-replication-operator');
    expect(chart.type).toBe('application');
    expect(chart.kubeVersion).toBe('>=1.29.0-0');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it('has the documented defaults', () => {
    expect(values.image).toEqual({ repository: 'redis-replication-operator', tag: '', pullPolicy: 'IfNotPresent' });
    expect(values.watchNamespaces).toEqual([]);
    expect(values.replicaCount).toBe(1);
    expect(values.metrics.enabled).toBe(true);
    expect(values.metrics.port).toBe(8080);
    expect(values.metrics.serviceMonitor.enabled).toBe(false);
    expect(values.logLevel).toBe('info');
    for (const key of ['resources', 'nodeSelector', 'tolerations', 'affinity']) expect(values).toHaveProperty(key);
  });

  it('the values schema describes every top-level value and refuses unknown ones', () => {
    const schema = JSON.parse(read(`${CHART_DIR}/values.schema.json`)) as Obj;
    expect(schema.additionalProperties).toBe(false);
    for (const key of Object.keys(values)) expect(schema.properties, key).toHaveProperty(key);
  });

  it('has complete metadata: home, sources, maintainers, icon, Artifact Hub annotations', () => {
    for (const key of ['home', 'sources', 'maintainers', 'icon', 'annotations', 'description', 'keywords']) expect(chart, key).toHaveProperty(key);
    expect((chart.annotations as Obj)['artifacthub.io/operator']).toBe('true');
  });

  it('a `helm test` hook checks /healthz and /readyz of the operator through its metrics Service', () => {
    const hook = render().find((o) => o.metadata.annotations?.['helm.sh/hook'] === 'test')!;
    expect(hook.kind).toBe('Pod');
    const script = (hook.spec.containers[0].command as string[]).join(' ');
    const service = one(render(), 'Service').metadata.name;
    expect(script).toContain(`http://${service}.${NAMESPACE}.svc:8080`);
    for (const path of ['/healthz', '/readyz']) expect(script).toContain(path);
    expect(hook.spec.securityContext.runAsNonRoot).toBe(true);
  });

  it('NOTES name the metrics Service as rendered, and the example goes to a watched namespace', () => {
    const notes = read(`${CHART_DIR}/templates/NOTES.txt`);
    expect(notes).toContain('include "rro.suffixed" (list . "metrics")');
    expect(notes).toMatch(/kubectl apply --namespace \{\{ \$ns \}\}/);
    expect(notes).toMatch(/\$ns := \.Values\.watchNamespaces \| default \(list "default"\) \| first/);
  });

  it('has NOTES.txt and standard labels in _helpers.tpl', () => {
    expect(existsSync(join(repoRoot, CHART_DIR, 'templates/NOTES.txt'))).toBe(true);
    const helpers = read(`${CHART_DIR}/templates/_helpers.tpl`);
    for (const label of ['helm.sh/chart', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by']) {
      expect(helpers).toContain(label);
    }
  });
});

describe('CRD copy in the chart', () => {
  it(`${CHART_CRD_FILE} equals ${CRD_FILE} (sync: npm run manifests:generate)`, () => {
    expect(existsSync(join(repoRoot, CRD_FILE)), `${CRD_FILE} is missing: npm run crd:generate`).toBe(true);
    expect(existsSync(join(repoRoot, CHART_CRD_FILE)), `${CHART_CRD_FILE} is missing: npm run manifests:generate`).toBe(true);
    expect(read(CHART_CRD_FILE) === read(CRD_FILE), `${CHART_CRD_FILE} differs from ${CRD_FILE}: npm run manifests:generate`).toBe(true);
  });

  it('is the RedisReplication CRD', () => {
    const crd = parse(read(CHART_CRD_FILE)) as Obj;
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe('redisreplications.redis.replication.dev');
  });
});

describe('helm lint', () => {
  const cases: [string, string[]][] = [
    ['defaults', []],
    ['replicaCount=2, watchNamespaces, serviceMonitor', ['--set', 'replicaCount=2', '--set', 'watchNamespaces={a,b}', '--set', 'metrics.serviceMonitor.enabled=true']],
    ['metrics off', ['--set', 'metrics.enabled=false']],
    ['metrics NetworkPolicy', ['--set', 'metrics.networkPolicy.enabled=true']],
  ];
  for (const [name, args] of cases) {
    it(`passes --strict with ${name}`, () => {
      const r = runHelm(['lint', '--strict', CHART_DIR, ...args], helm());
      expect(r.status, r.stdout + r.stderr).toBe(0);
    });
  }
});

describe('helm template', () => {
  it('renders the expected objects by default (and never the CRD among templates)', () => {
    const objs = render().filter((o) => !o.metadata.annotations?.['helm.sh/hook']);
    expect(objs.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    for (const o of objs) {
      expect(o.metadata.labels['app.kubernetes.io/name']).toBe('redis-replication-operator');
      expect(o.metadata.labels['app.kubernetes.io/instance']).toBe('rro');
      expect(o.metadata.labels['helm.sh/chart']).toMatch(/^redis-replication-operator-/);
      if (!o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBe(NAMESPACE);
    }
  });

  it('Deployment: hardened, probed, configured from values and the downward API', () => {
    const objs = render();
    const dep = one(objs, 'Deployment');
    const pod = dep.spec.template.spec as Obj;
    const c = container(objs);
    expect(dep.spec.replicas).toBe(1);
    expect(c.image).toBe('redis-replication-operator:0.1.0');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(pod.serviceAccountName).toBe(one(objs, 'ServiceAccount').metadata.name);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits).toBeDefined();
    expect(c.ports).toEqual([{ name: 'http-metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    const e = env(objs);
    expect(e.get('WATCH_NAMESPACES')?.value).toBe('');
    expect(e.get('LOG_LEVEL')?.value).toBe('info');
    expect(e.get('METRICS_PORT')?.value).toBe('8080');
    expect(e.get('LEADER_ELECT')?.value).toBe('true');
    expect(e.get('LEASE_NAME')?.value).toBe('rro-redis-replication-operator');
    expect(e.get('POD_NAMESPACE')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(e.get('POD_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    // Every env value is a string (the API server refuses numbers and booleans).
    for (const v of e.values()) if ('value' in v) expect(typeof v.value).toBe('string');
  });

  it('replicaCount 2 turns leader election on', () => {
    const objs = render('--set', 'replicaCount=2');
    expect(one(objs, 'Deployment').spec.replicas).toBe(2);
    expect(envValue(objs, 'LEADER_ELECT')).toBe('true');
  });

  it('leader election is on by default, so a rolling update never runs two active operators', () => {
    const objs = render();
    expect(envValue(objs, 'LEADER_ELECT')).toBe('true');
    expect(one(objs, 'Deployment').spec.strategy).toBeUndefined();
  });

  it('with leader election off and one replica, the Deployment is recreated instead of rolled', () => {
    const objs = render('--set', 'leaderElection.enabled=false');
    expect(envValue(objs, 'LEADER_ELECT')).toBe('false');
    expect(one(objs, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('watchNamespaces [a,b] gives WATCH_NAMESPACES=a,b', () => {
    expect(envValue(render('--set', 'watchNamespaces={a,b}'), 'WATCH_NAMESPACES')).toBe('a,b');
    expect(envValue(render('--set-json', 'watchNamespaces=["team-1"]'), 'WATCH_NAMESPACES')).toBe('team-1');
  });

  it('image repository, tag and pull policy come from values', () => {
    const c = container(render('--set', 'image.repository=example.org/rro', '--set', 'image.tag=1.2.3', '--set', 'image.pullPolicy=Always'));
    expect(c.image).toBe('example.org/rro:1.2.3');
    expect(c.imagePullPolicy).toBe('Always');
  });

  it('logLevel, resources, nodeSelector, tolerations and affinity are passed through', () => {
    const objs = render(
      '--set', 'logLevel=debug',
      '--set-json', 'resources={"requests":{"cpu":"10m"}}',
      '--set-json', 'nodeSelector={"kubernetes.io/os":"linux"}',
      '--set-json', 'tolerations=[{"key":"k","operator":"Exists"}]',
      '--set-json', 'affinity={"nodeAffinity":{}}',
    );
    const pod = one(objs, 'Deployment').spec.template.spec as Obj;
    expect(envValue(objs, 'LOG_LEVEL')).toBe('debug');
    expect(container(objs).resources.requests.cpu).toBe('10m');
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toEqual([{ key: 'k', operator: 'Exists' }]);
    expect(pod.affinity).toEqual({ nodeAffinity: {} });
  });

  it('metrics Service selects the operator pods on the metrics port; metrics.enabled=false removes it', () => {
    const objs = render();
    const svc = one(objs, 'Service');
    const dep = one(objs, 'Deployment');
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    for (const [k, v] of Object.entries(svc.spec.selector as Obj)) expect(dep.spec.template.metadata.labels[k]).toBe(v);
    expect(svc.spec.ports).toEqual([{ name: 'http-metrics', port: 8080, targetPort: 'http-metrics', protocol: 'TCP' }]);

    const off = render('--set', 'metrics.enabled=false');
    expect(ofKind(off, 'Service')).toEqual([]);
    expect(ofKind(off, 'ServiceMonitor')).toEqual([]);
    // The probes still need the port.
    expect(envValue(off, 'METRICS_PORT')).toBe('8080');
  });

  it('metrics.port moves the container port, the probes and METRICS_PORT', () => {
    const objs = render('--set', 'metrics.port=9090');
    expect(container(objs).ports[0].containerPort).toBe(9090);
    expect(envValue(objs, 'METRICS_PORT')).toBe('9090');
    expect(one(objs, 'Service').spec.ports[0].port).toBe(9090);
  });

  it('ServiceMonitor only when metrics.serviceMonitor.enabled, scraping the metrics Service', () => {
    expect(ofKind(render(), 'ServiceMonitor')).toEqual([]);
    const objs = render('--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom');
    const sm = one(objs, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels.release).toBe('prom');
    const svcLabels = one(objs, 'Service').metadata.labels as Obj;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels as Obj)) expect(svcLabels[k]).toBe(v);
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'http-metrics', path: '/metrics' })]);
  });

  it('a NetworkPolicy of the metrics port only when metrics.networkPolicy.enabled, from its peers', () => {
    expect(ofKind(render(), 'NetworkPolicy')).toEqual([]);
    const objs = render('--set', 'metrics.networkPolicy.enabled=true', '--set', 'metrics.port=9090', '--set', 'metrics.networkPolicy.from[0].namespaceSelector.matchLabels.team=monitoring');
    const np = one(objs, 'NetworkPolicy');
    expect(np.spec.podSelector.matchLabels).toEqual(one(objs, 'Deployment').spec.selector.matchLabels);
    expect(np.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 9090 }], from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }] }]);
  });

  it('ServiceMonitor without metrics is refused with a message', () => {
    const r = runHelm(
      ['template', 'rro', CHART_DIR, '--set', 'metrics.enabled=false', '--set', 'metrics.serviceMonitor.enabled=true'],
      helm(),
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('metrics.serviceMonitor.enabled needs metrics.enabled=true');
  });

  it('the values schema refuses unknown keys and bad values', () => {
    const bad: [string[], RegExp][] = [
      [['--set', 'foo=1'], /foo/],
      [['--set', 'image.bogus=1'], /bogus/],
      [['--set', 'logLevel=loud'], /logLevel/],
      [['--set', 'replicaCount=-1'], /replicaCount/],
      [['--set', 'image.pullPolicy=Sometimes'], /pullPolicy/],
      [['--set-json', 'watchNamespaces=["Not_A_Namespace"]'], /watchNamespaces/],
      [['--set', 'metrics.enabled=yes'], /enabled/],
    ];
    for (const [args, message] of bad) {
      const r = runHelm(['template', 'rro', CHART_DIR, ...args], helm());
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('RBAC is least privilege', () => {
  it('the rules derived from the code are the ones expected (the derivation itself works)', () => {
    expect(EXPECTED_OBJECT_RULES).toEqual([
      '/events: create,patch',
      '/persistentvolumeclaims: create,delete,list,patch,watch',
      '/pods: create,delete,list,patch,watch',
      '/secrets: create,get,patch',
      '/services: create,list,patch,watch',
      'networking.k8s.io/networkpolicies: create,delete,get,update',
      'policy/poddisruptionbudgets: create',
      'redis.replication.dev/redisbackups/status: patch',
      'redis.replication.dev/redisbackups: list,watch',
      'redis.replication.dev/redisreplications/finalizers: update',
      'redis.replication.dev/redisreplications/status: patch',
      'redis.replication.dev/redisreplications: list,patch,watch',
    ]);
    expect(EXPECTED_NODE_RULES).toEqual(['/nodes: list,watch']);
    expect(EXPECTED_LEASE_RULES).toEqual(['coordination.k8s.io/leases: create,get,update']);
  });

  it("ClusterRole has exactly the operator's API calls", () => {
    expect(normalizeRules(one(render(), 'ClusterRole').rules as Obj[])).toEqual(EXPECTED_CLUSTER_RULES);
  });

  it('with watchNamespaces, a Role and RoleBinding in each watched namespace; cluster-wide only reading nodes', () => {
    const objs = render('--set', 'watchNamespaces={a,b}');
    expect(normalizeRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual(EXPECTED_NODE_RULES);
    for (const ns of ['a', 'b']) {
      const role = ofKind(objs, 'Role').find((r) => r.metadata.namespace === ns)!;
      expect(normalizeRules(role.rules as Obj[])).toEqual(EXPECTED_OBJECT_RULES);
      const binding = ofKind(objs, 'RoleBinding').find((r) => r.metadata.namespace === ns)!;
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    }
  });

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

  it('leases: a Role in the operator namespace, not cluster-wide', () => {
    const objs = render();
    const role = ofKind(objs, 'Role').find((r) => JSON.stringify(r.rules).includes('leases'))!;
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(normalizeRules(role.rules as Obj[])).toEqual(EXPECTED_LEASE_RULES);
    expect(JSON.stringify(one(objs, 'ClusterRole').rules)).not.toContain('leases');
  });

  it('bindings tie the roles to the operator ServiceAccount', () => {
    const objs = render();
    const sa = one(objs, 'ServiceAccount');
    const subject = { kind: 'ServiceAccount', name: sa.metadata.name, namespace: NAMESPACE };
    const crb = one(objs, 'ClusterRoleBinding');
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one(objs, 'ClusterRole').metadata.name });
    expect(crb.subjects).toEqual([subject]);
    const rb = one(objs, 'RoleBinding');
    expect(rb.metadata.namespace).toBe(NAMESPACE);
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: one(objs, 'Role').metadata.name });
    expect(rb.subjects).toEqual([subject]);
  });
});

describe('plain manifests', () => {
  it(`${MANIFEST_FILE} is the chart's current rendering (regenerate: npm run manifests:generate)`, () => {
    const expected = renderManifests(helm());
    expect(existsSync(join(repoRoot, MANIFEST_FILE)), `${MANIFEST_FILE} is missing`).toBe(true);
    const actual = read(MANIFEST_FILE);
    expect(actual === expected, `${MANIFEST_FILE} is out of date: npm run manifests:generate`).toBe(true);
  });

  it('holds a Namespace first, then namespaced objects in it, with no Helm-only labels', () => {
    const objs = docs(read(MANIFEST_FILE));
    expect(objs[0]).toMatchObject({ kind: 'Namespace', metadata: { name: NAMESPACE } });
    expect(objs.map((o) => o.kind).sort()).toEqual(
      ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'Service'].sort(),
    );
    for (const o of objs) {
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) expect(o.metadata.namespace, o.kind).toBe(NAMESPACE);
      expect(o.metadata.labels?.['helm.sh/chart']).toBeUndefined();
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    }
    expect(ofKind(objs, 'CustomResourceDefinition')).toEqual([]);
    expect(normalizeRules(one(objs, 'ClusterRole').rules as Obj[])).toEqual(EXPECTED_CLUSTER_RULES);
    expect(container(objs).image).toBe('redis-replication-operator:0.1.0');
    expect(envValue(objs, 'LEASE_NAME')).toBe('redis-replication-operator');
  });

  it('every manifest is valid for kubectl (client-side parse)', () => {
    const kubectl = join(process.env.RRO_KUBE_BIN ?? cacheBinDir(), 'kubectl');
    if (!existsSync(kubectl)) return expect.fail(`${kubectl} is missing: run hack/local-cluster/build-binaries.sh`);
    // `kubectl create --dry-run=client` needs an API server for the REST mapping; `kubectl apply
    // --dry-run=client` too. Without a cluster the most kubectl can do is decode the files.
    for (const file of [MANIFEST_FILE, CRD_FILE]) {
      const r = spawnSync(kubectl, ['create', '--dry-run=client', '--validate=false', '-o', 'name', '-f', file, '--kubeconfig', '/dev/null', '--server', 'http://127.0.0.1:1'], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      // It decodes every document, then fails only for lack of a server to map kinds: never a decode error.
      expect(r.stderr, file).not.toMatch(/error (converting|parsing)|json: cannot unmarshal|yaml:/i);
      expect(r.stderr, file).toContain('unable to recognize');
    }
  });
});

describe('Dockerfile and kind runner', () => {
  it('Dockerfile: multi-stage build on a pinned Node.js LTS release, OCI labels, prod deps only, non-root, node with the operator flags on dist/main.js', () => {
    const df = read('Dockerfile');
    expect(df.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    // Pinned to a release of an even (LTS) major from 22 on, not a floating tag.
    const [, major] = /NODE_IMAGE=node:(\d+)\.\d+\.\d+-bookworm-slim/.exec(df) ?? [];
    expect(Number(major) % 2 === 0 && Number(major) >= 22).toBe(true);
    for (const label of ['title', 'description', 'version', 'licenses']) expect(df).toContain(`org.opencontainers.image.${label}=`);
    expect(df).toMatch(/npm ci --omit=dev/);
    expect(df).toMatch(/npm run build/);
    expect(df).toMatch(/^USER 1000(:1000)?$/m);
    // The Node.js flags of the image are the ones every local run of the operator uses (hack/lib.ts).
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(df)?.[1] ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', ...OPERATOR_NODE_FLAGS, 'dist/main.js']);
    expect(JSON.parse(read('package.json')).scripts.start).toContain(`node ${OPERATOR_NODE_FLAGS.join(' ')} --import tsx src/main.ts`);
    const dockerignore = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.cluster']) expect(dockerignore).toContain(entry);
    for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json']) expect(dockerignore).not.toContain(needed);
  });

  it('test/e2e/kind/run.sh is valid bash, says it needs Docker, and sets RRO_E2E_KUBECONFIG', () => {
    const r = spawnSync('bash', ['-n', 'test/e2e/kind/run.sh'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const script = read('test/e2e/kind/run.sh');
    expect(script.split('\n').slice(0, 3).join('\n')).toMatch(/NEEDS DOCKER/);
    expect(script).toContain('RRO_E2E_KUBECONFIG');
    expect(script).toContain('kind load docker-image');
    expect(script).toContain('npx vitest run --project e2e');
    const config = parse(read('test/e2e/kind/kind-config.yaml')) as Obj;
    expect(config.kind).toBe('Cluster');
    expect(config.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
  });
});
