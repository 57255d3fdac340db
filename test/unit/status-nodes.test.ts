import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseReplication, type ReplicaInfo, type ReplicationInfo } from '../../src/redis/info.js';
import { buildNodes, summarize, type ObservedPod } from '../../src/status/nodes.js';

const readService = { maxLagSeconds: 5, includePrimary: false };
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
const pod = (name: string, tier: number, parent: string | undefined, podIP: string | undefined, info: ReplicationInfo | undefined): ObservedPod => ({
  name,
  tier,
  parent,
  podIP,
  info,
});

describe('buildNodes', () => {
  const pods = [
    pod('c-10', 2, 'c-1', '10.0.0.10', replica({ replicaOffset: 90, lastIoSecondsAgo: 7 })),
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
    expect(buildNodes({ primary: 'c-0', pods, readService: { maxLagSeconds: 5, includePrimary: true } })[0]?.read).toBe(true);
    expect(buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, 'ip', undefined)], readService: { maxLagSeconds: 5, includePrimary: true } })[0]?.read).toBe(false);
  });

  it('takes the lag in seconds from the parent entry of the replica podIP: over maxLagSeconds, no reads', () => {
    expect(nodes[1]).toEqual({ name: 'c-1', role: 'replica', tier: 1, parent: 'c-0', podIP: '10.0.0.3', link: 'up', offset: 95, lagBytes: 5, lagSeconds: 9, read: false });
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

  it('falls back to master_last_io_seconds_ago when the parent does not list the replica', () => {
    const [, n] = buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, 'a', master(10)), pod('c-1', 1, 'c-0', 'b', replica({ replicaOffset: 20, lastIoSecondsAgo: 3 }))], readService });
    expect(n).toMatchObject({ lagSeconds: 3, lagBytes: 0, read: true });
  });

  it('sees a replica answering as a master as down', () => {
    const [, n] = buildNodes({ primary: 'c-0', pods: [pod('c-0', 0, undefined, 'a', master(10)), pod('c-1', 1, 'c-0', 'b', master(10))], readService });
    expect(n).toMatchObject({ link: 'down', offset: undefined, read: false });
  });

  it('works on the captured fixtures: a parent and its cascade replica', () => {
    const info = (name: string) => parseReplication(readFileSync(new URL(`../fixtures/info/${name}.txt`, import.meta.url), 'utf8'));
    const [, mid] = buildNodes({
      primary: 'p',
      pods: [pod('p', 0, undefined, '127.0.0.2', info('master-replica-syncing')), pod('m', 1, 'p', '127.0.0.1', info('replica-mid-tier'))],
      readService,
    });
    expect(mid).toMatchObject({ link: 'up', offset: 600, lagBytes: 0, lagSeconds: 0, read: true });
  });
});

describe('summarize', () => {
  it('counts ready and desired replicas of all tiers and the largest lag', () => {
    const nodes = buildNodes({
      primary: 'c-0',
      pods: [
        pod('c-0', 0, undefined, 'a', master(10)),
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
      maxLagSeconds: 8,
      ready: '1/6',
      primaryOffset: 10,
    });
  });

  it('is zero without replicas', () => {
    expect(summarize([], { replicas: 0, cascade: [] })).toEqual({ replicas: 0, readyReplicas: 0, desiredReplicas: 0, maxLagSeconds: 0, ready: '0/0', primaryOffset: undefined });
  });
});
