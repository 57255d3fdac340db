import { describe, expect, it } from 'vitest';
import { countApiRequest, resetApiRequestCounts } from '../../../src/kube/client.js';
import { startHttpServer } from '../../../src/http/server.js';
import { OperatorMetrics } from '../../../src/metrics/metrics.js';
import type { ResourceState } from '../../../src/plan/metrics.js';

const pod = (p: string) => ({ namespace: 'ns', resource: 'cache', pod: p });

describe('OperatorMetrics', () => {
  it('exposes reconcile, queue, API and replication series', async () => {
    resetApiRequestCounts();
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.observeReconcile('success', 0.02);
    m.observeReconcile('error', 0.5);
    m.setQueueDepthSource(() => 3);
    m.observeQueueLatency(20);
    countApiRequest('get', 'pods');
    countApiRequest('get', 'pods');
    countApiRequest('patch', 'redisreplications/status');
    m.setReplicationLag(pod('cache-1'), 1024, 0.5);
    m.setLinkUp(pod('cache-1'), 'cache-0', true);
    m.setRole(pod('cache-0'), 'primary');
    m.countFailover('ns', 'cache', 'PrimaryUnreachable');
    const text = await m.registry.metrics();
    expect(text).toContain('rro_reconcile_duration_seconds_count{result="success"} 1');
    expect(text).toContain('rro_reconcile_errors_total 1');
    expect(text).toContain('rro_workqueue_depth 3');
    expect(text).toContain('rro_workqueue_latency_seconds_count 1');
    expect(text).toContain('rro_api_requests_total{verb="get",resource="pods"} 2');
    expect(text).toContain('rro_api_requests_total{verb="patch",resource="redisreplications/status"} 1');
    expect(text).toContain('rro_replication_lag_bytes{namespace="ns",resource="cache",pod="cache-1"} 1024');
    expect(text).toContain('rro_replication_lag_seconds{namespace="ns",resource="cache",pod="cache-1"} 0.5');
    expect(text).toContain('rro_replication_link_up{namespace="ns",resource="cache",pod="cache-1",link="cache-0"} 1');
    expect(text).toContain('rro_pod_role{namespace="ns",resource="cache",pod="cache-0",role="primary"} 1');
    expect(text).toContain('rro_failovers_total{namespace="ns",resource="cache",reason="PrimaryUnreachable"} 1');
  });

  it('keeps one role series per pod', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.setRole(pod('cache-0'), 'primary');
    m.setRole(pod('cache-0'), 'replica');
    const text = await m.registry.metrics();
    expect(text).not.toContain('role="primary"');
    expect(text).toContain('rro_pod_role{namespace="ns",resource="cache",pod="cache-0",role="replica"} 1');
  });

  it('forgets the series of a pod and of a deleted resource', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.setReplicationLag(pod('cache-1'), 1, 1);
    m.setReplicationLag(pod('cache-2'), 2, 2);
    m.setReplicationLag({ namespace: 'ns', resource: 'other', pod: 'other-1' }, 3, 3);
    m.setLinkUp(pod('cache-2'), 'cache-0', false);
    m.countFailover('ns', 'cache', 'Manual');
    m.forgetPod('ns', 'cache', 'cache-2');
    let text = await m.registry.metrics();
    expect(text).not.toContain('cache-2');
    expect(text).toContain('pod="cache-1"');
    m.forgetResource('ns', 'cache');
    text = await m.registry.metrics();
    expect(text).not.toContain('resource="cache"');
    expect(text).toContain('pod="other-1"');
  });
});

describe('per-resource series', () => {
  const state = (over: Partial<ResourceState> = {}): ResourceState => ({
    primaryAvailable: true,
    writablePods: 1,
    readMaxLagSeconds: 5,
    primaryOffset: 1000,
    tiers: [{ tier: 1, desired: 2, linked: 2 }, { tier: 2, desired: 2, linked: 1 }],
    writeQuorum: { minReplicas: 1, inSync: 2 },
    rollingUpdateStalled: false,
    certificateNotAfterMs: 2_000_000,
    lastFailover: { reason: 'Switchover', timeMs: 10_000 },
    ...over,
  });

  it('exposes what the alert rules and the dashboard read, labelled namespace and resource', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.setResourceState('ns', 'cache', state());
    m.setReconciled('ns', 'cache', 5000);
    m.setPodInfo(pod('cache-1'), 1, 'cache-0');
    m.setMemoryUsed(pod('cache-1'), 4096);
    const text = await m.registry.metrics();
    const r = 'namespace="ns",resource="cache"';
    for (const line of [
      `rro_primary_available{${r}} 1`,
      `rro_writable_pods{${r}} 1`,
      `rro_read_max_lag_seconds{${r}} 5`,
      `rro_primary_replication_offset_bytes{${r}} 1000`,
      `rro_replicas_desired{${r},tier="2"} 2`,
      `rro_replicas_linked{${r},tier="2"} 1`,
      `rro_write_quorum_min_replicas{${r}} 1`,
      `rro_write_quorum_replicas_in_sync{${r}} 2`,
      `rro_rolling_update_stalled{${r}} 0`,
      `rro_tls_certificate_expiry_timestamp_seconds{${r}} 2000`,
      `rro_last_failover_timestamp_seconds{${r},reason="Switchover"} 10`,
      `rro_last_reconcile_timestamp_seconds{${r}} 5`,
      `rro_pod_info{${r},pod="cache-1",tier="1",parent="cache-0"} 1`,
      `rro_redis_memory_used_bytes{${r},pod="cache-1"} 4096`,
    ]) {
      expect(text).toContain(line);
    }
  });

  it('replaces a series whose labels change and drops what the resource no longer has', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.setResourceState('ns', 'cache', state());
    m.setPodInfo(pod('cache-3'), 2, 'cache-1');
    m.setMemoryUsed(pod('cache-3'), 1);
    m.setResourceState('ns', 'cache', state({
      tiers: [{ tier: 1, desired: 3, linked: 3 }],
      writeQuorum: undefined,
      certificateNotAfterMs: undefined,
      primaryOffset: undefined,
      lastFailover: { reason: 'PrimaryUnreachable', timeMs: 20_000 },
    }));
    m.setPodInfo(pod('cache-3'), 1, 'cache-0');
    m.setMemoryUsed(pod('cache-3'), undefined);
    const text = await m.registry.metrics();
    expect(text).not.toContain('tier="2"');
    expect(text).toContain('rro_pod_info{namespace="ns",resource="cache",pod="cache-3",tier="1",parent="cache-0"} 1');
    expect(text).not.toContain('reason="Switchover"');
    expect(text).toContain('rro_last_failover_timestamp_seconds{namespace="ns",resource="cache",reason="PrimaryUnreachable"} 20');
    for (const gone of ['rro_write_quorum_min_replicas{', 'rro_write_quorum_replicas_in_sync{', 'rro_tls_certificate_expiry_timestamp_seconds{', 'rro_primary_replication_offset_bytes{', 'rro_redis_memory_used_bytes{']) {
      expect(text).not.toContain(gone);
    }
    m.forgetResource('ns', 'cache');
    expect(await m.registry.metrics()).not.toContain('resource="cache"');
  });
});

describe('backlog and sync series', () => {
  it('are labelled namespace and name, +Inf coverage with no writes, and go with their pod and resource', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.setBacklog('ns', 'cache', 1048576, 10.5);
    m.setFullResyncLoop('ns', 'cache', 'cache-1', true);
    m.setFullResyncLoop('ns', 'cache', 'cache-2', false);
    m.countSync('ns', 'cache', 'cache-1', 'full');
    m.countSync('ns', 'cache', 'cache-1', 'full');
    m.countSync('ns', 'cache', 'cache-2', 'partial');
    m.setBacklog('ns', 'other', 16384, Number.POSITIVE_INFINITY);
    let text = await m.registry.metrics();
    const lines = text.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'rro_replication_backlog_bytes{namespace="ns",name="cache"} 1048576',
        'rro_backlog_coverage_seconds{namespace="ns",name="cache"} 10.5',
        'rro_backlog_coverage_seconds{namespace="ns",name="other"} +Inf',
        'rro_full_resync_loop{namespace="ns",name="cache",pod="cache-1"} 1',
        'rro_full_resync_loop{namespace="ns",name="cache",pod="cache-2"} 0',
        'rro_replica_syncs_total{namespace="ns",name="cache",pod="cache-1",type="full"} 2',
        'rro_replica_syncs_total{namespace="ns",name="cache",pod="cache-2",type="partial"} 1',
      ]),
    );
    // The rate not known (yet): no coverage series.
    m.setBacklog('ns', 'other', 16384, undefined);
    expect(await m.registry.metrics()).not.toContain('rro_backlog_coverage_seconds{namespace="ns",name="other"}');
    m.forgetPod('ns', 'cache', 'cache-1');
    text = await m.registry.metrics();
    expect(text).not.toContain('cache-1');
    expect(text).toContain('pod="cache-2"');
    m.forgetResource('ns', 'cache');
    text = await m.registry.metrics();
    expect(text).not.toContain('name="cache"');
    expect(text).toContain('name="other"');
  });
});

describe('startHttpServer', () => {
  it('serves /metrics, /healthz and /readyz', async () => {
    const m = new OperatorMetrics();
    let ready = false;
    const server = await startHttpServer(0, { registry: m.registry, healthy: () => true, ready: () => ready });
    const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;
    try {
      const metrics = await fetch(url('/metrics'));
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      expect(await metrics.text()).toContain('process_cpu_seconds_total');
      expect((await fetch(url('/healthz'))).status).toBe(200);
      expect((await fetch(url('/readyz'))).status).toBe(503);
      ready = true;
      expect((await fetch(url('/readyz?verbose'))).status).toBe(200);
      expect((await fetch(url('/nope'))).status).toBe(404);
      expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });
});
