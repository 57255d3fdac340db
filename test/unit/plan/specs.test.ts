import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplication, type RedisReplicationSpec, type RedisReplicationSpecInput } from '../../../src/api/schema.js';
import { desiredMeta } from '../../../src/plan/specs.js';
import { ANNOTATION, BOOT_PARENT, LABEL } from '../../../src/plan/names.js';
import { buildClaim, buildPod, buildServices, redisArgs } from '../../../src/plan/specs.js';
import type { Placement, Plan } from '../../../src/plan/topology.js';

const rr: RedisReplication = {
  apiVersion: 'redis.replication.dev/v1alpha1',
  kind: 'RedisReplication',
  metadata: { name: 'cache', namespace: 'ns', uid: 'uid-1' },
  spec: {},
};
const specOf = (input: RedisReplicationSpecInput = {}): RedisReplicationSpec => {
  const parsed = parseSpec(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
};
const container = (spec: RedisReplicationSpec, placement = { name: 'cache-1', tier: 1, parent: 'cache-0' as string | undefined }) =>
  buildPod(rr, spec, placement).spec!.containers[0]!;
/** The value following a `--directive` in redis-server args. */
const argOf = (args: string[], directive: string) => args.slice(args.indexOf(`--${directive}`) + 1, args.indexOf(`--${directive}`) + 2)[0];

describe('buildPod', () => {
  it('carries the contract labels; the pod name says nothing about the role', () => {
    const base = {
      'app.kubernetes.io/name': 'redis',
      'app.kubernetes.io/instance': 'cache',
      'app.kubernetes.io/managed-by': 'redis-replication-operator',
    };
    expect(buildPod(rr, specOf(), { name: 'cache-4', tier: 0, parent: undefined }).metadata?.labels).toEqual({
      ...base,
      'redis.replication.dev/role': 'primary',
      'redis.replication.dev/tier': '0',
      'redis.replication.dev/read': 'false',
    });
    expect(buildPod(rr, specOf(), { name: 'cache-0', tier: 2, parent: 'cache-1' }).metadata?.labels).toEqual({
      ...base,
      'redis.replication.dev/role': 'replica',
      'redis.replication.dev/tier': '2',
      'redis.replication.dev/read': 'false',
    });
  });

  it('is named, namespaced and owned by the resource; a replica records its parent', () => {
    const pod = buildPod(rr, specOf(), { name: 'cache-3', tier: 2, parent: 'cache-1' });
    expect(pod.metadata).toMatchObject({ name: 'cache-3', namespace: 'ns', annotations: { [ANNOTATION.parent]: 'cache-1' } });
    expect(pod.metadata?.ownerReferences).toEqual([
      { apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', name: 'cache', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
    // The primary has no parent; every pod records the revision of the template it was built from.
    expect(buildPod(rr, specOf(), { name: 'cache-0', tier: 0, parent: undefined }).metadata?.annotations).toEqual({ [ANNOTATION.revision]: expect.stringMatching(/^[0-9a-f]{8}$/) });
  });

  it('runs the image on port 6379 with the data volume at the --dir', () => {
    const c = container(specOf({ image: 'valkey/valkey:8' }));
    expect(c).toMatchObject({ image: 'valkey/valkey:8', command: ['redis-server'], ports: [{ containerPort: 6379 }] });
    expect(argOf(c.args!, 'port')).toBe('6379');
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: argOf(c.args!, 'dir') });
  });

  it('keeps the password out of argv and env: redis-server includes auth.conf from a Secret volume, the generated password as a named one', () => {
    const named = buildPod(rr, specOf({ auth: { secretName: 'cache-auth' } }), { name: 'cache-1', tier: 1, parent: 'cache-0' });
    const pod = buildPod(rr, specOf(), { name: 'cache-1', tier: 1, parent: 'cache-0' });
    expect(pod).toEqual(named);
    const c = pod.spec!.containers[0]!;
    expect(argOf(c.args!, 'include')).toBe('/etc/redis-auth/auth.conf');
    expect(c.args!.some((a) => a.includes('requirepass') || a.includes('masterauth') || a.includes('$('))).toBe(false);
    expect(c.env ?? []).toEqual([]);
    // The operator's copy of the password the pods have: a rotation changes it only once every pod has the new one.
    expect(pod.spec!.volumes).toContainEqual({
      name: 'auth',
      secret: { secretName: 'cache-applied-auth', items: [{ key: 'auth.conf', path: 'auth.conf' }], defaultMode: 0o440 },
    });
    expect(c.volumeMounts).toContainEqual({ name: 'auth', mountPath: '/etc/redis-auth', readOnly: true });
  });

  it('passes the restricted Pod Security Standard: non-root, no escalation, no capabilities, RuntimeDefault seccomp, no token', () => {
    const pod = buildPod(rr, specOf({}), { name: 'cache-1', tier: 1, parent: 'cache-0' });
    const c = pod.spec!.containers[0]!;
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    for (const v of pod.spec!.volumes!) expect(Object.keys(v).filter((k) => k !== 'name')).toEqual([expect.stringMatching(/^(emptyDir|persistentVolumeClaim|secret)$/)]);
  });

  it('with TLS: port 6379 speaks TLS only, replication too, and clients need no certificate of their own', () => {
    const pod = buildPod(rr, specOf({ tls: { enabled: true } }), { name: 'cache-1', tier: 1, parent: 'cache-0' });
    const c = pod.spec!.containers[0]!;
    expect(argOf(c.args!, 'port')).toBe('0');
    expect(argOf(c.args!, 'tls-port')).toBe('6379');
    expect(argOf(c.args!, 'tls-replication')).toBe('yes');
    expect(argOf(c.args!, 'tls-auth-clients')).toBe('no');
    expect(argOf(c.args!, 'tls-cert-file')).toBe('/etc/redis-tls/tls.crt');
    expect(argOf(c.args!, 'tls-key-file')).toBe('/etc/redis-tls/tls.key');
    expect(argOf(c.args!, 'tls-ca-cert-file')).toBe('/etc/redis-tls/ca.crt');
    expect(c.ports).toEqual([{ name: 'redis', containerPort: 6379 }]);
    // The operator's copy of the certificate (the same for the own CA and for a user's Secret), not
    // readable by others; the key never in an argument.
    expect(pod.spec!.volumes).toContainEqual({
      name: 'tls',
      secret: {
        secretName: 'cache-tls',
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
          { key: 'ca.crt', path: 'ca.crt' },
        ],
        defaultMode: 0o440,
      },
    });
    expect(c.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/redis-tls', readOnly: true });
    // A TCP probe: it needs no handshake, so it works the same with TLS on.
    expect(c.readinessProbe).toMatchObject({ tcpSocket: { port: 6379 } });
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
  });

  it('has no TLS arguments nor volume without TLS (or with tls.enabled false)', () => {
    for (const spec of [specOf(), specOf({ tls: { enabled: false } })]) {
      const pod = buildPod(rr, spec, { name: 'cache-1', tier: 1, parent: 'cache-0' });
      expect(pod.spec!.containers[0]!.args!.filter((a) => a.startsWith('--tls'))).toEqual([]);
      expect(pod.spec!.volumes!.map((v) => v.name)).not.toContain('tls');
    }
  });

  it('has no password arguments, volume nor env with auth off', () => {
    const pod = buildPod(rr, specOf({ auth: { enabled: false } }), { name: 'cache-1', tier: 1, parent: 'cache-0' });
    const c = pod.spec!.containers[0]!;
    expect(pod.spec!.volumes!.map((v) => v.name)).toEqual(['data']);
    expect(c.args).not.toContain('--requirepass');
    expect(c.args).not.toContain('--masterauth');
    expect(c.args).not.toContain('--include');
    expect(c.env).toBeUndefined();
  });

  it('uses a claim named data-<pod> with persistence, else an emptyDir', () => {
    const persisted = buildPod(rr, specOf({ persistence: { enabled: true } }), { name: 'cache-7', tier: 1, parent: 'cache-0' });
    expect(persisted.spec?.volumes?.[0]).toEqual({ name: 'data', persistentVolumeClaim: { claimName: 'data-cache-7' } });
    expect(buildPod(rr, specOf(), { name: 'cache-7', tier: 1, parent: 'cache-0' }).spec?.volumes?.[0]).toEqual({ name: 'data', emptyDir: {} });
  });
});

describe('redisArgs', () => {
  it('boots every pod as a replica of the boot parent, read-only', () => {
    for (const spec of [specOf(), specOf({ persistence: { enabled: true }, auth: { secretName: 's' }, config: { 'maxmemory-policy': 'allkeys-lru' } })]) {
      const args = redisArgs(spec);
      const at = args.indexOf('--replicaof');
      expect(args.slice(at, at + 3)).toEqual(['--replicaof', BOOT_PARENT.host, String(BOOT_PARENT.port)]);
      expect(args.filter((a) => /^--(replicaof|slaveof)$/i.test(a))).toHaveLength(1);
      expect(argOf(args, 'replica-read-only')).toBe('yes');
    }
  });

  it('puts the user config after every owned directive, so it overrides nothing the operator needs and wins on the rest', () => {
    const config = { 'maxmemory-policy': 'allkeys-lru', maxmemory: '256mb', save: '900 1' };
    const args = redisArgs(specOf({ auth: { secretName: 's' }, config }));
    const userStart = args.indexOf('--maxmemory-policy');
    expect(args.slice(userStart)).toEqual(['--maxmemory-policy', 'allkeys-lru', '--maxmemory', '256mb', '--save', '900 1']);
    for (const owned of ['port', 'bind', 'protected-mode', 'dir', 'replica-read-only', 'replicaof', 'include', 'appendonly']) {
      const at = args.indexOf(`--${owned}`);
      expect(at, owned).toBeGreaterThanOrEqual(0);
      expect(at, owned).toBeLessThan(userStart);
    }
  });

  it('persists with an append-only file, else keeps nothing on disk', () => {
    expect(argOf(redisArgs(specOf({ persistence: { enabled: true } })), 'appendonly')).toBe('yes');
    const args = redisArgs(specOf());
    expect(argOf(args, 'appendonly')).toBe('no');
    expect(argOf(args, 'save')).toBe('');
  });
});

describe('buildClaim', () => {
  it('is data-<pod>, sized, labelled with the pod and its tier, owned by the resource', () => {
    const claim = buildClaim(rr, specOf({ persistence: { enabled: true, size: '5Gi' } }), 'cache-2', 1);
    expect(claim.metadata).toMatchObject({
      name: 'data-cache-2',
      namespace: 'ns',
      labels: { 'app.kubernetes.io/instance': 'cache', [LABEL.pod]: 'cache-2', [LABEL.tier]: '1' },
      ownerReferences: [{ uid: 'uid-1', controller: true }],
    });
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } });
  });

  it('names a storage class only when one is given ("" = cluster default)', () => {
    expect(buildClaim(rr, specOf({ persistence: { enabled: true, storageClassName: 'fast' } }), 'cache-2', 1).spec?.storageClassName).toBe('fast');
    expect(buildClaim(rr, specOf({ persistence: { enabled: true, storageClassName: '' } }), 'cache-2', 1).spec).not.toHaveProperty('storageClassName');
  });
});

describe('buildServices', () => {
  const [primary, read] = buildServices(rr, specOf({}));

  it('<name>-primary selects the pod labelled role=primary of this resource', () => {
    expect(primary?.metadata).toMatchObject({ name: 'cache-primary', namespace: 'ns', ownerReferences: [{ uid: 'uid-1' }] });
    expect(primary?.spec?.selector).toEqual({ 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': 'cache', 'redis.replication.dev/role': 'primary' });
  });

  it('<name>-read selects the pods labelled read=true, whatever their role', () => {
    expect(read?.metadata).toMatchObject({ name: 'cache-read', namespace: 'ns' });
    expect(read?.spec?.selector).toEqual({ 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': 'cache', 'redis.replication.dev/read': 'true' });
  });

  it('both serve port 6379', () => {
    for (const s of [primary, read]) expect(s?.spec?.ports).toEqual([{ name: 'redis', port: 6379, targetPort: 6379, protocol: 'TCP' }]);
  });
});

describe('desiredMeta', () => {
  const at = (index: number, tier: number, parent: string): Placement => ({ name: `cache-${index}`, tier, parent });
  const planOf = (layout: Placement[]): Plan => ({ primary: { name: 'cache-0', create: false }, layout, create: [], reparent: [], remove: [], nextIndex: 9 });
  const plan = planOf([at(1, 1, 'cache-0'), at(2, 1, 'cache-0'), at(3, 2, 'cache-1')]);

  it('gives the primary tier 0, role primary and no parent', () => {
    expect(desiredMeta(plan, 'cache-0', new Set()).get('cache-0')).toEqual({
      labels: { [LABEL.role]: 'primary', [LABEL.tier]: '0', [LABEL.read]: 'false' },
      parent: null,
    });
  });

  it('gives each replica its plan tier and parent, and the read label from the readable set', () => {
    const desired = desiredMeta(plan, 'cache-0', new Set(['cache-1', 'cache-3']));
    expect([...desired.keys()].sort()).toEqual(['cache-0', 'cache-1', 'cache-2', 'cache-3']);
    expect(desired.get('cache-1')).toEqual({ labels: { [LABEL.role]: 'replica', [LABEL.tier]: '1', [LABEL.read]: 'true' }, parent: 'cache-0' });
    expect(desired.get('cache-2')).toEqual({ labels: { [LABEL.role]: 'replica', [LABEL.tier]: '1', [LABEL.read]: 'false' }, parent: 'cache-0' });
    expect(desired.get('cache-3')).toEqual({ labels: { [LABEL.role]: 'replica', [LABEL.tier]: '2', [LABEL.read]: 'true' }, parent: 'cache-1' });
  });

  it('labels the primary read=true when it is readable (includePrimary)', () => {
    expect(desiredMeta(plan, 'cache-0', new Set(['cache-0'])).get('cache-0')?.labels[LABEL.read]).toBe('true');
  });

  it('the primary wins over a layout entry of the same pod; no primary, no primary entry', () => {
    expect(desiredMeta(plan, 'cache-1', new Set()).get('cache-1')).toEqual({
      labels: { [LABEL.role]: 'primary', [LABEL.tier]: '0', [LABEL.read]: 'false' },
      parent: null,
    });
    const none = desiredMeta(plan, undefined, new Set());
    expect([...none.values()].every((m) => m.labels[LABEL.role] === 'replica')).toBe(true);
    expect(none.has('cache-0')).toBe(false);
  });
});

describe('placement', () => {
  const podOf = (input: RedisReplicationSpecInput, placement: { name: string; tier: number; parent: string | undefined; parentZone?: string }) =>
    buildPod(rr, specOf(input), placement).spec!;

  it('spreads the pods of a resource across nodes, then zones, as a preference', () => {
    const spec = podOf({}, { name: 'cache-1', tier: 1, parent: 'cache-0' });
    expect(spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': 'cache' } } },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': 'cache' } } },
    ]);
    expect(spec.nodeSelector).toBeUndefined();
  });

  it('passes nodeSelector, tolerations, affinity, spread constraints and priority class through', () => {
    const affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
    const spec = podOf(
      {
        placement: {
          nodeSelector: { disk: 'ssd' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'redis', effect: 'NoSchedule' }],
          affinity,
          topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' }],
          priorityClassName: 'critical',
        },
      },
      { name: 'cache-1', tier: 1, parent: 'cache-0' },
    );
    expect(spec).toMatchObject({
      nodeSelector: { disk: 'ssd' },
      tolerations: [
        { key: 'dedicated', operator: 'Equal', value: 'redis', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      ],
      affinity,
      topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' }],
      priorityClassName: 'critical',
    });
  });

  it('zoneAware: tier-1 replicas must spread across zones; a cascade replica must run in its parent zone', () => {
    const tier1 = podOf({ placement: { zoneAware: true } }, { name: 'cache-1', tier: 1, parent: 'cache-0' });
    expect(tier1.topologySpreadConstraints).toContainEqual(
      expect.objectContaining({ topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: expect.objectContaining({ 'redis.replication.dev/tier': '1' }) } }),
    );
    const child = podOf({ placement: { zoneAware: true } }, { name: 'cache-5', tier: 2, parent: 'cache-1', parentZone: 'zone-b' });
    expect(child.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-b'] }] },
    ]);
    expect(podOf({}, { name: 'cache-5', tier: 2, parent: 'cache-1', parentZone: 'zone-b' }).affinity).toBeUndefined();
  });

  it('the read Service asks for topology-aware routing; the primary Service does not', () => {
    const [primary, read] = buildServices(rr, specOf({}));
    expect(read!.spec!.trafficDistribution).toBe('PreferClose');
    expect(primary!.spec!.trafficDistribution).toBeUndefined();
    expect(buildServices(rr, specOf({ readService: { preferClose: false } }))[1]!.spec!.trafficDistribution).toBeUndefined();
  });
});
