#!/usr/bin/env node
// `npm run status -- NAME [-n NAMESPACE] [--watch] [--no-color]` (bin: rro-status): the state of one
// RedisReplication, header and replication tree, like `kubectl cnpg status`.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type RedisReplication } from '../api/schema.js';
import { BACKUP_PLURAL, type RedisBackup } from '../api/backup.js';
import { selectorString } from '../plan/names.js';
import { apiErrorMessage, isNotFound, loadKubeConfig, makeClients, type Clients } from '../kube/client.js';
import { UsageError, parseCommandLine, runIfEntry } from './program.js';
import { renderStatus, type PodFacts } from './render.js';

export const USAGE = `Usage: npm run status -- NAME [-n NAMESPACE] [--watch] [--no-color]
       rro-status NAME [-n NAMESPACE] [--watch] [--no-color]

Shows a RedisReplication: phase, primary, readiness, conditions that are not as expected,
and the replication topology as a tree with link state, offsets, lag and read eligibility.

  -n, --namespace NS   namespace of the resource (default: the kubeconfig context's, else "default")
  -w, --watch          redraw every second until Ctrl-C
      --no-color       no colours (also when NO_COLOR is set or stdout is not a terminal)
  -h, --help           this text

The cluster comes from KUBECONFIG, else ~/.kube/config, else the in-cluster service account.`;

export { UsageError };

export interface StatusArgs {
  name: string;
  namespace?: string;
  watch: boolean;
  noColor: boolean;
  help: boolean;
}

export function parseArgs(argv: string[]): StatusArgs {
  const parsed = parseCommandLine(argv, {
    help: { type: 'boolean', short: 'h', default: false },
    watch: { type: 'boolean', short: 'w', default: false },
    'no-color': { type: 'boolean', default: false },
    'no-colour': { type: 'boolean', default: false },
    namespace: { type: 'string', short: 'n' },
  });
  const { values, positionals } = parsed;
  const args: StatusArgs = { name: '', namespace: values.namespace, watch: values.watch, noColor: values['no-color'] || values['no-colour'], help: values.help };
  if (args.help) return args;
  if (positionals.length === 0) throw new UsageError('name the RedisReplication to show');
  if (positionals.length > 1) throw new UsageError(`one resource at a time (got ${positionals.join(', ')})`);
  args.name = positionals[0]!;
  return args;
}

/** Loads the kubeconfig, refusing client-node's silent fallback to http://localhost:8080. */
export function requireKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const fromEnv = (env.KUBECONFIG ?? '').split(process.platform === 'win32' ? ';' : ':').filter((p) => p !== '');
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (fromEnv.length > 0) {
    const missing = fromEnv.filter((p) => !existsSync(p));
    if (missing.length === fromEnv.length) throw new Error(`no kubeconfig: KUBECONFIG names ${missing.join(', ')}, which does not exist`);
  } else if (!existsSync(join(homedir(), '.kube', 'config')) && !inCluster) {
    const local = resolve('.cluster/kubeconfig');
    const hint = existsSync(local) ? ` (the local cluster's is ${local}: KUBECONFIG=${local})` : ' (start the local cluster with npm run cluster:up)';
    throw new Error(`no kubeconfig: set KUBECONFIG or create ~/.kube/config${hint}`);
  }
  const kc = loadKubeConfig();
  if (!kc.getCurrentCluster()) throw new Error('no kubeconfig: the kubeconfig has no current context with a cluster');
  return kc;
}

export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

export class NotFoundError extends Error {}

export async function fetchResource(clients: Clients, namespace: string, name: string): Promise<RedisReplication> {
  try {
    return (await clients.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as RedisReplication;
  } catch (e) {
    if (isNotFound(e)) {
      // A 404 also comes back when the CRD itself is not installed; say which.
      const message = apiErrorMessage(e);
      const noCrd = /the server could not find the requested resource/i.test(message);
      throw new NotFoundError(
        noCrd
          ? `RedisReplication ${namespace}/${name} not found: the API server does not know the RedisReplication kind (install the CRD: kubectl apply --server-side -f crds/)`
          : `RedisReplication ${namespace}/${name} not found`,
      );
    }
    throw new Error(`could not read RedisReplication ${namespace}/${name}: ${apiErrorMessage(e)}`, { cause: e });
  }
}

function podFacts(pod: V1Pod): PodFacts {
  const statuses = pod.status?.containerStatuses ?? [];
  return {
    name: pod.metadata?.name ?? '?',
    phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown'),
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    podIP: pod.status?.podIP,
    restarts: statuses.reduce((sum, c) => sum + (c.restartCount ?? 0), 0),
  };
}

/** The resource's pods, for extra facts; undefined when they cannot be listed (RBAC, say). */
export async function fetchPods(clients: Clients, namespace: string, name: string): Promise<PodFacts[] | undefined> {
  try {
    const list = await clients.core.listNamespacedPod({ namespace, labelSelector: selectorString(name) });
    return list.items.map(podFacts).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  } catch {
    return undefined;
  }
}

export function useColor(noColorFlag: boolean, env: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stdout.isTTY)): boolean {
  return isTTY && !noColorFlag && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** The resource's RedisBackups; undefined when they cannot be listed (no CRD, RBAC). */
async function fetchBackups(clients: Clients, namespace: string, name: string): Promise<RedisBackup[] | undefined> {
  try {
    const list = (await clients.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace })) as { items: RedisBackup[] };
    return list.items.filter((b) => b.spec?.replication === name);
  } catch {
    return undefined;
  }
}

async function snapshot(clients: Clients, namespace: string, name: string, color: boolean): Promise<string> {
  const [rr, pods, backups] = await Promise.all([fetchResource(clients, namespace, name), fetchPods(clients, namespace, name), fetchBackups(clients, namespace, name)]);
  return renderStatus(rr, { color, now: new Date(), pods, ...(backups ? { backups } : {}) });
}

const CLEAR = '\u001b[H\u001b[2J\u001b[3J';

async function main(argv: string[]): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`rro-status: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return showStatus(args, 'rro-status');
}

/** Prints the status view once, or redraws it every second with `watch`. */
export async function showStatus(args: StatusArgs, command: string): Promise<number> {
  const kc = requireKubeConfig();
  const clients = makeClients(kc);
  const namespace = args.namespace ?? contextNamespace(kc);
  const color = useColor(args.noColor);

  // The first read decides: a resource that does not exist is an error, watched or not.
  const first = await snapshot(clients, namespace, args.name, color);
  if (!args.watch) {
    process.stdout.write(first);
    return 0;
  }

  const tty = Boolean(process.stdout.isTTY);
  const draw = (body: string) => {
    const stamp = `Every 1s: ${command} ${namespace}/${args.name}    ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}  (Ctrl-C to stop)\n\n`;
    // On a terminal: clear and redraw. Elsewhere (a pipe, a log): append each frame.
    process.stdout.write(tty ? CLEAR + stamp + body : `${stamp}${body}\n`);
  };
  draw(first);
  await new Promise<void>((done) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const tick = async () => {
      const started = Date.now();
      let body: string;
      try {
        body = await snapshot(clients, namespace, args.name, color);
      } catch (e) {
        // Keep watching through a deleted resource or an API hiccup: say so and retry.
        body = `${(e as Error).message}\n(retrying every second)\n`;
      }
      if (stopped) return;
      draw(body);
      timer = setTimeout(() => void tick(), Math.max(0, 1000 - (Date.now() - started)));
    };
    timer = setTimeout(() => void tick(), 1000);
  });
  return 0;
}

runIfEntry(import.meta.url, 'rro-status', main);
