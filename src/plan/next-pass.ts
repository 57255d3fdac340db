// When a resource is looked at again with nothing new to wake it. What changes wakes it by itself:
// watch events of its objects, the prober (a fact a decision reads from Redis changed, a silent
// primary: controller/prober.ts), the Secret poll (a Secret it reads changed: controller/secrets.ts).
// Time alone brings a pass only for what a pass is waiting on: a primary in doubt, something still
// moving, the follow-up of a pass that wrote something, work that runs beside passes and reports
// through them, and moments the pass knows in advance (a backup slot, a certificate renewal). A
// settled resource whose last pass found nothing to do costs no pass at all.
import type { PrimaryDecision } from './primary.js';

export interface NextPassInput {
  /** The operator's resync interval (--resync-interval). */
  resyncMs: number;
  decision: PrimaryDecision;
  /** A replica not proven synced, a pod missing, a roll under way: the prober wakes a resource on
   * changes of role, link and lag, not on a sync proven or a pod ready. */
  moving: boolean;
  /** The pass sent a write (an API object, a Redis command that changes something, an Event),
   * whether it took or not: what it started, or what it failed at, is looked at again. */
  wrote: boolean;
  /** Work of the resource that goes on beside passes and reports through them (backups, the
   * archive, a restore), or a check the pass waits on (the certificate each pod serves). */
  background: boolean;
  /** Milliseconds until moments the pass waits for, where known. */
  dueInMs: readonly (number | undefined)[];
}

const IN_DOUBT_RECHECK_MS = 200;
const MOVING_RECHECK_MS = 1000;

/** Milliseconds until the next pass, or undefined: none until something changes. While the primary
 * is in doubt, sooner than the probes (a crashed primary that restarts is seen a few hundred
 * milliseconds later); while something moves, a second later. */
export function nextPassMs(input: NextPassInput): number | undefined {
  const { resyncMs, decision } = input;
  let next: number | undefined;
  if (decision.kind === 'wait') next = Math.min(resyncMs, IN_DOUBT_RECHECK_MS);
  else if (input.moving) next = Math.min(resyncMs, MOVING_RECHECK_MS);
  else if (decision.kind !== 'ok' || input.wrote || input.background) next = resyncMs;
  for (const due of input.dueInMs) if (due !== undefined) next = Math.min(next ?? due, due);
  return next;
}
