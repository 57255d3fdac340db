import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOOT_PARENT } from '../../../src/plan/names.js';
import { dataOffset, isBooting, isWritableMaster, type ObservedPod } from '../../../src/plan/observation.js';
import { chooseCandidate, chooseSwitchover, decidePrimary, retireOldPrimary, type PrimaryInput } from '../../../src/plan/primary.js';
import type { PrimaryInfo, ReplicaInfo, ReplicationInfo } from '../../../src/redis/info.js';

const writable = (replOffset: number): PrimaryInfo => ({ role: 'master', replId: 'x', replOffset, connectedReplicas: 0, replicas: [] });
const linked = (masterHost: string, replicaOffset: number, over: Partial<ReplicaInfo> = {}): ReplicaInfo => ({
  role: 'replica',
  replId: 'x',
  replOffset: replicaOffset,
  connectedReplicas: 0,
  replicas: [],
  masterHost,
  masterPort: 6379,
  linkUp: true,
  syncInProgress: false,
  replicaOffset,
  lastIoSecondsAgo: 0,
  readOnly: true,
  ...over,
});
/** A pod whose Redis (re)started: a replica of the boot parent, with what it loaded from disk (0 without persistence).
 * A replica that never synced reports slave_repl_offset 1. */
const booting = (replOffset = 0): ReplicaInfo =>
  linked(BOOT_PARENT.host, 1, { masterPort: BOOT_PARENT.port, replOffset, linkUp: false, lastIoSecondsAgo: -1 });

const ipOf = (index: number) => `10.0.0.${index + 1}`;
/** r-<index>; reachable by default (an IP), tier 1 unless told. */
const pod = (index: number, info: ReplicationInfo | undefined, over: Partial<ObservedPod> = {}): ObservedPod => {
  const tier = over.tier ?? 1;
  return {
    name: `r-${index}`,
    index,
    tier,
    role: tier === 0 ? 'primary' : 'replica',
    parent: tier === 0 ? undefined : 'r-0',
    podIP: ipOf(index),
    deleting: false,
    containerDown: false,
    info,
    ...over,
  };
};
const primaryPod = (index: number, info: ReplicationInfo | undefined, over: Partial<ObservedPod> = {}) => pod(index, info, { tier: 0, ...over });

const NOW = 1_000_000;
const decide = (over: Partial<PrimaryInput>) =>
  decidePrimary({
    recorded: 'r-0',
    target: undefined,
    pods: [],
    failoverEnabled: true,
    primaryDownSeconds: 3,
    unreachableSinceMs: undefined,
    nowMs: NOW,
    ...over,
  });

describe('observed pods', () => {
  it('isBooting: a replica of the boot parent, host and port both', () => {
    expect(isBooting(pod(1, booting()))).toBe(true);
    expect(isBooting(pod(1, booting(700)))).toBe(true);
    expect(isBooting(pod(1, linked(BOOT_PARENT.host, 10)))).toBe(false);
    expect(isBooting(pod(1, linked(ipOf(0), 10, { masterPort: BOOT_PARENT.port })))).toBe(false);
    expect(isBooting(pod(1, writable(10)))).toBe(false);
    expect(isBooting(pod(1, undefined))).toBe(false);
  });

  it('isWritableMaster: only a pod answering as a master', () => {
    expect(isWritableMaster(pod(0, writable(0)))).toBe(true);
    expect(isWritableMaster(pod(0, linked(ipOf(1), 10)))).toBe(false);
    expect(isWritableMaster(pod(0, booting()))).toBe(false);
    expect(isWritableMaster(pod(0, undefined))).toBe(false);
  });

  it('dataOffset: master_repl_offset of any pod that answers (0 for one that never synced), -1 unknown', () => {
    expect(dataOffset(pod(1, linked(ipOf(0), 40)))).toBe(40);
    expect(dataOffset(pod(1, linked(ipOf(0), 1, { replOffset: 0, linkUp: false })))).toBe(0);
    expect(dataOffset(pod(1, booting(70)))).toBe(70);
    expect(dataOffset(pod(1, booting()))).toBe(0);
    expect(dataOffset(pod(0, writable(90)))).toBe(90);
    expect(dataOffset(pod(1, undefined))).toBe(-1);
  });
});

describe('decidePrimary', () => {
  it('creates the primary when no pod exists', () => {
    expect(decide({ pods: [] })).toEqual({ kind: 'create' });
    expect(decide({ recorded: undefined, pods: [] })).toEqual({ kind: 'create' });
  });

  it('promotes the recorded primary of a fresh resource: every pod booting, nothing holds data', () => {
    const pods = [primaryPod(0, booting()), pod(1, booting()), pod(2, booting())];
    expect(decide({ pods })).toEqual({ kind: 'promote', primary: 'r-0' });
  });

  it('is ok while the recorded primary is writable', () => {
    const pods = [primaryPod(0, writable(500)), pod(1, linked(ipOf(0), 500)), pod(2, undefined)];
    expect(decide({ pods })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  describe('the recorded primary restarted (booting) while a replica holds data', () => {
    const pods = [primaryPod(0, booting()), pod(1, linked(ipOf(0), 500, { linkUp: false })), pod(2, booting())];

    it('fails over to that replica when failover is enabled', () => {
      expect(decide({ pods })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryRestarted' });
    });

    it('is lost when failover is disabled, and says the replicas keep their data', () => {
      const d = decide({ pods, failoverEnabled: false });
      expect(d).toMatchObject({ kind: 'lost', primary: 'r-0', reason: 'PrimaryRestarted' });
      expect(d.kind === 'lost' && d.message).toMatch(/replicas keep their data/);
    });

    it('promotes the restarted primary when it loaded at least as much as any replica holds (persistence)', () => {
      expect(decide({ pods: [primaryPod(0, booting(500)), pod(1, linked(ipOf(0), 500, { linkUp: false }))] })).toEqual({ kind: 'promote', primary: 'r-0' });
    });
  });

  describe('a promotion waits for every running pod to answer (one that did not may hold the data)', () => {
    it('keeps a restarted, empty primary waiting while its replicas do not answer', () => {
      const d = decide({ pods: [primaryPod(0, booting()), pod(1, undefined), pod(2, undefined)] });
      expect(d).toEqual({ kind: 'wait', primary: 'r-0', message: 'waiting for r-1, r-2 to answer before promoting r-0' });
    });

    it('does not wait for pods that are not running yet (no IP)', () => {
      expect(decide({ pods: [primaryPod(0, booting()), pod(1, undefined, { podIP: undefined })] })).toEqual({ kind: 'promote', primary: 'r-0' });
    });

    it('applies to a fresh resource and to a recorded failover target too', () => {
      expect(decide({ recorded: undefined, pods: [pod(1, booting()), pod(2, undefined)] })).toMatchObject({ kind: 'wait', primary: 'r-1' });
      expect(decide({ recorded: undefined, target: 'r-1', pods: [pod(1, linked(ipOf(0), 10)), pod(2, undefined)] })).toMatchObject({ kind: 'wait', primary: 'r-1' });
    });
  });

  it('fails over at once when the primary container is not running, without waiting primaryDownSeconds', () => {
    const replicas = [pod(1, linked(ipOf(0), 300, { linkUp: false })), pod(2, linked(ipOf(0), 200, { linkUp: false }))];
    const crashed = primaryPod(0, undefined, { containerDown: true });
    expect(decide({ pods: [crashed, ...replicas], unreachableSinceMs: NOW })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryRestarted' });
    expect(decide({ pods: [crashed, ...replicas], failoverEnabled: false })).toMatchObject({ kind: 'lost', reason: 'PrimaryRestarted' });
    // Still running but silent: wait for primaryDownSeconds.
    expect(decide({ pods: [primaryPod(0, undefined), ...replicas], unreachableSinceMs: NOW })).toMatchObject({ kind: 'wait' });
  });

  it('fails over with PrimaryDeleted when the recorded primary pod is gone', () => {
    const pods = [pod(1, linked(ipOf(0), 300, { linkUp: false })), pod(2, linked(ipOf(0), 200, { linkUp: false }))];
    expect(decide({ pods })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
    expect(decide({ pods, failoverEnabled: false })).toMatchObject({ kind: 'lost', primary: 'r-0', reason: 'PrimaryDeleted' });
  });

  it('fails over with PrimaryDeleted when the recorded primary pod is being deleted, writable or not', () => {
    const replicas = [pod(1, linked(ipOf(0), 300)), pod(2, linked(ipOf(0), 200))];
    const expected = { kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' };
    expect(decide({ pods: [primaryPod(0, writable(300), { deleting: true }), ...replicas] })).toEqual(expected);
    // Silent while being deleted: at once without a volume (its data goes with its process); with
    // one, primaryDownSeconds first, as for an unreachable primary.
    expect(decide({ pods: [primaryPod(0, undefined, { deleting: true }), ...replicas] })).toEqual(expected);
    const claims = new Set(['r-0']);
    expect(decide({ pods: [primaryPod(0, undefined, { deleting: true }), ...replicas], claims })).toMatchObject({ kind: 'wait' });
    expect(decide({ pods: [primaryPod(0, undefined, { deleting: true }), ...replicas], claims, unreachableSinceMs: NOW - 3_000 })).toEqual(expected);
    expect(decide({ pods: [primaryPod(0, undefined, { deleting: true, podIP: undefined }), ...replicas] })).toEqual(expected);
  });

  describe('the recorded primary has an IP but does not answer', () => {
    const pods = [primaryPod(0, undefined), pod(1, linked(ipOf(0), 300, { linkUp: false }))];

    it('waits for primaryDownSeconds', () => {
      expect(decide({ pods, unreachableSinceMs: undefined })).toMatchObject({ kind: 'wait', primary: 'r-0' });
      expect(decide({ pods, unreachableSinceMs: NOW - 2_999 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    });

    it('fails over with PrimaryUnreachable from primaryDownSeconds on', () => {
      const expected = { kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryUnreachable' };
      expect(decide({ pods, unreachableSinceMs: NOW - 3_000 })).toEqual(expected);
      expect(decide({ pods, unreachableSinceMs: NOW - 60_000 })).toEqual(expected);
    });

    it('is lost, keeping the data, when failover is disabled', () => {
      expect(decide({ pods, unreachableSinceMs: NOW - 60_000, failoverEnabled: false })).toMatchObject({
        kind: 'lost',
        reason: 'PrimaryUnreachable',
        message: expect.stringMatching(/replicas keep their data/),
      });
    });
  });

  it('waits for a recorded primary without an IP (not started), however long', () => {
    expect(decide({ pods: [primaryPod(0, undefined, { podIP: undefined }), pod(1, linked(ipOf(0), 300))], unreachableSinceMs: NOW - 60_000 })).toMatchObject({
      kind: 'wait',
      primary: 'r-0',
    });
  });

  it('does not fail over past a pod restarted from its volume and re-pointed but not synced since: it may hold more', () => {
    // r-2 loaded its append-only file (offset 0, a new replication ID) and was pointed at the
    // primary, which went away before the sync: its volume may hold writes r-1 lacks.
    const claims = new Set(['r-0', 'r-1', 'r-2']);
    const unsynced = pod(2, linked(ipOf(0), 1, { replId: 'restarted', replOffset: 0, linkUp: false }));
    const pods = [pod(1, linked(ipOf(0), 60, { linkUp: false })), unsynced];
    expect(decide({ pods, claims, primaryReplIds: ['x'] })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/re-creating it on its volume/) });
    // Once it synced from the primary's stream, its offset counts again.
    const synced = pod(2, linked(ipOf(0), 50, { linkUp: false }));
    expect(decide({ pods: [pods[0]!, synced], claims, primaryReplIds: ['x'] })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
  });

  it('is lost when no replica is reachable', () => {
    const pods = [pod(1, undefined), pod(2, undefined, { podIP: undefined }), pod(3, linked(ipOf(0), 900), { deleting: true })];
    expect(decide({ pods })).toMatchObject({ kind: 'lost', primary: 'r-0', reason: 'PrimaryDeleted', message: expect.stringMatching(/no reachable replica/) });
  });

  it('finishes a failover in flight (target written, operator restarted) to the target, not the candidate a fresh decision picks', () => {
    // A tie: a fresh decision would pick r-1 (the lower index).
    const pods = [primaryPod(0, undefined), pod(1, linked(ipOf(0), 100, { linkUp: false })), pod(2, linked(ipOf(0), 100, { linkUp: false }))];
    expect(decide({ pods, target: 'r-2', unreachableSinceMs: NOW - 10_000 })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-2', reason: 'PrimaryUnreachable' });
    // Not before primaryDownSeconds, counted again by this operator: the old primary may have come
    // back and taken writes since the intent was written (simulation seed 9324).
    expect(decide({ pods, target: 'r-2', unreachableSinceMs: NOW - 1_000 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    expect(decide({ pods, target: 'r-2', unreachableSinceMs: undefined })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    // The old primary's pod has gone since.
    expect(decide({ pods: pods.slice(1), target: 'r-2' })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-2', reason: 'PrimaryDeleted' });
  });

  it('does not finish a failover onto a target that fell behind another replica: it decides again', () => {
    // r-2 was the best when the intent was written; r-1 synced more from the old primary since, or
    // r-2 stopped short in a failed hand-over.
    const pods = [primaryPod(0, undefined), pod(1, linked(ipOf(0), 900, { linkUp: false })), pod(2, linked(ipOf(0), 100, { linkUp: false }))];
    expect(decide({ pods, target: 'r-2', unreachableSinceMs: undefined })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    expect(decide({ pods, target: 'r-2', unreachableSinceMs: NOW - 10_000 })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryUnreachable' });
    expect(decide({ pods: pods.slice(1), target: 'r-2' })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
    // A primary still taking writes while it is deleted hands over: the target catches up first.
    const deleting = [primaryPod(0, writable(1000), { deleting: true }), ...pods.slice(1)];
    expect(decide({ pods: deleting, target: 'r-2' })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-2', reason: 'PrimaryDeleted' });
  });

  it('does not finish onto a target that restarted empty while another replica holds the data', () => {
    const pods = [primaryPod(0, undefined), pod(1, booting()), pod(2, linked(ipOf(0), 500, { replOffset: 500 }))];
    expect(decide({ pods, target: 'r-1', unreachableSinceMs: NOW - 10_000 })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-2', reason: 'PrimaryUnreachable' });
  });

  describe('a failover target that did not take the role, and the old primary back on its volume', () => {
    const claims = new Set(['r-0', 'r-1']);

    it('restarted from its volume (its offset says nothing), is not promoted over the old primary back on its own: the old primary is', () => {
      // The intent was written, the operator died before the promotion, both pods restarted.
      const pods = [primaryPod(0, booting()), pod(1, booting())];
      expect(decide({ pods, claims, target: 'r-1' })).toEqual({ kind: 'promote', primary: 'r-0' });
      // Its pod not re-created yet: the old primary's volume is waited for.
      expect(decide({ pods: [pod(1, booting())], claims, target: 'r-1' })).toMatchObject({ kind: 'wait', primary: 'r-0' });
      // Nor while another replica answers with data, or a running pod does not answer.
      const withReplica = [pod(1, booting()), pod(2, linked(ipOf(0), 500, { replOffset: 500, linkUp: false }))];
      expect(decide({ pods: withReplica, claims, target: 'r-1' })).not.toEqual({ kind: 'promote', primary: 'r-1' });
      expect(decide({ pods: [pod(1, booting()), pod(2, undefined)], claims: new Set(['r-1']), target: 'r-1' })).toMatchObject({ message: expect.stringMatching(/waiting for r-2/) });
    });

    it('the recorded primary (recorded the moment it was writable) restarted from its volume is promoted over an old target and its replicas', () => {
      // r-1 took over and was recorded; the intent of an older change to r-0 was never finished.
      const pods = [pod(0, booting()), primaryPod(1, booting()), pod(2, linked(ipOf(1), 500, { replOffset: 500, linkUp: false }))];
      expect(decide({ pods, claims, recorded: 'r-1', target: 'r-0' })).toEqual({ kind: 'promote', primary: 'r-1' });
      // Re-created on their volumes, the pods keep no role label: the record alone says which.
      const recreated = [primaryPod(0, booting()), pod(1, booting())];
      expect(decide({ pods: recreated, claims, recorded: 'r-1', target: 'r-0' })).toEqual({ kind: 'promote', primary: 'r-1' });
    });

    it('answering as a replica, is not promoted over the old primary back on its volume; it still is over one that is silent or gone', () => {
      const target = pod(1, linked(ipOf(0), 500, { replOffset: 500, linkUp: false }));
      expect(decide({ pods: [primaryPod(0, booting()), target], claims, target: 'r-1' })).toEqual({ kind: 'promote', primary: 'r-0' });
      // The failover gave up the tail of a primary silent for primaryDownSeconds, or gone: that stands.
      expect(decide({ pods: [primaryPod(0, undefined), target], claims, target: 'r-1', unreachableSinceMs: NOW - 10_000 })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryUnreachable' });
      expect(decide({ pods: [primaryPod(0, undefined), target], claims, target: 'r-1', unreachableSinceMs: NOW - 1_000 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
      expect(decide({ pods: [target], claims, target: 'r-1' })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
    });

    it('restarted from its volume after a hand-over demoted the old primary, is promoted: it held all the old primary acknowledged', () => {
      // The switchover's target caught up, was promoted and the old primary made its replica; the
      // operator stopped before recording it, and the target restarted from its volume.
      // Nor does a replica that answers with an offset hold more: its data came from the same stream.
      const pods = [primaryPod(0, linked(ipOf(1), 43, { replOffset: 43, linkUp: false })), pod(1, booting()), pod(2, linked(ipOf(1), 43, { replOffset: 43, linkUp: false }), { tier: 2 })];
      expect(decide({ pods, claims, target: 'r-1', targetCaughtUp: true })).toEqual({ kind: 'promote', primary: 'r-1' });
      // Not so for the target of a failover: the old primary answers with data it may lack.
      expect(decide({ pods, claims, target: 'r-1' })).not.toEqual({ kind: 'promote', primary: 'r-1' });
    });

    it('restarted from its volume, is promoted when no other pod may hold more', () => {
      const pods = [pod(1, booting()), pod(2, booting())];
      expect(decide({ pods, claims: new Set(['r-1', 'r-2']), target: 'r-1' })).toEqual({ kind: 'promote', primary: 'r-1' });
    });
  });

  it('promotes a target when no primary is recorded, instead of failing over from it to itself', () => {
    const pods = [pod(1, linked(ipOf(0), 500, { replOffset: 500 })), pod(2, linked(ipOf(0), 400, { replOffset: 400 }))];
    expect(decide({ recorded: undefined, pods, target: 'r-1' })).toEqual({ kind: 'promote', primary: 'r-1' });
  });

  it('keeps the reason PrimaryRestarted when finishing a failover from a restarted primary', () => {
    const pods = [primaryPod(0, booting()), pod(1, linked(ipOf(0), 500, { replOffset: 500 }))];
    expect(decide({ pods, target: 'r-1' })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryRestarted' });
  });

  it('takes a hand-over target that was promoted before the old primary was demoted as the primary', () => {
    const pods = [primaryPod(0, writable(100)), pod(1, writable(107))];
    expect(decide({ pods, target: 'r-1', targetCaughtUp: true })).toEqual({ kind: 'ok', primary: 'r-1' });
  });

  it('finishes a hand-over onto its target whatever else answers: every pod holds data of the stream it caught up with', () => {
    // The old primary restarted from its volume, another pod too; the target answers as a replica.
    const claims = new Set(['r-0', 'r-1', 'r-2']);
    const pods = [primaryPod(0, booting()), pod(1, linked(ipOf(0), 13, { replOffset: 13, linkUp: false })), pod(2, booting())];
    expect(decide({ pods, claims, target: 'r-1', targetCaughtUp: true })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryRestarted' });
  });

  it('re-creates a hand-over target gone with its volume, rather than wait for it', () => {
    const pods = [primaryPod(0, linked(ipOf(1), 16, { replOffset: 16, linkUp: false })), pod(2, booting())];
    expect(decide({ pods, claims: new Set(['r-0', 'r-1', 'r-2']), target: 'r-1', targetCaughtUp: true })).toMatchObject({ kind: 'wait', primary: 'r-1' });
  });

  it('ignores a target that is the recorded primary, or that does not answer', () => {
    const pods = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100)), pod(2, undefined)];
    expect(decide({ pods, target: 'r-0' })).toEqual({ kind: 'ok', primary: 'r-0' });
    expect(decide({ pods, target: 'r-2' })).toEqual({ kind: 'ok', primary: 'r-0' });
    expect(decide({ pods, target: 'r-9' })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  it('adopts a writable master that is not the recorded one while the recorded pod is gone', () => {
    const pods = [pod(1, linked(ipOf(2), 400)), pod(2, writable(400))];
    expect(decide({ pods })).toEqual({ kind: 'ok', primary: 'r-2' });
  });

  it('adopts another writable master while the recorded one answers as a (non-booting) replica', () => {
    const pods = [primaryPod(0, linked(ipOf(2), 400)), pod(1, linked(ipOf(2), 400)), pod(2, writable(400))];
    expect(decide({ pods })).toEqual({ kind: 'ok', primary: 'r-2' });
  });

  describe('without a recorded primary', () => {
    it('starts the first pod by tier then index, or waits for it to answer', () => {
      expect(decide({ recorded: undefined, pods: [pod(3, booting()), primaryPod(5, booting()), pod(2, booting())] })).toEqual({ kind: 'promote', primary: 'r-5' });
      expect(decide({ recorded: undefined, pods: [pod(3, booting()), pod(2, booting())] })).toEqual({ kind: 'promote', primary: 'r-2' });
      expect(decide({ recorded: undefined, pods: [pod(2, undefined), pod(3, booting())] })).toMatchObject({ kind: 'wait', primary: 'r-2' });
    });

    it('promotes the pod holding the most data rather than an empty first pod', () => {
      expect(decide({ recorded: undefined, pods: [pod(1, booting()), pod(2, booting(300))] })).toEqual({ kind: 'promote', primary: 'r-2' });
    });

    it('adopts a writable master', () => {
      expect(decide({ recorded: undefined, pods: [pod(1, booting()), pod(2, writable(0))] })).toEqual({ kind: 'ok', primary: 'r-2' });
    });
  });
});

describe('chooseSwitchover', () => {
  const pods = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100)), pod(2, linked(ipOf(0), 90))];

  it('goes to the named tier-1 replica, or for auto to the one with the most data', () => {
    expect(chooseSwitchover(pods, 'r-0', 'r-2')).toMatchObject({ kind: 'switch', to: { name: 'r-2' } });
    expect(chooseSwitchover(pods, 'r-0', 'auto')).toMatchObject({ kind: 'switch', to: { name: 'r-1' } });
  });

  it('refuses a pod being deleted: named, or for auto by passing it over', () => {
    const deleting = [pods[0]!, { ...pods[1]!, deleting: true }, pods[2]!];
    expect(chooseSwitchover(deleting, 'r-0', 'r-1')).toEqual({ kind: 'refuse', message: 'switchover to r-1: it is being deleted' });
    expect(chooseSwitchover(deleting, 'r-0', 'auto')).toMatchObject({ kind: 'switch', to: { name: 'r-2' } });
  });

  it('refuses the primary itself, a pod deeper than tier 1 or of another parent, one whose link is down or that does not answer; auto passes them over', () => {
    const deep = pod(3, linked(ipOf(0), 100), { tier: 2, parent: 'r-0' });
    const otherParent = pod(4, linked(ipOf(9), 100), { parent: 'r-9' });
    const down = pod(5, linked(ipOf(0), 100, { linkUp: false }));
    const all = [pods[0]!, deep, otherParent, down, pod(6, undefined)];
    expect(chooseSwitchover(all, 'r-0', 'r-0')).toEqual({ kind: 'refuse', message: 'switchover to r-0: it is already the primary' });
    const tierOne = { kind: 'refuse', message: expect.stringMatching(/only a tier-1 replica of the primary/) };
    expect(chooseSwitchover(all, 'r-0', 'r-3')).toMatchObject(tierOne);
    expect(chooseSwitchover(all, 'r-0', 'r-4')).toMatchObject(tierOne);
    expect(chooseSwitchover(all, 'r-0', 'r-5')).toEqual({ kind: 'refuse', message: 'switchover to r-5: its replication link is not up' });
    expect(chooseSwitchover(all, 'r-0', 'r-6')).toEqual({ kind: 'refuse', message: 'switchover to r-6: its replication link is not up' });
    expect(chooseSwitchover([pods[0]!, deep, otherParent], 'r-0', 'auto')).toEqual({ kind: 'refuse', message: 'no replica to switch over to' });
  });
});

describe('retireOldPrimary', () => {
  it('hands over from a deleted primary still taking writes, fences one that may still run, keeps one that restarted or is gone', () => {
    expect(retireOldPrimary(primaryPod(0, writable(5), { deleting: true }), 'PrimaryDeleted')).toBe('handOver');
    expect(retireOldPrimary(primaryPod(0, writable(5), { deleting: true, podIP: undefined }), 'PrimaryDeleted')).toBe('keep');
    expect(retireOldPrimary(primaryPod(0, undefined, { deleting: true }), 'PrimaryDeleted')).toBe('keep');
    expect(retireOldPrimary(primaryPod(0, undefined), 'PrimaryUnreachable')).toBe('fence');
    expect(retireOldPrimary(primaryPod(0, booting()), 'PrimaryRestarted')).toBe('keep');
    expect(retireOldPrimary(undefined, 'PrimaryDeleted')).toBe('keep');
  });
});

describe('chooseCandidate', () => {
  const names = (pods: ObservedPod[]) => chooseCandidate(pods, 'r-0')?.name;

  it('prefers the most data over the tier: a deeper tier may have kept more than what is left of tier 1', () => {
    expect(names([pod(3, linked(ipOf(1), 900), { tier: 2 }), pod(1, linked(ipOf(0), 100))])).toBe('r-3');
  });

  it('prefers tier 1 on equal data', () => {
    expect(names([pod(3, linked(ipOf(1), 100), { tier: 2 }), pod(4, linked(ipOf(0), 100))])).toBe('r-4');
    expect(names([pod(4, linked(ipOf(0), 100)), pod(3, linked(ipOf(1), 100), { tier: 2 })])).toBe('r-4');
  });

  it('takes the highest offset within a tier', () => {
    expect(names([pod(1, linked(ipOf(0), 100)), pod(2, linked(ipOf(0), 300)), pod(3, linked(ipOf(0), 200))])).toBe('r-2');
  });

  it('breaks offset ties by the lowest (numeric) index', () => {
    expect(names([pod(10, linked(ipOf(0), 100)), pod(9, linked(ipOf(0), 100)), pod(11, linked(ipOf(0), 100))])).toBe('r-9');
  });

  it('puts booting pods last, whatever they loaded', () => {
    expect(names([pod(1, booting(900)), pod(4, linked(ipOf(1), 10), { tier: 2 })])).toBe('r-4');
    expect(names([pod(1, booting(900)), pod(2, booting(0))])).toBe('r-1');
  });

  it('never takes the excluded pod, a deleting pod, a pod without info or without an IP', () => {
    expect(
      names([
        primaryPod(0, writable(999)),
        pod(1, linked(ipOf(0), 900), { deleting: true }),
        pod(2, undefined),
        pod(3, linked(ipOf(0), 800), { podIP: undefined }),
        pod(4, linked(ipOf(0), 1)),
      ]),
    ).toBe('r-4');
    expect(names([primaryPod(0, writable(999)), pod(2, undefined)])).toBeUndefined();
    expect(names([])).toBeUndefined();
  });
});

describe('decidePrimary properties', () => {
  const infoArb: fc.Arbitrary<ReplicationInfo | undefined> = fc.oneof(
    fc.constant(undefined),
    fc.nat(1000).map(writable),
    fc.nat(1000).map(booting),
    fc.tuple(fc.nat(5), fc.nat(1000), fc.boolean()).map(([parent, offset, linkUp]) => linked(ipOf(parent), offset, { linkUp })),
  );
  const podArb = (index: number): fc.Arbitrary<ObservedPod> =>
    fc.record({ tier: fc.nat(3), deleting: fc.boolean(), hasIP: fc.boolean(), down: fc.boolean(), info: infoArb }).map(({ tier, deleting, hasIP, down, info }) =>
      // A container that is not running, or a pod without an IP, cannot answer.
      pod(index, down || !hasIP ? undefined : info, { tier, role: tier === 0 ? 'primary' : 'replica', deleting, podIP: hasIP ? ipOf(index) : undefined, containerDown: down && hasIP }),
    );
  const podsArb = fc.subarray([0, 1, 2, 3, 4, 5]).chain((indexes) => fc.tuple(...indexes.map(podArb)));
  const nameArb = fc.option(fc.constantFrom('r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-9'), { nil: undefined });
  const inputArb: fc.Arbitrary<PrimaryInput> = fc.record({
    recorded: nameArb,
    target: nameArb,
    pods: podsArb,
    failoverEnabled: fc.boolean(),
    primaryDownSeconds: fc.nat(10),
    unreachableSinceMs: fc.option(fc.integer({ min: NOW - 20_000, max: NOW }), { nil: undefined }),
    nowMs: fc.constant(NOW),
  });

  it('a failover never picks the recorded primary nor a pod without info; promote never happens beside another writable live pod', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const d = decidePrimary(input);
        if (d.kind === 'failover') {
          expect(d.to).not.toBe(input.recorded);
          const to = input.pods.find((p) => p.name === d.to);
          expect(to?.info).toBeDefined();
          expect(to?.deleting).toBe(false);
        }
        if (d.kind === 'promote') {
          expect(input.pods.filter((p) => p.name !== d.primary && !p.deleting && isWritableMaster(p))).toEqual([]);
          expect(input.pods.filter((p) => p.name !== d.primary && !p.deleting && p.podIP && !p.info)).toEqual([]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decidePrimary properties with volumes', () => {
  // Pods restarted from their volumes (booting, offset 0: their data is in doubt) or answering, each
  // with a claim or not.
  const podArb = (index: number): fc.Arbitrary<ObservedPod> =>
    fc.record({ tier: fc.nat(2), info: fc.oneof(fc.constant(booting()), fc.nat(1000).map((o) => linked(ipOf(0), o, { replOffset: o, linkUp: false }))) }).map(({ tier, info }) => pod(index, info, { tier }));
  const inputArb = fc
    .tuple(fc.subarray([0, 1, 2, 3]), fc.subarray(['r-0', 'r-1', 'r-2', 'r-3']), fc.constantFrom('r-1', 'r-2', 'r-3'))
    .chain(([indexes, claimed, target]) => fc.tuple(fc.tuple(...indexes.map(podArb)), fc.constant(new Set(claimed)), fc.constant(target)));

  it('a target that did not take the role is never promoted while the recorded primary, labelled primary, is back on its volume', () => {
    fc.assert(
      fc.property(inputArb, ([others, claims, target]) => {
        const old = primaryPod(0, booting());
        const pods = [old, ...others.filter((p) => p.index !== 0 && p.tier > 0)];
        const d = decidePrimary({ recorded: 'r-0', target, pods, claims: new Set([...claims, 'r-0']), failoverEnabled: true, primaryDownSeconds: 3, unreachableSinceMs: undefined, nowMs: NOW });
        expect(d.kind === 'promote' ? d.primary : d.kind === 'failover' ? d.to : 'r-0').toBe('r-0');
      }),
      { numRuns: 2000 },
    );
  });
});

// Rules that only the controller tests or the simulation exercised: each case below is one that a
// surviving mutant of decidePrimary got wrong (test/mutation/survivors.md).
describe('decidePrimary, rule by rule', () => {
  it('with failover.acceptDataLossAfterSeconds, promotes what answers once in doubt that long, not before, not without the option', () => {
    const pods = [primaryPod(0, booting()), pod(1, undefined)];
    const optIn = { pods, acceptDataLossAfterSeconds: 10 };
    expect(decide({ ...optIn, inDoubtSinceMs: NOW - 9_999 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    expect(decide({ ...optIn, inDoubtSinceMs: NOW - 10_000 })).toEqual({ kind: 'promote', primary: 'r-0' });
    expect(decide({ ...optIn, inDoubtSinceMs: undefined })).toMatchObject({ kind: 'wait', primary: 'r-0' });
    expect(decide({ pods, inDoubtSinceMs: NOW - 1e9 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
  });

  it('a target that is the recorded primary, answering as a replica, is promoted, never failed over onto itself', () => {
    const pods = [primaryPod(0, linked(ipOf(9), 500, { replOffset: 500, linkUp: false })), pod(1, linked(ipOf(0), 400, { replOffset: 400 }))];
    expect(decide({ pods, target: 'r-0' })).toEqual({ kind: 'promote', primary: 'r-0' });
  });

  it('resumes a switchover onto a target linked to the writable primary; a target linked elsewhere is ignored', () => {
    const pods = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100)), pod(2, linked(ipOf(9), 100)), pod(3, linked(ipOf(0), 100, { linkUp: false }))];
    expect(decide({ pods, target: 'r-1' })).toEqual({ kind: 'switchover', from: 'r-0', to: 'r-1' });
    expect(decide({ pods, target: 'r-2' })).toEqual({ kind: 'ok', primary: 'r-0' });
    expect(decide({ pods, target: 'r-3' })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  it('a lost primary without a volume, still running, is not replaced by a pod that never followed its stream', () => {
    const pods = [primaryPod(0, undefined), pod(1, linked(ipOf(0), 500, { replId: 'other', replOffset: 500, linkUp: false }))];
    expect(decide({ pods, primaryReplIds: ['x'], unreachableSinceMs: NOW - 60_000 })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/did not follow/) });
  });

  it("a failover's target that is writable beside the writable recorded primary is not taken: only a hand-over's, which caught up", () => {
    const pods = [primaryPod(0, writable(100)), pod(1, writable(107))];
    expect(decide({ pods, target: 'r-1' })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  it("a failover's target gone with its volume is not waited for: the primary restarted on its own volume is promoted", () => {
    const pods = [primaryPod(0, booting()), pod(2, booting())];
    expect(decide({ pods, claims: new Set(['r-0', 'r-1']), target: 'r-1' })).toEqual({ kind: 'promote', primary: 'r-0' });
  });

  it('a failover target restarted from its volume is promoted over an old primary silent for primaryDownSeconds: its tail was given up', () => {
    const pods = [primaryPod(0, undefined), pod(1, booting())];
    expect(decide({ pods, claims: new Set(['r-0', 'r-1']), target: 'r-1', unreachableSinceMs: NOW - 3_000 })).toEqual({ kind: 'promote', primary: 'r-1' });
    // Silent for less (it may have come back and taken writes since the intent): waited for.
    expect(decide({ pods, claims: new Set(['r-0', 'r-1']), target: 'r-1', unreachableSinceMs: NOW - 2_999 })).toMatchObject({ kind: 'wait' });
  });

  it('a primary restarted from its volume while it is deleted is waited for: it comes back on that volume with the most data', () => {
    const pods = [primaryPod(0, booting(), { deleting: true }), pod(1, linked(ipOf(0), 500, { replOffset: 500, linkUp: false }))];
    expect(decide({ pods, claims: new Set(['r-0', 'r-1']) })).toMatchObject({ kind: 'wait', primary: 'r-0' });
  });

  it('a silent primary being deleted, with a volume, is given primaryDownSeconds in seconds, not milliseconds', () => {
    const pods = [primaryPod(0, undefined, { deleting: true }), pod(1, linked(ipOf(0), 300))];
    expect(decide({ pods, claims: new Set(['r-0']), unreachableSinceMs: NOW - 1_000 })).toMatchObject({ kind: 'wait', primary: 'r-0' });
  });

  it('a primary gone whose volume survives is failed over from when a linked replica can take over: its own volume is not waited for', () => {
    const pods = [pod(1, linked(ipOf(0), 500, { replOffset: 500, linkUp: false }))];
    expect(decide({ pods, claims: new Set(['r-0', 'r-1']) })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
  });

  it('with failover disabled, a primary gone whose volume survives is re-created on it, not reported lost', () => {
    expect(decide({ pods: [pod(1, linked(ipOf(0), 500))], claims: new Set(['r-0']), failoverEnabled: false })).toMatchObject({
      kind: 'wait',
      primary: 'r-0',
      message: expect.stringMatching(/re-creating it on its volume/),
    });
  });

  it('a replica being deleted is not waited for in a failover, whatever it holds', () => {
    const pods = [pod(1, linked(ipOf(0), 400, { replOffset: 400, linkUp: false })), pod(2, linked(ipOf(0), 500, { replOffset: 500, linkUp: false }), { deleting: true })];
    expect(decide({ pods })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
  });

  it("the lost primary's own answer names its stream, before the IDs status recorded: a pod of another history is not its follower", () => {
    const old = primaryPod(0, { ...writable(600), replId: 'x' }, { deleting: true });
    const pods = [pod(1, linked(ipOf(0), 400, { replOffset: 400 })), pod(2, linked(ipOf(0), 500, { replId: 'y', replOffset: 500 })), old];
    expect(decide({ pods, primaryReplIds: ['y'] })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/waiting for r-2 to answer before promoting r-1/) });
  });

  it("a replica that carries the lost primary's previous replication ID (replid2, from before its promotion) is its follower", () => {
    const old = primaryPod(0, { ...writable(600), replId: 'x', replId2: 'w' }, { deleting: true });
    expect(decide({ pods: [old, pod(1, linked(ipOf(0), 400, { replId: 'w', replOffset: 400 }))] })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
  });

  it('waits for a pod restarted from its volume that follows another stream only when it holds nothing countable (offset 0) and is not the candidate', () => {
    const follower = pod(1, linked(ipOf(0), 400, { replOffset: 400, linkUp: false }));
    const otherHistory = (offset: number, over: Partial<ObservedPod> = {}) => pod(2, linked(ipOf(0), 1, { replId: 'z', replOffset: offset, linkUp: false }), over);
    const failover = { kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' };
    // Without a volume, restarted empty: it holds nothing.
    expect(decide({ pods: [follower, otherHistory(0)], primaryReplIds: ['x'] })).toEqual(failover);
    // Synced from another stream since (offset > 0): its offset counts, and is below the follower's.
    expect(decide({ pods: [follower, otherHistory(300)], claims: new Set(['r-2']), primaryReplIds: ['x'] })).toEqual(failover);
    expect(decide({ pods: [follower, otherHistory(0)], claims: new Set(['r-2']), primaryReplIds: ['x'] })).toMatchObject({ kind: 'lost', message: expect.stringMatching(/waiting for r-2 to answer/) });
    // The only pod left, the primary gone for good (no volume): it takes over, never waits on itself.
    expect(decide({ pods: [otherHistory(0)], claims: new Set(['r-2']), primaryReplIds: ['x'] })).toEqual({ ...failover, to: 'r-2' });
  });

  it("a primary whose data is gone for good (no volume: container down, restarted empty, deleted before it ran) is replaced by the pod that holds most, follower or not", () => {
    const otherHistory = pod(1, linked(ipOf(0), 1, { replId: 'z', replOffset: 500, linkUp: false }));
    const from = (reason: string) => ({ kind: 'failover', from: 'r-0', to: 'r-1', reason });
    const input = { primaryReplIds: ['x'], unreachableSinceMs: NOW };
    expect(decide({ ...input, pods: [primaryPod(0, undefined, { containerDown: true }), otherHistory] })).toEqual(from('PrimaryRestarted'));
    expect(decide({ ...input, pods: [primaryPod(0, booting()), otherHistory] })).toEqual(from('PrimaryRestarted'));
    expect(decide({ ...input, pods: [primaryPod(0, undefined, { deleting: true, podIP: undefined }), otherHistory] })).toEqual(from('PrimaryDeleted'));
  });

  it('all pods being deleted, none recorded: the primary is created anew', () => {
    expect(decide({ recorded: undefined, pods: [pod(1, linked(ipOf(0), 10), { deleting: true })] })).toEqual({ kind: 'create' });
  });

  it('every pod gone: the recorded primary is re-created on its volume, else a new one is created', () => {
    expect(decide({ pods: [], claims: new Set(['r-0']) })).toEqual({ kind: 'wait', primary: 'r-0', message: 're-creating primary r-0 on its volume' });
    expect(decide({ pods: [] })).toEqual({ kind: 'create' });
  });

  it('a switchover asked for by annotation moves the role to that replica, or is refused with the reason', () => {
    const pods = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100))];
    expect(decide({ pods, switchoverRequest: 'r-1' })).toEqual({ kind: 'switchover', from: 'r-0', to: 'r-1' });
    expect(decide({ pods, switchoverRequest: 'r-9' })).toEqual({ kind: 'refuseSwitchover', primary: 'r-0', message: 'switchover to r-9: no such pod' });
  });

  it("a primary on a draining node hands its role to a replica on another node; with none, it stays", () => {
    const primary = primaryPod(0, writable(100), { draining: true });
    const elsewhere = pod(1, linked(ipOf(0), 100));
    expect(decide({ pods: [primary, elsewhere] })).toEqual({ kind: 'switchover', from: 'r-0', to: 'r-1' });
    expect(decide({ pods: [primary, { ...elsewhere, draining: true }] })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  it('of two pods restarted from their volumes, with no primary recorded, the one on the lower tier is waited for: its offset says nothing', () => {
    const pods = [pod(1, booting()), pod(2, booting(300), { tier: 2 })];
    expect(decide({ recorded: undefined, pods, claims: new Set(['r-1', 'r-2']) })).toMatchObject({ kind: 'wait', primary: 'r-2', message: expect.stringMatching(/waiting for r-1/) });
  });

  it("a failover's target is finished onto when the old primary's container is down without a volume (its data gone, not silent long): a tie keeps the target", () => {
    const pods = [primaryPod(0, undefined, { containerDown: true }), pod(1, linked(ipOf(0), 50, { linkUp: false })), pod(2, linked(ipOf(0), 50, { linkUp: false }))];
    expect(decide({ target: 'r-2', pods })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-2', reason: 'PrimaryRestarted' });
  });
});

describe('decidePrimary, two histories after an interrupted role change', () => {
  // Replication IDs: `a` the recorded primary's stream, `b` the one a promotion from it began.
  const master = (replOffset: number, replId: string, replId2?: string): PrimaryInfo => ({ ...writable(replOffset), replId, ...(replId2 ? { replId2 } : {}) });

  // Seed 402059: a failover's target promoted from the recorded primary's stream, not recorded, then
  // gone; its replica holds the most.
  it("a replica of a failover's unrecorded target (its replid2 the lost primary's stream) is a candidate, not only a doubt", () => {
    const pods = [primaryPod(1, booting()), pod(4, linked('10.9.9.9', 86, { replId: 'a', replOffset: 86, linkUp: false })), pod(5, linked('10.9.9.8', 95, { replId: 'b', replId2: 'a', replOffset: 95, linkUp: false }))];
    expect(decide({ recorded: 'r-1', target: 'r-2', pods, primaryReplIds: ['a', 'z'] })).toEqual({ kind: 'failover', from: 'r-1', to: 'r-5', reason: 'PrimaryRestarted' });
  });

  // Seed 427879: a hand-over's target recorded, its old primary never demoted; the target lost.
  it('an old primary never demoted (its replication ID the one the recorded primary replaced) is not adopted: the recorded stream is failed over', () => {
    const pods = [pod(0, master(41, 'a')), pod(1, linked(ipOf(2), 43, { replId: 'b', replId2: 'a', replOffset: 43, linkUp: false })), primaryPod(2, undefined, { containerDown: true })];
    expect(decide({ recorded: 'r-2', pods, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'failover', from: 'r-2', to: 'r-1', reason: 'PrimaryRestarted' });
    // Unknown IDs: adopted as before.
    expect(decide({ recorded: 'r-2', pods })).toEqual({ kind: 'ok', primary: 'r-0' });
  });

  // Seed 440073: a hand-over's target promoted, the old primary unpaused and written to since.
  it("a hand-over's target promoted from the recorded stream is not taken while a pod on that stream holds more", () => {
    const pods = [pod(1, linked(ipOf(0), 74, { replId: 'a', replOffset: 74, linkUp: false })), pod(3, master(70, 'b', 'a'))];
    expect(decide({ recorded: 'r-0', target: 'r-3', targetCaughtUp: true, pods, primaryReplIds: ['a', 'z'] })).toEqual({ kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryDeleted' });
    // Holding at least as much, it is.
    const ahead = [pod(1, linked(ipOf(0), 70, { replId: 'a', replOffset: 70, linkUp: false })), pod(3, master(75, 'b', 'a'))];
    expect(decide({ recorded: 'r-0', target: 'r-3', targetCaughtUp: true, pods: ahead, primaryReplIds: ['a', 'z'] })).toEqual({ kind: 'ok', primary: 'r-3' });
  });

  it('a sibling of the recorded primary (promoted from the stream it replaced) is adopted only as the target of the intent', () => {
    const pods = [pod(0, linked(ipOf(2), 50, { replId: 'b', replId2: 'a', replOffset: 50, linkUp: false })), pod(1, master(40, 'c', 'a')), primaryPod(2, undefined, { containerDown: true })];
    expect(decide({ recorded: 'r-2', pods, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'failover', from: 'r-2', to: 'r-0', reason: 'PrimaryRestarted' });
    expect(decide({ recorded: 'r-2', target: 'r-1', pods, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'ok', primary: 'r-1' });
  });

  // staleMaster's rules name stale masters only: each case below is one that a surviving mutant of
  // them got wrong (test/mutation/survivors.md).
  it('a master promoted from the recorded stream (its replid2) is adopted, named by the intent or not, while no pod on that stream holds more', () => {
    const pods = [primaryPod(0, undefined), pod(1, master(40, 'c', 'b'))];
    expect(decide({ target: 'r-1', pods, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'ok', primary: 'r-1' });
    expect(decide({ pods, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'ok', primary: 'r-1' });
    // A pod still on that stream holding as much (nothing was written since the promotion), or a pod of
    // another stream holding more (its offset counts another history), does not make it stale.
    const level = [...pods, pod(2, linked(ipOf(0), 40, { replId: 'b', replOffset: 40, linkUp: false }))];
    expect(decide({ pods: level, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'ok', primary: 'r-1' });
    const other = [...pods, pod(2, linked('10.9.9.9', 90, { replId: 'z', replOffset: 90, linkUp: false }))];
    expect(decide({ pods: other, primaryReplIds: ['b', 'a'] })).toEqual({ kind: 'ok', primary: 'r-1' });
  });

  it("a replica still on the stream the recorded primary's promotion continued follows the lost primary: only masters are ever stale", () => {
    const pods = [pod(1, linked(ipOf(2), 40, { replId: 'a', replOffset: 40, linkUp: false })), primaryPod(2, undefined, { containerDown: true })];
    expect(decide({ recorded: 'r-2', pods, claims: new Set(['r-2']), primaryReplIds: ['b', 'a'], unreachableSinceMs: NOW - 3_000 })).toEqual({ kind: 'failover', from: 'r-2', to: 'r-1', reason: 'PrimaryUnreachable' });
  });

  it("a pod whose replid2 is of another stream does not follow the lost primary: it is a doubt, not a candidate", () => {
    const pods = [pod(1, linked(ipOf(2), 30, { replId: 'b', replOffset: 30, linkUp: false })), primaryPod(2, undefined, { containerDown: true }), pod(3, linked('10.9.9.9', 50, { replId: 'x', replId2: 'y', replOffset: 50, linkUp: false }))];
    expect(decide({ recorded: 'r-2', pods, primaryReplIds: ['b', 'a'] })).toMatchObject({ kind: 'lost', primary: 'r-2', message: expect.stringMatching(/waiting for r-3 to answer before promoting r-1/) });
  });

  // Seed 440073: the old primary of a hand-over interrupted after its intent, its target silent.
  describe("a hand-over's target that does not answer while the old primary is still writable", () => {
    const pods = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100)), pod(2, undefined)];
    const input = { pods, target: 'r-2', targetCaughtUp: true, switchoverRequest: 'auto' };

    it('is waited for primaryDownSeconds: no switchover from the old primary, whose end would let it write beside a promoted target', () => {
      expect(decide({ ...input, targetUnreachableSinceMs: NOW - 2_999 })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/may have been promoted/) });
      expect(decide(input)).toMatchObject({ kind: 'wait', primary: 'r-0' });
    });

    it('then the role goes back to the old primary, the target fenced as a lost primary', () => {
      expect(decide({ ...input, targetUnreachableSinceMs: NOW - 3_000 })).toEqual({ kind: 'failover', from: 'r-2', to: 'r-0', reason: 'PrimaryUnreachable' });
    });

    it('not while a pod that may have followed the target holds more than the old primary', () => {
      const followed = [...pods, pod(3, linked(ipOf(2), 120, { replId: 'b', replOffset: 120, linkUp: false }))];
      expect(decide({ ...input, pods: followed, targetUnreachableSinceMs: NOW - 3_000 })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/waiting for r-3/) });
    });

    it("not for a target whose container is down without a volume: it comes back empty and fenced, so nothing can write to it", () => {
      const down = [primaryPod(0, writable(100)), pod(1, linked(ipOf(0), 100)), pod(2, undefined, { containerDown: true })];
      const silent = { pods: down, target: 'r-2', targetCaughtUp: true, targetUnreachableSinceMs: NOW - 1_000 };
      expect(decide(silent)).toEqual({ kind: 'ok', primary: 'r-0' });
      // With a volume it comes back with what it held: waited for.
      expect(decide({ ...silent, claims: new Set(['r-0', 'r-1', 'r-2']) })).toMatchObject({ kind: 'wait', primary: 'r-0', message: expect.stringMatching(/may have been promoted/) });
    });

    it('a failover target (no hand-over) that does not answer is ignored, as before', () => {
      expect(decide({ pods, target: 'r-2' })).toEqual({ kind: 'ok', primary: 'r-0' });
    });
  });
});
