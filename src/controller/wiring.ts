// Points every replica at its parent's current pod IP (REPLICAOF) and applies live configuration.
import { backlogManaged } from '../plan/backlog.js';
import { REDIS_PORT } from '../plan/names.js';
import { isBooting, type ObservedPod } from '../plan/observation.js';
import { RESTART_DIRECTIVES } from '../plan/rollout.js';
import type { Plan } from '../plan/topology.js';
import type { RedisTarget } from '../redis/client.js';
import { redisTarget, type Pass } from './pass.js';

export async function wireReplicas(pass: Pass, observed: ObservedPod[], plan: Plan): Promise<void> {
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
  await applyConfig(pass, [...byName.values()]);
}

/** The write quorum of the spec (min-replicas-to-write and -max-lag), on the primary. */
export async function applyWriteQuorum(pass: Pass, target: RedisTarget): Promise<void> {
  const quorum = pass.spec.writeQuorum;
  await pass.deps.redis.configSet(target, 'min-replicas-to-write', String(quorum?.minReplicas ?? 0));
  await pass.deps.redis.configSet(target, 'min-replicas-max-lag', String(quorum?.maxLagSeconds ?? 10));
}

/** Applies `config` and the write quorum at run time to every pod that has not had this generation
 * of the spec yet: after a spec change, to a new pod, to one that did not answer last time, and to a
 * restarted container (it booted with the arguments of its creation). Directives Redis cannot
 * change at run time are reported once per generation. */
async function applyConfig(pass: Pass, pods: ObservedPod[]): Promise<void> {
  const { deps, rr, spec, memory } = pass;
  const generation = rr.metadata.generation ?? 0;
  const configured = (memory.configured ??= new Map());
  const due = pods.filter((p) => p.info && p.podIP && (configured.get(p.podIP) !== generation || isBooting(p)));
  const refused = new Set<string>();
  const managed = backlogManaged(spec);
  await Promise.all(
    due.map(async (pod) => {
      const target = redisTarget(pass, pod.podIP!);
      let answered = true;
      const set = (directive: string, value: string) =>
        deps.redis.configSet(target, directive, value).catch((err: unknown) => {
          // An error reply is a refusal (kept until the spec changes); no reply is retried next pass.
          if (/^(ERR|WRONGTYPE)/.test(String((err as Error).message))) refused.add(directive);
          else answered = false;
        });
      // Directives Redis cannot change at run time are rolled instead (src/plan/rollout.ts); with auto
      // sizing, the backlog phase sets repl-backlog-size (never below spec.config's).
      for (const [directive, value] of Object.entries(spec.config)) if (!RESTART_DIRECTIVES.has(directive.toLowerCase()) && !(managed && directive.toLowerCase() === 'repl-backlog-size')) await set(directive, value);
      await applyWriteQuorum(pass, target).catch(() => refused.add('writeQuorum'));
      if (answered) configured.set(pod.podIP!, generation);
    }),
  );
  for (const ip of configured.keys()) if (!pods.some((p) => p.podIP === ip)) configured.delete(ip);
  if (refused.size > 0 && memory.configRefusedGeneration !== generation) {
    memory.configRefusedGeneration = generation;
    await deps.events.record(rr, 'Warning', 'ConfigNotApplied', `could not apply at run time (takes effect on new pods): ${[...refused].join(', ')}`);
  }
}
