// Rolling updates: which revision of the pod template a pod runs, and the next step that brings
// every pod onto the current one without losing a write: replicas first, deepest tier first, one
// at a time, each only once the topology is settled again (every pod linked and caught up); then a
// switchover to an updated tier-1 replica; then the old primary, now a replica like the others.
import type { RedisReplicationSpec } from '../api/schema.js';
import type { ObservedPod } from './observation.js';
import { downgradeRefusal } from './versions.js';

/** Directives Redis cannot change at run time (IMMUTABLE_CONFIG): a change needs a restart, so it
 * is part of the revision. Every other directive is applied with CONFIG SET. */
export const RESTART_DIRECTIVES = new Set([
  'always-show-logo',
  'aclfile',
  'appenddirname',
  'appendfilename',
  'cluster-config-file',
  'cluster-enabled',
  'daemonize',
  'databases',
  'disable-thp',
  'enable-debug-command',
  'enable-module-command',
  'enable-protected-configs',
  'io-threads',
  'io-threads-do-reads',
  'locale-collate',
  'logfile',
  'pidfile',
  'proc-title-template',
  'set-proc-title',
  'supervised',
  'syslog-enabled',
  'syslog-facility',
  'syslog-ident',
  'tcp-backlog',
  'unixsocket',
  'unixsocketperm',
]);

/** The revision of the pod template: a short hash of everything a running pod cannot take on
 * without being re-created (image, resources, persistence, auth and TLS wiring, restart-only config),
 * and of the restart request annotation. */
export function podRevision(spec: RedisReplicationSpec, restartedAt: string | undefined): string {
  const restartConfig = Object.entries(spec.config)
    .filter(([k]) => RESTART_DIRECTIVES.has(k.toLowerCase()))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const template = {
    image: spec.image,
    resources: spec.resources,
    persistence: spec.persistence.enabled,
    auth: spec.auth.enabled,
    restartConfig,
    restartedAt: restartedAt ?? null,
    // Only when on, so that the revision of every pod that predates TLS stays what it was.
    ...(spec.tls?.enabled ? { tls: true } : {}),
  };
  return fnv1a(JSON.stringify(template));
}

/** FNV-1a, 32 bits, as 8 hex digits: enough to tell templates apart, and pure. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A rolling update as status shows it: pods still on an older revision, and why it is stopped, if it is. */
export interface RolloutState {
  outdated: string[];
  stalled?: string | undefined;
  supervised?: string | undefined;
  /** The new image would make replicas older than their parents (plan/versions.ts): nothing is rolled. */
  refused?: string | undefined;
}

export type RollStep =
  /** Every pod runs the current revision, or nothing is to be rolled (OnDelete). */
  | { kind: 'done'; outdated: string[] }
  /** Outdated pods remain, but the topology is not settled yet: nothing is touched this pass. */
  | { kind: 'wait'; outdated: string[]; message: string }
  /** Re-create this replica (it comes back on the current revision). */
  | { kind: 'recreate'; pod: string; outdated: string[] }
  /** Hand the primary role to this updated replica; the old primary is rolled next. */
  | { kind: 'switchover'; from: string; to: string; outdated: string[] }
  /** The primary is left for the user to switch over (updateStrategy.primary: Supervised). */
  | { kind: 'supervised'; outdated: string[]; message: string }
  /** The image's server is older than a running pod's (plan/versions.ts): nothing is touched. */
  | { kind: 'refused'; outdated: string[]; message: string };

export interface RolloutInput {
  revision: string;
  /** spec.image, judged against the servers the pods run. */
  image: string;
  strategy: RedisReplicationSpec['updateStrategy'];
  pods: ObservedPod[];
  primary: string | undefined;
  /** Every pod exists, answers, is linked and within its lag bound; no other change is pending. */
  settled: boolean;
  persistent: boolean;
  /** The primary is writable now. */
  primaryOk: boolean;
}

export function nextRollStep(input: RolloutInput): RollStep {
  const live = input.pods.filter((p) => !p.deleting);
  const outdated = live.filter((p) => p.revision !== input.revision).map((p) => p.name);
  if (outdated.length === 0 || input.strategy.type === 'OnDelete') return { kind: 'done', outdated };
  const refusal = downgradeRefusal(input.image, input.pods);
  if (refusal) return { kind: 'refused', outdated, message: refusal };
  // An outdated replica that never started (a bad image the spec has since fixed) serves nothing and
  // holds nothing: it is replaced even though the topology cannot settle while it is there.
  const neverStarted = live.find((p) => p.name !== input.primary && outdated.includes(p.name) && !p.podIP);
  if (neverStarted && input.primaryOk) return { kind: 'recreate', pod: neverStarted.name, outdated };
  if (!input.settled) return { kind: 'wait', outdated, message: `${outdated.length} pods to roll; waiting for every pod to be linked and caught up` };
  const replicas = live.filter((p) => p.name !== input.primary && outdated.includes(p.name));
  if (replicas.length > 0) {
    // Deepest tier first (its pods feed nobody), newest pod first within a tier.
    const next = [...replicas].sort((a, b) => b.tier - a.tier || b.index - a.index)[0]!;
    return { kind: 'recreate', pod: next.name, outdated };
  }
  const primary = input.primary!;
  if (input.strategy.primary === 'Supervised') {
    return { kind: 'supervised', outdated, message: `every replica is updated; switch over from ${primary} to finish (updateStrategy.primary: Supervised)` };
  }
  const target = live
    .filter((p) => p.name !== primary && p.tier === 1 && p.revision === input.revision && p.info?.role === 'replica' && p.info.linkUp)
    .sort((a, b) => (b.info?.replOffset ?? 0) - (a.info?.replOffset ?? 0) || a.index - b.index)[0];
  if (!target) {
    // No replica to hand over to (replicas: 0). With persistence the primary is re-created on its
    // volume (writes stop while it restarts); without, that would lose every key: left to the user.
    if (input.persistent && live.length === 1) return { kind: 'recreate', pod: primary, outdated };
    return { kind: 'supervised', outdated, message: `no updated replica to switch over to; ${primary} is not re-created, which would lose its data` };
  }
  return { kind: 'switchover', from: primary, to: target.name, outdated };
}
