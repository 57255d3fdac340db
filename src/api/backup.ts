// The RedisBackup API: one backup of a RedisReplication, taken through the replication protocol into
// the resource's spec.backup.objectStore. Its own object, not owned by the resource: a backup
// outlives what it backed up.
import { z } from 'zod';
import { resourceNameSchema } from './schema.js';

export const BACKUP_KIND = 'RedisBackup';
export const BACKUP_PLURAL = 'redisbackups';

export const backupSpecSchema = z
  .object({
    /** The RedisReplication of this namespace to back up (its spec.backup.objectStore says where). */
    replication: resourceNameSchema,
  })
  .strict()
  .meta({
    'x-kubernetes-validations': [
      // A backup is one run: what it backed up is part of its record.
      { rule: 'self == oldSelf', message: 'spec is immutable: create another RedisBackup', reason: 'FieldValueForbidden' },
    ],
  });
type RedisBackupSpec = z.output<typeof backupSpecSchema>;

const BACKUP_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;

export const backupStatusSchema = z.object({
  phase: z.enum(BACKUP_PHASES).optional(),
  /** Why the backup is Pending or Failed (a CamelCase word), and what happened in words. */
  reason: z.string().optional(),
  message: z.string().optional(),
  /** The pod the RDB was streamed from. */
  sourcePod: z.string().optional(),
  /** The object store and keys the backup was written to (its manifest.json is beside dump.rdb). */
  endpoint: z.string().optional(),
  bucket: z.string().optional(),
  region: z.string().optional(),
  /** The Secret (of this namespace) with the store's keys: a restore reads the file with them. */
  credentialsSecret: z.string().optional(),
  key: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  /** From the manifest: the server, the RDB format version, the replication ID and offset the RDB is at. */
  engine: z.string().optional(),
  engineVersion: z.string().optional(),
  rdbVersion: z.number().int().optional(),
  replid: z.string().optional(),
  offset: z.number().int().optional(),
  size: z.number().int().optional(),
  /** SHA-256 of dump.rdb, in hex: checked again before a restore loads it. */
  sha256: z.string().optional(),
});
export type RedisBackupStatus = z.infer<typeof backupStatusSchema>;

export interface RedisBackup {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; generation?: number; creationTimestamp?: string };
  spec: RedisBackupSpec;
  status?: RedisBackupStatus;
}
