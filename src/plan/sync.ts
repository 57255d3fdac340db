// When a replica's full sync has really completed: the one place that decides whether a replica
// counts as synced (its link in status.nodes, hence Ready, ReplicasSynced and the read Service).
//
// With diskless sync (Redis 7's default) a parent puts a replica online once the RDB is sent, but
// starts streaming to it only after the replica's first REPLCONF ACK, up to a second later. Writes
// acknowledged in that window exist on the parent alone, although the replica's link is up and the
// parent lists it `state=online`. Nothing in one INFO tells the window from a streaming replica, so
// a pass remembers, per replica, the parent's master_repl_offset the first time it saw the replica
// online (the mark): an acknowledged offset past the mark proves the replica received the stream
// beyond what it had when it went online, so the stream flows and covers every write the parent
// had acknowledged then. Until then the replica is still syncing.
//
// The mark lives in the operator's memory. Lost (an operator restart, a new parent, a pass that saw
// the replica's link down or its parent not listing it online, an acknowledged offset that went
// back: a new connection), it is taken again and the replica is not synced until proven anew. A
// full resync that starts and ends between two passes, and whose first acknowledgement reached the
// parent before it saw the transfer end (so it reports an offset, not 0), is the one case missed.
// An idle parent moves its offset only with its pings (LIVE_DEFAULTS).
import type { NodeStatus } from '../api/schema.js';
import type { ObservedPod } from './observation.js';

type SyncPod = Pick<ObservedPod, 'podIP' | 'info'>;

/** Set at run time on every pod unless the spec's `config` sets it: a parent pings its replicas
 * every second (Redis's default is 10 s), so an idle primary's offset moves and a replica proves its
 * sync within a second or two instead of up to ten. A ping is a few bytes of the stream. */
export const LIVE_DEFAULTS: Readonly<Record<string, string>> = { 'repl-ping-replica-period': '1' };

export interface SyncMark {
  /** The parent it was taken on, and the parent's replication ID then. */
  parentIP: string;
  replId: string;
  /** The parent's master_repl_offset when the replica was first seen online. */
  mark: number;
  /** The offset the parent last said the replica acknowledged. */
  acked: number;
}

export interface ReplicaSync {
  link: NonNullable<NodeStatus['link']>;
  /** What to remember for the next pass (undefined: nothing, the replica is not online). */
  mark: SyncMark | undefined;
}

/** The link of `pod`, a replica whose parent is `parent`, and the mark to keep: 'up' only once the
 * offset it acknowledged to its parent passed the mark (`previous`, from the last pass). */
export function replicaSync(pod: SyncPod, parent: SyncPod | undefined, previous: SyncMark | undefined): ReplicaSync {
  const info = pod.info;
  const entry = pod.podIP === undefined || parent?.podIP === undefined ? undefined : parent.info?.replicas.find((r) => r.ip === pod.podIP);
  // The parent streams to it on the connection the mark was taken on (its acknowledged offset did not
  // go back: a new connection starts from 0).
  const online = entry?.state === 'online' && parent?.info !== undefined ? { parentIP: parent.podIP!, replId: parent.info.replId, acked: entry.offset } : undefined;
  const same = online && previous && previous.parentIP === online.parentIP && previous.replId === online.replId && online.acked >= previous.acked;
  // It does not answer (frozen, a timeout): down, but what it proved holds while its parent still
  // streams to it on the same connection.
  if (!info) return { link: 'down', mark: same ? { ...previous, acked: online.acked } : undefined };
  // Linked to another pod than its assigned parent (a re-point is pending): not linked as planned.
  if (info.role !== 'replica' || parent?.podIP === undefined || info.masterHost !== parent.podIP) return { link: 'down', mark: undefined };
  if (info.syncInProgress) return { link: 'syncing', mark: undefined };
  if (!info.linkUp) return { link: 'down', mark: undefined };
  // Its link is up but the parent does not say it streams to it (yet): loading, or waiting for the
  // parent's view to catch up.
  if (!online) {
    // The parent does not answer (frozen, cut off): what the replica proved on that link holds while
    // its own side of the link is up (its lag, from its last I/O, then says how fresh it is).
    const proven = parent.info === undefined && previous?.parentIP === parent.podIP && previous.acked > previous.mark;
    return proven ? { link: 'up', mark: previous } : { link: 'syncing', mark: undefined };
  }
  if (!same) return { link: 'syncing', mark: { ...online, mark: parent.info!.replOffset } };
  return { link: online.acked > previous.mark ? 'up' : 'syncing', mark: { ...previous, acked: online.acked } };
}

/** The marks of an operator that has none yet (it just started): each replica that the last status
 * showed synced keeps that proof while its parent still lists it online with an acknowledgement on
 * the current connection (above 0) and the same history. Without this, every operator restart would
 * drop Ready for a second or two. What it cannot see: a full resync that happened while no operator
 * ran and whose first acknowledgement reached the parent before the transfer ended. */
export function marksFromStatus(nodes: readonly NodeStatus[] | undefined, pods: readonly Pick<ObservedPod, 'name' | 'podIP' | 'info'>[]): Map<string, SyncMark> {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const marks = new Map<string, SyncMark>();
  for (const node of nodes ?? []) {
    const parent = node.parent === undefined ? undefined : byName.get(node.parent);
    if (node.role !== 'replica' || node.link !== 'up' || parent?.podIP === undefined || !parent.info) continue;
    marks.set(node.name, { parentIP: parent.podIP, replId: parent.info.replId, mark: 0, acked: 0 });
  }
  return marks;
}

/** Marks under which every replica its parent lists online counts as synced: for judging links and
 * lag alone (plan/probe.ts). */
export function syncAssumed(pods: readonly Pick<ObservedPod, 'name' | 'podIP' | 'info' | 'parent'>[]): Map<string, SyncMark> {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const marks = new Map<string, SyncMark>();
  for (const pod of pods) {
    const parent = pod.parent === undefined ? undefined : byName.get(pod.parent);
    if (parent?.podIP !== undefined) marks.set(pod.name, { parentIP: parent.podIP, replId: parent.info?.replId ?? '', mark: -1, acked: 0 });
  }
  return marks;
}
