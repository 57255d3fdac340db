// Observe phase: the resource's pods from the cache, and the INFO (replication and sync counters) of each, in parallel.
import { isBooting, isDraining, observePodObject, type ObservedPod } from '../plan/observation.js';
import { silentPrimaryPatienceMs } from '../plan/probe.js';
import { ZONE_LABEL } from '../plan/specs.js';
import { withTimeout } from '../redis/client.js';
import { parseReplication, parseServer, type ReplicationInfo, type ServerInfo } from '../redis/info.js';
import { candidateCredentials, redisTarget, redisTargetAs, type Pass } from './pass.js';

export async function observePods(pass: Pass): Promise<ObservedPod[]> {
  const { deps, namespace, name } = pass;
  const bases = deps.cache.pods(namespace, name).flatMap((p) => observePodObject(name, p) ?? []);
  return Promise.all(
    bases.map(async (base) => {
      const node = base.node === undefined ? undefined : deps.cache.node(base.node);
      const zone = node?.metadata?.labels?.[ZONE_LABEL];
      const info = base.podIP ? await ask(pass, base.podIP, silentPatienceMs(pass, base.name, base.podIP)) : undefined;
      return { ...base, zone, draining: isDraining(node), info, server: base.podIP && info ? await serverOf(pass, base.podIP, info) : undefined };
    }),
  );
}

/** A Warning Event for each pod Kubernetes cannot run, once per pod and reason (status says it too). */
export async function reportStuckPods(pass: Pass, observed: ObservedPod[]): Promise<void> {
  const reported = (pass.memory.stuckPodsReported ??= new Set());
  // Keys of pods that are gone would only pile up over the operator's life.
  const live = new Set(observed.map((p) => p.name));
  for (const key of reported) if (!live.has(key.slice(0, key.lastIndexOf('/')))) reported.delete(key);
  for (const pod of observed) {
    const key = pod.problem && `${pod.name}/${pod.problem.reason}`;
    if (!key || reported.has(key)) continue;
    reported.add(key);
    await pass.deps.events.record(pass.rr, 'Warning', 'PodNotRunning', `pod ${pod.name}: ${pod.problem!.reason}: ${pod.problem!.message}`);
  }
}

/** The recorded primary, silent to the prober: how long to wait for its INFO (plan/probe.ts). */
function silentPatienceMs(pass: Pass, pod: string, ip: string): number | undefined {
  if (pod !== pass.rr.status?.primary) return undefined;
  const since = pass.deps.silentSince(`${pass.namespace}/${pass.name}`, pod, ip);
  return since === undefined ? undefined : silentPrimaryPatienceMs(since, pass.spec.failover.primaryDownSeconds, pass.deps.now());
}

/** INFO of one pod (the default sections: replication, and the sync counters of stats, in one
 * command); undefined when it does not answer (within `patienceMs`, when given). A pod may not have
 * the operator's user yet, or have another password (see candidateCredentials): the credentials it
 * answered to are remembered. */
async function ask(pass: Pass, ip: string, patienceMs?: number) {
  const [own, ...others] = candidateCredentials(pass);
  for (const credentials of [own!, ...others]) {
    try {
      const reply = pass.deps.redis.info(redisTargetAs(pass, ip, credentials), 'default');
      const info = parseReplication(await (patienceMs === undefined ? reply : withTimeout(reply, patienceMs, `INFO to ${ip}`)));
      if (credentials !== own) pass.credentialsOf.set(ip, credentials);
      return info;
    } catch (err) {
      if (!AUTH_FAILED.test(String(err))) return undefined;
    }
  }
  return undefined;
}

/** The server and version of a pod, asked once per pod IP (a pod's image never changes in place),
 * and again after its container restarted. */
async function serverOf(pass: Pass, ip: string, info: ReplicationInfo): Promise<ServerInfo | undefined> {
  const known = (pass.memory.servers ??= new Map());
  if (!known.has(ip) || isBooting({ info })) {
    try {
      known.set(ip, parseServer(await pass.deps.redis.info(redisTarget(pass, ip), 'server')));
    } catch {
      return known.get(ip);
    }
  }
  return known.get(ip);
}

/** A pod that answered, refusing the credentials (see candidateCredentials). */
export const AUTH_FAILED = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;
