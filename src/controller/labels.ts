// Keeps each pod's role, tier and read labels and its parent annotation equal to the plan, so that
// `<name>-primary` and `<name>-read` route by what is true now. Demotions go before the promotion.
import type { V1Pod } from '@kubernetes/client-node';
import type { Plan } from '../topology/plan.js';
import { patchPodMeta } from './actions.js';
import type { Deps } from './deps.js';
import { ANNOTATION, LABEL } from './names.js';

interface PodMeta {
  labels: Record<string, string>;
  parent: string | null;
}

export function desiredMeta(plan: Plan, primary: string | undefined, readable: ReadonlySet<string>): Map<string, PodMeta> {
  const desired = new Map<string, PodMeta>();
  const read = (name: string) => (readable.has(name) ? 'true' : 'false');
  for (const p of plan.layout) {
    desired.set(p.name, { labels: { [LABEL.role]: 'replica', [LABEL.tier]: String(p.tier), [LABEL.read]: read(p.name) }, parent: p.parent });
  }
  if (primary) desired.set(primary, { labels: { [LABEL.role]: 'primary', [LABEL.tier]: '0', [LABEL.read]: read(primary) }, parent: null });
  return desired;
}

export async function syncPodMeta(deps: Deps, pods: V1Pod[], desired: Map<string, PodMeta>): Promise<void> {
  const changes = pods.flatMap((pod) => {
    const want = desired.get(pod.metadata?.name ?? '');
    if (!want || pod.metadata?.deletionTimestamp) return [];
    const labels = pod.metadata?.labels ?? {};
    const parent = pod.metadata?.annotations?.[ANNOTATION.parent] ?? null;
    const labelDiff = Object.fromEntries(Object.entries(want.labels).filter(([k, v]) => labels[k] !== v));
    if (Object.keys(labelDiff).length === 0 && parent === want.parent) return [];
    const annotations: Record<string, string | null> = parent === want.parent ? {} : { [ANNOTATION.parent]: want.parent };
    return [{ pod, labels: labelDiff, annotations }];
  });
  const promotes = (c: (typeof changes)[number]) => c.labels[LABEL.role] === 'primary';
  for (const change of [...changes.filter((c) => !promotes(c)), ...changes.filter(promotes)]) {
    await patchPodMeta(deps, change.pod, change.labels, change.annotations);
  }
}
