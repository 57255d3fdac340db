// `kubectl rr restore NAME --from BACKUP` (or `--from-resource SRC [--to-time T]`): the
// RedisReplication that restores a backup (or a resource's base backups and archive, to a point in
// time), built from the resource the backup was taken of when it still exists (the same shape, a
// new name), and the outcome of the restore as its status tells it.
import type { RedisBackup } from '../api/backup.js';
import { GROUP, KIND, VERSION, type ObjectStore, type RedisReplication } from '../api/schema.js';

export interface RestorePlan {
  resource: Pick<RedisReplication, 'apiVersion' | 'kind' | 'spec'> & { metadata: { name: string; namespace: string } };
  /** What the user must know or do before it can finish (Secrets to allow, settings left out). */
  notes: string[];
}

/** A RedisBackup, or the files of a resource in a store (as of targetTime, else the latest point archived). */
export type RestoreFrom = { backup: RedisBackup } | { store: ObjectStore; resource: string; targetTime?: string | undefined };

export function restorePlan(name: string, namespace: string, from: RestoreFrom, source: RedisReplication | undefined, image: string | undefined): RestorePlan {
  const notes: string[] = [];
  const spec: Record<string, unknown> = { ...(source?.spec ?? {}) };
  const origin = 'backup' in from ? from.backup.spec.replication : from.resource;
  if (!source) notes.push(`RedisReplication ${origin} no longer exists: the new one has the defaults (and ${image ? `image ${image}` : 'the default image'})`);
  delete spec['bootstrap'];
  if ((spec['tls'] as { enabled?: boolean } | undefined)?.enabled) {
    delete spec['tls'];
    notes.push('TLS is off in the restored resource (a restore cannot run over TLS yet): enable spec.tls once it is Ready');
  }
  if (image) spec['image'] = image;
  spec['bootstrap'] = {
    recovery: 'backup' in from ? { backup: from.backup.metadata.name } : { objectStore: from.store, resource: from.resource, ...(from.targetTime ? { targetTime: from.targetTime } : {}) },
  };
  const recoveryStore = 'store' in from ? [from.store.credentialsSecret] : [];
  const secrets = [...new Set([...namedSecrets(spec), ...recoveryStore])];
  if (secrets.length > 0) notes.push(`the Secrets it names must allow it: ${secrets.map((s) => `kubectl label secret ${s} redis.replication.dev/allow=${name} --overwrite`).join('; ')}`);
  return { resource: { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name, namespace }, spec: spec as RedisReplication['spec'] }, notes };
}

/** The Secrets a spec names (each must carry the allow label of the resource using it). */
function namedSecrets(spec: Record<string, unknown>): string[] {
  const auth = spec['auth'] as { secretName?: string; users?: { secretName?: string }[] } | undefined;
  const store = (spec['backup'] as { objectStore?: { credentialsSecret?: string } } | undefined)?.objectStore;
  return [auth?.secretName, ...(auth?.users ?? []).map((u) => u.secretName), store?.credentialsSecret].filter((s): s is string => Boolean(s));
}

/** One line of progress, or the end: `done` true once Ready after the restore, false once it failed. */
export function restoreProgress(rr: RedisReplication | undefined): { line: string; done?: boolean } {
  const restore = rr?.status?.restore;
  if (!restore?.phase) return { line: 'waiting for the operator' };
  if (restore.phase === 'Failed') return { line: `failed: ${restore.reason}: ${restore.message}`, done: false };
  if (restore.phase === 'Completed') {
    const ready = rr!.status?.conditions?.find((c) => c.type === 'Ready');
    const upTo = restore.cutTime ? ` (up to ${restore.cutTime}, ${restore.replayedBytes ?? 0} archived bytes replayed)` : '';
    if (ready?.status === 'True') return { line: `restored: ${restore.keys} keys${upTo} into ${restore.pod}, the primary; Ready with ${rr!.status?.ready ?? ''} replicas`, done: true };
    return { line: `restored ${restore.keys} keys into ${restore.pod}; replicas syncing (${ready?.reason ?? ''})` };
  }
  return { line: `${restore.phase}: ${restore.reason ?? ''}${restore.message ? `: ${restore.message}` : ''}` };
}
