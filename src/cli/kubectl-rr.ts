#!/usr/bin/env node
// `kubectl rr` (bin/kubectl-rr on PATH, as krew plugins work): status, switchover, rolling restart,
// backup and restore of a RedisReplication, each waiting for and reporting the outcome.
import { BACKUP_KIND, BACKUP_PLURAL, type RedisBackup } from '../api/backup.js';
import { GROUP, PLURAL, VERSION, type ObjectStore, type RedisReplication } from '../api/schema.js';
import { backupTimestamp } from '../plan/backup.js';
import { apiErrorMessage, makeClients, mergePatchOptions, type Clients } from '../kube/client.js';
import { ANNOTATION } from '../plan/names.js';
import { UsageError, parseCommandLine, runIfEntry } from './program.js';
import { restorePlan, restoreProgress, type RestoreFrom } from './restore.js';
import { contextNamespace, fetchResource, requireKubeConfig, showStatus } from './status.js';

export const USAGE = `Usage: kubectl rr COMMAND NAME [-n NAMESPACE] [options]

Commands:
  status NAME [--watch] [--no-color]    the topology as a tree: roles, links, lag, node and zone
  switchover NAME [--to POD]            move the primary to POD (default: the most up-to-date tier-1
                                        replica) with no acknowledged write lost; waits and reports
  restart NAME [--no-wait]              roll every pod (replicas first, the primary by switchover);
                                        waits until every pod runs the new revision
  backup NAME [--no-wait]               create a RedisBackup <NAME>-<time> of the resource; waits until
                                        it is Completed (prints its SHA-256) or Failed (its reason)
  restore NAME --from BACKUP [--image I] [--no-wait]
                                        create RedisReplication NAME from a RedisBackup (the backed-up
                                        resource's spec when it still exists); waits until Ready
  restore NAME --from-resource SRC [--to-time T] [--image I] [--no-wait]
                                        create RedisReplication NAME from the base backups and archive
                                        of SRC in its object store, as of T (RFC 3339; default: the
                                        latest point archived); SRC must still exist (its spec is copied)

Options:
  -n, --namespace NS   namespace of the resource (default: the kubeconfig context's)
      --timeout SEC    how long switchover, restart, backup and restore wait (default 60, 900, 900, 900)
  -h, --help           this text`;

export type Command =
  | { command: 'status'; name: string; namespace?: string | undefined; watch: boolean; noColor: boolean }
  | { command: 'switchover'; name: string; namespace?: string | undefined; to: string; timeoutSeconds: number }
  | { command: 'restart'; name: string; namespace?: string | undefined; wait: boolean; timeoutSeconds: number }
  | { command: 'backup'; name: string; namespace?: string | undefined; wait: boolean; timeoutSeconds: number }
  | {
    command: 'restore'; name: string; namespace?: string | undefined;
    /** A RedisBackup, or a resource's files in its store (as of toTime, else the latest point archived). */
    from?: string | undefined; fromResource?: string | undefined; toTime?: string | undefined;
    image?: string | undefined; wait: boolean; timeoutSeconds: number;
  }
  | { command: 'help' };

export function parseCommand(argv: string[]): Command {
  const parsed = parseCommandLine(argv, {
    help: { type: 'boolean', short: 'h', default: false },
    namespace: { type: 'string', short: 'n' },
    watch: { type: 'boolean', short: 'w', default: false },
    'no-color': { type: 'boolean', default: false },
    to: { type: 'string' },
    from: { type: 'string' },
    'from-resource': { type: 'string' },
    'to-time': { type: 'string' },
    image: { type: 'string' },
    'no-wait': { type: 'boolean', default: false },
    timeout: { type: 'string' },
  });
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return { command: 'help' };
  const [command, name, ...extra] = positionals;
  if (!['status', 'switchover', 'restart', 'backup', 'restore'].includes(command!)) throw new UsageError(`unknown command "${command}" (status, switchover, restart, backup or restore)`);
  if (!name) throw new UsageError(`${command}: name the RedisReplication`);
  if (extra.length > 0) throw new UsageError(`${command}: one resource at a time (got ${[name, ...extra].join(', ')})`);
  const only = (allowed: string[]) => {
    for (const flag of ['watch', 'no-color', 'to', 'from', 'from-resource', 'to-time', 'image', 'no-wait', 'timeout'] as const) {
      const set = values[flag] !== undefined && values[flag] !== false;
      if (set && !allowed.includes(flag)) throw new UsageError(`${command}: --${flag} does not apply`);
    }
  };
  const timeout = (fallback: number) => {
    if (values.timeout === undefined) return fallback;
    const n = Number(values.timeout);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--timeout takes a number of seconds (got "${values.timeout}")`);
    return n;
  };
  if (command === 'status') {
    only(['watch', 'no-color']);
    return { command, name, namespace: values.namespace, watch: values.watch, noColor: values['no-color'] };
  }
  if (command === 'switchover') {
    only(['to', 'timeout']);
    if (values.to === '') throw new UsageError('--to needs a pod name');
    return { command, name, namespace: values.namespace, to: values.to ?? 'auto', timeoutSeconds: timeout(60) };
  }
  if (command === 'restore') {
    only(['from', 'from-resource', 'to-time', 'image', 'no-wait', 'timeout']);
    const fromResource = values['from-resource'];
    if (values.from && fromResource) throw new UsageError('restore: --from (a RedisBackup) or --from-resource (a resource\'s files in its object store), not both');
    if (!values.from && !fromResource) throw new UsageError('restore: --from names the RedisBackup to restore, or --from-resource the resource whose base backups and archive to restore');
    if (values['to-time'] !== undefined && !fromResource) throw new UsageError('restore: --to-time goes with --from-resource (a RedisBackup is restored as it was taken)');
    const toTime = values['to-time'] === undefined ? undefined : rfc3339(values['to-time']);
    const from = values.from ? { from: values.from } : { fromResource, toTime };
    return { command, name, namespace: values.namespace, ...from, image: values.image || undefined, wait: !values['no-wait'], timeoutSeconds: timeout(900) };
  }
  only(['no-wait', 'timeout']);
  return { command: command as 'restart' | 'backup', name, namespace: values.namespace, wait: !values['no-wait'], timeoutSeconds: timeout(900) };
}

/** A time with a date and a zone, as the API takes it (RFC 3339), in UTC. */
function rfc3339(text: string): string {
  const ms = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--to-time takes a time with its zone, e.g. 2026-12-04T10:00:00Z (got "${text}")`);
  return new Date(ms).toISOString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function annotate(clients: Clients, namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
  try {
    await clients.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { metadata: { annotations } } },
      mergePatchOptions(),
    );
  } catch (e) {
    throw new Error(`could not annotate RedisReplication ${namespace}/${name}: ${apiErrorMessage(e)}`, { cause: e });
  }
}

/** The newest Event on the resource with one of these reasons, after `since`. */
async function latestEvent(clients: Clients, namespace: string, name: string, reasons: string[], since: number) {
  const events = await clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  const time = (e: (typeof events.items)[number]) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  return events.items
    .filter((e) => reasons.includes(e.reason ?? '') && time(e) >= since - 1000)
    .sort((a, b) => time(b) - time(a))[0];
}

async function switchover(clients: Clients, namespace: string, cmd: Extract<Command, { command: 'switchover' }>, out: (line: string) => void): Promise<number> {
  const before = await fetchResource(clients, namespace, cmd.name);
  const from = before.status?.primary;
  const started = Date.now();
  await annotate(clients, namespace, cmd.name, { [ANNOTATION.switchover]: cmd.to });
  out(`switchover of ${namespace}/${cmd.name} requested (from ${from ?? 'no primary'} to ${cmd.to === 'auto' ? 'the most up-to-date tier-1 replica' : cmd.to})`);
  const deadline = started + cmd.timeoutSeconds * 1000;
  for (;;) {
    const rr = await fetchResource(clients, namespace, cmd.name);
    if (rr.metadata.annotations?.[ANNOTATION.switchover] === undefined) {
      const event = await latestEvent(clients, namespace, cmd.name, ['Switchover', 'SwitchoverRefused', 'SwitchoverFailed'], started);
      const to = rr.status?.primary;
      if (event?.reason === 'Switchover' || (to !== undefined && to !== from)) {
        out(`switched over: ${from} -> ${to} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return 0;
      }
      if (event) {
        out(`not switched over: ${event.message}`);
        return 1;
      }
    }
    if (Date.now() > deadline) {
      out(`no outcome within ${cmd.timeoutSeconds} s; the primary is ${rr.status?.primary}. Is the operator running?`);
      return 1;
    }
    await sleep(500);
  }
}

const rolled = (rr: RedisReplication) => {
  const nodes = rr.status?.nodes?.length ?? 0;
  return rr.status?.phase === 'Ready' && nodes > 0 && rr.status.updatedPods === nodes;
};

async function restart(clients: Clients, namespace: string, cmd: Extract<Command, { command: 'restart' }>, out: (line: string) => void): Promise<number> {
  const before = await fetchResource(clients, namespace, cmd.name);
  const started = Date.now();
  await annotate(clients, namespace, cmd.name, { [ANNOTATION.restartedAt]: new Date(started).toISOString() });
  out(`rolling restart of ${namespace}/${cmd.name} requested (${before.status?.nodes?.length ?? 0} pods)`);
  if (!cmd.wait) return 0;
  const deadline = started + cmd.timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const rr = await fetchResource(clients, namespace, cmd.name);
    const revisionChanged = rr.status?.revision !== undefined && rr.status.revision !== before.status?.revision;
    if (revisionChanged && rolled(rr)) {
      out(`restarted: every pod runs revision ${rr.status!.revision}; the primary is ${rr.status!.primary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return 0;
    }
    const progressing = rr.status?.conditions?.find((c) => c.type === 'Progressing');
    const line = `${rr.status?.updatedPods ?? 0}/${rr.status?.nodes?.length ?? 0} pods updated; ${progressing?.reason ?? ''}: ${progressing?.message ?? ''}`;
    if (line !== last) out(line);
    last = line;
    if (progressing?.reason === 'RollingUpdateStalled') return 1;
    if (Date.now() > deadline) {
      out(`not finished within ${cmd.timeoutSeconds} s`);
      return 1;
    }
    await sleep(1000);
  }
}

/** The name of a backup taken now: <resource>-<UTC time>, lowercase (an object name). */
export const backupName = (resource: string, at: Date): string => `${resource}-${backupTimestamp(at).toLowerCase()}`;

async function backup(clients: Clients, namespace: string, cmd: Extract<Command, { command: 'backup' }>, out: (line: string) => void): Promise<number> {
  await fetchResource(clients, namespace, cmd.name);
  const started = Date.now();
  const name = backupName(cmd.name, new Date(started));
  const ref = { group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace };
  try {
    await clients.custom.createNamespacedCustomObject({ ...ref, body: { apiVersion: `${GROUP}/${VERSION}`, kind: BACKUP_KIND, metadata: { name }, spec: { replication: cmd.name } } });
  } catch (e) {
    throw new Error(`could not create RedisBackup ${namespace}/${name}: ${apiErrorMessage(e)}`, { cause: e });
  }
  out(`RedisBackup ${namespace}/${name} created`);
  if (!cmd.wait) return 0;
  const deadline = started + cmd.timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const b = (await clients.custom.getNamespacedCustomObject({ ...ref, name })) as RedisBackup;
    const s = b.status ?? {};
    if (s.phase === 'Completed') {
      out(`completed: ${s.size} bytes from ${s.sourcePod}, sha256 ${s.sha256}, at ${s.endpoint}/${s.bucket}/${s.key} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return 0;
    }
    if (s.phase === 'Failed') {
      out(`failed: ${s.reason}: ${s.message}`);
      return 1;
    }
    const line = `${s.phase ?? 'Pending'}${s.reason ? ` (${s.reason}: ${s.message})` : ''}`;
    if (line !== last) out(line);
    last = line;
    if (Date.now() > deadline) {
      out(`not ended within ${cmd.timeoutSeconds} s. Is the operator running?`);
      return 1;
    }
    await sleep(1000);
  }
}

async function restore(clients: Clients, namespace: string, cmd: Extract<Command, { command: 'restore' }>, out: (line: string) => void): Promise<number> {
  const created = cmd.from !== undefined ? await fromBackup(clients, namespace, cmd.from, out) : await fromResource(clients, namespace, cmd.fromResource!, cmd.toTime, out);
  if (!created) return 1;
  const plan = restorePlan(cmd.name, namespace, created.from, created.source, cmd.image);
  try {
    await clients.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, body: plan.resource });
  } catch (e) {
    throw new Error(`could not create RedisReplication ${namespace}/${cmd.name}: ${apiErrorMessage(e)}`, { cause: e });
  }
  out(`RedisReplication ${namespace}/${cmd.name} created from ${created.what}`);
  for (const note of plan.notes) out(`note: ${note}`);
  if (!cmd.wait) return 0;
  const started = Date.now();
  let last = '';
  for (;;) {
    const progress = restoreProgress(await fetchResource(clients, namespace, cmd.name).catch(() => undefined));
    if (progress.line !== last) out(progress.done ? `${progress.line} (${((Date.now() - started) / 1000).toFixed(1)} s)` : progress.line);
    last = progress.line;
    if (progress.done !== undefined) return progress.done ? 0 : 1;
    if (Date.now() > started + cmd.timeoutSeconds * 1000) {
      out(`not Ready within ${cmd.timeoutSeconds} s. Is the operator running?`);
      return 1;
    }
    await sleep(1000);
  }
}

type Source = { from: RestoreFrom; source: RedisReplication | undefined; what: string } | undefined;

async function fromBackup(clients: Clients, namespace: string, name: string, out: (line: string) => void): Promise<Source> {
  let backup: RedisBackup;
  try {
    backup = (await clients.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL, namespace, name })) as RedisBackup;
  } catch (e) {
    throw new Error(`could not read RedisBackup ${namespace}/${name}: ${apiErrorMessage(e)}`, { cause: e });
  }
  if (backup.status?.phase !== 'Completed') {
    out(`RedisBackup ${name} is ${backup.status?.phase ?? 'Pending'}${backup.status?.reason ? ` (${backup.status.reason})` : ''}: only a Completed backup can be restored`);
    return undefined;
  }
  const source = await fetchResource(clients, namespace, backup.spec.replication).catch(() => undefined);
  return { from: { backup }, source, what: `RedisBackup ${name} (${backup.status.size} bytes, ${backup.status.engine} ${backup.status.engineVersion})` };
}

/** The store is the one the resource backs up to: read from its spec, so it must still exist. */
async function fromResource(clients: Clients, namespace: string, name: string, toTime: string | undefined, out: (line: string) => void): Promise<Source> {
  const source = await fetchResource(clients, namespace, name).catch(() => undefined);
  const store = (source?.spec as { backup?: { objectStore?: ObjectStore } } | undefined)?.backup?.objectStore;
  if (!source || !store) {
    out(`RedisReplication ${namespace}/${name} ${source ? 'has no spec.backup.objectStore' : 'does not exist'}: write the resource yourself with spec.bootstrap.recovery {objectStore, resource: ${name}${toTime ? `, targetTime: ${toTime}` : ''}} (docs/backups.md)`);
    return undefined;
  }
  return { from: { store, resource: name, targetTime: toTime }, source, what: `the files of ${name} in ${store.endpoint}/${store.bucket}, ${toTime ? `as of ${toTime}` : 'to the latest point archived'}` };
}

async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    process.stderr.write(`kubectl rr: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (cmd.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cmd.command === 'status') return showStatus({ name: cmd.name, namespace: cmd.namespace, watch: cmd.watch, noColor: cmd.noColor, help: false }, 'kubectl rr status');
  const kc = requireKubeConfig();
  const clients = makeClients(kc);
  const namespace = cmd.namespace ?? contextNamespace(kc);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (cmd.command === 'backup') return backup(clients, namespace, cmd, out);
  if (cmd.command === 'restore') return restore(clients, namespace, cmd, out);
  return cmd.command === 'switchover' ? switchover(clients, namespace, cmd, out) : restart(clients, namespace, cmd, out);
}

runIfEntry(import.meta.url, 'kubectl rr', main);
