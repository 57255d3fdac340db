/**
 * The chart's alert rules (metrics.prometheusRule.enabled): promtool checks them and runs the unit
 * tests of test/rules/ (one file per alert: it fires on the bad series and stays silent on the good),
 * each alert's file fails once its expression is broken, and every runbook_url names a page of
 * docs/runbooks/. Needs helm and promtool (hack/local-cluster/build-binaries.sh builds both); no cluster.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../../hack/lib.js';
import { chartRuleGroups, prometheusBinary, type RuleGroup } from '../../hack/local-cluster/prometheus.js';

const RULE_TESTS = join(repoRoot, 'test/rules');
const work = mkdtempSync(join(tmpdir(), 'rro-rules-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const groups = chartRuleGroups();
const alerts = groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r] : [])));

function promtool(args: string[]): { status: number; output: string } {
  const r = spawnSync(prometheusBinary('promtool'), args, { cwd: work, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}

/** rules.yaml as the tests of test/rules/ read it: each alert keeps its summary only (description
 * and runbook_url are static text, checked below). */
function writeRules(ruleGroups: RuleGroup[]): void {
  const trimmed = ruleGroups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => (r.annotations ? { ...r, annotations: { summary: r.annotations['summary']! } } : r)),
  }));
  writeFileSync(join(work, 'rules.yaml'), stringify({ groups: trimmed }));
}

/** Runs promtool test rules on the test files of these alerts (copied next to rules.yaml). */
function testRules(names: string[]): { status: number; output: string } {
  const files = names.map((n) => `${n}.test.yaml`);
  for (const f of files) copyFileSync(join(RULE_TESTS, f), join(work, f));
  return promtool(['test', 'rules', ...files]);
}

/** The alertnames a test file checks, with whether some check expects it firing and some silent. */
function checks(file: string): Map<string, { fires: boolean; silent: boolean }> {
  const doc = parse(readFileSync(join(RULE_TESTS, file), 'utf8')) as { rule_files: string[]; tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
  expect(doc.rule_files).toEqual(['rules.yaml']);
  const seen = new Map<string, { fires: boolean; silent: boolean }>();
  for (const t of doc.tests) {
    for (const c of t.alert_rule_test ?? []) {
      const s = seen.get(c.alertname) ?? { fires: false, silent: false };
      if ((c.exp_alerts ?? []).length > 0) s.fires = true;
      else s.silent = true;
      seen.set(c.alertname, s);
    }
  }
  return seen;
}

describe('the PrometheusRule of the chart', () => {
  it('has the alerts of every group, each with a severity, a summary and a description', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'RROBacklogCoverageLow', 'RROCertificateExpiringSoon', 'RROFailover', 'RROFullResyncLoop', 'RRONoPrimary',
      'RROOperatorNotReconciling', 'RROReplicaDown', 'RROReplicaLagCritical', 'RROReplicaLagHigh', 'RRORollingUpdateStalled',
      'RROSwitchover', 'RROTwoPrimaries', 'RROWritesAtRisk',
    ]);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.['severity']);
      expect(a.annotations?.['summary'], a.alert).toBeTruthy();
      expect(a.annotations?.['description'], a.alert).toBeTruthy();
    }
  });

  it('promtool check rules accepts them', () => {
    writeRules(groups);
    const r = promtool(['check', 'rules', 'rules.yaml']);
    expect(r.output, r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status).toBe(0);
  });

  it("every runbook_url's path names a page of docs/runbooks/, and the page names its alert", () => {
    for (const a of alerts) {
      const path = new URL(a.annotations!['runbook_url']!).pathname;
      const page = /\/docs\/runbooks\/([^/]+\.md)$/.exec(path)?.[1];
      expect(page, `${a.alert}: ${path}`).toBeDefined();
      const file = join(repoRoot, 'docs/runbooks', page!);
      expect(existsSync(file), file).toBe(true);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toContain(a.alert);
    }
  });

  it('each alert has a test file in test/rules/ that checks it firing and silent', () => {
    expect(readdirSync(RULE_TESTS).filter((f) => f.endsWith('.test.yaml')).sort()).toEqual(alerts.map((a) => `${a.alert}.test.yaml`).sort());
    for (const a of alerts) expect(checks(`${a.alert}.test.yaml`).get(a.alert!), a.alert).toEqual({ fires: true, silent: true });
  });

  it('promtool test rules passes every test of test/rules/', () => {
    writeRules(groups);
    const r = testRules(alerts.map((a) => a.alert!));
    expect(r.status, r.output).toBe(0);
  });

  // A test that passes whatever the expression says proves nothing: with the expression of its alert
  // never firing, or always firing, each file must fail.
  it.each(alerts.map((a) => a.alert!))('the tests of %s fail when its expression is broken', (alert) => {
    for (const broken of [(e: string) => `(${e}) unless on () vector(1)`, (e: string) => `(${e}) or vector(1)`]) {
      writeRules(groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === alert ? { ...r, expr: broken(r.expr) } : r)) })));
      const r = testRules([alert]);
      expect(r.status, `${broken('expr')}:\n${r.output}`).not.toBe(0);
    }
  });
});
