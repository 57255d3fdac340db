// The observation model (plan/observation.ts): what a pass reads of a pod's and a claim's API objects.
import type { V1ContainerStatus, V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ANNOTATION, LABEL } from '../../../src/plan/names.js';
import { claimsToMark, isDraining, observeClaim, observePodObject, podProblem, type ObservedPod } from '../../../src/plan/observation.js';
import type { ReplicationInfo } from '../../../src/redis/info.js';

const running = (name = 'redis'): V1ContainerStatus => ({ name, ready: true, restartCount: 0, image: 'redis:7.2', imageID: '', state: { running: {} } });
const waiting = (reason: string, name = 'redis'): V1ContainerStatus => ({ name, ready: false, restartCount: 1, image: 'redis:7.2', imageID: '', state: { waiting: { reason, message: `${reason} message` } } });

function pod(overrides: { labels?: Record<string, string>; annotations?: Record<string, string>; status?: V1Pod['status']; deleting?: boolean; containers?: string[] } = {}): V1Pod {
  return {
    metadata: { name: 'cache-3', labels: overrides.labels ?? {}, annotations: overrides.annotations ?? {}, ...(overrides.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { nodeName: 'node-a', containers: (overrides.containers ?? ['redis']).map((name) => ({ name, image: `${name}:image` })) },
    status: overrides.status ?? { phase: 'Running', podIP: '10.0.0.3', containerStatuses: [running()] },
  };
}

describe('observePodObject', () => {
  it('reads name, index, labels, annotations, the redis container image, IP and node', () => {
    const observed = observePodObject('cache', pod({ labels: { [LABEL.role]: 'primary', [LABEL.tier]: '0' }, annotations: { [ANNOTATION.parent]: 'cache-1', [ANNOTATION.revision]: 'abc' }, containers: ['istio-proxy', 'redis'] }));
    expect(observed).toMatchObject({ name: 'cache-3', index: 3, tier: 0, role: 'primary', parent: 'cache-1', revision: 'abc', image: 'redis:image', podIP: '10.0.0.3', deleting: false, containerDown: false, node: 'node-a' });
  });

  it('a pod without role or tier label is a tier-1 replica; an unreadable tier is 0', () => {
    expect(observePodObject('cache', pod())).toMatchObject({ role: 'replica', tier: 1 });
    expect(observePodObject('cache', pod({ labels: { [LABEL.role]: 'replica', [LABEL.tier]: 'x' } }))).toMatchObject({ role: 'replica', tier: 0 });
  });

  it("a pod not named <resource>-<n> is not the operator's", () => {
    expect(observePodObject('cache', { ...pod(), metadata: { name: 'cache-x' } })).toBeUndefined();
    expect(observePodObject('cache', { ...pod(), metadata: { name: 'other-1' } })).toBeUndefined();
    expect(observePodObject('cache', { ...pod(), metadata: {} })).toBeUndefined();
  });

  it('has an IP only while Running; is deleting once it has a deletion timestamp', () => {
    expect(observePodObject('cache', pod({ status: { phase: 'Pending', podIP: '10.0.0.3' } }))!.podIP).toBeUndefined();
    expect(observePodObject('cache', pod({ deleting: true }))!.deleting).toBe(true);
  });

  it('its container is down when the redis container is not running; a sidecar that restarts is not Redis', () => {
    const status = (statuses: V1ContainerStatus[]) => ({ phase: 'Running', podIP: '10.0.0.3', containerStatuses: statuses });
    expect(observePodObject('cache', pod({ status: status([waiting('CrashLoopBackOff')]) }))!.containerDown).toBe(true);
    expect(observePodObject('cache', pod({ status: status([running('istio-proxy'), waiting('CrashLoopBackOff')]) }))!.containerDown).toBe(true);
    expect(observePodObject('cache', pod({ containers: ['istio-proxy', 'redis'], status: status([waiting('CrashLoopBackOff', 'istio-proxy'), running()]) }))!.containerDown).toBe(false);
    // Not running at all (Pending): no IP to ask, nothing says the container went down.
    expect(observePodObject('cache', pod({ status: { phase: 'Pending', containerStatuses: [waiting('ContainerCreating')] } }))!.containerDown).toBe(false);
  });
});

describe('podProblem', () => {
  const unschedulable = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' };

  it('a pending pod no node fits is Unschedulable, with the scheduler message', () => {
    expect(podProblem(pod({ status: { phase: 'Pending', conditions: [unschedulable] } }))).toEqual({ reason: 'Unschedulable', message: '0/3 nodes are available' });
    expect(podProblem(pod({ status: { phase: 'Pending', conditions: [{ ...unschedulable, message: undefined }] } }))).toEqual({ reason: 'Unschedulable', message: 'no node fits the pod' });
  });

  it('only a PodScheduled condition that is False for Unschedulable says so, and only while Pending', () => {
    expect(podProblem(pod({ status: { phase: 'Pending', conditions: [{ ...unschedulable, type: 'Ready' }] } }))).toBeUndefined();
    expect(podProblem(pod({ status: { phase: 'Pending', conditions: [{ ...unschedulable, status: 'True' }] } }))).toBeUndefined();
    expect(podProblem(pod({ status: { phase: 'Pending', conditions: [{ ...unschedulable, reason: 'SchedulerError' }] } }))).toBeUndefined();
    expect(podProblem(pod({ status: { phase: 'Running', podIP: '10.0.0.3', conditions: [unschedulable], containerStatuses: [running()] } }))).toBeUndefined();
  });

  it('a container (or init container) waiting for another reason than starting is the problem; starting is none', () => {
    expect(podProblem(pod({ status: { phase: 'Pending', containerStatuses: [waiting('ImagePullBackOff')] } }))).toEqual({ reason: 'ImagePullBackOff', message: 'container redis: ImagePullBackOff message' });
    expect(podProblem(pod({ status: { phase: 'Pending', initContainerStatuses: [waiting('CreateContainerConfigError', 'init')] } }))).toMatchObject({ reason: 'CreateContainerConfigError' });
    expect(podProblem(pod({ status: { phase: 'Pending', containerStatuses: [waiting('ContainerCreating')] } }))).toBeUndefined();
    expect(podProblem(pod({ status: { phase: 'Pending', containerStatuses: [waiting('PodInitializing')] } }))).toBeUndefined();
  });

  it('a pod being deleted has no problem to report', () => {
    expect(podProblem(pod({ deleting: true, status: { phase: 'Pending', containerStatuses: [waiting('ImagePullBackOff')] } }))).toBeUndefined();
  });
});

describe('observeClaim', () => {
  const claim = (labels: Record<string, string>, annotations: Record<string, string> = {}): V1PersistentVolumeClaim => ({ metadata: { name: 'data-cache-2', labels, annotations } });

  it('names its pod, index and tier from its labels; it holds data only when marked "true"', () => {
    expect(observeClaim('cache', claim({ [LABEL.pod]: 'cache-2', [LABEL.tier]: '2' }, { [ANNOTATION.holdsData]: 'true' }))).toEqual({ pod: 'cache-2', index: 2, tier: 2, holdsData: true });
    expect(observeClaim('cache', claim({ [LABEL.pod]: 'cache-2' }))).toEqual({ pod: 'cache-2', index: 2, tier: 1, holdsData: false });
    expect(observeClaim('cache', claim({ [LABEL.pod]: 'cache-2' }, { [ANNOTATION.holdsData]: 'false' }))!.holdsData).toBe(false);
  });

  it("a claim without a pod label, or for another resource's pod, is none of this resource's", () => {
    expect(observeClaim('cache', claim({}))).toBeUndefined();
    expect(observeClaim('cache', claim({ [LABEL.pod]: 'other-2' }))).toBeUndefined();
  });
});

describe('claimsToMark', () => {
  const info = (role: 'master' | 'replica', replOffset: number) => ({ role, replOffset }) as ReplicationInfo;
  const observed = (name: string, i: ReplicationInfo | undefined) => ({ name, info: i }) as ObservedPod;
  const ref = (pod: string, holdsData: boolean) => ({ pod, index: Number(pod.split('-')[1]), tier: 1, holdsData });

  it('marks an unmarked claim whose pod holds data, and a master (it may take writes at any moment)', () => {
    const pods = [observed('cache-0', info('master', 0)), observed('cache-1', info('replica', 5)), observed('cache-2', info('replica', 0)), observed('cache-3', undefined)];
    const claims = ['cache-0', 'cache-1', 'cache-2', 'cache-3'].map((p) => ref(p, false));
    expect(claimsToMark(pods, claims)).toEqual(['cache-0', 'cache-1']);
  });

  it('never marks a claim again, nor a pod without a claim', () => {
    const pods = [observed('cache-0', info('master', 9)), observed('cache-1', info('replica', 5))];
    expect(claimsToMark(pods, [ref('cache-0', true)])).toEqual([]);
  });
});

describe('isDraining', () => {
  it('a cordoned node, or one tainted unschedulable, is being drained; another taint is not', () => {
    expect(isDraining({ spec: { unschedulable: true } } as V1Node)).toBe(true);
    expect(isDraining({ spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } } as V1Node)).toBe(true);
    expect(isDraining({ spec: { taints: [{ key: 'dedicated', value: 'redis', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } } as V1Node)).toBe(true);
    expect(isDraining({ spec: { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] } } as V1Node)).toBe(false);
    expect(isDraining({ spec: {} } as V1Node)).toBe(false);
    expect(isDraining(undefined)).toBe(false);
  });
});
