// The test bed's Prometheus (RRO_PROMETHEUS=1 npm run cluster:up; global-setup asks for it): its URL,
// queries, alerts, and the operator processes it scrapes (hack/local-cluster/prometheus.ts).
import { existsSync, readFileSync } from 'node:fs';
import { waitFor } from '../../../hack/lib.js';
import { addScrapeTarget, prometheusPaths } from '../../../hack/local-cluster/prometheus.js';
import { clusterPaths } from './cluster.js';
import type { OperatorProcess } from './operator.js';

/** The URL of .cluster/prometheus.url; throws (the test fails) when Prometheus is not running. */
export function prometheusUrl(): string {
  const file = prometheusPaths(clusterPaths()).urlFile;
  if (!existsSync(file)) throw new Error(`no Prometheus in the test bed (${file} is missing): RRO_PROMETHEUS=1 npm run cluster:up starts it`);
  return readFileSync(file, 'utf8').trim();
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${prometheusUrl()}${path}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
  return body.data;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; throws on a query Prometheus refuses. */
export async function query(expr: string): Promise<Sample[]> {
  const data = await api<{ resultType: string; result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  return data.result;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

/** The pending and firing alerts with this name and these labels. */
export async function alertsOf(name: string, labels: Record<string, string>): Promise<Alert[]> {
  const { alerts } = await api<{ alerts: Alert[] }>('/api/v1/alerts');
  return alerts.filter((a) => a.labels['alertname'] === name && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
}

/** Waits until the alert is firing (resolves with it), or until it is neither pending nor firing. */
export async function waitForAlert(name: string, labels: Record<string, string>, state: 'firing' | 'resolved', timeoutMs: number): Promise<Alert | undefined> {
  let found: Alert[] = [];
  await waitFor(
    async () => {
      found = await alertsOf(name, labels);
      return state === 'firing' ? found.some((a) => a.state === 'firing') : found.length === 0;
    },
    { timeoutMs, intervalMs: 1000, what: `${name} ${JSON.stringify(labels)} ${state} (last seen: ${JSON.stringify(found)})` },
  );
  return found.find((a) => a.state === 'firing');
}

/** Makes Prometheus scrape an operator process of the test (its /metrics port, from its log);
 * resolves once a scrape of it succeeded, with the removal of the target. */
export async function scrapeOperator(operator: OperatorProcess): Promise<() => void> {
  let port: string | undefined;
  await waitFor(() => (port = /"port":(\d+)[^\n]*serving \/metrics/.exec(operator.output())?.[1]) !== undefined, {
    timeoutMs: 30_000, what: 'the operator to say which port serves /metrics',
  });
  const address = `127.0.0.1:${port}`;
  const remove = addScrapeTarget(clusterPaths(), `operator-${operator.child.pid}`, address);
  await waitFor(async () => (await query(`up{instance="${address}"} == 1`)).length === 1, { timeoutMs: 30_000, intervalMs: 500, what: `Prometheus scraping ${address}` });
  return remove;
}
