import { describe, expect, it } from 'vitest';
import { parseSpec, type RedisReplicationSpec, type RedisReplicationSpecInput } from '../../../src/api/schema.js';
import type { ObservedPod } from '../../../src/plan/observation.js';
import { nextRollStep, podRevision, type RolloutInput } from '../../../src/plan/rollout.js';

const specOf = (input: RedisReplicationSpecInput = {}): RedisReplicationSpec => {
  const parsed = parseSpec(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
};

describe('podRevision', () => {
  // A resource created before the default image changed keeps the image the API server stored then;
  // with auth off, as one created before auth was on by default.
  const old = (input: RedisReplicationSpecInput = {}) => specOf({ image: 'redis:7.2', auth: { enabled: false }, ...input });
  const base = podRevision(old(), undefined);
  it('changes with what a running pod cannot take on: image, resources, restart-only config, a restart request', () => {
    expect(podRevision(specOf({ image: 'redis:7.4' }), undefined)).not.toBe(base);
    expect(podRevision(old({ resources: { limits: { memory: '1Gi' } } }), undefined)).not.toBe(base);
    expect(podRevision(old({ config: { databases: '32' } }), undefined)).not.toBe(base);
    expect(podRevision(old(), '2026-12-01T00:00:00Z')).not.toBe(base);
    expect(podRevision(old({ tls: { enabled: true } }), undefined)).not.toBe(base);
    // The new default: a resource stored without auth rolls onto the generated password.
    expect(podRevision(specOf({ image: 'redis:7.2' }), undefined)).not.toBe(base);
  });
  it('is the same with the generated password as with auth.secretName: the pods mount the operator\'s copy', () => {
    expect(podRevision(specOf({}), undefined)).toBe(podRevision(specOf({ auth: { secretName: 'mine' } }), undefined));
  });
  it('is what it was before TLS existed when TLS is off: upgrading the operator rolls no pod', () => {
    expect(base).toBe('e53ce2af');
    expect(podRevision(old({ tls: { enabled: false } }), undefined)).toBe(base);
  });
  it('does not change with the Secret the certificate comes from: the pods mount the operator\'s copy', () => {
    expect(podRevision(specOf({ tls: { enabled: true, secretName: 'a' } }), undefined)).toBe(podRevision(specOf({ tls: { enabled: true } }), undefined));
  });
  it('does not change with what is applied at run time or decided elsewhere', () => {
    expect(podRevision(old({ config: { 'maxmemory-policy': 'allkeys-lru' } }), undefined)).toBe(base);
    expect(podRevision(old({ replicas: 5, readService: { maxLagSeconds: 9 }, failover: { primaryDownSeconds: 7 } }), undefined)).toBe(base);
  });
});

const pod = (name: string, tier: number, revision: string, over: Partial<ObservedPod> = {}): ObservedPod => ({
  name,
  index: Number(name.split('-')[1]),
  tier,
  role: tier === 0 ? 'primary' : 'replica',
  parent: undefined,
  revision,
  podIP: `10.0.0.${name.split('-')[1]}`,
  deleting: false,
  containerDown: false,
  info:
    tier === 0
      ? { role: 'master', replId: 'x', replOffset: 10, connectedReplicas: 2, replicas: [] }
      : { role: 'replica', replId: 'x', replOffset: 10, connectedReplicas: 0, replicas: [], masterHost: '10.0.0.0', masterPort: 6379, linkUp: true, syncInProgress: false, replicaOffset: 10, lastIoSecondsAgo: 0, readOnly: true },
  ...over,
});
const input = (pods: ObservedPod[], over: Partial<RolloutInput> = {}): RolloutInput => ({
  revision: 'new',
  image: 'redis:7.2',
  strategy: { type: 'RollingUpdate', primary: 'Unsupervised', progressDeadlineSeconds: 300 },
  pods,
  primary: 'c-0',
  settled: true,
  persistent: false,
  primaryOk: true,
  ...over,
});

describe('nextRollStep', () => {
  const cascade = [pod('c-0', 0, 'old'), pod('c-1', 1, 'old'), pod('c-2', 1, 'old'), pod('c-3', 2, 'old'), pod('c-4', 2, 'old')];

  it('re-creates the deepest tier first, newest pod first, one at a time', () => {
    expect(nextRollStep(input(cascade))).toMatchObject({ kind: 'recreate', pod: 'c-4' });
    expect(nextRollStep(input(cascade.filter((p) => p.name !== 'c-4')))).toMatchObject({ kind: 'recreate', pod: 'c-3' });
    expect(nextRollStep(input([cascade[0]!, cascade[1]!, pod('c-2', 1, 'old'), pod('c-5', 2, 'new')]))).toMatchObject({ kind: 'recreate', pod: 'c-2' });
  });

  it('refuses, before any step (even an outdated replica that never started), an image older than a running server', () => {
    const valkey = (p: ObservedPod) => ({ ...p, server: { server: 'valkey' as const, version: '8.1.8' } });
    const pods = [...cascade.map(valkey), pod('c-5', 2, 'old', { podIP: undefined, info: undefined })];
    expect(nextRollStep(input(pods, { image: 'redis:6.2' }))).toMatchObject({ kind: 'refused', message: expect.stringMatching(/cannot load the data of c-0/) });
    expect(nextRollStep(input(pods, { image: 'valkey/valkey:8.1' }))).toMatchObject({ kind: 'recreate', pod: 'c-5' });
  });

  it('touches nothing until the topology has settled after the last step', () => {
    expect(nextRollStep(input(cascade, { settled: false }))).toMatchObject({ kind: 'wait' });
  });

  it('replaces an outdated replica that never started (a bad image since fixed), settled or not, while the primary is writable', () => {
    const stuck = pod('c-7', 1, 'bad', { podIP: undefined, info: undefined });
    expect(nextRollStep(input([...cascade, stuck], { settled: false }))).toMatchObject({ kind: 'recreate', pod: 'c-7' });
    expect(nextRollStep(input([...cascade, stuck], { settled: false, primaryOk: false }))).toMatchObject({ kind: 'wait' });
  });

  it('switches over to an updated, linked tier-1 replica once only the primary is outdated', () => {
    const pods = [pod('c-0', 0, 'old'), pod('c-5', 1, 'new'), pod('c-6', 1, 'new', { info: { ...pod('c-6', 1, 'new').info!, replOffset: 20 } as ObservedPod['info'] })];
    expect(nextRollStep(input(pods))).toEqual({ kind: 'switchover', from: 'c-0', to: 'c-6', outdated: ['c-0'] });
    expect(nextRollStep(input(pods, { strategy: { type: 'RollingUpdate', primary: 'Supervised', progressDeadlineSeconds: 300 } }))).toMatchObject({ kind: 'supervised' });
  });

  it('never re-creates the only pod without persistence (its data would go); with persistence it does', () => {
    expect(nextRollStep(input([pod('c-0', 0, 'old')]))).toMatchObject({ kind: 'supervised' });
    expect(nextRollStep(input([pod('c-0', 0, 'old')], { persistent: true }))).toMatchObject({ kind: 'recreate', pod: 'c-0' });
  });

  it('OnDelete rolls nothing; done when every pod is current', () => {
    expect(nextRollStep(input(cascade, { strategy: { type: 'OnDelete', primary: 'Unsupervised', progressDeadlineSeconds: 300 } }))).toMatchObject({ kind: 'done' });
    expect(nextRollStep(input([pod('c-0', 0, 'new')]))).toEqual({ kind: 'done', outdated: [] });
  });
});
