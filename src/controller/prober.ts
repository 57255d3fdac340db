// The prober: between passes, INFO replication of every pod of every resource at the health
// interval, over the pooled connections, and a resource enqueued only when plan/probe.ts finds that
// something a decision reads changed; urgently (ahead of routine work) when its primary is lost. A
// pass reads INFO afresh for its decisions: the prober is only what triggers it. A resource with
// nothing to do costs one INFO per pod per interval and no pass.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseSpec, type RedisReplication, type RedisReplicationSpec } from '../api/schema.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import { observePodObject } from '../plan/observation.js';
import { CONFIRM_SILENCE_MS, downSaid, judgeProbe, primaryDownAt, type ProbeAnswer, type ProbeMemory, type ProbeVerdict } from '../plan/probe.js';
import { RedisCommands, type RedisTarget, type RedisTls } from '../redis/client.js';
import type { Measured } from './measure.js';
import { parseReplication } from '../redis/info.js';
import { AUTH_FAILED } from './observe.js';

/**
 * The Redis commands as passes send them, remembering how each pod (by IP) was reached with INFO
 * (whatever its sections), so that the prober speaks to it as the last pass did: the same user and
 * password (a pass finds the ones a pod takes), over TLS with the same CAs. A target that answered
 * replaces the one kept; one that did not is kept only for a pod not reached before (a pod that is
 * not up yet: the prober sees it come up).
 */
export class PassRedis extends RedisCommands {
  private readonly targets = new Map<string, RedisTarget>();

  constructor(
    private readonly redis: RedisCommands,
    private readonly metrics: Pick<OperatorMetrics, 'countInfo'>,
  ) {
    super();
  }

  protected override async send(target: RedisTarget, args: string[]): Promise<string> {
    const info = args[0]?.toUpperCase() === 'INFO';
    if (info) this.metrics.countInfo('pass');
    try {
      const reply = await this.redis.command(target, args);
      if (info) this.targets.set(target.host, target);
      return reply;
    } catch (err) {
      if (info && !this.targets.has(target.host)) this.targets.set(target.host, target);
      throw err;
    }
  }

  override servedCertificate(target: RedisTarget & { tls: RedisTls }): Promise<string> {
    return this.redis.servedCertificate(target);
  }

  targetOf(ip: string): RedisTarget | undefined {
    return this.targets.get(ip);
  }

  /** Forgets the pods that are gone. */
  keepOnly(ips: ReadonlySet<string>): void {
    for (const ip of this.targets.keys()) if (!ips.has(ip)) this.targets.delete(ip);
  }
}

export interface ProberOptions {
  /** The pool: the prober's own INFO bypasses PassRedis (it must not replace what passes learnt). */
  redis: RedisCommands;
  targets: PassRedis;
  /** The resources and their pods, from the informers' caches. */
  resources(): RedisReplication[];
  pods(namespace: string, name: string): V1Pod[];
  enqueue(key: string, urgent: boolean): void;
  /** Records what a probe measured (controller/measure.ts); true when that needs a pass. */
  measure(measured: Measured): Promise<boolean>;
  /** A probe found nothing that needs a pass. */
  quiet(key: string): void;
  intervalMs: number;
  now(): number;
  metrics: Pick<OperatorMetrics, 'countInfo' | 'countProbeEnqueue'>;
  log: Logger;
}

/** Each interval is cut in this many slices, each probing the resources that hash to it: the
 * INFO commands of a round are spread over the interval instead of all leaving at once (thousands
 * of replies at once queue behind each other and can outlast the command timeout). */
export const SLICES = 10;

const sliceOf = (key: string): number => {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h) % SLICES;
};

export class Prober {
  private readonly memory = new Map<string, ProbeMemory>();
  /** Parsed specs by resource, with the generation they were parsed at. */
  private readonly specs = new Map<string, { generation: number | undefined; spec: RedisReplicationSpec | undefined }>();
  /** Resources whose probe has not finished (a frozen pod answers nothing until the command timeout):
   * the next round skips them rather than waiting or piling up. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  /** By resource: the moment its silent primary's silence reaches primaryDownSeconds. */
  private readonly downTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: ProberOptions) {}

  start(): void {
    // round() never rejects: a probe that fails for an unforeseen reason is reported and enqueues its resource.
    this.timer ??= setInterval(() => void this.round(this.tick++ % SLICES), this.options.intervalMs / SLICES);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const key of [...this.downTimers.keys()]) this.disarm(key);
    await Promise.all(this.inFlight.values());
  }

  /**
   * Probes every resource (of one slice of the interval, when given) whose previous probe is done;
   * resolves when those are done. Slice 0, and a whole round, also forget the resources and pods
   * that are gone.
   */
  async round(slice?: number): Promise<void> {
    const resources = this.options.resources();
    if (!slice) this.forgetGone(resources);
    const started: Promise<void>[] = [];
    for (const rr of resources) {
      const { namespace, name } = rr.metadata;
      const key = `${namespace}/${name}`;
      if ((slice !== undefined && sliceOf(key) !== slice) || this.inFlight.has(key)) continue;
      // An invalid spec is refused by its pass and touched no more; a resource being deleted goes with its pods.
      const spec = this.specOf(key, rr);
      if (!spec || rr.metadata.deletionTimestamp) continue;
      const pods = this.options.pods(namespace, name).flatMap((p) => observePodObject(name, p) ?? []);
      const probe = this.probe(key, rr, spec, pods).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, probe);
      started.push(probe);
    }
    await Promise.all(started);
  }

  private forgetGone(resources: RedisReplication[]): void {
    const live = new Set(resources.map((rr) => `${rr.metadata.namespace}/${rr.metadata.name}`));
    for (const key of [...this.memory.keys(), ...this.specs.keys()]) {
      if (live.has(key)) continue;
      this.memory.delete(key);
      this.specs.delete(key);
      this.disarm(key);
    }
    const ips = new Set(resources.flatMap((rr) => this.options.pods(rr.metadata.namespace, rr.metadata.name).flatMap((p) => p.status?.podIP ?? [])));
    this.options.targets.keepOnly(ips);
  }

  private async probe(key: string, rr: RedisReplication, spec: RedisReplicationSpec, pods: NonNullable<ReturnType<typeof observePodObject>>[]): Promise<void> {
    try {
      // Pods no pass has reached yet are left out: their pass comes with the watch event that gave them an IP.
      const reachable = pods.flatMap((p) => {
        const target = p.podIP ? this.options.targets.targetOf(p.podIP) : undefined;
        return p.podIP && target ? [{ pod: { ...p, podIP: p.podIP }, target }] : [];
      });
      const sentAtMs = this.options.now();
      const probed = await Promise.all(reachable.map(async ({ pod, target }) => ({ ...pod, answer: await this.ask(target) })));
      const primary = rr.status?.primary ?? pods.find((p) => p.role === 'primary' && !p.deleting)?.name;
      const verdict = judgeProbe(this.memory.get(key), {
        primary,
        pods: probed,
        readService: spec.readService,
        primaryDownSeconds: spec.failover.primaryDownSeconds,
        sentAtMs,
        nowMs: this.options.now(),
      });
      this.memory.set(key, verdict.memory);
      this.armDown(key, primary, spec.failover.primaryDownSeconds);
      // A pass that is due is enqueued before the measurements: their INFO memory must not hold up
      // a lost primary's pass (a pod that froze since its answer holds it for the command timeout).
      if (verdict.enqueue !== 'none') this.due(key, verdict.enqueue === 'urgent', verdict.changes);
      const primaryAnswer = probed.find((p) => p.name === primary)?.answer;
      const backlogDue = await this.options.measure({
        namespace: rr.metadata.namespace,
        name: rr.metadata.name,
        spec,
        statusBacklogSize: rr.status?.replicationBacklog?.size,
        nodes: verdict.nodes,
        primary: typeof primaryAnswer === 'object' && primaryAnswer.role === 'master' ? primaryAnswer : undefined,
        answered: probed.flatMap((p, i) => (typeof p.answer === 'object' ? [{ pod: p.name, target: reachable[i]!.target }] : [])),
      });
      if (verdict.enqueue !== 'none') return;
      if (backlogDue) this.due(key, false, [{ pod: primary ?? '', reason: 'backlog' }]);
      else this.options.quiet(key);
    } catch (err) {
      // Not a Redis error (those are answers: see ask): a fault of the operator. A pass looks instead.
      this.options.log.error({ resource: key, err: err instanceof Error ? err.stack : String(err) }, 'probe failed; enqueued for a pass');
      this.options.enqueue(key, false);
    }
  }

  private due(key: string, urgent: boolean, changes: ProbeVerdict['changes']): void {
    for (const reason of new Set(changes.map((c) => c.reason))) this.options.metrics.countProbeEnqueue(reason);
    this.options.log.debug({ resource: key, urgent, changes }, 'probe: a pass is due');
    this.options.enqueue(key, urgent);
  }

  /** A silent primary's pass is due the moment its silence reaches primaryDownSeconds: the probe that
   * would say so ends up to an interval plus a command timeout later, and the failover with it. It is
   * enqueued CONFIRM_SILENCE_MS before: the pass's confirmation of the silence ends at that moment. */
  private armDown(key: string, primary: string | undefined, primaryDownSeconds: number): void {
    this.disarm(key);
    const at = primaryDownAt(this.memory.get(key)!, primary, primaryDownSeconds);
    if (at === undefined || primary === undefined) return;
    const timer = setTimeout(() => {
      this.downTimers.delete(key);
      const memory = this.memory.get(key);
      if (!memory || primaryDownAt(memory, primary, primaryDownSeconds) !== at) return;
      this.memory.set(key, downSaid(memory, primary));
      this.options.metrics.countProbeEnqueue('primary down');
      this.options.log.debug({ resource: key, pod: primary }, 'probe: the primary is still silent; its pass confirms the silence until primaryDownSeconds');
      this.options.enqueue(key, true);
    }, Math.max(0, at - CONFIRM_SILENCE_MS - this.options.now()));
    timer.unref();
    this.downTimers.set(key, timer);
  }

  private disarm(key: string): void {
    clearTimeout(this.downTimers.get(key));
    this.downTimers.delete(key);
  }

  private async ask(target: RedisTarget): Promise<ProbeAnswer> {
    this.options.metrics.countInfo('probe');
    try {
      return parseReplication(await this.options.redis.info(target));
    } catch (err) {
      return AUTH_FAILED.test(String(err)) ? 'refused' : undefined;
    }
  }

  /** Since when a pod of a resource, at this IP, has not answered the probes (the first silent
   * probe's sending), if it has not. */
  silentSince(key: string, pod: string, ip: string): number | undefined {
    const known = this.memory.get(key)?.pods.get(pod);
    return known?.facts.ip === ip ? known.silentSinceMs : undefined;
  }

  private specOf(key: string, rr: RedisReplication): RedisReplicationSpec | undefined {
    const generation = rr.metadata.generation;
    const known = this.specs.get(key);
    if (known && known.generation === generation) return known.spec;
    const parsed = parseSpec(rr.spec, rr.metadata.name);
    const spec = parsed.ok ? parsed.spec : undefined;
    this.specs.set(key, { generation, spec });
    return spec;
  }
}
