/**
 * Renders the plain-YAML install (`manifests/`) from the Helm chart, and keeps the chart's copy of
 * the CRD in sync with `crds/`:
 *
 *   npm run manifests:generate                # writes manifests/ and the chart's crds/
 *   npm run manifests:generate -- --check     # exits 1 when either is out of date
 *
 * Helm comes from the project's binary cache (built by hack/local-cluster/build-binaries.sh):
 * `$RRO_HELM`, else `${RRO_CACHE:-~/.cache/redis-replication-operator}/helm-v3.22.0/bin/helm`.
 * test/integration/packaging.test.ts uses the same functions.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isMap, parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from './lib.js';
import { cacheRoot } from './local-cluster/common.js';

export const HELM_VERSION = 'v3.22.0';
export const RELEASE = 'rro';
export const NAMESPACE = 'redis-replication-operator';
export const CHART_DIR = 'helm/redis-replication-operator';
export const CRD_FILE = 'crds/redisreplications.yaml';
export const CHART_CRD_FILE = `${CHART_DIR}/crds/redisreplications.yaml`;
export const BACKUP_CRD_FILE = 'crds/redisbackups.yaml';
/** Each CRD of crds/ and its copy in the chart. */
export const CRD_COPIES = [[CRD_FILE, CHART_CRD_FILE], [BACKUP_CRD_FILE, `${CHART_DIR}/crds/redisbackups.yaml`]] as const;
export const MANIFEST_FILE = 'manifests/redis-replication-operator.yaml';

export class HelmMissingError extends Error {
  override name = 'HelmMissingError';
}

/** The helm binary ($RRO_HELM, else the project's binary cache), or a HelmMissingError that says how to get it. */
export function findHelm(): string {
  const path = process.env.RRO_HELM || join(cacheRoot(), `helm-${HELM_VERSION}`, 'bin', 'helm');
  if (!existsSync(path)) {
    throw new HelmMissingError(
      `helm ${HELM_VERSION} not found at ${path}. Build it with \`bash hack/local-cluster/build-binaries.sh\` ` +
        '(it prints the bin folder on its last line; helm is also linked there), ' +
        'or point RRO_CACHE at the cache folder (or RRO_HELM at a helm binary).',
    );
  }
  return path;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with the given arguments from the repository root; never throws on a non-zero exit. */
export function runHelm(args: readonly string[], helm = findHelm()): HelmResult {
  const r = spawnSync(helm, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    // No user/cluster state leaks into the rendering.
    env: { ...process.env, HELM_CONFIG_HOME: join(repoRoot, 'node_modules', '.cache', 'helm') },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of the chart; throws with helm's message when it fails. */
export function helmTemplate(extraArgs: readonly string[] = [], helm = findHelm()): string {
  const r = runHelm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...extraArgs], helm);
  if (r.status !== 0) throw new Error(`helm template ${extraArgs.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const HEADER = [
  '# Generated from the Helm chart helm/redis-replication-operator by',
  '# hack/render-manifests.ts (npm run manifests:generate); do not edit (test/integration/packaging.test.ts checks it).',
  '# Install (the CRD first, then the namespace, RBAC and the operator):',
  '#   kubectl apply -f crds/ -f manifests/',
  '# Image: redis-replication-operator:<appVersion>, built from the Dockerfile at the repository root.',
  '# The operator watches its own namespace only, where a Role lets it act (docs/security.md#rbac); for',
  '# other namespaces install the chart with watchNamespaces (WATCH_NAMESPACES alone grants nothing there).',
].join('\n');

const NAMESPACE_DOC = stringify({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name: NAMESPACE,
    labels: {
      'app.kubernetes.io/name': NAMESPACE,
      'app.kubernetes.io/part-of': 'redis-replication-operator',
      // The operator's pod meets the "restricted" Pod Security Standard.
      'pod-security.kubernetes.io/enforce': 'restricted',
    },
  },
});

/** Labels that only make sense for a Helm release. */
const HELM_ONLY_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by'];

/** The content of MANIFEST_FILE: a Namespace, then the chart's default rendering without Helm labels. */
export function renderManifests(helm = findHelm()): string {
  // Plain manifests have no `helm test` hooks.
  const rendered = helmTemplate(['--set', `fullnameOverride=${NAMESPACE}`, '--no-hooks'], helm);
  const docs = parseAllDocuments(rendered).filter((d) => d.contents !== null);
  const parts = docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
    for (const path of [
      ['metadata', 'labels'],
      ['spec', 'template', 'metadata', 'labels'],
    ]) {
      const labels = doc.getIn(path);
      if (isMap(labels)) for (const key of HELM_ONLY_LABELS) labels.delete(key);
    }
    // Joined with our own separators below: drop helm's explicit `---` on each document.
    if (doc.directives) doc.directives.docStart = null;
    return doc.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd();
  });
  return [HEADER, NAMESPACE_DOC.trimEnd(), ...parts].join('\n---\n') + '\n';
}

export interface SyncResult {
  /** Files that differ from what they should be (relative to the repo root). */
  stale: string[];
  /** Problems that block the sync (e.g. the source CRD does not exist). */
  problems: string[];
}

/** Writes (or, with check, only compares) the chart's CRD copies and MANIFEST_FILE. */
export function sync(check: boolean, helm = findHelm()): SyncResult {
  const stale: string[] = [];
  const problems: string[] = [];
  const read = (rel: string): string | undefined => {
    const p = join(repoRoot, rel);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  };

  for (const [file, copy] of CRD_COPIES) {
    const crd = read(file);
    if (crd === undefined) {
      problems.push(`${file} does not exist (generate it: npm run crd:generate)`);
    } else if (read(copy) !== crd) {
      stale.push(copy);
      if (!check) {
        mkdirSync(dirname(join(repoRoot, copy)), { recursive: true });
        copyFileSync(join(repoRoot, file), join(repoRoot, copy));
      }
    }
  }

  const manifests = renderManifests(helm);
  if (read(MANIFEST_FILE) !== manifests) {
    stale.push(MANIFEST_FILE);
    if (!check) {
      mkdirSync(dirname(join(repoRoot, MANIFEST_FILE)), { recursive: true });
      writeFileSync(join(repoRoot, MANIFEST_FILE), manifests);
    }
  }
  return { stale, problems };
}

const USAGE = `Usage: npm run manifests:generate [-- --check]

  --check      write nothing; exit 1 when manifests/ or the chart's CRD copy is out of date
  -h, --help   this text`;

function main(argv: string[]): number {
  let check: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    check = values.check;
  } catch (err) {
    console.error(`render-manifests: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  let result: SyncResult;
  try {
    result = sync(check);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  for (const p of result.problems) console.error(`problem: ${p}`);
  for (const f of result.stale) console.log(check ? `out of date: ${f}` : `wrote ${f}`);
  if (result.stale.length === 0) console.log('manifests and chart CRD are up to date');
  return result.problems.length > 0 || (check && result.stale.length > 0) ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
