// Whether a resource needs a pass, from what its pods' Redis said to the prober (controller/prober.ts)
// between passes. A pass reads INFO afresh for its decisions; the prober only says when one is due:
// when something a decision reads changed since the last probe, never because time passed. The
// facts compared are those the decisions of src/plan/ read from INFO replication:
// - who answers (primary.ts: a silent primary, a silent pod that may hold more data);
// - role, parent (master host and port), link and sync state, the replication IDs: who follows
//   whom (primary.ts, wiring, rollout), a promotion, a restart (a new ID, an offset that went back,
//   a pod booting as a replica of nothing);
// - whether a pod holds data (offset above 0: its claim is marked, observation.ts claimsToMark);
// - read eligibility as status computes it (nodes.ts: link up, lag within readService.maxLagSeconds),
//   and the states of each pod's own replicas (a full sync under way);
// - the recorded primary silent for primaryDownSeconds: the failover decision needs a pass once the
//   silence is long enough, as well as when it starts.
// Offsets and lag figures move all the time and are no reason for a pass: the prober keeps their
// metrics current itself (controller/measure.ts), and status shows them as of the last pass.
import type { V1Pod } from '@kubernetes/client-node';
import type { NodeStatus, RedisReplicationSpec } from '../api/schema.js';
import type { ReplicationInfo } from '../redis/info.js';
import { buildNodes, type NodePod } from './nodes.js';
import { syncAssumed } from './sync.js';
import { observePodObject } from './observation.js';

/** What one probe of a pod got: its INFO replication; 'refused' when it answered but not to the
 * credentials the last pass reached it with (a rotated password: a pass finds the right ones);
 * undefined when it did not answer. */
export type ProbeAnswer = ReplicationInfo | 'refused' | undefined;

export type ProbedPod = Omit<NodePod, 'info' | 'podIP'> & { podIP: string; answer: ProbeAnswer };

export interface ProbeInput {
  /** The primary as recorded (status.primary, else the pod labelled primary). */
  primary: string | undefined;
  /** The pods that have an IP, each with what its probe got. */
  pods: ProbedPod[];
  readService: RedisReplicationSpec['readService'];
  primaryDownSeconds: number;
  /** When the probe was sent (a pod silent since then did not answer from that moment), and now. */
  sentAtMs: number;
  nowMs: number;
}

/** What a decision reads of one pod, as last probed. */
interface PodFacts {
  ip: string;
  state: 'silent' | 'refused' | 'master' | 'replica';
  /** A replica's parent, host:port (a booting pod's is the operator's placeholder). */
  master: string | undefined;
  link: 'up' | 'down' | 'syncing' | undefined;
  replIds: string | undefined;
  holdsData: boolean;
  /** master_repl_offset: only compared for going back (a restart, a full sync onto less data). */
  offset: number;
  read: boolean;
  /** Its own replicas, ip=state, sorted. */
  replicas: string;
}

interface PodMemory {
  facts: PodFacts;
  /** Since when the pod has not answered (its first silent probe). */
  silentSinceMs?: number | undefined;
  /** The primary's silence has passed primaryDownSeconds and that was said once. */
  downSaid?: boolean | undefined;
}

/** What the prober keeps of one resource between probes (memory of the process only: a new one
 * starts from its first probe, and the informers' first listing enqueues every resource anyway). */
export interface ProbeMemory {
  pods: ReadonlyMap<string, PodMemory>;
}

type ProbeReason =
  | 'new pod'
  | 'silent'
  | 'answers'
  | 'refused'
  | 'role'
  | 'parent'
  | 'link'
  | 'replication id'
  | 'offset back'
  | 'holds data'
  | 'read'
  | 'replicas'
  | 'primary down'
  /** Not a change of facts: the write rate outgrew the backlog under auto sizing (controller/measure.ts). */
  | 'backlog';

/** 'urgent': the recorded primary stopped answering (or is no longer a writable master), or its
 * silence just reached primaryDownSeconds: the pass goes ahead of routine work. */
type Urgency = 'none' | 'routine' | 'urgent';

export interface ProbeVerdict {
  memory: ProbeMemory;
  enqueue: Urgency;
  /** What changed, by pod: why the pass is due. */
  changes: { pod: string; reason: ProbeReason }[];
  /** The pods as status would show them from this probe: their lag, for the metrics kept current
   * between passes (controller/measure.ts). */
  nodes: NodeStatus[];
}

function factsOf(pod: ProbedPod, read: boolean): PodFacts {
  const { answer } = pod;
  const base = { ip: pod.podIP, master: undefined, link: undefined, replIds: undefined, holdsData: false, offset: 0, read, replicas: '' };
  if (answer === undefined) return { ...base, state: 'silent' };
  if (answer === 'refused') return { ...base, state: 'refused' };
  return {
    ...base,
    state: answer.role,
    ...(answer.role === 'replica'
      ? { master: `${answer.masterHost}:${answer.masterPort}`, link: answer.syncInProgress ? 'syncing' : answer.linkUp ? 'up' : 'down' }
      : {}),
    replIds: [answer.replId, answer.replId2 ?? ''].join(' '),
    holdsData: answer.replOffset > 0,
    offset: answer.replOffset,
    replicas: answer.replicas
      .map((r) => `${r.ip}=${r.state}`)
      .sort()
      .join(','),
  };
}

/** What changed between two probes of the same pod (same IP). */
function changesOf(before: PodFacts, after: PodFacts): ProbeReason[] {
  if (before.state !== after.state) {
    if (after.state === 'silent') return ['silent'];
    if (after.state === 'refused') return ['refused'];
    return before.state === 'silent' || before.state === 'refused' ? ['answers'] : ['role'];
  }
  const reasons: ProbeReason[] = [];
  if (before.master !== after.master) reasons.push('parent');
  if (before.link !== after.link) reasons.push('link');
  if (before.replIds !== after.replIds) reasons.push('replication id');
  if (after.offset < before.offset) reasons.push('offset back');
  if (before.holdsData !== after.holdsData) reasons.push('holds data');
  if (before.read !== after.read) reasons.push('read');
  if (before.replicas !== after.replicas) reasons.push('replicas');
  return reasons;
}

/**
 * Compares a probe of every pod of a resource with the previous one. A resource seen for the first
 * time is only remembered (unless its primary is silent): the informers' listing enqueues it.
 */
export function judgeProbe(previous: ProbeMemory | undefined, input: ProbeInput): ProbeVerdict {
  const { nowMs } = input;
  const nodePods = input.pods.map((p) => ({ ...p, info: typeof p.answer === 'object' ? p.answer : undefined }));
  // Read eligibility as links and lag make it: whether a full sync is proven (plan/sync.ts) is the
  // pass's to judge; a change of link already enqueues it.
  const nodes = buildNodes({ primary: input.primary ?? '', pods: nodePods, readService: input.readService, marks: syncAssumed(nodePods) });
  const read = new Map(nodes.map((n) => [n.name, n.read]));
  const pods = new Map<string, PodMemory>();
  const changes: ProbeVerdict['changes'] = [];
  let urgent = false;
  for (const pod of input.pods) {
    const facts = factsOf(pod, read.get(pod.name) ?? false);
    const known = previous?.pods.get(pod.name);
    const before = known?.facts.ip === pod.podIP ? known : undefined;
    const isPrimary = pod.name === input.primary;
    const silentSinceMs = facts.state === 'silent' ? (before?.silentSinceMs ?? input.sentAtMs) : undefined;
    const reasons: ProbeReason[] = before ? changesOf(before.facts, facts) : previous && facts.state !== 'silent' ? ['new pod'] : [];
    // A primary first seen silent (a new pod, a new IP, the prober's first look) is a silence that starts.
    if (isPrimary && facts.state === 'silent' && !before) reasons.push('silent');
    let downSaid = before?.downSaid && silentSinceMs !== undefined;
    if (isPrimary && silentSinceMs !== undefined && !downSaid && nowMs - silentSinceMs >= input.primaryDownSeconds * 1000) {
      reasons.push('primary down');
      downSaid = true;
    }
    if (isPrimary && reasons.length > 0 && facts.state !== 'master' && facts.state !== 'refused') urgent = true;
    for (const reason of reasons) changes.push({ pod: pod.name, reason });
    pods.set(pod.name, { facts, ...(silentSinceMs !== undefined ? { silentSinceMs } : {}), ...(downSaid ? { downSaid } : {}) });
  }
  return { memory: { pods }, enqueue: urgent ? 'urgent' : changes.length > 0 ? 'routine' : 'none', changes, nodes };
}

/** A watch event that means the primary pod is lost or going (deleted, being deleted, its container
 * down, no longer running): its pass goes ahead of routine work, as for a primary the prober finds
 * silent. */
export function losesPrimary(resource: string, type: 'add' | 'update' | 'delete', pod: V1Pod): boolean {
  const observed = observePodObject(resource, pod);
  if (observed?.role !== 'primary') return false;
  return type === 'delete' || observed.deleting || observed.containerDown || observed.podIP === undefined;
}

/** When the recorded primary's silence reaches primaryDownSeconds, if it is silent and that was not
 * said yet: the prober enqueues it then (CONFIRM_SILENCE_MS early, see silentPrimaryPatienceMs),
 * not at the end of the next probe (an interval plus a command timeout later). */
export function primaryDownAt(memory: ProbeMemory, primary: string | undefined, primaryDownSeconds: number): number | undefined {
  const known = primary === undefined ? undefined : memory.pods.get(primary);
  if (known?.silentSinceMs === undefined || known.downSaid) return undefined;
  return known.silentSinceMs + primaryDownSeconds * 1000;
}

/** The memory once the primary's silence was said to have reached primaryDownSeconds (by the timer
 * of primaryDownAt): the probe that ends later does not say it again. */
export function downSaid(memory: ProbeMemory, primary: string): ProbeMemory {
  const known = memory.pods.get(primary);
  if (known?.silentSinceMs === undefined) return memory;
  return { pods: new Map([...memory.pods, [primary, { ...known, downSaid: true }]]) };
}

/** How long a pass confirms the silence of a primary the prober finds silent: a pod that is up
 * answers within milliseconds, and the client's command timeout would delay the failover by as
 * much. The wait ends only after pending replies were read (redis/client.ts withTimeout): a stalled
 * operator does not take its own stall for the primary's silence. */
export const CONFIRM_SILENCE_MS = 300;
/** How far past the silence's reaching primaryDownSeconds a pass waits: the clock the decision reads
 * and the timers may disagree by a millisecond. */
const PAST_DOWN_MS = 10;
/** No pass waits longer for the silent primary than the client's command timeout would. */
const MAX_PATIENCE_MS = 1000;

/**
 * How long a pass waits for the INFO of the recorded primary, silent to the prober since `sinceMs`:
 * until just past the moment its silence reaches primaryDownSeconds when that is near, so that the
 * decision that follows fails it over; otherwise CONFIRM_SILENCE_MS. A pass that ended just before
 * that moment could only wait, and one still waiting out the command timeout would hold the
 * resource (one pass at a time) while the prober's timer calls for the failover: measured on the
 * local cluster, that cost a frozen primary's failover a second. The prober's timer starts its pass
 * CONFIRM_SILENCE_MS early, so that this wait ends as the silence reaches primaryDownSeconds.
 */
export function silentPrimaryPatienceMs(sinceMs: number, primaryDownSeconds: number, nowMs: number): number {
  const untilDown = sinceMs + primaryDownSeconds * 1000 + PAST_DOWN_MS - nowMs;
  return untilDown > CONFIRM_SILENCE_MS && untilDown <= MAX_PATIENCE_MS ? untilDown : CONFIRM_SILENCE_MS;
}
