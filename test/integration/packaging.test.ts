/**
 * Packaging: the Helm chart, the plain manifests rendered from it, the chart's copy of the CRD,
 * the Dockerfile and the kind e2e runner. Needs helm and kubectl (hack/local-cluster/build-binaries.sh
 * builds both); without them these tests fail, and say how to get them. No cluster needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART_CRD_FILE, CHART_DIR, CRD_FILE, MANIFEST_FILE, NAMESPACE, renderManifests, runHelm } from '../../hack/render-manifests.js';
import { OPERATOR_NODE_FLAGS, repoRoot } from '../../hack/lib.js';
import { cacheBinDir } from '../../hack/local-cluster/common.js';
import { docs, helm, ofKind, one, read, render, type Obj } from './chart.js';

function container(objs: Obj[]): Obj {
  const containers = one(objs, 'Deployment').spec.template.spec.containers as Obj[];
  expect(containers).toHaveLength(1);
  return containers[0] as Obj;
}
function env(objs: Obj[]): Map<string, Obj> {
  return new Map((container(objs).env as Obj[]).map((e) => [e.name as string, e]));
}
const envValue = (objs: Obj[], name: string): unknown => env(objs).get(name)?.value;

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
    expect(values.watchNamespaces).toBeNull();
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
    expect(notes).toMatch(/\$ns := splitList "," \$watched \| compact \| default \(list "default"\) \| first/);
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
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
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
    expect(c.ports).toEqual([{ name: 'http-metrics', containerPort: 8080, protocol: 'TCP' }, { name: 'restore', containerPort: 6380, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    const e = env(objs);
    expect(e.get('WATCH_NAMESPACES')?.value).toBe(NAMESPACE);
    expect(e.get('LOG_LEVEL')?.value).toBe('info');
    expect(e.get('METRICS_PORT')?.value).toBe('8080');
    expect(e.get('LEADER_ELECT')?.value).toBe('true');
    expect(e.get('LEASE_NAME')?.value).toBe('rro-redis-replication-operator');
    expect(e.get('POD_NAMESPACE')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(e.get('POD_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    // Pods being restored reach the operator at its pod IP.
    expect(e.get('RESTORE_ADDRESS')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect(e.get('RESTORE_PORT')?.value).toBe('6380');
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

  it('watchNamespaces: unset gives the release namespace, [a,b] gives a,b, [] gives every namespace', () => {
    expect(envValue(render('--namespace', 'team-x'), 'WATCH_NAMESPACES')).toBe('team-x');
    expect(envValue(render('--set-json', 'watchNamespaces=[]'), 'WATCH_NAMESPACES')).toBe('');
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

  it('a PrometheusRule only when metrics.prometheusRule.enabled, with its labels, alert labels, durations and runbook base', () => {
    expect(ofKind(render(), 'PrometheusRule')).toEqual([]);
    const objs = render(
      '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.prometheusRule.labels.release=prom',
      '--set', 'metrics.prometheusRule.alertLabels.team=db', '--set', 'metrics.prometheusRule.for.replicaDown=7m',
      '--set', 'metrics.prometheusRule.runbookBaseUrl=https://runbooks.example/rro/',
    );
    const rule = one(objs, 'PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.labels.release).toBe('prom');
    const alerts = (rule.spec.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    for (const a of alerts) {
      expect(a.labels.team, a.alert).toBe('db');
      expect(a.annotations.runbook_url, a.alert).toBe(`https://runbooks.example/rro/${a.alert}.md`);
    }
    expect(alerts.find((a) => a.alert === 'RROReplicaDown')!.for).toBe('7m');
    // The operator's job defaults to the metrics Service's name (the ServiceMonitor's job).
    const job = one(render('--set', 'metrics.serviceMonitor.enabled=true'), 'Service').metadata.name as string;
    expect(alerts.find((a) => a.alert === 'RROOperatorNotReconciling')!.expr).toContain(`up{job="${job}"}`);
  });

  it('the dashboard ConfigMap only when metrics.dashboard.enabled, labelled for the Grafana sidecar, with dashboards/redis-replication.json', () => {
    expect(ofKind(render(), 'ConfigMap')).toEqual([]);
    const cm = one(render('--set', 'metrics.dashboard.enabled=true', '--set', 'metrics.dashboard.labels.extra=x'), 'ConfigMap');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1', extra: 'x' });
    expect(JSON.parse(cm.data['redis-replication.json'] as string)).toEqual(JSON.parse(read('dashboards/redis-replication.json')));
  });

  it('a NetworkPolicy of the metrics port only when metrics.networkPolicy.enabled, from its peers, and of the restore port, from any pod', () => {
    expect(ofKind(render(), 'NetworkPolicy')).toEqual([]);
    const objs = render('--set', 'metrics.networkPolicy.enabled=true', '--set', 'metrics.port=9090', '--set', 'metrics.networkPolicy.from[0].namespaceSelector.matchLabels.team=monitoring');
    const np = one(objs, 'NetworkPolicy');
    expect(np.spec.podSelector.matchLabels).toEqual(one(objs, 'Deployment').spec.selector.matchLabels);
    expect(np.spec.ingress).toEqual([
      { ports: [{ protocol: 'TCP', port: 9090 }], from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }] },
      { ports: [{ protocol: 'TCP', port: 6380 }] },
    ]);
  });

  it('imageAllowList: no policy when empty; else a ValidatingAdmissionPolicy on RedisReplications with the list, bound to the watched namespaces', () => {
    const admission = (objs: Obj[]) => objs.filter((o) => o.apiVersion === 'admissionregistration.k8s.io/v1');
    expect(admission(render())).toEqual([]);
    const objs = render('--set', 'imageAllowList={redis:8.0,registry.example.com/redis/*}', '--set', 'watchNamespaces={a,b}');
    const policy = one(objs, 'ValidatingAdmissionPolicy');
    const binding = one(objs, 'ValidatingAdmissionPolicyBinding');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: ['redis.replication.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['redisreplications'] },
    ]);
    const variables = new Map((policy.spec.variables as Obj[]).map((v) => [v.name as string, v.expression as string]));
    // The list is a CEL list literal of the values, as JSON writes it.
    expect(JSON.parse(variables.get('allowed')!)).toEqual(['redis:8.0', 'registry.example.com/redis/*']);
    expect(variables.get('image')).toContain('object.spec.image');
    const rule = (policy.spec.validations as Obj[])[0]!;
    expect(rule.expression).toContain('variables.allowed.exists(');
    expect(rule.messageExpression).toContain('imageAllowList');
    expect(binding.spec).toEqual({
      policyName: policy.metadata.name,
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a', 'b'] }] } },
    });
    // Every namespace: no selector. By default: the release namespace.
    expect(one(render('--set', 'imageAllowList={redis:8.0}', '--set-json', 'watchNamespaces=[]'), 'ValidatingAdmissionPolicyBinding').spec.matchResources).toBeUndefined();
    expect(one(render('--set', 'imageAllowList={redis:8.0}'), 'ValidatingAdmissionPolicyBinding').spec.matchResources.namespaceSelector.matchExpressions[0].values).toEqual([NAMESPACE]);
    // Cluster-scoped: named after the release and its namespace.
    expect(policy.metadata.name).toContain(NAMESPACE);
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
      [['--set-json', 'imageAllowList=["redis 8"]'], /imageAllowList/],
      [['--set-json', 'imageAllowList=["redis:*:x*"]'], /imageAllowList/],
      [['--set', 'metrics.prometheusRule.for.noPrimary=soon'], /noPrimary/],
      [['--set', 'metrics.prometheusRule.for.bogus=1m'], /bogus/],
      [['--set', 'metrics.prometheusRule.certificateExpiryDays=0'], /certificateExpiryDays/],
    ];
    for (const [args, message] of bad) {
      const r = runHelm(['template', 'rro', CHART_DIR, ...args], helm());
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
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
      ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Deployment', 'Service'].sort(),
    );
    for (const o of objs) {
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) expect(o.metadata.namespace, o.kind).toBe(NAMESPACE);
      expect(o.metadata.labels?.['helm.sh/chart']).toBeUndefined();
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    }
    expect(ofKind(objs, 'CustomResourceDefinition')).toEqual([]);
    expect(container(objs).image).toBe('redis-replication-operator:0.1.0');
    expect(envValue(objs, 'LEASE_NAME')).toBe('redis-replication-operator');
    expect(envValue(objs, 'WATCH_NAMESPACES')).toBe(NAMESPACE);
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
    const [, base, major] = /^ARG NODE_IMAGE=(node:(\d+)\.\d+\.\d+-bookworm-slim)@sha256:[0-9a-f]{64}$/m.exec(df) ?? [];
    expect(Number(major) % 2 === 0 && Number(major) >= 24).toBe(true);
    // By digest; the local build (no registry) passes the same name without it, the image build-images.sh makes.
    const version = /^NODE_VERSION=(\S+)$/m.exec(read('hack/local-cluster/build-images.sh'))?.[1];
    expect(base).toBe(`node:${version}-bookworm-slim`);
    const script = read('hack/image-build.sh');
    const derive = /^base=\$\((.*)\)$/m.exec(script)?.[1] ?? 'false';
    expect(spawnSync('bash', ['-c', derive], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim()).toBe(base);
    expect(script).toContain('--build-arg NODE_IMAGE="$base"');
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
    expect(script).toContain("npx vitest run --project 'e2e*'");
    const config = parse(read('test/e2e/kind/kind-config.yaml')) as Obj;
    expect(config.kind).toBe('Cluster');
    expect(config.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
  });
});
