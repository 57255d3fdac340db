// Points every replica at its parent's current pod IP (REPLICAOF) and applies live configuration.
import { REDIS_PORT } from '../plan/names.js';
import type { ObservedPod } from '../plan/observation.js';
import type { Plan } from '../plan/topology.js';
import type { RedisTarget } from '../redis/client.js';
import { redisTarget, type Pass } from './pass.js';

export async function wireReplicas(pass: Pass, observed: ObservedPod[], plan: Plan, specChanged: boolean): Promise<void> {
  const { deps, rr } = pass;
  const byName = new Map(observed.filter((p) => !p.deleting).map((p) => [p.name, p]));
  const ipOf = (name: string) => {
    const pod = byName.get(name);
    return pod?.info ? pod.podIP : undefined;
  };
  await Promise.all(
    plan.layout.map(async ({ name, parent }) => {
      const pod = byName.get(name);
      const parentIP = ipOf(parent);
      if (!pod?.info || !pod.podIP || !parentIP) return;
      const info = pod.info;
      const pointed = info.role === 'replica' && info.masterHost === parentIP && info.masterPort === REDIS_PORT;
      if (pointed) return;
      if (info.role === 'master') {
        await deps.events.record(rr, 'Warning', 'Fenced', `pod ${name} accepted writes but is not the primary: made it a replica of ${parent}`);
      }
      try {
        await deps.redis.replicaOf(redisTarget(pass, pod.podIP), parentIP);
        pass.log.info({ pod: name, parent, parentIP }, 'replica pointed at its parent');
      } catch (err) {
        pass.log.warn({ pod: name, err: String(err) }, 'REPLICAOF failed; retrying on the next pass');
      }
    }),
  );
  if (specChanged) await applyConfig(pass, [...byName.values()]);
}

/** The write quorum of the spec (min-replicas-to-write and -max-lag), on the primary. */
export async function applyWriteQuorum(pass: Pass, target: RedisTarget): Promise<void> {
  const quorum = pass.spec.writeQuorum;
  await pass.deps.redis.configSet(target, 'min-replicas-to-write', String(quorum?.minReplicas ?? 0));
  await pass.deps.redis.configSet(target, 'min-replicas-max-lag', String(quorum?.maxLagSeconds ?? 10));
}

/** Applies `config` and the write quorum to running pods after a spec change (new pods get them as
 * arguments). Directives Redis cannot change at run time are reported, not retried. */
async function applyConfig(pass: Pass, pods: ObservedPod[]): Promise<void> {
  const { deps, rr, spec } = pass;
  const refused = new Set<string>();
  await Promise.all(
    pods
      .filter((p) => p.info && p.podIP)
      .map(async (pod) => {
        const target = redisTarget(pass, pod.podIP!);
        for (const [directive, value] of Object.entries(spec.config)) {
          await deps.redis.configSet(target, directive, value).catch(() => refused.add(directive));
        }
        await applyWriteQuorum(pass, target).catch(() => refused.add('writeQuorum'));
      }),
  );
  if (refused.size > 0) {
    await deps.events.record(rr, 'Warning', 'ConfigNotApplied', `could not apply at run time (takes effect on new pods): ${[...refused].join(', ')}`);
  }
}
