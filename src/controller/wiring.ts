// Points every replica at its parent's current pod IP (REPLICAOF) and applies live configuration.
import type { RedisReplication, RedisReplicationSpec } from '../api/schema.js';
import { REDIS_PORT } from '../redis/client.js';
import type { Plan } from '../topology/plan.js';
import type { Deps } from './deps.js';
import { applyWriteQuorum } from './failover.js';
import type { ObservedPod } from './observed.js';

export async function wireReplicas(
  deps: Deps,
  rr: RedisReplication,
  spec: RedisReplicationSpec,
  observed: ObservedPod[],
  plan: Plan,
  password: string | undefined,
  specChanged: boolean,
): Promise<void> {
  const byName = new Map(observed.filter((p) => !p.deleting).map((p) => [p.name, p]));
  const ipOf = (name: string) => {
    const pod = byName.get(name);
    return pod?.info ? pod.podIP : undefined;
  };
  const log = deps.log.child({ resource: `${rr.metadata.namespace}/${rr.metadata.name}` });
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
        await deps.redis.replicaOf({ host: pod.podIP, password }, parentIP);
        log.info({ pod: name, parent, parentIP }, 'replica pointed at its parent');
      } catch (err) {
        log.warn({ pod: name, err: String(err) }, 'REPLICAOF failed; retrying on the next pass');
      }
    }),
  );
  if (specChanged) await applyConfig(deps, rr, spec, [...byName.values()], password);
}

/** Applies `config` and the write quorum to running pods after a spec change (new pods get them as
 * arguments). Directives Redis cannot change at run time are reported, not retried. */
async function applyConfig(deps: Deps, rr: RedisReplication, spec: RedisReplicationSpec, pods: ObservedPod[], password: string | undefined): Promise<void> {
  const refused = new Set<string>();
  await Promise.all(
    pods
      .filter((p) => p.info && p.podIP)
      .map(async (pod) => {
        const target = { host: pod.podIP!, password };
        for (const [directive, value] of Object.entries(spec.config)) {
          await deps.redis.configSet(target, directive, value).catch(() => refused.add(directive));
        }
        await applyWriteQuorum(deps, spec, target).catch(() => refused.add('writeQuorum'));
      }),
  );
  if (refused.size > 0) {
    await deps.events.record(rr, 'Warning', 'ConfigNotApplied', `could not apply at run time (takes effect on new pods): ${[...refused].join(', ')}`);
  }
}
