// Prometheus for the local cluster (RRO_PROMETHEUS=1): prometheus and promtool built from the Go
// module (build-binaries.sh, cached), the chart's alert rules rendered with helm, and the daemon that
// scrapes the operator processes the e2e tests register (file service discovery) and evaluates them.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot, waitFor } from '../lib.js';
import { CHART_DIR, helmTemplate } from '../render-manifests.js';
import { cacheBinDir, daemonPid, log, signal, startDaemon, type ClusterPaths, type Daemon } from './common.js';

export const PROMETHEUS_PORT = 39090;
/** The test bed's scrape and evaluation interval: alerts follow a fault within seconds. */
export const PROMETHEUS_INTERVAL = '2s';
/** The job of the operator processes: the rules' operatorJob. */
export const OPERATOR_JOB = 'rro-operator';
/** Every `for:` of the rules in the test bed: long enough to see an alert pending first, short enough
 * for a test to wait for it. */
export const TEST_BED_FOR = '6s';

export function prometheusWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['RRO_PROMETHEUS'] === '1';
}

/** prometheus or promtool, as build-binaries.sh links them next to the Kubernetes binaries. */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  const path = join(process.env['RRO_KUBE_BIN'] ?? cacheBinDir(), name);
  if (!existsSync(path)) throw new Error(`${name} not found at ${path}: build it with \`bash hack/local-cluster/build-binaries.sh\` (cached afterwards)`);
  return path;
}

/** A rule group of a Prometheus rules file (the PrometheusRule's spec.groups). */
export interface RuleGroup {
  name: string;
  rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
}

/** The chart's PrometheusRule groups, rendered with helm (`args`: more --set flags). */
export function chartRuleGroups(args: readonly string[] = []): RuleGroup[] {
  const text = helmTemplate(['--set', 'metrics.prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml', ...args]);
  const rule = parse(text) as { kind: string; spec: { groups: RuleGroup[] } };
  if (rule.kind !== 'PrometheusRule') throw new Error(`expected a PrometheusRule, rendered ${rule.kind}`);
  return rule.spec.groups;
}

export interface PrometheusPaths {
  dir: string;
  config: string;
  rules: string;
  /** Where the e2e tests write the operator processes to scrape (file_sd). */
  targets: string;
  data: string;
  url: string;
  urlFile: string;
}

export function prometheusPaths(paths: ClusterPaths): PrometheusPaths {
  const dir = join(paths.root, 'prometheus');
  return {
    dir,
    config: join(dir, 'prometheus.yml'),
    rules: join(dir, 'rules.yaml'),
    targets: join(dir, 'targets'),
    data: join(dir, 'data'),
    url: `http://127.0.0.1:${PROMETHEUS_PORT}`,
    urlFile: join(paths.root, 'prometheus.url'),
  };
}

/** Writes the config and the chart's rules (every `for:` at TEST_BED_FOR, operatorJob OPERATOR_JOB). */
export function writePrometheusConfig(paths: ClusterPaths, forKeys: readonly string[]): PrometheusPaths {
  const p = prometheusPaths(paths);
  mkdirSync(p.targets, { recursive: true });
  const groups = chartRuleGroups([
    '--set', `metrics.prometheusRule.operatorJob=${OPERATOR_JOB}`,
    ...forKeys.flatMap((k) => ['--set', `metrics.prometheusRule.for.${k}=${TEST_BED_FOR}`]),
  ]);
  writeFileSync(p.rules, stringify({ groups }));
  writeFileSync(p.config, stringify({
    global: { scrape_interval: PROMETHEUS_INTERVAL, evaluation_interval: PROMETHEUS_INTERVAL, scrape_timeout: '1s' },
    rule_files: [p.rules],
    scrape_configs: [{ job_name: OPERATOR_JOB, file_sd_configs: [{ files: [join(p.targets, '*.json')], refresh_interval: '2s' }] }],
  }));
  return p;
}

export function prometheusDaemon(p: PrometheusPaths, bin: string): Daemon {
  return {
    name: 'prometheus',
    cmd: join(bin, 'prometheus'),
    args: [
      `--config.file=${p.config}`, `--storage.tsdb.path=${p.data}`, `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
      '--storage.tsdb.retention.time=1d', '--log.level=warn',
    ],
  };
}

/** The keys of metrics.prometheusRule.for in the chart's values. */
function forKeys(): string[] {
  const values = parse(readFileSync(join(repoRoot, CHART_DIR, 'values.yaml'), 'utf8')) as { metrics: { prometheusRule: { for: Record<string, string> } } };
  return Object.keys(values.metrics.prometheusRule.for);
}

/** Starts Prometheus (or, running, makes it reload the rules: they change with the chart), writes its
 * URL to .cluster/prometheus.url, and resolves once it is ready with every rule group loaded. */
export async function startPrometheus(paths: ClusterPaths, bin: string): Promise<void> {
  const p = writePrometheusConfig(paths, forKeys());
  const running = daemonPid(paths, 'prometheus');
  if (running) signal(running, 'SIGHUP');
  else startDaemon(paths, prometheusDaemon(p, bin));
  const groups = (parse(readFileSync(p.rules, 'utf8')) as { groups: unknown[] }).groups.length;
  const logFile = join(paths.logs, 'prometheus.log');
  await waitFor(async () => (await loadedGroups(p.url)) === groups, {
    timeoutMs: 60_000, intervalMs: 200, what: `Prometheus at ${p.url} with ${groups} rule groups`,
    check: () => {
      if (!daemonPid(paths, 'prometheus')) throw new Error(`prometheus exited; see ${logFile}:\n${readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n')}`);
    },
  });
  writeFileSync(p.urlFile, `${p.url}\n`);
  log(`Prometheus ${running ? 'reloaded' : 'started'}: ${p.url} (${p.urlFile}; log: ${logFile})`);
}

/** How many rule groups Prometheus has loaded; undefined while it does not answer. */
async function loadedGroups(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/api/v1/rules`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { data: { groups: unknown[] } }).data.groups.length;
  } catch {
    return undefined;
  }
}

/** Registers a process's /metrics as a scrape target of the test bed's Prometheus; returns its removal. */
export function addScrapeTarget(paths: ClusterPaths, name: string, address: string): () => void {
  const file = join(prometheusPaths(paths).targets, `${name}.json`);
  // file_sd reads whole files: a rename never shows one half written.
  writeFileSync(`${file}.tmp`, JSON.stringify([{ targets: [address], labels: { process: name } }]));
  renameSync(`${file}.tmp`, file);
  return () => rmSync(file, { force: true });
}
