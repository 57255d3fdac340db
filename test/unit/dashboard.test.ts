// The Grafana dashboard (dashboards/redis-replication.json, shipped by the chart): valid JSON whose
// every query reads only series the operator exports (their names in src/metrics/) and only the
// dashboard's own variables. test/e2e/alerts.test.ts runs each query against a real Prometheus.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib.js';
import { GRAFANA_VARIABLES, dashboardQueries, readDashboard } from '../../hack/dashboard.js';

/** Every metric name src/metrics/ declares (`name: 'rro_...'`); a histogram's series add suffixes. */
function exportedNames(): Set<string> {
  const dir = join(repoRoot, 'src/metrics');
  const names = readdirSync(dir).flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/\bname: '(rro_[a-z0-9_]+)'/g)].map((m) => m[1]!));
  return new Set(names.flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
}

/** The rro_ series a query reads. */
const seriesOf = (expr: string): string[] => [...expr.matchAll(/\b(rro_[a-z0-9_]+)/g)].map((m) => m[1]!);
/** The $variables a query uses. */
const variablesOf = (expr: string): string[] => [...expr.matchAll(/\$(\w+)/g)].map((m) => m[1]!).filter((v) => !/^\d+$/.test(v));

describe('dashboards/redis-replication.json', () => {
  const dashboard = readDashboard();
  const queries = dashboardQueries(dashboard);

  it('is the chart copy, with a query in every panel that is not a row', () => {
    expect(readFileSync(join(repoRoot, 'dashboards/redis-replication.json'), 'utf8')).toBe(readFileSync(join(repoRoot, 'helm/redis-replication-operator/dashboards/redis-replication.json'), 'utf8'));
    expect(dashboard.uid).toBe('redis-replication');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(8);
    for (const p of panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('shows what the issue asks for: topology by tier, lag per link, backlog, resyncs, primary changes, write rate, memory', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of ['rro_pod_info', 'rro_replicas_linked', 'rro_replication_lag_bytes', 'rro_replication_lag_seconds', 'rro_backlog_coverage_seconds',
      'rro_replica_syncs_total', 'rro_last_failover_timestamp_seconds', 'rro_primary_replication_offset_bytes', 'rro_redis_memory_used_bytes']) {
      expect(all).toContain(metric);
    }
  });

  it('reads only series the operator exports', () => {
    const exported = exportedNames();
    expect(exported.has('rro_replication_lag_bytes')).toBe(true);
    const unknown = queries.flatMap((q) => seriesOf(q.expr).filter((n) => !exported.has(n)).map((n) => `${q.panel}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('uses only its own variables and Grafana built-ins', () => {
    const own = new Set([...dashboard.templating.list.map((v) => v.name), ...GRAFANA_VARIABLES]);
    expect(queries.flatMap((q) => variablesOf(q.expr).filter((v) => !own.has(v)).map((v) => `${q.panel}: $${v}`))).toEqual([]);
  });

  it('never joins the lag of one pod with the offset of another: lag is the series of the link itself', () => {
    for (const q of queries.filter((x) => /lag_bytes|lag_seconds/.test(x.expr))) expect(q.expr, q.panel).not.toMatch(/offset|on \(instance\)/);
  });

  it('the checks catch an unknown series and a foreign variable', () => {
    expect(seriesOf('rate(rro_nope_total{a="$x"}[$__rate_interval])')).toEqual(['rro_nope_total']);
    expect(exportedNames().has('rro_nope_total')).toBe(false);
    expect(variablesOf('rro_x{a="$x",b="$__rate_interval"}')).toEqual(['x', '__rate_interval']);
  });
});
