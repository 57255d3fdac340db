// The chart's alert rules and the dashboard against a real Prometheus (the test bed's: RRO_PROMETHEUS=1,
// which global-setup asks for), scraping this file's operator process: a fault fires its alert for
// the resource, recovery resolves it, a switchover fires its own, and every dashboard query returns
// data for a resource under writes. Without Prometheus every test fails, saying how to start it.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, forResource } from '../../hack/dashboard.js';
import { PROMETHEUS_INTERVAL } from '../../hack/local-cluster/prometheus.js';
import { ANNOTATION } from '../../src/plan/names.js';
import { freezePod, kubectl, thawPod, waitFor } from './support/cluster.js';
import { primaryServiceIP } from './support/invariants.js';
import { startWriteLoad } from './support/load.js';
import { createRR, getRR, operatorNamespace, redisCommand, waitReady } from './support/operator.js';
import { alertsOf, prometheusUrl, query, scrapeOperator, waitForAlert, type Alert } from './support/prometheus.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('alerts');
const name = 'watched';
// Every `for:` of the test bed's rules is 6 s, evaluated every 2 s; the operator sees a fault within
// about a second: each wait below is many times what it needs.
const ALERT_WAIT_MS = 90_000;

describe.skipIf(!localCluster)("the alert rules and the dashboard in the test bed's Prometheus", () => {
  let stopScraping: (() => void) | undefined;
  let labels: Record<string, string>;

  beforeAll(async () => {
    prometheusUrl();
    stopScraping = await scrapeOperator(fixture.operator!);
    labels = { namespace: fixture.ns, resource: name };
    // A short repl-timeout: the primary drops a frozen replica's link within seconds, and the replica
    // comes back with a partial resync (the dashboard's resync panel has one to show).
    await createRR(fixture.ns, name, { replicas: 2, config: { 'repl-timeout': '5', 'repl-ping-replica-period': '1' } });
    await waitReady(fixture.ns, name);
    await waitFor(async () => (await query(`rro_primary_available{namespace="${fixture.ns}",resource="${name}"} == 1`)).length === 1, {
      timeoutMs: 30_000, intervalMs: 500, what: 'the resource in Prometheus',
    });
  });

  afterAll(() => stopScraping?.());

  it('a frozen replica fires RROReplicaDown for its resource only; thawed, the alert resolves', async () => {
    // Silent on a healthy resource (its replicas were unlinked for a moment when they were created).
    await waitForAlert('RROReplicaDown', labels, 'resolved', ALERT_WAIT_MS);
    const nodes = (await getRR(fixture.ns, name)).status!.nodes!;
    const replica = nodes.find((n) => n.role === 'replica')!.name;
    const primaryIP = nodes.find((n) => n.role === 'primary')!.podIP!;
    await freezePod(fixture.ns, replica);
    let alert: Alert | undefined;
    try {
      alert = await waitForAlert('RROReplicaDown', labels, 'firing', ALERT_WAIT_MS);
      await waitFor(async () => /connected_slaves:1\r?\n/.test(String(await redisCommand(primaryIP, ['INFO', 'replication']))), {
        timeoutMs: 60_000, intervalMs: 500, what: `the primary dropping the frozen ${replica} (repl-timeout 5)`,
      });
    } finally {
      await thawPod(fixture.ns, replica);
    }
    expect(alert!.labels).toMatchObject({ severity: 'warning', namespace: fixture.ns, resource: name });
    expect(alert!.annotations['summary']).toBe(`${fixture.ns}/${name}: 1 replicas missing or unlinked`);
    expect(alert!.annotations['runbook_url']).toMatch(/\/docs\/runbooks\/RROReplicaDown\.md$/);
    await waitForAlert('RROReplicaDown', labels, 'resolved', ALERT_WAIT_MS);
    await waitReady(fixture.ns, name);
    // No other resource's alert came from this fault, and no primary alert.
    expect(await alertsOf('RRONoPrimary', labels)).toEqual([]);
  });

  it('a switchover fires RROSwitchover, not RROFailover', async () => {
    const from = (await getRR(fixture.ns, name)).status!.primary!;
    await kubectl(['-n', fixture.ns, 'annotate', `rr/${name}`, `${ANNOTATION.switchover}=auto`]);
    await waitFor(async () => (await getRR(fixture.ns, name)).status?.lastFailover?.from === from, { timeoutMs: 60_000, what: `a switchover away from ${from}` });
    const alert = await waitForAlert('RROSwitchover', labels, 'firing', ALERT_WAIT_MS);
    expect(alert!.labels).toMatchObject({ severity: 'info', reason: 'Switchover' });
    expect(await alertsOf('RROFailover', labels)).toEqual([]);
    await waitReady(fixture.ns, name);
  });

  it('every query of the dashboard returns data for the resource under writes', async () => {
    const load = startWriteLoad({ host: await primaryServiceIP(fixture.ns, name), prefix: `dash:${Date.now()}`, maxDurationMs: 120_000 });
    // Grafana's $__rate_interval is at least four scrape intervals.
    const rateInterval = `${4 * parseInt(PROMETHEUS_INTERVAL, 10)}s`;
    const queries = dashboardQueries().map((q) => ({ ...q, expr: forResource(q.expr, fixture.ns, name, rateInterval) }));
    const withoutData = async () => {
      const empty: string[] = [];
      for (const q of queries) if ((await query(q.expr)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
      return empty;
    };
    // Bounded: the write rate needs two scrapes of a moving offset, memory one INFO memory (15 s).
    const deadline = Date.now() + 90_000;
    let empty: string[];
    try {
      while ((empty = await withoutData()).length > 0 && Date.now() < deadline) await sleep(2000);
    } finally {
      await load.stop();
    }
    expect(empty).toEqual([]);
  });
});
