import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseReplication, type ReplicaInfo, type ReplicationInfo } from '../../../src/redis/info.js';
import { buildNodes as build, summarize, type NodePod, type NodesInput } from '../../../src/plan/nodes.js';
import type { SyncMark } from '../../../src/plan/sync.js';

const readService = { maxLagSeconds: 5, includePrimary: false, preferClose: true };
const master = (replOffset: number, replicas: { ip: string; lag: number }[] = []): ReplicationInfo => ({
  role: 'master',
  replId: 'x',
  replOffset,
  connectedReplicas: replicas.length,
  replicas: replicas.map((r) => ({ ...r, port: 6379, state: 'online', offset: 0 })),
});
const replica = (over: Partial<ReplicaInfo> = {}): ReplicaInfo => ({
  role: 'replica',
  replId: 'x',
  replOffset: 100,
  connectedReplicas: 0,
  replicas: [],
  masterHost: '10.0.0.1',
  masterPort: 6379,
  linkUp: true,
  syncInProgress: false,
  replicaOffset: 100,
  lastIoSecondsAgo: 1,
  readOnly: true,
  ...over,
});
const pod = (name: string, tier: number, parent: string | undefined, podIP: string | undefined, info: ReplicationInfo | undefined): NodePod => ({
  name,
  index: Number(/-(\d+)$/.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER),
  tier,
  parent,
  podIP,
  info,
});

/** Every replica's full sync proven on its assigned parent (a mark below any acknowledged offset):
 * these tests are about the rest of a node; plan/sync.ts has its own. */
const proven = (pods: NodePod[]): Map<string, SyncMark> =>
  new Map(pods.flatMap((p) => {
    const parent = pods.find((q) => q.name === p.parent);
    return parent?.podIP && parent.info ? [[p.name, { parentIP: parent.podIP, replId: parent.info.replId, mark: -1, acked: 0 }] as const] : [];
  }));
const buildNodes = (input: NodesInput) => build({ marks: proven(input.pods), ...input });

describe('buildNodes', () => {
  const pods = [
    pod('c-10', 2, 'c-1', '10.0.0.10', replica({ masterHost: '10.0.0.3', replicaOffset: 90, lastIoSecondsAgo: 7 })),
    pod('c-2', 1, 'c-0', '10.0.0.2', replica({ syncInProgress: true, linkUp: false, replicaOffset: 1, lastIoSecondsAgo: -1 })),
    pod('c-1', 1, 'c-0', '10.0.0.3', replica({ replOffset: 95, replicaOffset: 95, replicas: [{ ip: '10.0.0.10', port: 6379, state: 'online', offset: 90, lag: 0 }] })),
    pod('c-9', 2, 'c-1', undefined, undefined),
    pod('c-0', 0, undefined, '10.0.0.1', master(100, [{ ip: '10.0.0.3', lag: 9 }])),
  ];
  const nodes = buildNodes({ primary: 'c-0', pods, readService });

  it('orders the primary first, then by tier, then by the index in the name', () => {
    expect(nodes.map((n) => n.name)).toEqual(['c-0', 'c-1', 'c-2', 'c-9', 'c-10']);
  });

  it('describes the primary', () => {
    expect(nodes[0]).toEqual({ name: 'c-0', role: 'primary', tier: 0, podIP: '10.0.0.1', offset: 100, read: false });
    expect(buildNodes({ primary: 'c-0', pods, readService: { maxLagSeconds: 5, includePrimary: true, preferClose: true } })[0]?.read).toBe(true);
    expect(buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, 'ip', undefined)], readService: { maxLagSeconds: 5, includePrimary: true, preferClose: true } })[0]?.read).toBe(false);
  });

  it('takes the lag in seconds from the parent entry of the replica podIP, less the 1s ack period: over maxLagSeconds, no reads', () => {
    expect(nodes[1]).toEqual({ name: 'c-1', role: 'replica', tier: 1, parent: 'c-0', podIP: '10.0.0.3', link: 'up', offset: 95, lagBytes: 5, lagSeconds: 8, read: false });
  });

  it('marks a full sync as syncing, without lag in bytes', () => {
    expect(nodes[2]).toMatchObject({ link: 'syncing', lagBytes: undefined, lagSeconds: undefined, read: false });
  });

  it('marks an unreachable pod down with nothing known', () => {
    expect(nodes[3]).toEqual({ name: 'c-9', role: 'replica', tier: 2, parent: 'c-1', podIP: undefined, link: 'down', offset: undefined, lagBytes: undefined, lagSeconds: undefined, read: false });
  });

  it('measures a cascade replica against its parent, the parent entry winning over its own last I/O', () => {
    expect(nodes[4]).toMatchObject({ link: 'up', offset: 90, lagBytes: 5, lagSeconds: 0, read: true });
  });

  it('falls back to master_last_io_seconds_ago when the parent does not know the lag', () => {
    const [, n] = buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, '10.0.0.1', master(10, [{ ip: 'b', lag: -1 }])), pod('c-1', 1, 'c-0', 'b', replica({ replicaOffset: 20, lastIoSecondsAgo: 3 }))], readService });
    expect(n).toMatchObject({ link: 'up', lagSeconds: 2, lagBytes: 0, read: true });
  });

  it('sees a replica answering as a master as down', () => {
    const [, n] = buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, 'a', master(10)), pod('c-1', 1, 'c-0', 'b', master(10))], readService });
    expect(n).toMatchObject({ link: 'down', offset: undefined, read: false });
  });

  // The fixtures were captured on one host (pods told apart by port), so both pods have the IP the replica's master_host names.
  it('works on the captured fixtures: a parent and its cascade replica', () => {
    const info = (name: string) => parseReplication(readFileSync(new URL(`../../fixtures/info/${name}.txt`, import.meta.url), 'utf8'));
    const [, mid] = buildNodes({
      primary: 'p',
      pods: [pod('p', 0, undefined, '127.0.0.1', info('master-replica-syncing')), pod('m', 1, 'p', '127.0.0.1', info('replica-mid-tier'))],
      readService,
    });
    expect(mid).toMatchObject({ link: 'up', offset: 600, lagBytes: 0, lagSeconds: 0, read: true });
  });
});

describe('lagSeconds: the 1-second acknowledgement period is not lag', () => {
  const primary = (replicas: { ip: string; lag: number }[] = []) => pod('c-0', 0, undefined, '10.0.0.1', master(100, replicas));
  const lagOf = (parentLag: number | undefined, lastIoSecondsAgo: number, maxLagSeconds = 5) =>
    buildNodes({
      primary: 'c-0',
      pods: [primary([{ ip: '10.0.0.2', lag: parentLag ?? -1 }]), pod('c-1', 1, 'c-0', '10.0.0.2', replica({ lastIoSecondsAgo }))],
      readService: { maxLagSeconds, includePrimary: false, preferClose: true },
    })[1];

  it('reports a lag of 1 (a replica that acked last second) as 0, and never below 0', () => {
    expect(lagOf(1, 5)).toMatchObject({ lagSeconds: 0, read: true });
    expect(lagOf(0, 5)).toMatchObject({ lagSeconds: 0, read: true });
    expect(lagOf(2, 5)).toMatchObject({ lagSeconds: 1 });
  });

  it('subtracts the second from master_last_io_seconds_ago as well', () => {
    expect(lagOf(undefined, 1)).toMatchObject({ lagSeconds: 0 });
    expect(lagOf(undefined, 0)).toMatchObject({ lagSeconds: 0 });
    expect(lagOf(undefined, 4)).toMatchObject({ lagSeconds: 3 });
  });

  it('keeps an unknown lag unknown (no reads) and falls back past a negative parent entry', () => {
    expect(lagOf(undefined, -1)).toMatchObject({ link: 'up', lagSeconds: undefined, read: false });
    expect(lagOf(-1, 4)).toMatchObject({ lagSeconds: 3 });
  });

  it('compares the corrected lag with maxLagSeconds', () => {
    expect(lagOf(6, 0, 5)).toMatchObject({ lagSeconds: 5, read: true });
    expect(lagOf(7, 0, 5)).toMatchObject({ lagSeconds: 6, read: false });
    expect(lagOf(1, 0, 0)).toMatchObject({ lagSeconds: 0, read: true });
  });

  it('leaves an idle resource at a maximum lag of 0', () => {
    const nodes = buildNodes({
      primary: 'c-0',
      pods: [primary([{ ip: '10.0.0.2', lag: 1 }, { ip: '10.0.0.3', lag: -1 }]), pod('c-1', 1, 'c-0', '10.0.0.2', replica()), pod('c-2', 1, 'c-0', '10.0.0.3', replica({ lastIoSecondsAgo: 1 }))],
      readService,
    });
    expect(summarize(nodes, { replicas: 2, cascade: [] })).toMatchObject({ maxLagSeconds: 0, readyReplicas: 2 });
  });
});

describe('link: a replica linked elsewhere than its assigned parent is down (a re-point is pending)', () => {
  const parentPods = [pod('c-0', 0, undefined, '10.0.0.1', master(100)), pod('c-1', 1, 'c-0', '10.0.0.2', replica({ replicas: [{ ip: '10.0.0.4', port: 6379, state: 'online', offset: 0, lag: 0 }] }))];
  const node = (child: NodePod, pods: NodePod[] = parentPods) => buildNodes({ primary: 'c-0', pods: [...pods, child], readService }).find((n) => n.name === child.name);

  it('is up when master_host is the podIP of the assigned parent', () => {
    expect(node(pod('c-3', 2, 'c-1', '10.0.0.4', replica({ masterHost: '10.0.0.2' })))).toMatchObject({ link: 'up', read: true });
  });

  it('is down, without reads, when still linked to another pod (the old primary)', () => {
    expect(node(pod('c-3', 2, 'c-1', '10.0.0.4', replica({ masterHost: '10.0.0.1', linkUp: true, lastIoSecondsAgo: 0 })))).toMatchObject({
      link: 'down',
      read: false,
    });
  });

  it('is down, not syncing, when a full sync runs from another pod', () => {
    expect(node(pod('c-3', 2, 'c-1', '10.0.0.4', replica({ masterHost: '10.0.0.1', syncInProgress: true, linkUp: false })))).toMatchObject({
      link: 'down',
      read: false,
    });
  });

  it('is down while the parent has no podIP, or is not observed at all', () => {
    const noIP = [pod('c-0', 0, undefined, '10.0.0.1', master(100)), pod('c-1', 1, 'c-0', undefined, undefined)];
    expect(node(pod('c-3', 2, 'c-1', '10.0.0.4', replica({ masterHost: '10.0.0.2' })), noIP)).toMatchObject({ link: 'down', read: false });
    expect(node(pod('c-3', 2, 'c-7', '10.0.0.4', replica({ masterHost: '10.0.0.2' })))).toMatchObject({ link: 'down', read: false });
  });

  it('is down while the pod still boots as a replica of the boot parent', () => {
    expect(node(pod('c-3', 1, 'c-0', '10.0.0.4', replica({ masterHost: '127.0.0.1', masterPort: 1, linkUp: false })))).toMatchObject({
      link: 'down',
      read: false,
    });
  });
});

describe('summarize', () => {
  it('counts ready and desired replicas of all tiers and the largest lag', () => {
    const nodes = buildNodes({
      primary: 'c-0',
      pods: [
        pod('c-0', 0, undefined, '10.0.0.1', master(10, [{ ip: 'b', lag: -1 }, { ip: 'c', lag: -1 }])),
        pod('c-1', 1, 'c-0', 'b', replica({ lastIoSecondsAgo: 2 })),
        pod('c-2', 1, 'c-0', 'c', replica({ lastIoSecondsAgo: 8 })),
        pod('c-3', 2, 'c-1', 'd', undefined),
      ],
      readService,
    });
    expect(summarize(nodes, { replicas: 2, cascade: [{ replicasPerParent: 2 }] })).toEqual({
      replicas: 2,
      readyReplicas: 1,
      desiredReplicas: 6,
      maxLagSeconds: 7,
      ready: '1/6',
      primaryOffset: 10,
    });
  });

  it('is zero without replicas', () => {
    expect(summarize([], { replicas: 0, cascade: [] })).toEqual({ replicas: 0, readyReplicas: 0, desiredReplicas: 0, maxLagSeconds: 0, ready: '0/0', primaryOffset: undefined });
  });
});
