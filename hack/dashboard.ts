// The queries of the Grafana dashboard (dashboards/redis-replication.json): read by its unit test
// (test/unit/dashboard.test.ts) and run against the test bed's Prometheus by test/e2e/alerts.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib.js';

export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string }[] };
  panels: { id: number; type: string; title: string; targets?: { expr: string; refId: string }[] }[];
}

/** Grafana's own variables that a query may use. */
export const GRAFANA_VARIABLES = ['__rate_interval', '__interval', '__range'];

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(join(repoRoot, 'dashboards/redis-replication.json'), 'utf8')) as Dashboard;
}

export function dashboardQueries(dashboard = readDashboard()): { panel: string; expr: string }[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: `${p.title} (${t.refId})`, expr: t.expr })));
}

/** A query as Grafana sends it for one resource: its variables replaced (`$__rate_interval` by
 * `rateInterval`, four scrape intervals as Grafana takes it). */
export function forResource(expr: string, namespace: string, resource: string, rateInterval: string): string {
  return expr
    .replaceAll('$namespace', namespace)
    .replaceAll('$resource', resource)
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', rateInterval)
    .replaceAll('$__range', rateInterval);
}
