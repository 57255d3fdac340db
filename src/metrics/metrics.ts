import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { apiRequestCounts } from '../kube/client.js';
import type { ResourceState } from '../plan/metrics.js';

export type ReconcileOutcome = 'success' | 'error';

type PodLabels = { namespace: string; resource: string; pod: string };

/** The operator's metrics on their own registry; per-resource series can be dropped when it goes away. */
export class OperatorMetrics {
  readonly registry = new Registry();

  private readonly reconcileDuration = new Histogram({
    name: 'rro_reconcile_duration_seconds',
    help: 'Time of one reconcile, by result',
    labelNames: ['result'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly reconcileErrors = new Counter({
    name: 'rro_reconcile_errors_total',
    help: 'Reconciles that ended in an error',
    registers: [this.registry],
  });

  private queueDepthSource: () => number = () => 0;

  private readonly queueDepth = new Gauge({
    name: 'rro_workqueue_depth',
    help: 'Keys waiting in the work queue',
    registers: [this.registry],
    collect: () => {
      this.queueDepth.set(this.queueDepthSource());
    },
  });

  private readonly queueLatency = new Histogram({
    name: 'rro_workqueue_latency_seconds',
    help: 'Time a key waits in the work queue before a worker takes it',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
    registers: [this.registry],
  });

  private readonly apiRequests = new Counter({
    name: 'rro_api_requests_total',
    help: 'Kubernetes API requests, by verb and resource (with its subresource)',
    labelNames: ['verb', 'resource'] as const,
    registers: [this.registry],
    collect: () => {
      this.apiRequests.reset();
      for (const { verb, resource, count } of apiRequestCounts()) this.apiRequests.inc({ verb, resource }, count);
    },
  });

  private readonly redisConnections = new Counter({
    name: 'rro_redis_connections_opened_total',
    help: 'Connections the operator opened to redis pods (kept open between health checks)',
    registers: [this.registry],
  });

  private readonly infoCalls = new Counter({
    name: 'rro_redis_info_total',
    help: 'INFO commands sent to redis pods, by who sent them: the prober (between passes) or a pass',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  private readonly probeEnqueues = new Counter({
    name: 'rro_probe_enqueues_total',
    help: 'Resources the prober enqueued for a pass, by what changed (one resource may count under several)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly lagBytes = new Gauge({
    name: 'rro_replication_lag_bytes',
    help: 'Replication offset a replica is behind its upstream',
    labelNames: ['namespace', 'resource', 'pod'] as const,
    registers: [this.registry],
  });

  private readonly lagSeconds = new Gauge({
    name: 'rro_replication_lag_seconds',
    help: 'Seconds since a replica last heard from its upstream',
    labelNames: ['namespace', 'resource', 'pod'] as const,
    registers: [this.registry],
  });

  private readonly linkUp = new Gauge({
    name: 'rro_replication_link_up',
    help: 'Replication link state: 1 up, 0 down',
    labelNames: ['namespace', 'resource', 'pod', 'link'] as const,
    registers: [this.registry],
  });

  private readonly role = new Gauge({
    name: 'rro_pod_role',
    help: 'Role of a Redis pod: 1 on the series of its current role',
    labelNames: ['namespace', 'resource', 'pod', 'role'] as const,
    registers: [this.registry],
  });

  private readonly failovers = new Counter({
    name: 'rro_failovers_total',
    help: 'Failovers performed, by reason',
    labelNames: ['namespace', 'resource', 'reason'] as const,
    registers: [this.registry],
  });

  // Per resource (and pod): what the alert rules (helm/.../prometheusrule.yaml) and the dashboard
  // (dashboards/redis-replication.json) read. Counts and states come from the operator's own view of
  // each pass, so that no query has to join series of different pods.
  private readonly podInfo = new Gauge({
    name: 'rro_pod_info',
    help: 'A Redis pod of the topology: 1, labelled with its tier (0 is the primary) and its parent',
    labelNames: ['namespace', 'resource', 'pod', 'tier', 'parent'] as const,
    registers: [this.registry],
  });

  private readonly memoryUsed = new Gauge({
    name: 'rro_redis_memory_used_bytes',
    help: 'used_memory of a Redis pod (INFO memory)',
    labelNames: ['namespace', 'resource', 'pod'] as const,
    registers: [this.registry],
  });

  private readonly replicasDesired = new Gauge({
    name: 'rro_replicas_desired',
    help: 'Replicas the spec asks for, by tier',
    labelNames: ['namespace', 'resource', 'tier'] as const,
    registers: [this.registry],
  });

  private readonly replicasLinked = new Gauge({
    name: 'rro_replicas_linked',
    help: 'Replicas whose link to their parent is up, by tier',
    labelNames: ['namespace', 'resource', 'tier'] as const,
    registers: [this.registry],
  });

  private readonly primaryAvailable = new Gauge({
    name: 'rro_primary_available',
    help: 'The recorded primary answers as a writable master: 1, else 0',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly writablePods = new Gauge({
    name: 'rro_writable_pods',
    help: 'Pods of the resource that answer as a master (accept writes); more than 1 is a split brain',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly readMaxLag = new Gauge({
    name: 'rro_read_max_lag_seconds',
    help: 'spec.readService.maxLagSeconds: a replica lagging more is out of the read Service',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly primaryOffset = new Gauge({
    name: 'rro_primary_replication_offset_bytes',
    help: "The primary's master_repl_offset: its rate is the write rate in bytes of replication stream per second",
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly quorumMin = new Gauge({
    name: 'rro_write_quorum_min_replicas',
    help: 'spec.writeQuorum.minReplicas: the primary refuses writes with fewer replicas in sync',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly quorumInSync = new Gauge({
    name: 'rro_write_quorum_replicas_in_sync',
    help: "Replicas of the primary itself with their link up and lag within writeQuorum.maxLagSeconds",
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly rollStalled = new Gauge({
    name: 'rro_rolling_update_stalled',
    help: 'A rolling update stopped past updateStrategy.progressDeadlineSeconds: 1, else 0',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly certificateExpiry = new Gauge({
    name: 'rro_tls_certificate_expiry_timestamp_seconds',
    help: 'When the TLS certificate the pods serve expires (Unix time)',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly lastFailover = new Gauge({
    name: 'rro_last_failover_timestamp_seconds',
    help: 'When the primary last changed (status.lastFailover; reason Switchover for a planned one), Unix time',
    labelNames: ['namespace', 'resource', 'reason'] as const,
    registers: [this.registry],
  });

  private readonly lastReconcile = new Gauge({
    name: 'rro_last_reconcile_timestamp_seconds',
    help: 'When a reconcile pass of the resource last ran to its end (Unix time)',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  // The backlog and sync series are labelled namespace and name (the alert rules and dashboard read them so).
  private readonly backlogBytes = new Gauge({
    name: 'rro_replication_backlog_bytes',
    help: "The primary's repl-backlog-size",
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
  });

  private readonly backlogCoverage = new Gauge({
    name: 'rro_backlog_coverage_seconds',
    help: "The longest disconnect the primary's backlog lets a replica resume from: repl-backlog-size over the write rate (+Inf while nothing is written)",
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
  });

  private readonly fullResyncLoop = new Gauge({
    name: 'rro_full_resync_loop',
    help: 'A replica that full-synced at least twice within 10 minutes: 1, else 0',
    labelNames: ['namespace', 'name', 'pod'] as const,
    registers: [this.registry],
  });

  private readonly syncs = new Counter({
    name: 'rro_replica_syncs_total',
    help: "Syncs of the resource's own replicas after a disconnect, by type (full or partial); backup clients are not counted",
    labelNames: ['namespace', 'name', 'pod', 'type'] as const,
    registers: [this.registry],
  });

  private readonly archiveLagSeconds = new Gauge({
    name: 'rro_archive_lag_seconds',
    help: 'How long ago the archiver had received the last stream it stored (spec.backup.archive): up to a segment\'s age (60 s) is normal',
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  private readonly archiveLagBytes = new Gauge({
    name: 'rro_archive_lag_bytes',
    help: "The primary's replication offset minus the last one stored in the archive (spec.backup.archive)",
    labelNames: ['namespace', 'resource'] as const,
    registers: [this.registry],
  });

  /** Removal functions of the series written per resource ("ns/name"), keyed by series. */
  private readonly series = new Map<string, Map<string, { pod?: string; remove: () => void; value?: string }>>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  observeReconcile(result: ReconcileOutcome, seconds: number): void {
    this.reconcileDuration.observe({ result }, seconds);
    if (result === 'error') this.reconcileErrors.inc();
  }

  setQueueDepthSource(depth: () => number): void {
    this.queueDepthSource = depth;
  }

  countRedisConnection(): void {
    this.redisConnections.inc();
  }

  countInfo(source: 'probe' | 'pass'): void {
    this.infoCalls.inc({ source });
  }

  countProbeEnqueue(reason: string): void {
    this.probeEnqueues.inc({ reason });
  }

  observeQueueLatency(ms: number): void {
    this.queueLatency.observe(ms / 1000);
  }

  setReplicationLag(labels: PodLabels, bytes: number, seconds: number): void {
    this.lagBytes.set(labels, bytes);
    this.lagSeconds.set(labels, seconds);
    this.track(labels, 'lag', () => {
      this.lagBytes.remove(labels);
      this.lagSeconds.remove(labels);
    });
  }

  setLinkUp(labels: PodLabels, link: string, up: boolean): void {
    const l = { ...labels, link };
    this.linkUp.set(l, up ? 1 : 0);
    this.track(labels, `link ${link}`, () => this.linkUp.remove(l));
  }

  /** Drops a pod's replication series (it became the primary). */
  clearReplication(labels: PodLabels): void {
    this.untrack(labels, 'lag');
    this.untrack(labels, 'link up');
  }

  setRole(labels: PodLabels, role: string): void {
    if (this.series.get(`${labels.namespace}/${labels.resource}`)?.get(`${labels.pod} role`)?.value === role) return;
    const l = { ...labels, role };
    this.untrack(labels, 'role');
    this.role.set(l, 1);
    this.track(labels, 'role', () => this.role.remove(l), role);
  }

  countFailover(namespace: string, resource: string, reason: string): void {
    const l = { namespace, resource, reason };
    this.failovers.inc(l);
    this.track({ namespace, resource }, `failover ${reason}`, () => this.failovers.remove(l));
  }

  /** A pod's place in the topology; a new tier or parent replaces the series of the old one. */
  setPodInfo(labels: PodLabels, tier: number, parent: string | undefined): void {
    this.put(this.podInfo, { ...labels, tier: String(tier), parent: parent ?? '' }, 1, 'info');
  }

  /** used_memory of a pod; undefined drops the series (the pod did not say). */
  setMemoryUsed(labels: PodLabels, bytes: number | undefined): void {
    if (bytes === undefined) this.untrack(labels, 'memory');
    else this.put(this.memoryUsed, labels, bytes, 'memory');
  }

  /** The per-resource series of one pass; what is undefined (no write quorum, no TLS...) is dropped. */
  setResourceState(namespace: string, resource: string, state: ResourceState): void {
    const r = { namespace, resource };
    this.put(this.primaryAvailable, r, state.primaryAvailable ? 1 : 0, 'primary available');
    this.put(this.writablePods, r, state.writablePods, 'writable pods');
    this.put(this.readMaxLag, r, state.readMaxLagSeconds, 'read max lag');
    this.put(this.rollStalled, r, state.rollingUpdateStalled ? 1 : 0, 'roll stalled');
    for (const { tier, desired, linked } of state.tiers) {
      this.put(this.replicasDesired, { ...r, tier: String(tier) }, desired, `desired ${tier}`);
      this.put(this.replicasLinked, { ...r, tier: String(tier) }, linked, `linked ${tier}`);
    }
    // Tiers the spec no longer has.
    for (const id of this.series.get(`${namespace}/${resource}`)?.keys() ?? []) {
      const tier = /^ (desired|linked) (\d+)$/.exec(id);
      if (tier && !state.tiers.some((t) => String(t.tier) === tier[2])) this.drop(r, id.slice(1));
    }
    this.putOrDrop(this.primaryOffset, r, state.primaryOffset, 'primary offset');
    this.putOrDrop(this.quorumMin, r, state.writeQuorum?.minReplicas, 'quorum min');
    this.putOrDrop(this.quorumInSync, r, state.writeQuorum?.inSync, 'quorum in sync');
    this.putOrDrop(this.certificateExpiry, r, state.certificateNotAfterMs === undefined ? undefined : state.certificateNotAfterMs / 1000, 'certificate');
    if (state.lastFailover) this.put(this.lastFailover, { ...r, reason: state.lastFailover.reason }, state.lastFailover.timeMs / 1000, 'last failover');
    else this.drop(r, 'last failover');
  }

  /** The primary's offset as a probe found it between passes (setResourceState sets it at each pass). */
  setPrimaryOffset(namespace: string, resource: string, offset: number): void {
    this.put(this.primaryOffset, { namespace, resource }, offset, 'primary offset');
  }

  setReconciled(namespace: string, resource: string, nowMs: number): void {
    this.put(this.lastReconcile, { namespace, resource }, nowMs / 1000, 'reconciled');
  }

  /** The primary's backlog size, and its coverage (undefined: the write rate is not known yet). */
  setBacklog(namespace: string, name: string, bytes: number, coverageSeconds: number | undefined): void {
    const l = { namespace, name };
    this.backlogBytes.set(l, bytes);
    if (coverageSeconds === undefined) this.backlogCoverage.remove(l);
    else this.backlogCoverage.set(l, coverageSeconds);
    this.track({ namespace, resource: name }, 'backlog', () => {
      this.backlogBytes.remove(l);
      this.backlogCoverage.remove(l);
    });
  }

  /** The archive's lag (status.archive); undefined: not archiving, or not known (the series go). */
  setArchiveLag(namespace: string, resource: string, lag: { seconds?: number | undefined; bytes?: number | undefined } | undefined): void {
    const r = { namespace, resource };
    this.putOrDrop(this.archiveLagSeconds, r, lag?.seconds, 'archive lag seconds');
    this.putOrDrop(this.archiveLagBytes, r, lag?.bytes, 'archive lag bytes');
  }

  setFullResyncLoop(namespace: string, name: string, pod: string, looping: boolean): void {
    const l = { namespace, name, pod };
    this.fullResyncLoop.set(l, looping ? 1 : 0);
    this.track({ namespace, resource: name, pod }, 'resync loop', () => this.fullResyncLoop.remove(l));
  }

  /** `by` 0: the series exists, at 0, for a replica that has not resynced (a dashboard shows 0, not no data). */
  countSync(namespace: string, name: string, pod: string, type: 'full' | 'partial', by = 1): void {
    const l = { namespace, name, pod, type };
    this.syncs.inc(l, by);
    this.track({ namespace, resource: name, pod }, `sync ${type}`, () => this.syncs.remove(l));
  }

  /** Drops every series of one pod (scaled away). */
  forgetPod(namespace: string, resource: string, pod: string): void {
    const bySeries = this.series.get(`${namespace}/${resource}`);
    for (const [id, s] of bySeries ?? []) {
      if (s.pod !== pod) continue;
      s.remove();
      bySeries?.delete(id);
    }
  }

  /** Drops every series of a deleted resource. */
  forgetResource(namespace: string, resource: string): void {
    const key = `${namespace}/${resource}`;
    for (const s of this.series.get(key)?.values() ?? []) s.remove();
    this.series.delete(key);
  }

  private track(labels: { namespace: string; resource: string; pod?: string }, kind: string, remove: () => void, value?: string): void {
    const key = `${labels.namespace}/${labels.resource}`;
    let bySeries = this.series.get(key);
    if (!bySeries) {
      bySeries = new Map();
      this.series.set(key, bySeries);
    }
    bySeries.set(`${labels.pod ?? ''} ${kind}`, { pod: labels.pod, remove, value });
  }

  /** Sets a tracked series; one whose labels differ from the series of the same kind before (a pod's
   * new tier, another failover reason) replaces it. */
  private put<T extends string>(gauge: Gauge<T>, labels: Record<T, string> & { namespace: string; resource: string; pod?: string }, value: number, kind: string): void {
    const id = JSON.stringify(labels);
    const before = this.series.get(`${labels.namespace}/${labels.resource}`)?.get(`${labels.pod ?? ''} ${kind}`);
    if (before && before.value !== id) before.remove();
    gauge.set(labels, value);
    this.track(labels, kind, () => gauge.remove(labels), id);
  }

  private putOrDrop<T extends string>(gauge: Gauge<T>, labels: Record<T, string> & { namespace: string; resource: string }, value: number | undefined, kind: string): void {
    if (value === undefined) this.drop(labels, kind);
    else this.put(gauge, labels, value, kind);
  }

  /** Removes a resource-level series (no pod). */
  private drop(labels: { namespace: string; resource: string }, kind: string): void {
    const bySeries = this.series.get(`${labels.namespace}/${labels.resource}`);
    bySeries?.get(` ${kind}`)?.remove();
    bySeries?.delete(` ${kind}`);
  }

  private untrack(labels: PodLabels, kind: string): void {
    const bySeries = this.series.get(`${labels.namespace}/${labels.resource}`);
    const id = `${labels.pod} ${kind}`;
    bySeries?.get(id)?.remove();
    bySeries?.delete(id);
  }
}
